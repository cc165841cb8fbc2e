"""QuickBooks Online JournalEntry: body against the vendor schema (+ QBO's own rules), and delivery
against a local QBO double."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from decimal import Decimal

import pytest

from connector.platforms.adapters import quickbooks
from connector.platforms.context import DeliveryContext
from connector.platforms.errors import PermanentError
from tests.platforms.fakes.http import OneShotHttp
from tests.platforms.fakes.quickbooks import AR, QuickBooksDouble
from tests.platforms.finance_events import (
    billed_event,
    credit_note_of,
    incentive,
    invoice_event,
    vat_restated_event,
)
from tests.platforms.schemas import schema_errors
from tests.platforms.worker_model import retrying

CFG = quickbooks.QuickBooksConfig(realm_id="9130350000000000", client_id="cid", client_secret="csecret",
                                  refresh_token="rt-0", receivable_account=AR,
                                  revenue_accounts={"energy": "79", "fixed": "80", "adjustment": "81"},
                                  tax_accounts={"VAT": "90"}, incentive_account="85", customer_map={"C-1": "58"})


@pytest.fixture
def double() -> Iterator[QuickBooksDouble]:
    d = QuickBooksDouble().start()
    yield d
    d.stop()


def rows(body: dict) -> list[tuple[str, str, Decimal]]:
    return [(ln["JournalEntryLineDetail"]["PostingType"], ln["JournalEntryLineDetail"]["AccountRef"]["value"],
             ln["Amount"]) for ln in body["Line"]]


def balanced(body: dict) -> bool:
    return sum(a for t, _, a in rows(body) if t == "Debit") == sum(a for t, _, a in rows(body) if t == "Credit")


def test_session_entry_is_balanced_and_matches_schema() -> None:
    body = quickbooks.build_journal_entry(billed_event(), CFG)
    assert schema_errors("quickbooks/journalentry_create.schema.json", body) == []
    assert rows(body) == [("Debit", AR, Decimal("12.05")), ("Credit", "80", Decimal("1.00")),
                          ("Credit", "79", Decimal("9.13")), ("Credit", "90", Decimal("1.92"))]
    assert balanced(body)
    assert body["Line"][0]["JournalEntryLineDetail"]["Entity"] == {"Type": "Customer", "EntityRef": {"value": "58"}}
    assert (body["DocNumber"], body["TxnDate"], body["CurrencyRef"]) == ("EV-S-100", "2026-01-13", {"value": "EUR"})
    assert '"Amount": 9.13,' in quickbooks.dumps_exact(body).decode()
    broken = copy.deepcopy(body)
    broken["Line"][0]["JournalEntryLineDetail"]["PostingType"] = "debit"
    assert schema_errors("quickbooks/journalentry_create.schema.json", broken)
    broken = copy.deepcopy(body)
    broken["Line"][0]["Unknown"] = 1  # QBO rejects unknown properties (closed objects)
    assert schema_errors("quickbooks/journalentry_create.schema.json", broken)


def test_discounts_incentives_jpy_and_only_the_sessions_own_lines() -> None:
    adj = quickbooks.build_journal_entry(billed_event(adjustments=incentive()), CFG)
    assert schema_errors("quickbooks/journalentry_create.schema.json", adj) == []
    assert rows(adj) == [("Debit", AR, Decimal("9.68")), ("Debit", "85", Decimal("1.17")),
                         ("Credit", "80", Decimal("1.00")), ("Credit", "79", Decimal("9.13")),
                         ("Debit", "81", Decimal("1.01")), ("Credit", "90", Decimal("1.73"))]
    assert balanced(adj)
    jpy = quickbooks.build_journal_entry(billed_event("JPY", flat="100", energy_price="45"), CFG)
    assert rows(jpy) == [("Debit", AR, Decimal(1372)), ("Credit", "80", Decimal(100)),
                         ("Credit", "79", Decimal(1053)), ("Credit", "90", Decimal(219))]
    # a monthly invoice holding two sessions: the entry of S-2 posts only S-2's lines
    event = billed_event(sid="S-2")
    other = billed_event(sid="S-1")["data"]["invoice"]["lines"]
    event["data"]["invoice"]["lines"] = other + event["data"]["invoice"]["lines"]
    assert rows(quickbooks.build_journal_entry(event, CFG))[0] == ("Debit", AR, Decimal("12.05"))


def test_credit_note_reverses_and_mapping_errors() -> None:
    note = invoice_event("credit_note.issued")
    note["data"]["invoice"].update(kind="credit_note", id="cn_1", number="CN-000001")
    body = quickbooks.build_journal_entry(note, CFG)
    assert rows(body) == [("Credit", AR, Decimal("12.05")), ("Debit", "80", Decimal("1.00")),
                          ("Debit", "79", Decimal("9.13")), ("Debit", "90", Decimal("1.92"))]
    assert body["DocNumber"] == "EV-cn_1" and quickbooks.request_id(note) != quickbooks.request_id(billed_event())
    with pytest.raises(ValueError, match="invoice.customer.id: 'C-9' has no QuickBooks customer"):
        quickbooks.build_journal_entry(billed_event(customer_id="C-9"), CFG)
    with pytest.raises(ValueError, match="no QuickBooks tax account configured for 'VAT'"):
        quickbooks.build_journal_entry(billed_event(), CFG.model_copy(update={"tax_accounts": {}}))
    with pytest.raises(ValueError, match="incentive lines need config incentive_account"):
        quickbooks.build_journal_entry(billed_event(adjustments=incentive()),
                                       CFG.model_copy(update={"incentive_account": None}))
    skewed = billed_event()
    skewed["data"]["invoice"]["lines"][0]["taxes"][0]["amount"] = "20"
    assert balanced(quickbooks.build_journal_entry(skewed, CFG))  # AR follows the line amounts it posts
    assert quickbooks.request_id(billed_event()) == quickbooks.request_id(billed_event())
    assert len(quickbooks.request_id(billed_event())) == 36 and "csecret" not in repr(CFG)


def test_end_to_end_requestid_retries_and_rotation(double: QuickBooksDouble) -> None:
    cfg = CFG.model_copy(update={"token_url": double.url + "/oauth2/v1/tokens/bearer", "api_base": double.url})
    saved: list[str] = []
    double.fail("/v3/company/", 429, 503, retry_after="60")
    double.lose("/v3/company/")
    http = OneShotHttp()
    result, waits = retrying(lambda: quickbooks.deliver(
        billed_event(), cfg, DeliveryContext(http, on_refresh=saved.append)))
    assert waits == [60.0, None, None]
    [(eid, entry)] = double.entries.items()
    assert result == {"status": "sent", "ref": eid, "doc_number": "EV-S-100"} and entry["total"] == Decimal("12.05")
    assert saved == ["rt-1"] and double.token_requests == 1
    calls = double.calls("/v3/company/")
    assert len(calls) == 4
    for c in calls:
        assert c["method"] == "POST" and c["path"] == "/v3/company/9130350000000000/journalentry"
        assert c["args"] == {"minorversion": "75", "requestid": quickbooks.request_id(billed_event())}
        assert c["headers"]["Authorization"] == "Bearer at-1"
    assert json.loads(calls[-1]["raw"])["Line"][0]["Amount"] == 12.05
    again = quickbooks.deliver(billed_event(), cfg, DeliveryContext(OneShotHttp()))  # redelivery after a restart
    assert again["ref"] == eid and len(double.entries) == 1
    quickbooks.deliver(billed_event(sid="S-101"), cfg, DeliveryContext(OneShotHttp()))
    assert len(double.entries) == 2


def test_fault_is_permanent(double: QuickBooksDouble) -> None:
    cfg = CFG.model_copy(update={"token_url": double.url + "/oauth2/v1/tokens/bearer", "api_base": double.url,
                                 "realm_id": "1"})
    with pytest.raises(PermanentError, match="400"):
        quickbooks.deliver(billed_event(), cfg, DeliveryContext(OneShotHttp()))
    assert double.entries == {}


def test_vat_restatement_posts_one_adjusting_entry(double: QuickBooksDouble) -> None:
    """The session was booked as rated (12.05); the invoice's VAT per rate is a cent more (12.06): one entry
    moves A/R and VAT payable by it, once under retries, and the full credit note then nets A/R to zero."""
    cfg = CFG.model_copy(update={"token_url": double.url + "/oauth2/v1/tokens/bearer", "api_base": double.url})
    event = vat_restated_event("0.01")
    body = quickbooks.build_journal_entry(event, cfg)
    assert schema_errors("quickbooks/journalentry_create.schema.json", body) == []
    assert rows(body) == [("Debit", AR, Decimal("0.01")), ("Credit", "90", Decimal("0.01"))] and balanced(body)
    assert body["Line"][0]["JournalEntryLineDetail"]["Entity"] == {"Type": "Customer", "EntityRef": {"value": "58"}}
    assert body["DocNumber"] == "EV-VAT-INV-0001"
    assert quickbooks.idempotency_key(event) == "quickbooks:t1:invoice.vat_restated:inv_S-100"
    lowered = quickbooks.build_journal_entry(vat_restated_event("-0.02"), cfg)
    assert rows(lowered) == [("Credit", AR, Decimal("0.02")), ("Debit", "90", Decimal("0.02"))]
    double.fail("/v3/company/", 429, 500, retry_after="1")
    double.lose("/v3/company/")
    result, _ = retrying(lambda: quickbooks.deliver(event, cfg, DeliveryContext(OneShotHttp())))
    again = quickbooks.deliver(event, cfg, DeliveryContext(OneShotHttp()))  # redelivered after a restart
    assert result["status"] == "sent" and again["ref"] == result["ref"] and len(double.entries) == 1
    for other in (billed_event(), credit_note_of(event)):
        quickbooks.deliver(other, cfg, DeliveryContext(OneShotHttp()))
    receivable = sum((a if t == "Debit" else -a) for e in double.entries.values() for t, acc, a in rows(e["body"])
                     if acc == AR)
    tax = sum((a if t == "Debit" else -a) for e in double.entries.values() for t, acc, a in rows(e["body"])
              if acc == "90")
    assert len(double.entries) == 3 and receivable == 0 and tax == 0


def test_vat_restatement_that_moved_nothing_sends_nothing(double: QuickBooksDouble) -> None:
    cfg = CFG.model_copy(update={"token_url": double.url + "/oauth2/v1/tokens/bearer", "api_base": double.url})
    result = quickbooks.deliver(vat_restated_event("0.00"), cfg, DeliveryContext(OneShotHttp()))
    assert result == {"status": "skipped", "reason": "the VAT restatement moved nothing"}
    assert double.calls("/v3/company/") == [] and double.calls("/oauth2/") == []
    skewed = vat_restated_event("0.01")
    skewed["data"]["restatement"]["receivable"] = "0.02"
    with pytest.raises(PermanentError, match="receivable != sum of taxes"):
        quickbooks.deliver(skewed, cfg, DeliveryContext(OneShotHttp()))
    assert double.entries == {}
