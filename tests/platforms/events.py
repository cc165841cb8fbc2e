"""Events for the adapters: ``session.billed`` envelopes whose invoices come from the rating core.

Invoice JSON follows docs/architecture.md; its money comes from ``connector.rating.rate`` only, as decimal
strings with the currency's digits, as billing emits it ("12.05" EUR, "1372" JPY).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from connector.models import Customer, Session, Tariff
from connector.models.customer import Adjustment
from connector.rating import RatedSession, RatingOptions, rate


def tariff(currency: str = "EUR", vat: str | None = "19", energy_price: str = "0.39", flat: str | None = "1.00",
           parking: str | None = None, x_taxes: list[dict[str, Any]] | None = None) -> Tariff:
    components: list[dict[str, Any]] = [{"type": "ENERGY", "price": energy_price, "step_size": 1}]
    elements: list[dict[str, Any]] = [{"price_components": components}]
    if flat is not None:
        elements.insert(0, {"price_components": [{"type": "FLAT", "price": flat, "step_size": 1}]})
    if parking is not None:
        elements.append({"price_components": [{"type": "PARKING_TIME", "price": parking, "step_size": 60}]})
    for el in elements:
        for c in el["price_components"]:
            if vat is not None and not x_taxes:
                c["vat"] = vat
    data: dict[str, Any] = {"id": f"T-{currency}", "currency": currency, "elements": elements}
    if x_taxes:
        data["x_taxes"] = x_taxes
    return Tariff.model_validate(data)


def session(sid: str = "S-100", energy: str = "23.4", currency: str = "EUR", **kw: Any) -> Session:
    data: dict[str, Any] = {"id": sid, "tenant_id": "t1", "station_id": "ST-7", "customer_id": "C-1",
                            "start": "2026-01-13T10:00:00Z", "end": "2026-01-13T11:30:00Z",
                            "energy_kwh": energy, "currency": currency}
    data.update(kw)
    return Session.model_validate(data)


def invoice_json(rated: RatedSession, sess: Session, customer: Customer, *, number: str = "INV-0001",
                 status: str = "finalized", invoice_id: str | None = None) -> dict[str, Any]:
    """The documented Invoice JSON built from a RatedSession (the money is the core's, as strings)."""
    inv = rated.invoice
    lines = []
    for i, ln in enumerate(inv.lines):
        d = ln.to_dict()
        lines.append({"id": f"L{i + 1}", "session_id": sess.id, "station_id": sess.station_id,
                      "kind": d["kind"], "category": d["category"], "description": d["description"],
                      "quantity": d["quantity"], "unit": d["unit"], "unit_price": d["unit_price"],
                      "net": d["net"], "taxes": d["taxes"], "tax": d["tax"], "gross": d["gross"]})
    body = inv.to_dict()
    return {
        "id": invoice_id or f"inv_{sess.id}", "tenant_id": sess.tenant_id, "number": number, "status": status,
        "kind": "invoice", "credit_note_of": None,
        "customer": {"id": customer.id, "name": customer.name, "email": customer.email,
                     "customer_class": customer.customer_class, "locale": customer.locale,
                     "tax_region": customer.tax_region},
        "currency": inv.currency, "issued_at": "2026-01-13T11:31:00Z",
        "period_start": sess.start.isoformat(), "period_end": (sess.end or sess.start).isoformat(),
        "lines": lines, "taxes": body["taxes"], "net_total": body["net_total"], "tax_total": body["tax_total"],
        "gross_total": body["gross_total"], "incentive_total": body["incentive_total"],
        "amount_due": body["amount_due"],
    }


def billed_event(currency: str = "EUR", locale: str = "de_DE", sid: str = "S-100", energy: str = "23.4",
                 customer_class: str = "public", event_id: str | None = None,
                 email: str | None = "jane@example.com", **tariff_kw: Any) -> dict[str, Any]:
    """A ``session.billed`` envelope whose rating and invoice come from the real ``rate(...)``."""
    sess = session(sid, energy, currency)
    cust = Customer(id="C-1", name="Jane Driver", email=email, locale=locale, customer_class=customer_class)
    rated = rate(sess, tariff(currency=currency, **tariff_kw), cust)
    return {"id": event_id or f"evt_{sid}", "type": "session.billed", "tenant_id": "t1",
            "created_at": datetime(2026, 1, 13, 11, 31, tzinfo=UTC).isoformat().replace("+00:00", "Z"),
            "data": {"session": json.loads(sess.model_dump_json()), "rating": rated.to_dict(),
                     "invoice": invoice_json(rated, sess, cust)}}


def incentive_event(customer_class: str = "government", sid: str = "S-INC") -> dict[str, Any]:
    """A billed session with a state incentive of 0.05/kWh (23.4 kWh -> 1.17 EUR paid by the authority):
    gross 12.05, amount due 10.88; rated by ``rate(...)`` with the adjustment, as billing does."""
    sess = session(sid)
    cust = Customer(id="C-1", name="City Fleet", email="fleet@city.example", customer_class=customer_class)
    rated = rate(sess, tariff(), cust, RatingOptions(adjustments=(
        Adjustment(kind="incentive_per_kwh", name="State incentive", value="0.05"),)))
    return {"id": f"evt_{sid}", "type": "session.billed", "tenant_id": "t1", "created_at": "2026-01-13T11:31:00Z",
            "data": {"session": json.loads(sess.model_dump_json()), "rating": rated.to_dict(),
                     "invoice": invoice_json(rated, sess, cust)}}


def anomaly_event(rule: str = "negative_energy", aid: str = "an_1", **extra: Any) -> dict[str, Any]:
    anomaly = {"id": aid, "rule": rule, "severity": "high", "session_id": "S-100", "station_id": "ST-7",
               "message": "Energy -3.2 kWh reported", "details": {"energy_kwh": "-3.2", "meter": [0, -3.2]}}
    anomaly.update(extra)
    return {"id": f"evt_{aid}", "type": "billing.anomaly", "tenant_id": "t1", "created_at": "2026-01-13T11:31:00Z",
            "data": {"anomaly": anomaly}}


def reconciliation_event(n_exceptions: int = 3) -> dict[str, Any]:
    return {"id": "evt_rec1", "type": "reconciliation.completed", "tenant_id": "t1",
            "created_at": "2026-01-14T02:00:00Z",
            "data": {"reconciliation": {"id": "rec_1", "kind": "payments", "period_start": "2026-01-13",
                                        "period_end": "2026-01-14", "stations": ["ST-7"],
                                        "summary": {"expected": "120.50", "billed": "120.50", "paid": "118.00",
                                                    "difference": "-2.50", "currency": "EUR"},
                                        "rows": [],
                                        "exceptions": [{"session_id": f"S-{i}", "reason": "unpaid",
                                                        "difference": "-0.50"} for i in range(n_exceptions)]}}}
