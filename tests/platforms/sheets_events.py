"""Billed events for the Google Sheets tests: rated by the core with the sheets tests' time-of-use tariff."""

from __future__ import annotations

import json
from typing import Any

from connector.models import Customer, Session, Tariff
from connector.rating import rate
from tests.spreadsheets.sheets.conftest import TOU


def billed_event(sid: str, start: str, kwh: str, station: str = "ST-1", customer_class: str | None = None,
                 minutes: int = 60) -> dict[str, Any]:
    """A ``session.billed`` envelope whose rating comes from the real core (TOU tariff, Berlin)."""
    from datetime import datetime, timedelta

    begin = datetime.fromisoformat(start.replace("Z", "+00:00"))
    session = Session(id=sid, start=begin, end=begin + timedelta(minutes=minutes), energy_kwh=kwh,
                      time_zone="Europe/Berlin", station_id=station, customer_id="C-1")
    customer = Customer(id="C-1", name="Fleet One", **({"customer_class": customer_class} if customer_class else {}))
    rated = rate(session, [Tariff.model_validate(TOU)], customer)
    view = rated.invoice.to_dict()
    invoice = {"id": f"inv_{sid}", "number": f"INV-{sid}", "currency": "EUR", "status": "draft",
               "customer": {"id": "C-1", "customer_class": customer_class}, "net_total": "999.00",
               "tax_total": "99.00", "gross_total": "1098.00", "amount_due": "1098.00", "lines": view["lines"]}
    return {"id": f"evt_{sid}", "type": "session.billed", "tenant_id": "t1", "created_at": "2026-01-13T16:00:00Z",
            "data": {"session": json.loads(session.model_dump_json()), "rating": rated.to_dict(), "invoice": invoice}}
