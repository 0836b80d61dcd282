#!/usr/bin/env bash
# The daemon's dependency rules (docs/architecture.md): each folder of
# daemon/src imports only the folders below it, and the control plane's
# leaf modules import nothing of the daemon; and no source file in the
# workspace holds an inline test module. Prints every breach and exits 1;
# grep over `crate::` paths, comments skipped.
set -euo pipefail
cd "$(dirname "$0")/../daemon/src"

status=0
# forbid DIR_OR_FILE... -- PATTERN: no line of code there may name PATTERN.
forbid() {
  local pattern=$1 why=$2
  shift 2
  local hits
  hits=$(grep -rnE --include='*.rs' "$pattern" "$@" | grep -vE '^[^:]+:[0-9]+:\s*//' || true)
  if [[ -n $hits ]]; then
    echo "layout: $why" >&2
    echo "$hits" >&2
    status=1
  fi
}

forbid 'crate::(cli|control|nat|ingress|dataplane|kube)\b' "platform/ imports nothing of the daemon" platform
forbid 'crate::(cli|control|nat|ingress|kube)\b' "dataplane/ imports only platform/" dataplane
forbid 'crate::(cli|control|nat|kube)\b' "ingress/ imports only dataplane/ and platform/" ingress
forbid 'crate::(cli|control|ingress|kube)\b' "nat/ imports only dataplane/ and platform/" nat
forbid 'crate::(cli|control|ingress|nat|dataplane)\b' "kube/ imports only platform/" kube
forbid 'crate::cli\b' "control/ never imports cli/" control
forbid 'crate::kube::(client|driver|events|health|pacer|status|store|trim)\b' \
  "control/ reaches kube/ only through kube/mod.rs (spawn, the handles, the outcome types)" control
forbid 'crate::|super::[A-Za-z{]' "control's leaf modules import nothing of the daemon" \
  control/registry.rs control/ready.rs control/file_stamp.rs
forbid 'crate::control::(server|reload|admin|status|metrics|shutdown|nat_wiring)\b' \
  "control/state.rs holds the daemon's state and imports only the leaves" control/state.rs
forbid 'crate::control::(state|server|reload|status|metrics|shutdown|nat_wiring)\b' \
  "the admin API gets narrow inputs, never the daemon" control/admin
forbid 'crate::control::(state|server|reload|status|metrics|shutdown|nat_wiring|kube_wiring)\b' \
  "the dashboard and the device edits get narrow inputs, never the daemon" control/dashboard control/devices
# The test layout (docs/architecture.md, "Where the tests are"): unit
# tests live in <module>_tests.rs beside the module, never inline.
inline=$(cd .. && cd .. && grep -rnE --include='*.rs' '^\s*mod tests \{' crates daemon tests fuzz/fuzz_targets fuzz/src 2>/dev/null || true)
if [[ -n $inline ]]; then
  echo "layout: unit tests go in <module>_tests.rs beside the module, not inline" >&2
  echo "$inline" >&2
  status=1
fi
exit $status
