"""A seeded day (2026-01-13, Europe/Berlin) across 3 stations, 2 tariffs and 2 customer classes.

Invoices are written straight into the billing tables so each exception kind can be staged exactly (a
wrong amount, a void invoice, a credit note). Expected amounts, all 19 % VAT, whole kWh:
T-A 0.30/kWh: 10 kWh = 3.57, 20 kWh = 7.14, 30 kWh = 10.71; T-B 0.40/kWh: 10 kWh = 4.76, 5 kWh = 2.38,
12.5 kWh = 5.95.

| group (station, tariff, class) | sessions | expected | billed | paid |
|---|---|---|---|---|
| ST-1 T-A public | S1, S7 (unbilled), S9 (duplicate of S1), S12 (00:30 Berlin) | 14.28 | 10.71 | 7.14 |
| ST-1 T-A fleet  | S2 (invoice finalized, unpaid) | 7.14 | 7.14 | 0.00 |
| ST-2 T-A public | S8 (billed 3.00: mismatch) | 3.57 | 3.00 | 3.00 |
| ST-2 T-B fleet  | S4 | 2.38 | 2.38 | 2.38 |
| ST-2 T-B public | S3 (+ a void invoice of 4.76 that must not count) | 4.76 | 4.76 | 4.76 |
| ST-3 T-A public | S5, S10 (-5 kWh: not rated, unbilled) | 10.71 | 10.71 | 10.71 |
| ST-3 T-B public | S6 (billed 6.00, credited 6.00, rebilled 5.95) | 5.95 | 5.95 | 5.95 |

Totals: expected 48.79, billed 44.65, paid 33.94, difference 4.14. Outside the day: S11 (00:30 on the
14th in Berlin although 23:30Z on the 13th). Open: S13.
"""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy.orm import Session as DbSession

from connector.models import Tariff
from connector.storage import repo
from connector.storage.tables.billing import InvoiceLineRow, InvoiceRow
from connector.storage.tables.core import CustomerRow

TENANT = "t1"
TARIFFS = {
    "T-A": {"id": "T-A", "currency": "EUR", "elements": [
        {"price_components": [{"type": "ENERGY", "price": "0.30", "vat": "19", "step_size": 1}]}]},
    "T-B": {"id": "T-B", "currency": "EUR", "elements": [
        {"price_components": [{"type": "ENERGY", "price": "0.40", "vat": "19", "step_size": 1}]}]},
}
CLASS = {"C-PUB": "public", "C-FLEET": "fleet"}

# id: (station, tariff, customer, start, hours, energy)
SESSIONS: dict[str, tuple[str, str, str, str, int | None, str]] = {
    "S1": ("ST-1", "T-A", "C-PUB", "2026-01-13T09:00:00Z", 1, "10"),
    "S2": ("ST-1", "T-A", "C-FLEET", "2026-01-13T10:00:00Z", 1, "20"),
    "S3": ("ST-2", "T-B", "C-PUB", "2026-01-13T09:00:00Z", 1, "10"),
    "S4": ("ST-2", "T-B", "C-FLEET", "2026-01-13T11:00:00Z", 1, "5"),
    "S5": ("ST-3", "T-A", "C-PUB", "2026-01-13T08:00:00Z", 2, "30"),
    "S6": ("ST-3", "T-B", "C-PUB", "2026-01-13T12:00:00Z", 1, "12.5"),
    "S7": ("ST-1", "T-A", "C-PUB", "2026-01-13T13:00:00Z", 1, "10"),
    "S8": ("ST-2", "T-A", "C-PUB", "2026-01-13T14:00:00Z", 1, "10"),
    "S9": ("ST-1", "T-A", "C-PUB", "2026-01-13T09:00:00Z", 1, "10"),
    "S10": ("ST-3", "T-A", "C-PUB", "2026-01-13T15:00:00Z", 1, "-5"),
    "S11": ("ST-1", "T-A", "C-PUB", "2026-01-13T23:30:00Z", 1, "10"),
    "S12": ("ST-1", "T-A", "C-PUB", "2026-01-12T23:30:00Z", 1, "10"),
    "S13": ("ST-2", "T-A", "C-PUB", "2026-01-13T16:00:00Z", None, "4"),
}

# (session, gross minor units, invoice status, invoice kind)
BILLING: list[tuple[str, int, str, str]] = [
    ("S1", 357, "paid", "invoice"), ("S2", 714, "finalized", "invoice"), ("S3", 476, "paid", "invoice"),
    ("S3", 476, "void", "invoice"), ("S4", 238, "paid", "invoice"), ("S5", 1071, "paid", "invoice"),
    ("S6", 600, "finalized", "invoice"), ("S6", 600, "finalized", "credit_note"), ("S6", 595, "paid", "invoice"),
    ("S8", 300, "paid", "invoice"), ("S9", 357, "finalized", "invoice"), ("S12", 357, "paid", "invoice"),
    ("S11", 357, "paid", "invoice"),
]


def session_doc(session_id: str) -> dict[str, Any]:
    station, tariff, customer, start, hours, energy = SESSIONS[session_id]
    doc: dict[str, Any] = {"id": session_id, "station_id": station, "tariff_id": tariff, "customer_id": customer,
                           "start": start, "energy_kwh": energy, "time_zone": "Europe/Berlin",
                           "status": "ended" if hours else "active"}
    if hours:
        from datetime import datetime, timedelta

        doc["end"] = (datetime.fromisoformat(start.replace("Z", "+00:00")) + timedelta(hours=hours)
                      ).isoformat().replace("+00:00", "Z")
    return doc


_ids = itertools.count(1)


def add_invoice(db: DbSession, session_id: str, gross: int, status: str, kind: str) -> None:
    """One invoice (or credit note) with one line for the session (net/tax split at 19 %)."""
    station, tariff, customer, *_ = SESSIONS[session_id]
    number = next(_ids)
    invoice_id = f"INV-{number}"
    net = round(gross / 1.19)  # test data only: the split does not take part in reconciliation
    db.add(InvoiceRow(tenant_id=TENANT, invoice_id=invoice_id, status=status, kind=kind, customer_id=customer,
                      currency="EUR", net_total=net, tax_total=gross - net, gross_total=gross, amount_due=gross))
    db.add(InvoiceLineRow(tenant_id=TENANT, line_id=f"L-{number}", invoice_id=invoice_id, session_id=session_id,
                          station_id=station, tariff_id=tariff, customer_class=CLASS[customer],
                          kind="credit" if kind == "credit_note" else "charge", category="energy",
                          net=net, tax=gross - net, gross=gross))


def seed(db: DbSession) -> None:
    repo.ensure_tenant(db, TENANT)
    for tariff in TARIFFS.values():
        repo.create_tariff(db, TENANT, Tariff.model_validate(tariff))
    for customer_id, klass in CLASS.items():
        db.add(CustomerRow(tenant_id=TENANT, customer_id=customer_id, customer_class=klass))
    for session_id in SESSIONS:
        repo.put_session(db, TENANT, session_doc(session_id))
    for session_id, gross, status, kind in BILLING:
        add_invoice(db, session_id, gross, status, kind)
    db.flush()
