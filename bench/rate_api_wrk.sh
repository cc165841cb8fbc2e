#!/usr/bin/env bash
# POST /v1/rate (stored tariff) over HTTP: gunicorn on 127.0.0.1 with SQLite, load from wrk (a compiled
# load generator, so the client does not eat the server's cores; Debian package "wrk").
# Prints wrk's req/s and latency distribution per repeat. Target: >= 1,500 req/s, p99 < 50 ms.
# Usage: bench/rate_api_wrk.sh [seconds 10] [workers 2] [connections 16] [repeats 3]
set -euo pipefail
SECONDS_RUN="${1:-10}"
WORKERS="${2:-2}"
CONNECTIONS="${3:-16}"
REPEATS="${4:-3}"
command -v wrk >/dev/null || { echo "wrk not found: apt-get install wrk" >&2; exit 2; }
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TMP="$(mktemp -d)"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
export DATABASE_URL="sqlite:///$TMP/bench.db" EVBILL_API_KEYS="bench-key=bench"

cd "$ROOT"
python3 -m connector.cli serve --workers "$WORKERS" --bind "127.0.0.1:$PORT" >"$TMP/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$TMP"' EXIT
for _ in $(seq 100); do
  curl -fs "http://127.0.0.1:$PORT/v1/ready" >/dev/null 2>&1 && break
  sleep 0.1
done
H=(-H "X-API-Key: bench-key" -H "Content-Type: application/json")
curl -fs "${H[@]}" -X POST "http://127.0.0.1:$PORT/v1/tariffs" -d '{"id": "TOU", "currency": "EUR", "elements": [
  {"price_components": [{"type": "ENERGY", "price": "0.55", "vat": "19", "step_size": 1}],
   "restrictions": {"start_time": "17:00", "end_time": "21:00"}},
  {"price_components": [{"type": "ENERGY", "price": "0.39", "vat": "19", "step_size": 1},
                        {"type": "TIME", "price": "1.20", "vat": "19", "step_size": 60}]}]}' >/dev/null
cat >"$TMP/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["X-API-Key"] = "bench-key"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"tariff_id": "TOU", "session": {"id": "S-1", "start": "2026-01-13T16:10:00Z", "end": "2026-01-13T18:40:00Z", "energy_kwh": "31.5", "time_zone": "Europe/Berlin"}}'
LUA
curl -fs "${H[@]}" -X POST "http://127.0.0.1:$PORT/v1/rate" -d "$(sed -n "s/^wrk.body = '\(.*\)'$/\1/p" "$TMP/post.lua")" >/dev/null
for i in $(seq "$REPEATS"); do
  echo "--- repeat $i: $WORKERS gunicorn workers, $CONNECTIONS connections, ${SECONDS_RUN}s"
  wrk -t1 -c"$CONNECTIONS" -d"${SECONDS_RUN}s" --latency -s "$TMP/post.lua" "http://127.0.0.1:$PORT/v1/rate" \
    | grep -E "Requests/sec|99%|50%|Non-2xx"
done
