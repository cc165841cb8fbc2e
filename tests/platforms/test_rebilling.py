"""The session.billed a correction emits (``data.correction``) is a document of its own at every vendor that
posts per session: its key, number and reference name the credit note it follows, so neither the outbox nor
the vendor takes it for the original billing."""

from __future__ import annotations

import copy
from typing import Any

from connector.platforms.adapters import quickbooks, sap_s4hana, zoho_books
from connector.platforms.invoice_event import rebilling
from tests.platforms.finance_events import billed_event
from tests.platforms.test_quickbooks import CFG as QBO
from tests.platforms.test_sap_s4hana import CFG as SAP

ZOHO = zoho_books.ZohoBooksConfig(organization_id="1", access_token="t", customer_ids={"C-1": "9"},
                                  tax_ids={"19": "460000000040001"}, document="session")


def rebilled(event: dict[str, Any]) -> dict[str, Any]:
    again = copy.deepcopy(event)
    again["data"]["correction"] = {"credit_note_id": "cn_1", "credit_note_number": "CN-000001", "reason": "re-read"}
    return again


def test_a_rebilling_has_its_own_keys_numbers_and_references() -> None:
    first = billed_event()
    second = rebilled(first)
    assert (rebilling(first), rebilling(second)) == ("", "~CN-000001")
    assert zoho_books.idempotency_key(first, ZOHO) == "zoho_books:t1:S-100"
    assert zoho_books.idempotency_key(second, ZOHO) == "zoho_books:t1:S-100~CN-000001"
    assert zoho_books.build_invoice(second, ZOHO)["invoice_number"] == "EV-S-100~CN-000001"
    assert quickbooks.idempotency_key(second, QBO) == "quickbooks:t1:session.billed:S-100~CN-000001"
    assert quickbooks.request_id(second) != quickbooks.request_id(first)
    assert sap_s4hana.idempotency_key(second, SAP) != sap_s4hana.idempotency_key(first, SAP)
    refs = [sap_s4hana.build_document(e, SAP)["DOCUMENTHEADER"]["REF_DOC_NO"] for e in (first, second)]
    assert refs[0] == "S-100" and refs[1] != refs[0] and len(refs[1]) <= 16
