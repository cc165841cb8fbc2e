"""Shared by the billing modules: outbox emit and journal posting of invoice lines."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session as DbSession

from connector.billing.invoicing import rows as invoices
from connector.billing.ledger import accounts as accounts_mod
from connector.billing.ledger.journal import post_entry
from connector.events import envelope, outbox
from connector.events.envelope import Envelope
from connector.models.documents import EventDataJson, JournalEntryJson
from connector.storage.tables.billing import InvoiceLineRow
from connector.validation import FieldError

LOG = logging.getLogger("connector.billing")


class BillingError(FieldError):
    """Bad input: which field, and why (the API answers 422 naming the field)."""


def emit(db: DbSession, tenant_id: str, type_: str, data: EventDataJson) -> None:
    """Into the transactional outbox, in the caller's transaction: the event exists iff the change commits."""
    outbox.emit(db, tenant_id, type_, data)


def post_lines(db: DbSession, tenant_id: str, currency: str, lines: list[InvoiceLineRow], *, memo: str,
               reference: str, source: str, sign: int = 1, reverses: str | None = None,
               accounts: accounts_mod.Accounts | None = None,
               events: list[Envelope] | None = None) -> JournalEntryJson | None:
    """Post the journal entry of ``lines`` (``sign=-1``: their reversal) and emit ``journal.posted``.
    ``accounts``: the tenant's mapping when the caller has read it in this transaction already. ``events``:
    ``journal.posted`` is built now and appended there, for the caller to insert with its own events in one
    statement (``outbox.insert_rows``) before it commits."""
    entry = post_entry(db, tenant_id, currency=currency, memo=memo, reference=reference, source=source,
                       postings=invoices.postings(lines, accounts or accounts_mod.load(db, tenant_id), sign),
                       reverses=reverses)
    if entry is not None and events is not None:
        events.append(envelope.build(tenant_id, "journal.posted", {"entry": entry}))
    elif entry is not None:
        emit(db, tenant_id, "journal.posted", {"entry": entry})
    return entry
