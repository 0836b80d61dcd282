#!/usr/bin/env bash
# The whole test suite: installs what the tests need (Debian packages, when
# missing and when running as root), builds, then runs every cargo test,
# including the network-namespace lab with real wireguard-go peers.
#
#   bash scripts/test.sh            # lab tests run if they can, else skip
#   WINGRESS_LAB=require bash scripts/test.sh   # (CI) a lab test that cannot run fails
#   WINGRESS_LAB=off bash scripts/test.sh       # unit and loopback tests only
set -euo pipefail
cd "$(dirname "$0")/.."

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
    apt-get update -qq
    # No recommends: wireguard-tools would pull in a kernel image.
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "test.sh: not root, cannot install ${missing[*]}; lab tests that need them will skip" >&2
  fi
fi

# iperf3's Debian package may ask to start a daemon; nothing here needs it.
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# Binaries first: the lab tests run target/release/wingress and
# target/release/wingress-impair as separate programs.
cargo build --release --workspace --bins --locked
cargo test --release --workspace --locked -- --test-threads="${WINGRESS_TEST_THREADS:-2}"
