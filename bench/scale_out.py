"""Scale-out on one PostgreSQL: N API processes (gunicorn) behind a round-robin client and M delivery
workers share a burst of session ends; then every session must be billed once and every
``session.billed`` delivered once to a webhook receiver.

    python bench/scale_out.py --url postgresql+psycopg://evbill:evbill@127.0.0.1:5432/evbill_bench \
        --apis 2 --workers 2 --sessions 2000 --repeats 3

Prints per repeat and as min / median: session ends/s, p50/p99 ms, how the answers split between the
APIs, seconds until the last delivery, and the checks (lost or duplicated bills, duplicated deliveries).
Sessions belong to ``--customers`` customers (drafts), as a real operator's do. Use a database of its own:
the bench adds tariffs, sessions and a webhook subscription (removed at the end).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from loadgen import TARIFF, Clients, Receiver, end_event, median, percentile, request, serve, worker  # noqa: E402
from sqlalchemy import func, select  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from connector.storage.db import make_engine  # noqa: E402
from connector.storage.tables.billing import InvoiceLineRow  # noqa: E402
from connector.storage.tables.outbox import DeliveryRow  # noqa: E402


def seen(receiver: Receiver) -> tuple[int, int]:
    """Distinct keys the receiver accepted, and requests that repeated a key."""
    with receiver.lock:
        return len(receiver.keys), sum(n - 1 for n in receiver.keys.values())


def one_run(url: str, ports: list[int], receiver: Receiver, args: argparse.Namespace, run: str,
            target: str) -> dict[str, float]:
    events = [end_event(run, i, f"C-{run}-{i % args.customers}") for i in range(args.sessions)]
    keys_before, dups_before = seen(receiver)
    load = Clients(ports, args.clients)
    took = load.run(events)
    lat = [v * 1000 for v in load.latency.values()]
    engine = make_engine(url)
    started = time.monotonic()
    with Session(engine) as db:
        while True:
            pending = db.scalar(select(func.count()).select_from(DeliveryRow).where(
                DeliveryRow.target == target, DeliveryRow.status.in_(("pending", "sending")))) or 0
            if pending == 0 and seen(receiver)[0] >= keys_before + len(load.latency):
                break
            if time.monotonic() - started > 600:
                break
            time.sleep(0.2)
            db.expire_all()
        drained = time.monotonic() - started
        counts = dict(db.execute(select(InvoiceLineRow.session_id, func.count()).where(
            InvoiceLineRow.session_id.like(f"{run}-%")).group_by(InvoiceLineRow.session_id)).all())
    engine.dispose()
    billed_once = sum(1 for n in counts.values() if n == 1)
    keys_after, dups_after = seen(receiver)
    duplicated = dups_after - dups_before
    print(f"  run {run}: {len(load.latency)}/{args.sessions} acknowledged in {took:.1f} s "
          f"({len(load.latency) / took:.0f}/s, p50 {percentile(lat, 0.5):.1f} ms, p99 {percentile(lat, 0.99):.1f} ms), "
          f"errors {load.errors or 0}; deliveries done {drained:.1f} s later; billed once {billed_once}, "
          f"lost {args.sessions - len(counts)}, billed twice {len(counts) - billed_once}, "
          f"delivered {keys_after - keys_before}, duplicated deliveries {duplicated}", flush=True)
    return {"rate": len(load.latency) / took, "p50": percentile(lat, 0.5), "p99": percentile(lat, 0.99),
            "drain": drained, "bad": (args.sessions - billed_once) + duplicated
            + abs(keys_after - keys_before - len(load.latency))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="PostgreSQL URL (tables are created when missing)")
    parser.add_argument("--apis", type=int, default=2, help="API processes (gunicorn, one worker each)")
    parser.add_argument("--threads", type=int, default=4, help="threads per API process")
    parser.add_argument("--workers", type=int, default=2, help="evbill worker processes")
    parser.add_argument("--sessions", type=int, default=2000)
    parser.add_argument("--customers", type=int, default=50)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    receiver = Receiver()
    apis = [serve(args.url, 1, args.threads) for _ in range(args.apis)]
    workers = [worker(args.url) for _ in range(args.workers)]
    ports = [port for _, port in apis]
    results = []
    target = ""
    try:
        status, body = request(ports[0], "POST", "/v1/tariffs", TARIFF)
        if status not in (201, 409):
            raise SystemExit(f"tariff: {status} {body[:200]!r}")
        status, body = request(ports[0], "POST", "/v1/subscriptions",
                               {"callback_url": receiver.url, "event_types": ["session.billed"]})
        if status != 201:
            raise SystemExit(f"subscription: {status} {body[:200]!r}")
        target = f"webhook:{json.loads(body)['id']}"
        for r in range(args.repeats):
            results.append(one_run(args.url, ports, receiver, args, f"X{int(time.time())}{r}", target))
    finally:
        if target:  # later runs on this database must not deliver to a receiver that is gone
            request(ports[0], "DELETE", f"/v1/subscriptions/{target.split(':', 1)[1]}")
        for proc in workers:
            proc.stop()
        for proc, _ in apis:
            proc.stop()
        receiver.stop()
    print(f"\n{args.apis} API x {args.threads} threads, {args.workers} workers, {args.clients} clients, PostgreSQL, "
          f"{args.sessions} session ends x {args.repeats} (min / median):")
    for key, unit in (("rate", "session ends/s"), ("p50", "ms p50"), ("p99", "ms p99"), ("drain", "s to drain")):
        values = [r[key] for r in results]
        print(f"  {unit:>16}: {min(values):.1f} / {median(values):.1f}")
    bad = sum(int(r["bad"]) for r in results)
    print(f"  lost or duplicated bills and duplicated deliveries: {bad}")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
