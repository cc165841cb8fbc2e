"""NetSuite ``record="journalEntry"``: one balanced Journal Entry per billed session (A/R debit = gross, revenue
credit = net per income account, tax payable credit per rate), reversed by credit notes and voids, upserted by
external id against the double. No public NetSuite record schema exists (vendor-specs NOTES.md): the double
enforces what NetSuite does on a journal entry (known accounts, one positive debit or credit per line, a customer
on A/R lines, the subsidiary, debits = credits) and the tests read its trial balance to the cent."""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest

from connector.platforms.adapters import netsuite
from connector.platforms.context import DeliveryContext
from connector.platforms.errors import PermanentError
from tests.platforms.events import billed_event, incentive_event
from tests.platforms.fakes.finance_vendors import FinanceVendors
from tests.platforms.fakes.http import OneShotHttp
from tests.platforms.test_zoho_books_corrections import credit_note_event, two_session_void, void_event
from tests.platforms.worker_model import retrying

JE = netsuite.NetSuiteConfig(account_id="1234567_SB1", consumer_key="ns-ck", consumer_secret="ns-cs",
                             token_id="ns-token", token_secret="ns-ts", record="journalEntry", subsidiary="1",
                             customer_ids={"C-1": "77"}, receivable_account="1100",
                             revenue_accounts={"energy": "4000"}, default_revenue_account="4010",
                             incentive_account="1150", tax_accounts={"19": "2200"})
D = Decimal


def lines(body: dict[str, object]) -> list[tuple[str, str, Decimal, str | None]]:
    """(account, side, amount, entity) of each journal line."""
    out = []
    for item in body["line"]["items"]:  # type: ignore[index]
        side = "debit" if "debit" in item else "credit"
        out.append((item["account"]["id"], side, item[side], (item.get("entity") or {}).get("id")))
    return out


def test_a_billed_session_is_a_balanced_journal_entry() -> None:
    body = netsuite.build_journal(billed_event(), JE)
    assert lines(body) == [("1100", "debit", D("12.05"), "77"),  # the customer owes the gross
                           ("4010", "credit", D("1.00"), None),  # the session fee on the default income account
                           ("2200", "credit", D("1.92"), None),  # VAT 19 %: 0.19 + 1.73, one line per rate
                           ("4000", "credit", D("9.13"), None)]  # energy on its own income account
    assert {k: body[k] for k in ("externalId", "tranDate", "subsidiary")} == {
        "externalId": "EVJE-S-100", "tranDate": "2026-01-13", "subsidiary": {"id": "1"}}
    assert body["memo"] == "EV charging S-100: 12.05 EUR (invoice INV-0001)" and "currency" not in body
    assert netsuite.endpoint(billed_event(), JE).endswith("/services/rest/record/v1/journalEntry/eid:EVJE-S-100")
    # the incentive: the authority's part debited to its account, the customer's A/R is the amount due
    assert lines(netsuite.build_journal(incentive_event(), JE))[:2] == [("1100", "debit", D("10.88"), "77"),
                                                                         ("4010", "credit", D("1.00"), None)]
    assert ("1150", "debit", D("1.17"), None) in lines(netsuite.build_journal(incentive_event(), JE))
    with_currency = netsuite.build_journal(billed_event(), JE.model_copy(update={"currency_ids": {"EUR": "4"}}))
    assert with_currency["currency"] == {"id": "4"}
    # JPY: whole yen, as billed (1372 JPY, not 13.72), and exact on the wire
    jpy = netsuite.build_journal(billed_event(currency="JPY", energy_price="45", flat="100"), JE)
    assert lines(jpy) == [("1100", "debit", D("1372"), "77"), ("4010", "credit", D("100"), None),
                          ("2200", "credit", D("219"), None), ("4000", "credit", D("1053"), None)]
    assert b'"debit": 1372,' in netsuite.dumps_exact(jpy)


@pytest.mark.parametrize(("update", "message"), [
    ({"receivable_account": None}, "receivable_account: required for journal entries"),
    ({"default_revenue_account": None}, "revenue_accounts: no income account for line category 'fixed'"),
    ({"tax_accounts": {}}, "tax_accounts: no tax payable account for tax rate 19"),
    ({"customer_ids": {}}, "customer_ids: no NetSuite customer for customer 'C-1'"),
    ({"currency_ids": {"USD": "1"}}, "currency_ids: no NetSuite currency for EUR"),
    ({"journal_external_id": "{session}"}, "journal_external_id: unknown placeholder"),
])
def test_mapping_errors_name_the_setting(update: dict[str, object], message: str) -> None:
    with pytest.raises(netsuite.MappingError, match=message):
        netsuite.build_journal(billed_event(), JE.model_copy(update=update))


def test_an_unbalanced_session_is_refused_before_sending() -> None:
    event = billed_event()
    event["data"]["invoice"]["lines"][0]["gross"] = "1.20"  # gross != net + tax
    with pytest.raises(netsuite.MappingError, match=r"S-100: debits 12.06 != credits 12.05"):
        netsuite.build_journal(event, JE)
    with pytest.raises(PermanentError, match="debits 12.06 != credits 12.05"):
        netsuite.deliver(event, JE, DeliveryContext(None))  # nothing sent (no sender needed)


def test_posted_once_across_retries_then_reversed_by_credit_note_and_void(vendors: FinanceVendors) -> None:
    cfg = JE.model_copy(update={"base_url": vendors.url})
    vendors.fail("/services/rest/record/v1/journalEntry/", 429, 500, retry_after="1")
    vendors.lose("/services/rest/record/v1/journalEntry/", method="PUT")
    result, _ = retrying(lambda: netsuite.deliver(billed_event(), cfg, DeliveryContext(OneShotHttp())))
    assert result["status"] == "sent" and result["external_id"] == "EVJE-S-100" and result["async"]
    netsuite.deliver(billed_event(event_id="evt_again"), cfg, DeliveryContext(OneShotHttp()))  # redelivered
    assert list(vendors.ns_journals) == ["eid:EVJE-S-100"] and len(vendors.ns_applied) == 1
    calls = vendors.calls("/services/rest/record/v1/journalEntry/eid:EVJE-S-100", "PUT")
    assert {c["args"]["replace"] for c in calls} == {"line"}
    assert vendors.ns_balances() == {"1100": D("12.05"), "4010": D("-1.00"), "2200": D("-1.92"),
                                     "4000": D("-9.13")}
    netsuite.deliver(billed_event(sid="S-101", energy="10"), cfg, DeliveryContext(OneShotHttp()))
    assert vendors.ns_balances()["1100"] == D("12.05") + D("5.83")

    # a partial credit note (the energy line of S-100): each side of that line swapped, nothing else touched
    note = credit_note_event()
    note["data"]["invoice"]["lines"] = note["data"]["invoice"]["lines"][1:]
    assert netsuite.skip_reason(note, cfg) is None
    assert lines(netsuite.build_journal(note, cfg)) == [("1100", "credit", D("10.86"), "77"),
                                                        ("4000", "debit", D("9.13"), None),
                                                        ("2200", "debit", D("1.73"), None)]
    assert netsuite.deliver(note, cfg, DeliveryContext(OneShotHttp()))["external_id"] == "EVJE-CN-000001"
    assert vendors.ns_balances()["1100"] == D("12.05") + D("5.83") - D("10.86")

    # the void of the invoice holding both sessions reverses every line of it
    void = two_session_void()
    void["data"]["invoice"]["lines"][2:] = copy.deepcopy(
        billed_event(sid="S-101", energy="10")["data"]["invoice"]["lines"])
    assert netsuite.deliver(void, cfg, DeliveryContext(OneShotHttp()))["external_id"] == "EVJE-INV-0001~VOID"
    balances = vendors.ns_balances()
    assert balances["1100"] == D("-10.86") and balances["4000"] == D("9.13") and balances["2200"] == D("1.73")
    assert sorted(vendors.ns_journals) == ["eid:EVJE-CN-000001", "eid:EVJE-INV-0001~VOID", "eid:EVJE-S-100",
                                           "eid:EVJE-S-101"]
    keys = {netsuite.idempotency_key(e, cfg) for e in (billed_event(), note, void)}
    assert len(keys) == 3  # the posting, the credit and the void are three documents


def test_the_double_enforces_what_netsuite_does(vendors: FinanceVendors) -> None:
    cfg = JE.model_copy(update={"base_url": vendors.url})
    with pytest.raises(PermanentError, match="Subsidiary"):
        netsuite.deliver(billed_event(), cfg.model_copy(update={"subsidiary": None}), DeliveryContext(OneShotHttp()))
    with pytest.raises(PermanentError, match="Invalid account reference key 9999"):
        netsuite.deliver(billed_event(), cfg.model_copy(update={"receivable_account": "9999"}),
                         DeliveryContext(OneShotHttp()))
    vendors.ns_accounts["4000"] = "AcctRec"  # energy mapped to an A/R account: a line without its customer
    with pytest.raises(PermanentError, match="Name \\(A/R account\\)"):
        netsuite.deliver(billed_event(), cfg, DeliveryContext(OneShotHttp()))
    assert vendors.ns_journals == {}


def test_corrections_skip_item_fulfillments_only() -> None:
    assert netsuite.EVENTS == ("session.billed", "invoice.finalized", "invoice.vat_restated", "credit_note.issued",
                               "invoice.voided")
    fulfillments = JE.model_copy(update={"record": "itemFulfillment"})
    for event in (credit_note_event(), void_event()):
        result = netsuite.deliver(event, fulfillments, DeliveryContext(None))
        assert result["status"] == "skipped" and "not sent with record='itemFulfillment'" in result["reason"]
        assert netsuite.skip_reason(event, JE.model_copy(update={"record": "invoice"})) is None  # Credit Memos
    unissued = credit_note_event()
    unissued["data"]["invoice"]["status"] = "draft"
    assert netsuite.skip_reason(unissued, JE) == "credit note cn_inv_S-100 is draft; it goes to NetSuite when issued"
    draft_void = void_event()
    draft_void["data"]["invoice"]["number"] = None  # voided as a draft: its sessions were posted, so it reverses
    assert netsuite.skip_reason(draft_void, JE) is None
    assert netsuite.journal_external_id(draft_void, JE) == "EVJE-inv_S-100~VOID"
