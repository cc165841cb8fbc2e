"""The monthly incentive cap holds when two sessions of one customer are billed at the same moment."""

from __future__ import annotations

import threading
from decimal import Decimal

from sqlalchemy.orm import Session

from connector.billing.invoicing import sessions as service
from connector.storage import repo
from tests.billing.pricing.conftest import TENANT, H, ok

TARIFF = {"id": "T-CC", "currency": "EUR", "elements": [{"price_components": [
    {"type": "ENERGY", "price": "0.30", "vat": "19", "step_size": 1}]}]}


def test_two_concurrent_completions_share_the_cap(client):
    ok(client.post("/v1/tariffs", json=TARIFF, headers=H), 201)
    ok(client.post("/v1/customers", json={"id": "M1"}, headers=H), 201)
    ok(client.put("/v1/billing/settings", json={"rules": {"incentive": {"per_kwh": "0.10", "monthly_cap": "1.50"}}},
                  headers=H))
    engine = client.application.extensions["evbill.engine"]
    with Session(engine) as db:
        for sid, hour in (("S-A", 10), ("S-B", 12)):
            repo.put_session(db, TENANT, {"id": sid, "status": "ended", "tariff_id": "T-CC", "customer_id": "M1",
                                          "start": f"2026-01-13T{hour}:00:00+00:00",
                                          "end": f"2026-01-13T{hour + 1}:00:00+00:00", "energy_kwh": "10"})
        db.commit()
    barrier = threading.Barrier(2)
    results: dict[str, Decimal] = {}
    errors: list[BaseException] = []

    def bill(session_id: str) -> None:
        try:
            with Session(engine) as db:
                barrier.wait()
                out = service.complete_session(db, TENANT, session_id)
                db.commit()
                results[session_id] = Decimal(out["rating"]["invoice"]["incentive_total"])
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=bill, args=(sid,)) for sid in ("S-A", "S-B")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    # 10 kWh x 0.10 = 1.00 for whichever is first, the 0.50 left of the 1.50 cap for the other
    assert sorted(results.values()) == [Decimal("0.50"), Decimal("1.00")]
    report = ok(client.get("/v1/billing/incentives?month=2026-01", headers=H))
    assert report["totals"] == {"EUR": "1.50"}
