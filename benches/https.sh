#!/usr/bin/env bash
# HTTPS reverse-proxy benchmark on loopback: wrk against wingress (a host
# entrypoint), nginx and caddy, each terminating TLS with the same
# certificate and proxying to the same backend (a small nginx), in one run.
# Prints req/s and p99 latency per proxy (median of RUNS) and the ratios.
#
#   bash benches/https.sh                       # 9 rounds x 8 s, wrk -t2 -c64
#   RUNS=5 DURATION=10s CONNS=64 bash benches/https.sh
#   WINGRESS_BIN=/path/to/wingress bash benches/https.sh   # that binary, no build
#   BASELINE=/path/to/older/wingress bash benches/https.sh # also that one, in the same rounds
#   BACKEND_TLS=1 bash benches/https.sh         # the backend behind TLS too: every proxy
#                                               # verifies it against the bench CA
#   H2C=1 bash benches/https.sh                 # the backend speaks HTTP/2 with prior knowledge
#                                               # (nginx grpc_pass, caddy and wingress h2c://)
#   GRPC=1 bash benches/https.sh                # unary gRPC calls (h2load, HTTP/2 over TLS) to a
#                                               # grpcio server behind each proxy, as H2C=1
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS="${RUNS:-9}"
DURATION="${DURATION:-8s}"
CONNS="${CONNS:-64}"
THREADS="${THREADS:-2}"
# GRPC: h2load's streams per connection (CONNS connections).
STREAMS="${STREAMS:-1}"
modes=0
for mode in BACKEND_TLS H2C GRPC; do
  if [[ -n "${!mode:-}" ]]; then modes=$((modes + 1)); fi
done
if ((modes > 1)); then
  echo "https.sh: BACKEND_TLS, H2C and GRPC are separate modes; set one" >&2; exit 1
fi

need=()
progs=(nginx:nginx-light caddy:caddy wrk:wrk openssl:openssl curl:curl)
[[ -n "${GRPC:-}" ]] && progs+=(h2load:nghttp2-client)
for prog in "${progs[@]}"; do
  command -v "${prog%%:*}" >/dev/null 2>&1 || need+=("${prog#*:}")
done
if ((${#need[@]})); then
  if [[ $(id -u) -ne 0 ]]; then echo "https.sh: missing ${need[*]}; install them (apt-get install ${need[*]})" >&2; exit 1; fi
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if [[ -z "${WINGRESS_BIN:-}" ]]; then
  cargo build --release --locked -p wingress --quiet
fi
WINGRESS="${WINGRESS_BIN:-$PWD/target/release/wingress}"

dir="$(mktemp -d /tmp/wingress-https-bench.XXXXXX)"
pids=()
cleanup() {
  set +e
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
[[ -n "${KEEP:-}" ]] && trap - EXIT

BACKEND=18080 NGINX=18443 CADDY=18444 WING=18445 BASE=18447

# One certificate for "localhost" (wrk sends the URL's host as SNI), signed
# by a throwaway CA.
(
  cd "$dir"
  umask 077
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=bench CA" -keyout ca.key -out ca.pem 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -subj "/CN=localhost" -keyout site.key -out site.csr 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > ext.cnf
  openssl x509 -req -in site.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
    -extfile ext.cnf -out site.pem 2>/dev/null
  chmod 644 ca.pem site.pem site.key
)

# BACKEND_TLS: the backend speaks TLS (the site certificate) and each proxy
# verifies it with the bench CA for the name "localhost", keeping connections.
BSCHEME=http BACKEND_SSL="" NGINX_TLS="" CADDY_TLS="" WING_TRANSPORT=""
if [[ -n "${BACKEND_TLS:-}" ]]; then
  BSCHEME=https
  BACKEND_SSL="ssl_certificate $dir/site.pem; ssl_certificate_key $dir/site.key;"
  NGINX_TLS="proxy_ssl_verify on; proxy_ssl_trusted_certificate $dir/ca.pem; proxy_ssl_name localhost; proxy_ssl_session_reuse on;"
  CADDY_TLS="transport http {
      tls_trusted_ca_certs $dir/ca.pem
      tls_server_name localhost
    }"
  WING_TRANSPORT='transport = "bench-ca"'
fi
BACKEND_LISTEN="${BACKEND_TLS:+ ssl}" BACKEND_OPTS="$BACKEND_SSL"
# keepalive_requests: nginx would end each client connection after 1,000
# requests (its default), and wrk would pay a TLS handshake to reconnect;
# wingress and caddy set no such limit, so nginx does not either.
UPSTREAM="$BSCHEME://127.0.0.1:$BACKEND" WING_ROUTE="$WING_TRANSPORT" NGINX_SERVER="keepalive_requests 100000000;"
NGINX_PASS="proxy_pass $BSCHEME://backend;
      $NGINX_TLS
      proxy_http_version 1.1;
      proxy_set_header Connection \"\";
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$remote_addr;"
MODE_NAME="HTTPS reverse proxy on loopback${BACKEND_TLS:+ to an https:// backend}"
# H2C and GRPC: the backend speaks HTTP/2 with prior knowledge on a plain
# port. nginx reaches it with grpc_pass (its only h2c upstream: one stream
# per upstream connection, kept), caddy and wingress as h2c:// (one
# multiplexed connection per wingress event loop). H2C's backend is the
# nginx above (listen ... http2 without ssl: h2c; nginx >= 1.25.1 also
# takes it, with a deprecation warning); it never ends its connections
# (GOAWAY after keepalive_requests would refuse streams in flight). GRPC's
# is tests/grpc/server.py (grpcio), and the load is h2load over TLS/h2.
if [[ -n "${H2C:-}${GRPC:-}" ]]; then
  BACKEND_LISTEN=" http2"
  BACKEND_OPTS="keepalive_requests 100000000; http2_max_concurrent_streams 1024;"
  UPSTREAM="h2c://127.0.0.1:$BACKEND"
  NGINX_PASS="grpc_pass grpc://backend;
      grpc_set_header Host \$host;
      grpc_set_header X-Forwarded-For \$remote_addr;"
  MODE_NAME="HTTPS reverse proxy on loopback to an h2c backend"
fi
if [[ -n "${GRPC:-}" ]]; then
  # The route's timeout gives way to each call's grpc-timeout, which the
  # load sends (as clients with a deadline do).
  WING_ROUTE="grpc_deadline = true"
  MODE_NAME="unary gRPC calls (h2load) through each proxy to a grpcio server (h2c)"
  # One call: test.Echo/Unary with the 5-byte message "hello", framed as
  # gRPC frames it (no compression, 4-byte big-endian length).
  printf '\x00\x00\x00\x00\x05hello' > "$dir/grpc.bin"
fi

mkdir -p "$dir/nginx-backend" "$dir/nginx-proxy" "$dir/caddy" "$dir/wingress/state"
# The backend: a fixed small response, as a typical API/health endpoint.
cat > "$dir/nginx-backend/nginx.conf" <<CONF
worker_processes 1;
pid $dir/nginx-backend/nginx.pid;
error_log $dir/nginx-backend/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 100000;
  server {
    listen 127.0.0.1:$BACKEND$BACKEND_LISTEN;
    $BACKEND_OPTS
    location / { return 200 "hello from the backend\n"; }
  }
}
CONF
cat > "$dir/nginx-proxy/nginx.conf" <<CONF
worker_processes auto;
pid $dir/nginx-proxy/nginx.pid;
error_log $dir/nginx-proxy/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  upstream backend { server 127.0.0.1:$BACKEND; keepalive 64; }
  server {
    listen 127.0.0.1:$NGINX ssl http2;
    ssl_certificate $dir/site.pem;
    ssl_certificate_key $dir/site.key;
    $NGINX_SERVER
    location / {
      $NGINX_PASS
    }
  }
}
CONF
cat > "$dir/caddy/Caddyfile" <<CONF
{
  admin off
  auto_https disable_redirects
  storage file_system $dir/caddy/data
}
https://localhost:$CADDY {
  tls $dir/site.pem $dir/site.key
  reverse_proxy $UPSTREAM {
    $CADDY_TLS
  }
}
CONF
"$WINGRESS" genkey > "$dir/wingress/server.key"
chmod 600 "$dir/wingress/server.key"
cat > "$dir/wingress/wingress.toml" <<CONF
[node]
ip = "127.0.0.1"
state_dir = "$dir/wingress/state"
[wireguard]
private_key_file = "server.key"
address = "100.64.0.2/24"
listen_port = 18446
[[entrypoint]]
name = "lan"
listen = "127.0.0.1:$WING"
[[tls.certificate]]
cert_file = "$dir/site.pem"
key_file = "$dir/site.key"
[[transport]]
name = "bench-ca"
ca = "$dir/ca.pem"
server_name = "localhost"
[[route]]
host = "localhost"
backends = ["$UPSTREAM"]
$WING_ROUTE
access = "public"
CONF

proxies=(nginx caddy wingress)
if [[ -n "${BASELINE:-}" ]]; then
  # The same config on its own ports for the older binary.
  mkdir -p "$dir/baseline/state"
  cp "$dir/wingress/server.key" "$dir/baseline/server.key"
  sed -e "s|$dir/wingress/state|$dir/baseline/state|" -e "s|:$WING\"|:$BASE\"|" \
    -e "s|listen_port = 18446|listen_port = 18448|" "$dir/wingress/wingress.toml" > "$dir/baseline/wingress.toml"
  WINGRESS_LOG=warn "$BASELINE" run --config "$dir/baseline/wingress.toml" >"$dir/baseline/log" 2>&1 & pids+=($!)
  proxies+=(baseline)
fi

if [[ -n "${GRPC:-}" ]]; then
  python3 tests/grpc/server.py "$BACKEND" >"$dir/grpc-server.log" 2>&1 & pids+=($!)
else
  nginx -c "$dir/nginx-backend/nginx.conf" -g 'daemon off;' & pids+=($!)
fi
nginx -c "$dir/nginx-proxy/nginx.conf" -g 'daemon off;' & pids+=($!)
HOME="$dir/caddy" XDG_DATA_HOME="$dir/caddy" XDG_CONFIG_HOME="$dir/caddy" \
  caddy run --config "$dir/caddy/Caddyfile" --adapter caddyfile >"$dir/caddy/log" 2>&1 & pids+=($!)
WINGRESS_LOG=warn "$WINGRESS" run --config "$dir/wingress/wingress.toml" >"$dir/wingress/log" 2>&1 & pids+=($!)

# Ready means the backend's answer arrived through the proxy: its body (a
# 200 from anyone else would not do), or for GRPC a unary call's reply.
grpc_call() {
  python3 - "$1" "$dir/ca.pem" 2>/dev/null <<'PY'
import sys, grpc
creds = grpc.ssl_channel_credentials(root_certificates=open(sys.argv[2], "rb").read())
channel = grpc.secure_channel("localhost:" + sys.argv[1], creds)
sys.exit(channel.unary_unary("/test.Echo/Unary")(b"hello", timeout=2) != b"echo:hello")
PY
}
wait_ok() {
  for _ in $(seq 1 100); do
    if [[ -n "${GRPC:-}" ]]; then
      if grpc_call "$1"; then return 0; fi
    elif [[ "$(curl -fsS --cacert "$dir/ca.pem" "https://localhost:$1/" 2>/dev/null)" == "hello from the backend" ]]; then
      return 0
    fi
    sleep 0.1
  done
  echo "https.sh: $2 on port $1 did not answer" >&2
  tail -20 "$dir"/*/log "$dir"/*/error.log 2>/dev/null >&2 || true
  exit 1
}
wait_ok "$NGINX" nginx
wait_ok "$CADDY" caddy
wait_ok "$WING" wingress
[[ -n "${BASELINE:-}" ]] && wait_ok "$BASE" baseline

# wrk: "Requests/sec:" and the 99% latency line (--latency), in ms.
# GRPC: h2load's req/s, and the 99th percentile of its per-request log.
measure() {
  local out rps p99
  if [[ -n "${GRPC:-}" ]]; then
    out="$(h2load_grpc "$1" -t"$THREADS" -c"$CONNS" -m"$STREAMS" -D "$DURATION" --log-file="$dir/h2load.log")"
    rps="$(awk '/^finished in/ {print $4}' <<<"$out")"
    p99="$(awk '{print $3}' "$dir/h2load.log" | sort -n | awk '{a[NR]=$1} END {i=int(NR*0.99); if (i<1) i=1; printf "%.3f", a[i]/1000}')"
    errors="$(awk '/^requests:/ && ($10 != 0 || $12 != 0 || $14 != 0) {print}' <<<"$out")"
    [[ -n "$errors" ]] && echo "  $2: $errors" >&2
    echo "$rps $p99"
    return
  fi
  out="$(wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency "https://localhost:$1/")"
  rps="$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")"
  p99="$(awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us$/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v=v*1000}; print v}' <<<"$out")"
  errors="$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out")"
  [[ -n "$errors" ]] && echo "  $2: $errors" >&2
  echo "$rps $p99"
}
# h2load_grpc PORT ARGS...: unary calls as a gRPC client makes them (POST,
# the gRPC content type, TE: trailers, a deadline).
h2load_grpc() {
  local port="$1"; shift
  h2load "$@" -H 'content-type: application/grpc' -H 'te: trailers' -H 'grpc-timeout: 5S' \
    -d "$dir/grpc.bin" "https://localhost:$port/test.Echo/Unary"
}
median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

# Rounds interleave the proxies (the order rotates each round), so a drift in
# the machine's speed during the run (it is a shared VM) hits all of them alike.
declare -A RPS P99 RS PS
port_of() { case $1 in nginx) echo "$NGINX" ;; caddy) echo "$CADDY" ;; wingress) echo "$WING" ;; baseline) echo "$BASE" ;; esac; }
for name in "${proxies[@]}"; do  # warm-up
  if [[ -n "${GRPC:-}" ]]; then
    h2load_grpc "$(port_of "$name")" -t1 -c8 -n2000 >/dev/null
  else
    wrk -t1 -c8 -d1s "https://localhost:$(port_of "$name")/" >/dev/null
  fi
done
order=(nginx wingress caddy)
[[ -n "${BASELINE:-}" ]] && order+=(baseline)
for i in $(seq 1 "$RUNS"); do
  for name in "${order[@]}"; do
    read -r r p < <(measure "$(port_of "$name")" "$name")
    echo "  $name run $i: $r req/s, p99 $p ms" >&2
    RS[$name]+="$r "; PS[$name]+="$p "
  done
  order=("${order[@]:1}" "${order[0]}")
done
for name in "${proxies[@]}"; do
  RPS[$name]="$(tr ' ' '\n' <<<"${RS[$name]}" | grep . | median)"
  P99[$name]="$(tr ' ' '\n' <<<"${PS[$name]}" | grep . | median)"
done

# Through the tunnel: wrk in a namespace whose wireguard-go peer reaches
# wingress (tunnel:443) in another namespace; same backend, same cert.
TUNNEL_RPS="" TUNNEL_P99=""
if [[ "${TUNNEL:-1}" != 0 && -z "${GRPC:-}" && $(id -u) -eq 0 ]] && command -v wireguard-go >/dev/null && command -v wg >/dev/null; then
  A="wgbench-a-$$" B="wgbench-b-$$"
  cleanup_ns() { set +e; ip netns pids "$A" 2>/dev/null | xargs -r kill 2>/dev/null; ip netns pids "$B" 2>/dev/null | xargs -r kill 2>/dev/null; ip netns del "$A" 2>/dev/null; ip netns del "$B" 2>/dev/null; true; }
  trap 'cleanup_ns; cleanup' EXIT
  ip netns add "$A"; ip netns add "$B"
  ip link add "wgb$$a" netns "$A" type veth peer name "wgb$$b" netns "$B"
  ip -n "$A" addr add 10.99.0.1/24 dev "wgb$$a"; ip -n "$B" addr add 10.99.0.2/24 dev "wgb$$b"
  for ns in "$A" "$B"; do ip -n "$ns" link set lo up; done
  ip -n "$A" link set "wgb$$a" up; ip -n "$B" link set "wgb$$b" up
  mkdir -p "$dir/tunnel/state"
  (umask 077; wg genkey > "$dir/tunnel/client.key"; "$WINGRESS" genkey > "$dir/tunnel/server.key")
  cpub="$(wg pubkey < "$dir/tunnel/client.key")"; spub="$("$WINGRESS" pubkey < "$dir/tunnel/server.key")"
  cat > "$dir/tunnel/wingress.toml" <<CONF
[node]
ip = "10.99.0.2"
state_dir = "$dir/tunnel/state"
[wireguard]
private_key_file = "server.key"
address = "100.64.0.2/24"
[[peer]]
name = "bench"
public_key = "$cpub"
allowed_ips = ["100.64.0.1/32"]
[[entrypoint]]
name = "tunnel-https"
listen = "tunnel:443"
[[tls.certificate]]
cert_file = "$dir/site.pem"
key_file = "$dir/site.key"
[[transport]]
name = "bench-ca"
ca = "$dir/ca.pem"
server_name = "localhost"
[[route]]
host = "localhost"
backends = ["$UPSTREAM"]
$WING_ROUTE
CONF
  # The backend runs in B (the same config as on the host).
  sed "s|pid .*;|pid $dir/tunnel/backend.pid;|" "$dir/nginx-backend/nginx.conf" > "$dir/tunnel/backend.conf"
  ip netns exec "$B" nginx -c "$dir/tunnel/backend.conf" -g 'daemon off;' & pids+=($!)
  WINGRESS_LOG=warn ip netns exec "$B" "$WINGRESS" run --config "$dir/tunnel/wingress.toml" >"$dir/tunnel/log" 2>&1 & pids+=($!)
  ip netns exec "$A" wireguard-go -f wgbench0 >"$dir/tunnel/wg.log" 2>&1 & pids+=($!)
  for _ in $(seq 1 100); do [[ -S /var/run/wireguard/wgbench0.sock ]] && break; sleep 0.1; done
  ip netns exec "$A" wg set wgbench0 private-key "$dir/tunnel/client.key" peer "$spub" \
    endpoint 10.99.0.2:41602 allowed-ips 100.64.0.2/32 persistent-keepalive 25
  ip -n "$A" addr add 100.64.0.1/24 dev wgbench0; ip -n "$A" link set wgbench0 mtu 1420 up
  for _ in $(seq 1 100); do
    ip netns exec "$A" curl -ksS -o /dev/null -H "Host: localhost" https://100.64.0.2/ 2>/dev/null && break; sleep 0.2
  done
  rs=() ps=()
  for i in $(seq 1 "$RUNS"); do
    out="$(ip netns exec "$A" wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -H "Host: localhost" https://100.64.0.2/)"
    r="$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")"
    p="$(awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us$/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v=v*1000}; print v}' <<<"$out")"
    echo "  wingress via wireguard-go tunnel run $i: $r req/s, p99 $p ms" >&2
    rs+=("$r"); ps+=("$p")
  done
  TUNNEL_RPS="$(printf '%s\n' "${rs[@]}" | median)"; TUNNEL_P99="$(printf '%s\n' "${ps[@]}" | median)"
fi

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "n/a" }'; }
echo
load="wrk -t$THREADS -c$CONNS -d$DURATION"
[[ -n "${GRPC:-}" ]] && load="h2load -t$THREADS -c$CONNS -m$STREAMS -D $DURATION"
echo "$MODE_NAME, $load, median of $RUNS runs, $(nproc) cores"
printf '| proxy | req/s | p99 ms |\n|---|---:|---:|\n'
for name in wingress nginx caddy ${BASELINE:+baseline}; do
  printf '| %s | %.0f | %.2f |\n' "$name" "${RPS[$name]}" "${P99[$name]}"
done
if [[ -n "$TUNNEL_RPS" ]]; then
  printf '| wingress through the tunnel (wrk behind wireguard-go) | %.0f | %.2f |\n' "$TUNNEL_RPS" "$TUNNEL_P99"
fi
printf '| wingress / nginx | %s | %s |\n' "$(ratio "${RPS[wingress]}" "${RPS[nginx]}")" "$(ratio "${P99[wingress]}" "${P99[nginx]}")"
printf '| wingress / caddy | %s | %s |\n' "$(ratio "${RPS[wingress]}" "${RPS[caddy]}")" "$(ratio "${P99[wingress]}" "${P99[caddy]}")"
if [[ -n "${BASELINE:-}" ]]; then
  printf '| wingress / baseline (%s) | %s | %s |\n' "$(basename "$BASELINE")" "$(ratio "${RPS[wingress]}" "${RPS[baseline]}")" "$(ratio "${P99[wingress]}" "${P99[baseline]}")"
fi
