#!/usr/bin/env bash
# Throughput benchmark in a network-namespace lab (needs root): single-stream
# iperf3 TCP, both directions, median of N runs, for
#   a) wireguard-go <-> wireguard-go (the baseline)
#   b) wireguard-go client -> wingress run
#   c) wingress forward -> wingress run
#   d) onetun -> wireguard-go
# then the ratios, then wingress's memory (idle, and with 1,000 idle TCP
# connections through the tunnel). Prints a markdown table for the README.
#
#   bash benches/iperf3.sh                 # 3 runs x 5 s per direction
#   RUNS=5 SECONDS_PER_RUN=10 bash benches/iperf3.sh
#   SETUPS=a,b bash benches/iperf3.sh      # a subset
#   MEMORY=0 bash benches/iperf3.sh        # skip the memory measurement
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ $(id -u) -ne 0 ]]; then
  echo "benches/iperf3.sh: needs root (network namespaces, TUN devices)" >&2
  exit 1
fi

need=()
for prog in wireguard-go:wireguard-go wg:wireguard-tools iperf3:iperf3 ping:iputils-ping ip:iproute2; do
  command -v "${prog%%:*}" >/dev/null 2>&1 || need+=("${prog#*:}")
done
if ((${#need[@]})); then
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

SETUPS="${SETUPS:-a,b,c,d}"
if [[ "$SETUPS" == *d* ]] && ! command -v onetun >/dev/null 2>&1; then
  echo "benches/iperf3.sh: installing onetun (cargo install onetun --locked)" >&2
  cargo install onetun --locked --quiet
  export PATH="$HOME/.cargo/bin:$PATH"
fi

cargo build --release --locked -p wingress -p wingress-lab --bins --quiet
bench=target/release/wingress-lab-bench
"$bench" iperf3 --runs "${RUNS:-3}" --seconds "${SECONDS_PER_RUN:-5}" --setups "$SETUPS" \
  --wingress target/release/wingress --onetun "$(command -v onetun || echo onetun)"
if [[ "${MEMORY:-1}" != 0 ]]; then
  "$bench" memory --conns "${CONNS:-1000}" --wingress target/release/wingress
fi
