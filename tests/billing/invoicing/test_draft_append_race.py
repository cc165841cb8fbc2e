"""Session ends append to a customer's draft without holding its row lock to commit; a finalize (or void) that
races an append loses no line: the lines end up on the finalized invoice (counted in its totals) or on the next
draft, never on an issued invoice behind its totals. PostgreSQL, real threads."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.billing import intake
from connector.billing.invoicing import lifecycle
from connector.billing.invoicing import rows as invoices
from connector.storage import repo
from connector.storage.tables.billing import BillingSessionRow, InvoiceLineRow, InvoiceRow, JournalLineRow
from tests.api.pg import fresh_database, pg_available
from tests.billing.invoicing.conftest import A, ingest, make_app, setup_tenant

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_app():
    if not pg_available():
        pytest.skip("PostgreSQL not reachable (EVBILL_TEST_PG_URL)")
    with fresh_database() as url:
        application = make_app(url)
        yield application
        application.extensions["evbill.engine"].dispose()


def _store_ended(engine: Any, session_ids: list[str]) -> None:
    with Session(engine) as db:
        for i, sid in enumerate(session_ids):
            repo.put_session(db, "A", {"id": sid, "status": "ended", "tariff_id": "T-EUR", "customer_id": "C-1",
                                       "station_id": "ST-1", "time_zone": "Europe/Berlin", "energy_kwh": "10",
                                       "start": f"2026-01-13T{10 + i // 60:02d}:{i % 60:02d}:00+00:00",
                                       "end": f"2026-01-13T{11 + i // 60:02d}:{i % 60:02d}:00+00:00"}, new=True)
        db.commit()


def _bill(engine: Any, session_id: str) -> None:
    with Session(engine) as db:
        intake.BillingService().complete(db, "A", session_id)


def _check_books(engine: Any, session_ids: list[str]) -> None:
    """Each session billed once, its lines on the invoice its bill names; every invoice equals its lines
    (no line on an issued invoice behind its totals); the journal balances."""
    with Session(engine) as db:
        billed = {b.session_id: b.invoice_id for b in db.scalars(select(BillingSessionRow))}
        assert sorted(billed) == sorted(session_ids)
        lines = db.scalars(select(InvoiceLineRow)).all()
        assert Counter(ln.session_id for ln in lines) == Counter({sid: 1 for sid in session_ids})  # 10 kWh each
        assert all(billed[ln.session_id] == ln.invoice_id for ln in lines)
        for invoice in db.scalars(select(InvoiceRow)):
            mine = [ln for ln in lines if ln.invoice_id == invoice.invoice_id]
            assert invoice.net_total == sum(ln.net for ln in mine), invoice.invoice_id
            assert invoice.tax_total == sum(ln.tax for ln in mine), invoice.invoice_id
            assert invoice.amount_due == sum(ln.gross for ln in mine), invoice.invoice_id
        debit, credit = db.execute(select(func.sum(JournalLineRow.debit), func.sum(JournalLineRow.credit))).one()
        assert debit == credit and debit == sum(ln.gross for ln in lines)


def test_finalize_between_append_and_commit_moves_the_session_to_the_next_draft(pg_app) -> None:
    """The append has inserted its lines when the finalize commits: its totals update finds no draft, the
    transaction rolls back and bills the session onto a new draft; the finalized invoice is as it was."""
    client = pg_app.test_client()
    setup_tenant(client)
    first = ingest(client, "S-0", customer="C-1")["billing"]["invoice_id"]
    engine = pg_app.extensions["evbill.engine"]
    _store_ended(engine, ["S-1"])
    inserted, finalized = threading.Event(), threading.Event()
    real = invoices.append_totals
    calls: list[bool] = []

    def held(db: Any, invoice: Any, lines: Any, start: Any, end: Any) -> bool:
        if not calls:  # the first attempt: its lines are in, uncommitted; let the finalize run now
            inserted.set()
            assert finalized.wait(30)
        calls.append(real(db, invoice, lines, start, end))
        return calls[-1]

    errors: list[BaseException] = []

    def bill() -> None:
        try:
            _bill(engine, "S-1")
        except BaseException as exc:  # noqa: BLE001 - asserted below
            errors.append(exc)

    pytest.MonkeyPatch.setattr(pytest.MonkeyPatch(), invoices, "append_totals", held)
    try:
        worker = threading.Thread(target=bill)
        worker.start()
        assert inserted.wait(30)
        with Session(engine) as db:  # not blocked by the append: it holds no lock on the draft yet
            done = lifecycle.finalize_invoice(db, "A", first)
            db.commit()
        finalized.set()
        worker.join(30)
    finally:
        invoices.append_totals = real
    assert not errors, errors
    assert calls == [False, True]  # the first append found the draft finalized; the retry went through
    assert (done["status"], done["gross_total"]) == ("finalized", "3.57")  # S-0 alone
    with Session(engine) as db:
        moved = db.get(BillingSessionRow, ("A", "S-1"))
        assert moved is not None and moved.invoice_id != first
        assert [ln.session_id for ln in invoices.lines_of(db, "A", first)] == ["S-0"]
    _check_books(engine, ["S-0", "S-1"])
    assert client.get(f"/v1/invoices/{first}", headers=A).get_json()["gross_total"] == "3.57"


def test_concurrent_appends_and_finalizes_lose_no_line(pg_app) -> None:
    """Eight threads bill 120 sessions of one customer; another finalizes the open draft after every 24 bills,
    while the next ones are in flight."""
    client = pg_app.test_client()
    setup_tenant(client)
    engine = pg_app.extensions["evbill.engine"]
    ids = [f"S-{i:03d}" for i in range(120)]
    _store_ended(engine, ids)
    errors: list[BaseException] = []
    queue = list(ids)
    lock = threading.Lock()
    done: list[str] = []

    def biller() -> None:
        while True:
            with lock:
                if not queue:
                    return
                sid = queue.pop()
            try:
                _bill(engine, sid)
                done.append(sid)
            except BaseException as exc:  # noqa: BLE001 - asserted below
                errors.append(exc)

    finalized: list[str] = []

    def finalizer() -> None:
        while len(finalized) < 4 and queue and not errors:
            if len(done) < 24 * (len(finalized) + 1):
                threading.Event().wait(0.01)
                continue
            with Session(engine) as db:
                draft = db.scalar(select(InvoiceRow.invoice_id).where(
                    InvoiceRow.tenant_id == "A", InvoiceRow.status == "draft", InvoiceRow.customer_id == "C-1"))
                if draft is not None and invoices.lines_of(db, "A", draft):
                    lifecycle.finalize_invoice(db, "A", draft)
                    db.commit()
                    finalized.append(draft)

    threads = [threading.Thread(target=biller) for _ in range(8)] + [threading.Thread(target=finalizer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert finalized, "the finalizer never ran"
    _check_books(engine, ids)
    with Session(engine) as db:  # every finalized invoice answers its lines: totals match what a GET shows
        for invoice_id in finalized:
            doc = invoices.invoice_json(db, db.get(InvoiceRow, ("A", invoice_id)))
            assert doc["status"] == "finalized" and doc["lines"]
