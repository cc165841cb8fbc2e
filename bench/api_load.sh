#!/usr/bin/env bash
# Load test of the API: gunicorn on 127.0.0.1 with SQLite, a Python load generator (keep-alive
# connections, several processes) against POST /v1/rate and POST /v1/rate/batch.
# Prints req/s, p50/p99 latency and sessions/s.  Usage: bench/api_load.sh [seconds] [workers] [clients]
# Environment: PYTHON (default: .venv/bin/python when present, else python3).
# Note: the load generator runs on the same machine and takes CPU from the server.
set -euo pipefail
SECONDS_RUN="${1:-10}"
WORKERS="${2:-$(nproc)}"
CLIENTS="${3:-16}"
BATCH_SIZE="${BATCH_SIZE:-100}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
# PYTHON, else the project's virtualenv (scripts/venv.sh), else python3 on PATH
if [ -z "${PYTHON:-}" ]; then
  if [ -x "$ROOT/.venv/bin/python" ]; then PYTHON="$ROOT/.venv/bin/python"; else PYTHON=python3; fi
fi
TMP="$(mktemp -d)"
PORT="$("$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
export DATABASE_URL="sqlite:///$TMP/bench.db" EVBILL_API_KEYS="bench-key=bench"

cd "$ROOT"
"$PYTHON" -m connector.cli serve --workers "$WORKERS" --threads 4 --bind "127.0.0.1:$PORT" >"$TMP/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$TMP"' EXIT
for _ in $(seq 100); do
  curl -fs "http://127.0.0.1:$PORT/v1/ready" >/dev/null 2>&1 && break
  sleep 0.1
done

"$PYTHON" - "$PORT" "$SECONDS_RUN" "$CLIENTS" "$BATCH_SIZE" <<'PY'
import http.client, json, multiprocessing as mp, sys, time

port, seconds, clients, batch_size = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
H = {"X-API-Key": "bench-key", "Content-Type": "application/json"}
TARIFF = {"id": "TOU", "currency": "EUR", "elements": [
    {"price_components": [{"type": "ENERGY", "price": "0.55", "vat": 19}],
     "restrictions": {"start_time": "17:00", "end_time": "21:00"}},
    {"price_components": [{"type": "ENERGY", "price": "0.29", "vat": 19}]},
    {"price_components": [{"type": "TIME", "price": "1.20", "vat": 19, "step_size": 60}]}]}
SESSION = {"id": "S", "start": "2026-01-13T16:00:00Z", "end": "2026-01-13T18:30:00Z", "energy_kwh": "30",
           "time_zone": "Europe/Berlin"}
RATE = json.dumps({"session": SESSION, "tariff_id": "TOU"})
BATCH = json.dumps({"sessions": [{**SESSION, "id": f"S{i}"} for i in range(batch_size)], "tariff_id": "TOU"})

def client(path, body, until, out):
    conn = http.client.HTTPConnection("127.0.0.1", port)
    lat, errors = [], 0
    while time.perf_counter() < until:
        t = time.perf_counter()
        conn.request("POST", path, body, H)
        resp = conn.getresponse(); resp.read()
        lat.append(time.perf_counter() - t)
        errors += resp.status != 200
    out.put((lat, errors))

def run(name, path, body, n, per_request):
    out = mp.Queue()
    until = time.perf_counter() + seconds
    procs = [mp.Process(target=client, args=(path, body, until, out)) for _ in range(n)]
    start = time.perf_counter()
    for p in procs: p.start()
    results = [out.get() for _ in procs]
    for p in procs: p.join()
    elapsed = time.perf_counter() - start
    lat = sorted(x for r in results for x in r[0]); errors = sum(r[1] for r in results)
    pct = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000
    print(f"{name:<28} {len(lat)/elapsed:8.1f} req/s  p50 {pct(.5):6.1f} ms  p99 {pct(.99):6.1f} ms  "
          f"{len(lat)*per_request/elapsed:9.1f} sessions/s  errors {errors}  ({n} clients, {len(lat)} requests)")

conn = http.client.HTTPConnection("127.0.0.1", port)
conn.request("POST", "/v1/tariffs", json.dumps(TARIFF), H); r = conn.getresponse(); r.read(); assert r.status in (201, 409)
conn.request("POST", "/v1/rate", RATE, H); r = conn.getresponse(); body = json.loads(r.read())
print("check: one session ->", body["invoice"]["amount_due"], body["currency"])
run("POST /v1/rate", "/v1/rate", RATE, clients, 1)
run(f"POST /v1/rate/batch ({batch_size})", "/v1/rate/batch", BATCH, max(2, clients // 4), batch_size)
PY
