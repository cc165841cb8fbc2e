"""The typed documents (``connector.models.documents``) name exactly the keys billing produces.

mypy checks the code that builds and reads them; this checks at run time that what the API answers and what
the outbox stores has the documents' keys (no missing one, no unnamed one) and value types.
"""

from __future__ import annotations

import types
import typing
from typing import Any, get_args, get_origin, get_type_hints, is_typeddict

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.billing.invoicing.sessions import BilledSession
from connector.events.outbox import row_to_envelope
from connector.models.documents import EventJson, InvoiceJson, JournalEntryJson, RatedSessionJson
from connector.storage.tables.outbox import EventRow
from tests.billing.invoicing.conftest import A, ingest, setup_tenant


def departures(value: Any, hint: Any, path: str = "doc") -> list[str]:
    """Where ``value`` departs from ``hint`` (a TypedDict, list, dict, union, Any or a plain type)."""
    if is_typeddict(hint):
        if not isinstance(value, dict):
            return [f"{path}: {type(value).__name__}, not an object"]
        fields = get_type_hints(hint)
        out = [f"{path}.{key}: missing" for key in sorted(hint.__required_keys__ - value.keys())]
        out += [f"{path}.{key}: not a key of {hint.__name__}" for key in sorted(value.keys() - fields.keys())]
        for key in sorted(value.keys() & fields.keys()):
            out += departures(value[key], fields[key], f"{path}.{key}")
        return out
    origin = get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        tries = [departures(value, option, path) for option in get_args(hint)]
        return [] if any(not t for t in tries) else min(tries, key=len)
    if origin is list:
        if not isinstance(value, list):
            return [f"{path}: {type(value).__name__}, not a list"]
        return [d for i, item in enumerate(value) for d in departures(item, get_args(hint)[0], f"{path}[{i}]")]
    if origin is dict:
        if not isinstance(value, dict):
            return [f"{path}: {type(value).__name__}, not an object"]
        return [d for key, item in value.items() for d in departures(item, get_args(hint)[1], f"{path}.{key}")]
    if hint is Any:
        return []
    if hint is type(None):
        return [] if value is None else [f"{path}: {value!r}, not null"]
    if isinstance(value, bool) and hint is not bool:
        return [f"{path}: {value!r}, not {hint.__name__}"]
    return [] if isinstance(value, hint) else [f"{path}: {value!r}, not {hint.__name__}"]


def test_the_checker_finds_missing_extra_and_mistyped_keys():
    amount = get_type_hints(RatedSessionJson)["total_cost"]
    assert departures({"excl_vat": "1.0000", "incl_vat": "1.1900"}, amount) == []
    assert departures({"excl_vat": 1}, amount) == ["doc.incl_vat: missing", "doc.excl_vat: 1, not str"]
    assert departures({"excl_vat": "1", "incl_vat": "1", "vat": "19"}, amount) == [
        "doc.vat: not a key of AmountJson"]
    taxes = get_type_hints(InvoiceJson)["taxes"]
    assert departures({"name": "VAT"}, taxes) == ["doc: dict, not a list"]
    assert departures([{"name": "VAT", "rate": "19", "compound": 0, "taxable_base": "3.00", "amount": "0.57"}],
                      taxes) == ["doc[0].compound: 0, not bool"]
    assert departures(None, get_type_hints(InvoiceJson)["customer"]) == []


def test_bill_invoice_rating_journal_and_events_are_the_typed_documents(app, client):
    setup_tenant(client)
    billed = ingest(client, "S-1", customer="C-1")["billing"]
    assert departures(billed, BilledSession) == []
    assert departures(billed["rating"], RatedSessionJson, "rating") == []
    anonymous = ingest(client, "S-2")["billing"]  # no customer: the invoice's customer is null
    assert anonymous["invoice"]["customer"] is None and departures(anonymous, BilledSession) == []

    invoice_id = billed["invoice_id"]
    finalized = client.post(f"/v1/invoices/{invoice_id}/finalize", headers=A).get_json()
    note = client.post(f"/v1/invoices/{invoice_id}/credit-notes", json={"amount": "1.00", "reason": "goodwill"},
                       headers=A).get_json()
    paid = client.post(f"/v1/invoices/{invoice_id}/mark-paid", json={"reference": "bank"}, headers=A).get_json()
    voided = client.post(f"/v1/invoices/{anonymous['invoice_id']}/void", json={"reason": "test"}, headers=A)
    assert (finalized["status"], note["kind"], paid["status"], voided.get_json()["status"]) == (
        "finalized", "credit_note", "paid", "void")
    for doc in (finalized, note, paid, voided.get_json(), *client.get("/v1/invoices", headers=A).get_json()["items"]):
        assert departures(doc, InvoiceJson, doc["id"]) == []

    entries = client.get("/v1/ledger/entries", headers=A).get_json()["items"]
    assert entries and all(departures(entry, JournalEntryJson, entry["id"]) == [] for entry in entries)

    with Session(app.extensions["evbill.engine"]) as db:
        envelopes = [row_to_envelope(row) for row in db.scalars(select(EventRow).order_by(EventRow.created_at))]
    assert {e["type"] for e in envelopes} >= {"session.billed", "journal.posted", "invoice.finalized",
                                              "credit_note.issued", "invoice.paid", "invoice.voided"}
    assert [d for e in envelopes for d in departures(e, EventJson, e["type"])] == []
