#!/usr/bin/env bash
# Kubernetes discovery benchmark, issue 17 ("Measure"): `wingress run` with
# `[kubernetes] enabled = true` against the in-repo fake API server
# (`wingress_lab::kube_api`, HTTPS and a kubeconfig, in the bench process),
# requests on an HTTPS host entrypoint on 127.0.0.1 to a backend in the
# bench process. No namespaces, no WireGuard peer, no root.
#   1. VmRSS with 0, 50, 1,000 and 5,000 Ingress+Service+EndpointSlice
#      sets, once the routes are applied, and without discovery;
#   2. an Ingress's host changed 100 times: change to the first 200 for
#      the new host, p50 and p99 (target p99 < 250 ms);
#   3. CPU (utime + stime) during 50 EndpointSlice updates a second for
#      60 s with 100 keep-alive connections making requests, which must
#      all survive;
#   4. the binary's size, unstripped and stripped.
# Prints a table, its markdown form and JSON; medians over the rounds.
# Takes about 4 minutes a round. The fake is not a real API server: it
# answers faster and uses no memory of the daemon's, so these numbers are
# the daemon's share only.
#
#   bash benches/kube.sh                              # 3 rounds
#   ROUNDS=1 SECONDS_CHURN=10 EDITS=20 bash benches/kube.sh   # a quick check
#   WINGRESS_BIN=/path/to/wingress bash benches/kube.sh       # another daemon
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --locked -p wingress -p wingress-lab --bins --quiet
bench=target/release/wingress-lab-bench
wingress="${WINGRESS_BIN:-target/release/wingress}"
echo "benches/kube.sh: daemon $wingress; $(uptime)" >&2
status=0
"$bench" kube --rounds "${ROUNDS:-3}" --sets "${SETS:-0,50,1000,5000}" \
  --edits "${EDITS:-100}" --rate "${RATE:-50}" --seconds "${SECONDS_CHURN:-60}" \
  --conns "${CONNS:-100}" --wingress "$wingress" || status=$?
echo "benches/kube.sh: done; $(uptime)" >&2
exit "$status"
