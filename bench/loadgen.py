"""Shared pieces of the ingestion benches: the API and worker as subprocesses, an idempotent webhook
receiver, keep-alive HTTP clients that time every request, and percentile helpers.

Not a test double: the benches drive the real ``evbill serve`` (gunicorn) and ``evbill worker``.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
KEY = "bench-key"
HEADERS = {"X-API-Key": KEY, "Content-Type": "application/json"}
TARIFF = {"id": "T-EUR", "currency": "EUR",
          "elements": [{"price_components": [{"type": "ENERGY", "price": "0.30", "vat": "19", "step_size": 1}]}]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pin(cpus: set[int]) -> None:
    """Keep this process (and what it starts afterwards) on ``cpus`` when the machine has them."""
    usable = cpus & set(range(os.cpu_count() or 1))
    if usable and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, usable)


class Proc:
    """A subprocess in its own process group, optionally pinned to some CPUs."""

    def __init__(self, argv: list[str], env: dict[str, str], cpus: set[int] | None = None) -> None:
        def preexec() -> None:
            os.setsid()
            if cpus:
                pin(cpus)

        self.proc = subprocess.Popen(argv, cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, preexec_fn=preexec)

    def cpu_seconds(self) -> float:
        """CPU time (user + system) of the process and its live descendants (gunicorn's workers), from /proc;
        0.0 where there is no /proc."""
        tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        total, todo, seen = 0.0, [self.proc.pid], set()
        while todo:
            pid = todo.pop()
            if pid in seen:
                continue
            seen.add(pid)
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / tick
                for task in os.listdir(f"/proc/{pid}/task"):
                    todo.extend(int(c) for c in Path(f"/proc/{pid}/task/{task}/children").read_text().split())
            except (OSError, IndexError, ValueError):
                continue
        return total

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)


def serve(url: str, workers: int, threads: int, cpus: set[int] | None = None) -> tuple[Proc, int]:
    port = free_port()
    proc = Proc([sys.executable, "-m", "connector.cli", "serve", "--workers", str(workers), "--threads", str(threads),
                 "--bind", f"127.0.0.1:{port}"], {"DATABASE_URL": url, "EVBILL_API_KEYS": f"{KEY}=bench",
                  "EVBILL_WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true"}, cpus)  # the receiver is on 127.0.0.1
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if request(port, "GET", "/v1/ready")[0] == 200:
                return proc, port
        except OSError:
            time.sleep(0.1)
    proc.stop()
    raise SystemExit("evbill serve did not start")


def worker(url: str, cpus: set[int] | None = None) -> Proc:
    return Proc([sys.executable, "-m", "connector.cli", "worker", "--interval", "0.2", "--batch", "100"],
                {"DATABASE_URL": url, "EVBILL_WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true"}, cpus)


def request(port: int, method: str, path: str, body: Any = None, conn: http.client.HTTPConnection | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path, body=None if body is None else json.dumps(body),
                     headers={**HEADERS, **(headers or {})})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        if own:
            conn.close()


def end_event(run: str, index: int, customer: str) -> dict[str, Any]:
    """One hour, 10 kWh; each index starts a minute later and each run has its own station, so no two sessions
    are the same station, start and energy, not even across repeats in one database (that would be a
    duplicate-session anomaly, which real traffic rarely has, not ingestion cost)."""
    start = datetime(2026, 1, 13, 14, tzinfo=UTC) + timedelta(minutes=index)
    stamp = {k: (start + timedelta(hours=h)).strftime("%Y-%m-%dT%H:%M:%SZ") for k, h in (("start", 0), ("end", 1))}
    return {"event_id": f"{run}-{index}:end", "type": "end", "session_id": f"{run}-{index}",
            "timestamp": stamp["end"],
            "session": {"start": stamp["start"], "end": stamp["end"], "energy_kwh": "10",
                        "tariff_id": "T-EUR", "station_id": f"ST-{run}", "customer_id": customer}}


class Clients:
    """``count`` threads with a keep-alive connection each, sending events in order from a shared index;
    every answer's latency is kept with the event's index. ``ports`` are used round robin (a load balancer)."""

    def __init__(self, ports: list[int], count: int) -> None:
        self.ports, self.count = ports, count
        self.lock = threading.Lock()
        self.latency: dict[int, float] = {}
        self.finished: dict[int, float] = {}
        self.errors: dict[str, int] = {}

    def run(self, events: list[dict[str, Any]]) -> float:
        position = iter(range(len(events)))
        started = time.monotonic()

        def loop(slot: int) -> None:
            port = self.ports[slot % len(self.ports)]
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            while True:
                with self.lock:
                    index = next(position, None)
                if index is None:
                    break
                t0 = time.perf_counter()
                try:
                    status, _ = request(port, "POST", "/v1/sessions/events", events[index], conn)
                except (OSError, http.client.HTTPException) as exc:
                    status = type(exc).__name__  # type: ignore[assignment]
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                took = time.perf_counter() - t0
                with self.lock:
                    if status in (200, 202):
                        self.latency[index] = took
                        self.finished[index] = time.monotonic() - started
                    else:
                        self.errors[str(status)] = self.errors.get(str(status), 0) + 1
            conn.close()

        threads = [threading.Thread(target=loop, args=(slot,)) for slot in range(self.count)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return time.monotonic() - started


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def median(values: list[float]) -> float:
    return statistics.median(values)


class Receiver:
    """An idempotent webhook receiver on 127.0.0.1: counts each Idempotency-Key once, and duplicates."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.keys: dict[str, int] = {}
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                key = self.headers.get("Idempotency-Key") or ""
                with owner.lock:
                    owner.keys[key] = owner.keys.get(key, 0) + 1
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
