#!/usr/bin/env bash
# Attack benchmark and soak in a network-namespace lab (needs root), issue 14:
# a real wireguard-go peer runs iperf3 through `wingress run` while a third
# namespace floods the WireGuard port with what anyone who knows the
# server's public key can send.
#   1. `wingress-lab-bench attack`: valid-mac1 initiations from 1 address,
#      the same from 64 addresses answering cookie replies, forged handshake
#      responses and forged cookie replies at the peer's slot; for each the
#      flood's packets/s, the peer's throughput before / during / after and
#      the ratios, the time for a new handshake during the flood, the
#      daemon's RSS and open fds, and whether the peer's endpoint moved.
#   2. `wingress-lab-bench soak`: iperf3, an initiation flood from 64
#      addresses and peer churn by reload (SIGHUP every 10 s) all at once;
#      RSS and fd slopes, throughput in the first and last minute.
# Each prints a table, its markdown form and JSON. Takes about 15 minutes.
#
#   bash benches/attack.sh                         # 3 rounds, 10-minute soak
#   ROUNDS=1 MINUTES=1 bash benches/attack.sh      # a quick check
#   SOAK=0 bash benches/attack.sh                  # the floods only
#   WINGRESS_BIN=/path/to/wingress bash benches/attack.sh   # another daemon
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ $(id -u) -ne 0 ]]; then
  echo "benches/attack.sh: needs root (network namespaces, TUN devices)" >&2
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

cargo build --release --locked -p wingress -p wingress-lab --bins --quiet
bench=target/release/wingress-lab-bench
wingress="${WINGRESS_BIN:-target/release/wingress}"
echo "benches/attack.sh: daemon $wingress; $(uptime)" >&2
status=0
if [[ "${ATTACK:-1}" != 0 ]]; then
  "$bench" attack --rounds "${ROUNDS:-3}" --seconds "${SECONDS_PER_RUN:-5}" \
    --wingress "$wingress" --attack target/release/wingress-attack || status=$?
fi
if [[ "${SOAK:-1}" != 0 ]]; then
  "$bench" soak --minutes "${MINUTES:-10}" \
    --wingress "$wingress" --attack target/release/wingress-attack || status=$?
fi
echo "benches/attack.sh: done; $(uptime)" >&2
exit "$status"
