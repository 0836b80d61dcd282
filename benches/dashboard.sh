#!/usr/bin/env bash
# What the web dashboard costs, in a network-namespace lab (needs root,
# Debian's chromium and chromium-driver, libnss3-tools, and selenium from
# PyPI, as scripts/test.sh installs them): binary size, RSS idle and with 5
# dashboards open (102 peers, live graphs), CPU share, page loads over the
# tunnel, and iperf3 through the tunnel with 0 and 5 dashboards open in
# interleaved rounds. Prints a markdown table for the README.
#
#   bash benches/dashboard.sh          # 3 rounds
#   ROUNDS=5 bash benches/dashboard.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $(id -u) -ne 0 ]]; then
  echo "benches/dashboard.sh: needs root (network namespaces, TUN devices)" >&2
  exit 1
fi
cargo build --release --locked -p wingress --quiet
WINGRESS_LAB=require cargo test --release --locked -p wingress-lab --test dashboard_lab --quiet \
  -- --ignored dashboard_bench --nocapture --test-threads=1
