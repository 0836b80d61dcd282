#!/usr/bin/env bash
# The daemon's dependency rules (docs/architecture.md): each folder of
# daemon/src imports only the folders below it, and the control plane's
# leaf modules import nothing of the daemon. Prints every import that
# breaks a rule and exits 1; grep over `crate::` paths, comments skipped.
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

forbid 'crate::(cli|control|nat|ingress|dataplane)\b' "platform/ imports nothing of the daemon" platform
forbid 'crate::(cli|control|nat|ingress)\b' "dataplane/ imports only platform/" dataplane
forbid 'crate::(cli|control|nat)\b' "ingress/ imports only dataplane/ and platform/" ingress
forbid 'crate::(cli|control|ingress)\b' "nat/ imports only dataplane/ and platform/" nat
forbid 'crate::cli\b' "control/ never imports cli/" control
forbid 'crate::|super::[A-Za-z{]' "control's leaf modules import nothing of the daemon" \
  control/registry.rs control/ready.rs control/file_stamp.rs
forbid 'crate::control::(server|reload|admin|status|metrics|shutdown|nat_wiring)\b' \
  "control/state.rs holds the daemon's state and imports only the leaves" control/state.rs
forbid 'crate::control::(state|server|reload|status|metrics|shutdown|nat_wiring)\b' \
  "the admin API gets narrow inputs, never the daemon" control/admin
exit $status
