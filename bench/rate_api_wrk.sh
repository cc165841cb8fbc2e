#!/usr/bin/env bash
# POST /v1/rate (stored tariff) over HTTP: gunicorn on 127.0.0.1 with SQLite, load from wrk (a compiled
# load generator, so the client does not eat the server's cores; Debian package "wrk").
# Prints wrk's req/s and latency distribution per repeat, and the load average. Target: >= 1,500 req/s,
# p99 < 50 ms.
# Usage: bench/rate_api_wrk.sh [seconds 10] [workers 2] [connections 16] [repeats 3]
# Environment: PYTHON (default: .venv/bin/python when present, else python3), SERVE_ARGS (more `evbill serve` options; default
# "--worker-class gthread --threads 1": keep-alive connections), STORED_KEY=1 (a hashed key from
# `evbill apikey create`, looked up per request, instead of a development key), PIN=1 (wrk on the last CPU,
# the server on the others; the default when there are 3 or more CPUs).
set -euo pipefail
SECONDS_RUN="${1:-10}"
WORKERS="${2:-2}"
CONNECTIONS="${3:-16}"
REPEATS="${4:-3}"
command -v wrk >/dev/null || { echo "wrk not found: apt-get install wrk" >&2; exit 2; }
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
if [ -z "${PYTHON:-}" ]; then
  if [ -x "$ROOT/.venv/bin/python" ]; then PYTHON="$ROOT/.venv/bin/python"; else PYTHON=python3; fi
fi
TMP="$(mktemp -d)"
PORT="$("$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
export DATABASE_URL="sqlite:///$TMP/bench.db" EVBILL_API_KEYS="bench-key=bench"

cd "$ROOT"
SERVE_ARGS="${SERVE_ARGS:---worker-class gthread --threads 1}"
CPUS="$(nproc)"
SERVER_PIN=() WRK_PIN=()
if command -v taskset >/dev/null && { [ "${PIN:-}" = 1 ] || { [ -z "${PIN:-}" ] && [ "$CPUS" -ge 3 ]; }; }; then
  SERVER_PIN=(taskset -c "0-$((CPUS - 2))") WRK_PIN=(taskset -c "$((CPUS - 1))")
fi
KEY=bench-key
if [ "${STORED_KEY:-}" = 1 ]; then
  unset EVBILL_API_KEYS
  KEY="$("$PYTHON" -m connector.cli apikey create --tenant bench)"
fi
# shellcheck disable=SC2086
"${SERVER_PIN[@]}" "$PYTHON" -m connector.cli serve --workers "$WORKERS" --bind "127.0.0.1:$PORT" $SERVE_ARGS \
  >"$TMP/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$TMP"' EXIT
for _ in $(seq 600); do
  curl -fs "http://127.0.0.1:$PORT/v1/ready" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fs "http://127.0.0.1:$PORT/v1/ready" >/dev/null || { echo "server not ready:" >&2; cat "$TMP/server.log" >&2; exit 1; }
H=(-H "X-API-Key: $KEY" -H "Content-Type: application/json")
curl -fs "${H[@]}" -X POST "http://127.0.0.1:$PORT/v1/tariffs" -d '{"id": "TOU", "currency": "EUR", "elements": [
  {"price_components": [{"type": "ENERGY", "price": "0.55", "vat": "19", "step_size": 1}],
   "restrictions": {"start_time": "17:00", "end_time": "21:00"}},
  {"price_components": [{"type": "ENERGY", "price": "0.39", "vat": "19", "step_size": 1},
                        {"type": "TIME", "price": "1.20", "vat": "19", "step_size": 60}]}]}' >/dev/null
cat >"$TMP/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["X-API-Key"] = "KEY"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"tariff_id": "TOU", "session": {"id": "S-1", "start": "2026-01-13T16:10:00Z", "end": "2026-01-13T18:40:00Z", "energy_kwh": "31.5", "time_zone": "Europe/Berlin"}}'
LUA
sed -i "s/\"KEY\"/\"$KEY\"/" "$TMP/post.lua"
curl -fs "${H[@]}" -X POST "http://127.0.0.1:$PORT/v1/rate" -d "$(sed -n "s/^wrk.body = '\(.*\)'$/\1/p" "$TMP/post.lua")" >/dev/null
# CPU seconds (user + system) of the gunicorn master and its workers: load-independent cost per request
server_cpu() {
  local total=0 pid
  for pid in $SERVER $(pgrep -P "$SERVER"); do
    [ -r "/proc/$pid/stat" ] && total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
  done
  echo "$total"
}
TICKS="$(getconf CLK_TCK)"
for i in $(seq "$REPEATS"); do
  echo "--- repeat $i: $WORKERS gunicorn workers ($SERVE_ARGS), $CONNECTIONS connections, ${SECONDS_RUN}s," \
    "pinned: ${WRK_PIN[*]:-no}, load average: $(cut -d' ' -f1-3 /proc/loadavg)"
  before="$(server_cpu)"
  "${WRK_PIN[@]}" wrk -t1 -c"$CONNECTIONS" -d"${SECONDS_RUN}s" --latency -s "$TMP/post.lua" \
    "http://127.0.0.1:$PORT/v1/rate" >"$TMP/wrk.out"
  used="$(( $(server_cpu) - before ))"
  grep -E "Requests/sec|99%|50%|Non-2xx" "$TMP/wrk.out"
  requests="$(awk '/requests in/ {print $1}' "$TMP/wrk.out")"
  awk -v t="$used" -v hz="$TICKS" -v n="$requests" \
    'BEGIN { if (n > 0) printf "server CPU per request: %.3f ms (%d requests)\n", t / hz * 1000 / n, n }'
done
