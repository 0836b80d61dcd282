#!/usr/bin/env bash
# The whole test suite: installs what the tests need (Debian packages, when
# missing and when running as root), checks formatting, clippy and rustdoc
# (warnings denied), builds, then runs every cargo test, including the
# network-namespace lab with real wireguard-go peers, and every fuzz target
# briefly (scripts/fuzz.sh).
#
#   bash scripts/test.sh            # lab tests run if they can, else skip
#   WINGRESS_LAB=require bash scripts/test.sh   # (CI) a lab test that cannot run fails
#   WINGRESS_LAB=off bash scripts/test.sh       # unit and loopback tests only
set -euo pipefail
cd "$(dirname "$0")/.."

# Each phase's wall time goes to stderr and, at the end, a summary: CI has
# a time budget, and this is where it goes.
started=$SECONDS
phase_start=$SECONDS
phase_name=setup
declare -a phase_times=()
phase() {
  phase_times+=("$(printf '%5ds  %s' $((SECONDS - phase_start)) "$phase_name")")
  echo "test.sh: phase ${phase_name} took $((SECONDS - phase_start)) s" >&2
  phase_name=$1
  phase_start=$SECONDS
}
summary() {
  phase done
  echo "test.sh: time per phase (total $((SECONDS - started)) s):" >&2
  printf '  %s\n' "${phase_times[@]}" >&2
}
trap summary EXIT

# Programs the lab tests run, and the Debian package of each.
declare -A PKG=(
  [wireguard-go]=wireguard-go
  [wg]=wireguard-tools
  [iperf3]=iperf3
  [ping]=iputils-ping
  [nft]=nftables
  [curl]=curl
  [ip]=iproute2
  [ss]=iproute2
  [ps]=procps
  [openssl]=openssl
  # Path lab: a backend that decodes paths as real servers do.
  [nginx]=nginx-light
  # Packaging tests: the systemd unit, the sandbox trace, the pod run.
  [systemd-analyze]=systemd
  [strace]=strace
  [setpriv]=util-linux
  [unshare]=util-linux
  [mount]=mount
  [wg-quick]=wireguard-tools
  [python3]=python3
  # Peer onboarding and DNS: resolver, client, QR decoder.
  [dig]=dnsutils
  [named]=bind9
  [zbarimg]=zbar-tools
  # ACME: the CA, its DNS, and bind9 for RFC 2136.
  [pebble]=pebble
  [pebble-challtestsrv]=pebble
  [tsig-keygen]=bind9
  # NAT traversal tests: the router, the STUN server, the NAT state.
  [miniupnpd]=miniupnpd-nftables
  [upnpc]=miniupnpc
  [turnserver]=coturn
  [conntrack]=conntrack
  [sysctl]=procps
  # The fuzz targets: libfuzzer-sys compiles libFuzzer (C++).
  [g++]=g++
  # The dashboard lab: Debian's headless browser and its WebDriver, and
  # certutil for the browser's NSS database (trusting the internal CA).
  [chromium]=chromium
  [chromedriver]=chromium-driver
  [certutil]=libnss3-tools
)

missing=()
for prog in "${!PKG[@]}"; do
  command -v "$prog" >/dev/null 2>&1 || missing+=("${PKG[$prog]}")
done
if ((${#missing[@]})) && [[ "${WINGRESS_LAB:-auto}" != off ]]; then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  if [[ $(id -u) -eq 0 ]]; then
    echo "test.sh: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # The lab runs its own miniupnpd and coturn inside namespaces. Only
    # miniupnpd-nftables (the binary) is installed, not `miniupnpd`, whose
    # debconf questions and service the lab does not want; and policy-rc.d
    # (exit 101) keeps coturn's package from starting its system service.
    policy=/usr/sbin/policy-rc.d
    if [[ ! -e $policy ]]; then
      printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy"
      trap 'rm -f "$policy"' EXIT
    fi
    apt-get update -qq
    # No recommends: wireguard-tools would pull in a kernel image.
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "test.sh: not root, cannot install ${missing[*]}; lab tests that need them will skip" >&2
  fi
fi

# kubernetes-validate (PyPI): the manifests against the Kubernetes schemas,
# offline (the schemas ship in the package); PyYAML comes with it.
if ! python3 -c 'import kubernetes_validate, yaml' 2>/dev/null && [[ "${WINGRESS_LAB:-auto}" != off ]]; then
  if ! python3 -m pip --version >/dev/null 2>&1 && [[ $(id -u) -eq 0 ]]; then
    apt-get update -qq && apt-get install -y -qq --no-install-recommends python3-pip >/dev/null
  fi
  echo "test.sh: installing kubernetes-validate (pip)"
  python3 -m pip install --quiet kubernetes-validate 2>/dev/null ||
    python3 -m pip install --quiet --break-system-packages kubernetes-validate ||
    echo "test.sh: cannot install kubernetes-validate; the manifest tests will skip" >&2
fi

# The metrics lab test parses /metrics with the Prometheus project's Python
# client parser (PyPI: prometheus-client).
if [[ "${WINGRESS_LAB:-auto}" != off ]] && ! python3 -c 'import prometheus_client.parser' 2>/dev/null; then
  echo "test.sh: installing prometheus-client (pip)"
  python3 -m pip install --quiet prometheus-client 2>/dev/null ||
    python3 -m pip install --quiet --break-system-packages prometheus-client ||
    echo "test.sh: cannot install prometheus-client; the metrics lab test will fail or skip" >&2
fi

# The gRPC test (daemon/tests/grpc.rs) runs grpcio's client and server
# (PyPI: grpcio). Generic handlers on raw bytes: no grpcio-tools needed.
if [[ "${WINGRESS_LAB:-auto}" != off ]] && ! python3 -c 'import grpc' 2>/dev/null; then
  echo "test.sh: installing grpcio (pip)"
  python3 -m pip install --quiet grpcio 2>/dev/null ||
    python3 -m pip install --quiet --break-system-packages grpcio ||
    echo "test.sh: cannot install grpcio; the gRPC test will fail or skip" >&2
fi

# The dashboard lab drives Chromium through the selenium WebDriver client
# (PyPI); it is pointed at Debian's chromium and chromedriver and never
# downloads a browser or driver (SE_OFFLINE).
if [[ "${WINGRESS_LAB:-auto}" != off ]] && ! python3 -c 'import selenium' 2>/dev/null; then
  echo "test.sh: installing selenium (pip)"
  python3 -m pip install --quiet selenium 2>/dev/null ||
    python3 -m pip install --quiet --break-system-packages selenium ||
    echo "test.sh: cannot install selenium; the dashboard lab test will fail or skip" >&2
fi

# iperf3's Debian package may ask to start a daemon; nothing here needs it.
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# What a reviewer checks by hand, before anything is built for the tests:
# formatting, clippy and rustdoc (broken links, stray HTML), warnings denied.
phase fmt
cargo fmt --all --check
phase clippy
cargo clippy --workspace --all-targets --locked -- -D warnings
phase doc
RUSTDOCFLAGS=-Dwarnings cargo doc --workspace --no-deps --locked
# The daemon's folders import only the ones below them (docs/architecture.md).
phase layout
bash scripts/layout.sh
phase manifests
# The Kubernetes manifests (the base and the discovery component) against
# the Kubernetes schemas, strictly, offline; tests/deploy_lab.rs checks
# their shape. Missing kubernetes-validate fails under WINGRESS_LAB=require.
if command -v kubernetes-validate >/dev/null; then
  mapfile -t manifests < <(find packaging/kubernetes -name '*.yaml' ! -name kustomization.yaml | sort)
  for version in 1.29.0 1.37.0; do
    kubernetes-validate --strict --quiet -k "$version" "${manifests[@]}"
  done
elif [[ "${WINGRESS_LAB:-auto}" == require ]]; then
  echo "test.sh: kubernetes-validate is missing and WINGRESS_LAB=require" >&2
  exit 1
else
  echo "test.sh: kubernetes-validate is missing; the manifests are not checked" >&2
fi
# One build for the tests and the programs they run (target/ci/wingress,
# wingress-impair, ...): the `ci` profile is release without LTO and with
# unwinding (Cargo.toml says why); the release binary itself is built and
# checked by the container step below.
phase test-build
cargo test --profile ci --workspace --locked --no-run
phase test-run
cargo test --profile ci --workspace --locked -- --test-threads="${WINGRESS_TEST_THREADS:-2}"
# Every fuzz target briefly (20,000 executions each, from the committed
# corpus), so a parser regression shows here: about 4 minutes of CPU, all
# but 10 s of it building fuzz/ (its own workspace and target folder).
phase fuzz
bash scripts/fuzz.sh --ci
# The container image's build stage, run as a script (no container engine
# here): a release build in target/container, incremental after the first.
phase container
if [[ "${WINGRESS_LAB:-auto}" != off ]]; then
  bash packaging/container/build-steps.sh
fi
