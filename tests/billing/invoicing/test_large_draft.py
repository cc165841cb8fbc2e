"""A session's bill and its ``session.billed`` event stay the same size, and billing loads the same rows, whether
the customer's open draft holds 0 or 10,000 lines: the answer carries the session's own lines and an invoice
summary; totals grow incrementally (no reload or re-sum of the draft's lines per session)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import event, insert, select
from sqlalchemy.orm import Session

from connector.billing.invoicing import rows as invoices
from connector.storage.tables.billing import InvoiceLineRow, InvoiceRow
from connector.storage.tables.outbox import EventRow
from tests.billing.invoicing.conftest import A, ingest, setup_tenant

GROWN = 10_000


def _grow_draft(app: Any, invoice_id: str, n: int) -> None:
    """``n`` more lines on the draft (copies of its first line), totals kept as the sum of all lines."""
    with Session(app.extensions["evbill.engine"]) as db:
        [first] = invoices.lines_of(db, "A", invoice_id)
        template = {c.name: getattr(first, c.name) for c in InvoiceLineRow.__table__.columns}
        rows = [{**template, "line_id": f"ln_bulk_{i:05d}", "session_id": f"S-OLD-{i}", "position": 100 + i}
                for i in range(n)]
        db.execute(insert(InvoiceLineRow), rows)
        invoices.refresh_totals(db, db.get(InvoiceRow, ("A", invoice_id)))
        db.commit()


def _bill_counting(app: Any, client: Any, session_id: str) -> tuple[dict[str, Any], int, int]:
    """(the answer, invoice lines the ORM loaded while billing, bytes of the session.billed event)."""
    loaded = []

    def count(target: Any, _context: Any) -> None:
        loaded.append(target.line_id)

    event.listen(InvoiceLineRow, "load", count)
    try:
        out = ingest(client, session_id, customer="C-1")
    finally:
        event.remove(InvoiceLineRow, "load", count)
    with Session(app.extensions["evbill.engine"]) as db:
        rows = db.scalars(select(EventRow).where(EventRow.type == "session.billed")).all()
        data = next(r.data for r in rows if r.data["session"]["id"] == session_id)
    return out, len(loaded), len(json.dumps(data))


def test_cost_per_session_is_flat_as_the_draft_grows(app, client):
    setup_tenant(client)
    first, loaded_small, event_small = _bill_counting(app, client, "S-0")
    invoice_id = first["billing"]["invoice_id"]
    _grow_draft(app, invoice_id, GROWN)
    big, loaded_big, event_big = _bill_counting(app, client, "S-NEW")
    billing = big["billing"]
    assert billing["invoice_id"] == invoice_id  # the same, now huge, draft
    assert [ln["session_id"] for ln in billing["lines"]] == ["S-NEW"] and "lines" not in billing["invoice"]
    # 10,002 sessions of 3.00 + 0.57: the totals are exact, kept incrementally
    assert (billing["invoice"]["net_total"], billing["invoice"]["tax_total"], billing["invoice"]["amount_due"]) == (
        "30006.00", "5701.14", "35707.14")
    assert loaded_big == loaded_small <= 1  # no line of other sessions is read to bill this one
    assert abs(len(json.dumps(big)) - len(json.dumps(first))) < 50 and event_big - event_small < 50
    whole = client.get(f"/v1/invoices/{invoice_id}", headers=A).get_json()  # the whole invoice: one GET away
    assert len(whole["lines"]) == GROWN + 2 and whole["amount_due"] == "35707.14"
