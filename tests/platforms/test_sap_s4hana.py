"""SAP S/4HANA revenue posting: BAPI tables with exact signed amounts, balanced per currency type
(incl. a translated company-code currency with a rounding difference), the SOAP Journal Entry message
checked structurally (no SAP WSDL/XSD exists in vendor-specs), and both transports against local doubles."""

from __future__ import annotations

import copy
import xml.etree.ElementTree as ET
from decimal import Decimal
from typing import Any

import pytest

from connector.platforms.adapters import sap_s4hana as sap
from connector.platforms.context import DeliveryContext
from connector.platforms.errors import PermanentError
from tests.platforms.events import billed_event, incentive_event
from tests.platforms.fakes.finance_vendors import FinanceVendors
from tests.platforms.fakes.http import OneShotHttp
from tests.platforms.finance_events import billed_event as fin_billed_event
from tests.platforms.finance_events import credit_note_of, vat_restated_event
from tests.platforms.worker_model import retrying

CFG = sap.SapConfig(json_url="http://127.0.0.1:9/x", username="EVB_COMM", password="sap-secret", comp_code="1010",
                    customer_ids={"C-1": "100001"}, tax_codes={"19": "O1", "10": "O2", "5": "O3"},
                    revenue_accounts={"energy": "800000", "fixed": "800100"}, profit_center="1000")
SFIN = "{http://sap.com/xi/SAPSCORE/SFIN}"


def amounts(doc: dict[str, Any], curr_type: str = "00") -> list[tuple[str, str]]:
    return [(r["ITEMNO_ACC"][-1:], r["AMT_DOCCUR"]) for r in doc["CURRENCYAMOUNT"] if r["CURR_TYPE"] == curr_type]


def test_bapi_tables_carry_the_rated_amounts_and_balance() -> None:
    doc = sap.build_document(billed_event(), CFG)
    assert doc["DOCUMENTHEADER"] == {"BUS_ACT": "RFBU", "USERNAME": "EVBILLING", "HEADER_TXT": "EV charging S-100",
                                     "COMP_CODE": "1010", "DOC_DATE": "20260113", "PSTNG_DATE": "20260113",
                                     "DOC_TYPE": "DR", "REF_DOC_NO": "S-100"}
    assert doc["ACCOUNTRECEIVABLE"] == [{"ITEMNO_ACC": "0000000001", "CUSTOMER": "0000100001",
                                         "ITEM_TEXT": "EV charging S-100", "ALLOC_NMBR": "S-100", "BLINE_DATE": "20260113"}]
    assert [(g["ITEMNO_ACC"], g["GL_ACCOUNT"], g["TAX_CODE"], g["PROFIT_CTR"]) for g in doc["ACCOUNTGL"]] == [
        ("0000000002", "0000800100", "O1", "0000001000"), ("0000000003", "0000800000", "O1", "0000001000")]
    assert doc["ACCOUNTTAX"] == [{"ITEMNO_ACC": "0000000004", "GL_ACCOUNT": "0000175000", "COND_KEY": "MWST",
                                  "ACCT_KEY": "MWS", "TAX_CODE": "O1", "TAX_RATE": "19"}]
    assert amounts(doc) == [("1", "12.05"), ("2", "-1.00"), ("3", "-9.13"), ("4", "-1.92")]
    assert doc["CURRENCYAMOUNT"][-1]["AMT_BASE"] == "-10.13"
    assert sap.balances(doc) == {("00", "EUR"): Decimal(0)}


def test_translated_company_code_currency_balances_after_rounding() -> None:
    cfg = CFG.model_copy(update={"local_currency": "USD", "exchange_rates": {"EUR": Decimal("1.0873")}})
    doc = sap.build_document(billed_event(), cfg)
    # 12.05*1.0873=13.101965 -> 13.10; -1.0873 -> -1.09; -9.927049 -> -9.93; -2.087616 -> -2.09: sum -0.01,
    # so the largest revenue item absorbs the cent (-9.92) and the USD side balances too
    assert amounts(doc, "10") == [("1", "13.10"), ("2", "-1.09"), ("3", "-9.92"), ("4", "-2.09")]
    assert sap.balances(doc) == {("00", "EUR"): Decimal(0), ("10", "USD"): Decimal(0)}
    assert {r["EXCH_RATE"] for r in doc["CURRENCYAMOUNT"] if r["CURR_TYPE"] == "10"} == {"1.0873"}
    with pytest.raises(sap.MappingError, match="exchange_rates: no rate from EUR to USD"):
        sap.build_document(billed_event(), cfg.model_copy(update={"exchange_rates": {}}))


@pytest.mark.parametrize(("currency", "kw", "local", "rate", "doc_amounts", "local_amounts"), [
    ("JPY", {"energy_price": "45", "flat": "100", "vat": "10"}, "EUR", Decimal("0.0061"),
     [("1", "1268"), ("2", "-100"), ("3", "-1053"), ("4", "-115")], [("1", "7.73"), ("2", "-0.61"), ("3", "-6.42"),
                                                                      ("4", "-0.70")]),
    ("KWD", {"energy_price": "0.125", "flat": "0.500", "vat": "5"}, "USD", Decimal("3.2541"),
     # tax 0.025 + 0.146 (5% per line, 3 decimals); USD: 11.70-1.63-9.52-0.56 = -0.01 -> revenue -9.51
     [("1", "3.596"), ("2", "-0.500"), ("3", "-2.925"), ("4", "-0.171")], [("1", "11.70"), ("2", "-1.63"),
                                                                           ("3", "-9.51"), ("4", "-0.56")]),
])
def test_every_currency_balances(currency: str, kw: dict[str, str], local: str, rate: Decimal,
                                 doc_amounts: list[tuple[str, str]], local_amounts: list[tuple[str, str]]) -> None:
    cfg = CFG.model_copy(update={"local_currency": local, "exchange_rates": {currency: rate}})
    event = billed_event(currency, **kw)
    doc = sap.build_document(event, cfg)
    assert amounts(doc) == doc_amounts and amounts(doc, "10") == local_amounts
    assert doc_amounts[0][1] == event["data"]["invoice"]["gross_total"]  # same digits as billing's JSON
    assert set(sap.balances(doc).values()) == {Decimal(0)} and len(sap.balances(doc)) == 2


def test_inconsistent_lines_and_missing_mappings_are_refused() -> None:
    event = billed_event()
    event["data"]["invoice"]["lines"][0]["gross"] = "1.20"
    with pytest.raises(sap.MappingError, match="would not balance"):
        sap.build_document(event, CFG)
    with pytest.raises(sap.MappingError, match="tax_codes: no SAP tax code configured for tax rate 19"):
        sap.build_document(billed_event(), CFG.model_copy(update={"tax_codes": {}}))
    with pytest.raises(sap.MappingError, match="customer_ids"):
        sap.build_document(billed_event(), CFG.model_copy(update={"customer_ids": {}}))
    assert sap.ref_doc_no("S-100") == "S-100" and len(sap.ref_doc_no("x" * 64)) == 16
    assert "sap-secret" not in repr(CFG)


def test_soap_message_structure_and_balance() -> None:
    cfg = CFG.model_copy(update={"local_currency": "USD", "exchange_rates": {"EUR": Decimal("1.0873")}})
    event = billed_event()
    xml = sap.build_message(sap.build_document(event, cfg), sap.message_id(event, cfg), cfg)
    root = ET.fromstring(xml)
    assert root.tag == "{http://schemas.xmlsoap.org/soap/envelope/}Envelope"
    bulk = root.find(f".//{SFIN}JournalEntryBulkCreateRequest")
    assert bulk is not None and len(bulk.findtext("MessageHeader/ID") or "") == 32
    je = bulk.find("JournalEntryCreateRequest/JournalEntry")
    assert je is not None
    for tag, value in [("CompanyCode", "1010"), ("DocumentReferenceID", "S-100"), ("AccountingDocumentType", "DR"),
                       ("PostingDate", "2026-01-13"), ("BusinessTransactionType", "RFBU"),
                       ("OriginalReferenceDocumentType", "BKPFF")]:
        assert je.findtext(tag) == value, tag
    debtor = je.find("DebtorItem")
    assert debtor is not None and debtor.findtext("Debtor") == "0000100001"
    assert [(i.findtext("GLAccount"), i.findtext("AmountInTransactionCurrency"), i.findtext("DebitCreditCode"),
             i.findtext("Tax/TaxCode")) for i in je.findall("Item")] == [
        ("0000800100", "-1.00", "H", "O1"), ("0000800000", "-9.13", "H", "O1")]
    [tax] = je.findall("ProductTaxItem")
    assert (tax.findtext("AmountInTransactionCurrency"), tax.findtext("TaxBaseAmountInTransCrcy")) == ("-1.92", "-10.13")
    for tag, currency in (("AmountInTransactionCurrency", "EUR"), ("AmountInCompanyCodeCurrency", "USD")):
        els = list(je.iter(tag))
        assert len(els) == 4 and {e.get("currencyCode") for e in els} == {currency}
        assert sum(Decimal(e.text or "x") for e in els) == 0
    for item in [*je.findall("Item"), *je.findall("DebtorItem"), *je.findall("ProductTaxItem")]:
        sign = Decimal(item.findtext("AmountInTransactionCurrency") or "x")
        assert item.findtext("DebitCreditCode") == ("S" if sign >= 0 else "H")


def _cfg(vendors: FinanceVendors, transport: str) -> sap.SapConfig:
    return CFG.model_copy(update={"transport": transport, "json_url": vendors.url + "/sap/evbill/acc_document",
                                  "soap_url": vendors.url + "/sap/bc/srt/scs_ext/sap/journalentrycreaterequestconfi"})


@pytest.mark.parametrize("transport", ["json", "soap"])
def test_delivery_retries_and_posts_one_document(vendors: FinanceVendors, transport: str) -> None:
    cfg = _cfg(vendors, transport)
    path = "/sap/evbill/" if transport == "json" else "/sap/bc/srt/"
    event = billed_event()
    vendors.fail(path, 429, 500, retry_after="4")
    vendors.lose(path, method="POST")  # SAP posted, the answer never arrived
    result, retry_afters = retrying(lambda: sap.deliver(event, cfg, DeliveryContext(OneShotHttp())))
    assert retry_afters == [4.0, None, None] and result["status"] == "sent"
    [(key, posted)] = vendors.sap_documents.items()
    assert key == ("1010", "S-100") and result["ref"] == posted["OBJ_KEY"]
    calls = vendors.calls(path)
    assert len(calls) == 4 and all(c["headers"]["Authorization"].startswith("Basic ") for c in calls)
    if transport == "json":
        assert posted["CURRENCYAMOUNT"][0]["AMT_DOCCUR"] == "12.05" and result["duplicate"] is True
        assert calls[-1]["headers"]["Idempotency-Key"] == "sap_s4hana:t1:1010:S-100"
    else:
        assert calls[-1]["headers"]["Content-Type"] == "text/xml; charset=utf-8"
        ids = {ET.fromstring(c["body"]).findtext(f".//{SFIN}JournalEntryBulkCreateRequest/MessageHeader/ID")
               for c in calls}
        assert len(ids) == 1  # every retry is the same message
    again = sap.deliver(event, cfg, DeliveryContext(OneShotHttp()))  # redelivery after a worker restart
    assert again["ref"] == result["ref"] and len(vendors.sap_documents) == 1


@pytest.mark.parametrize("transport", ["json", "soap"])
def test_sap_rejections_are_permanent(vendors: FinanceVendors, transport: str) -> None:
    cfg = _cfg(vendors, transport)
    with pytest.raises(PermanentError, match="401"):
        sap.deliver(
            billed_event(), cfg.model_copy(update={"password": "wrong"}), DeliveryContext(OneShotHttp()))
    assert vendors.sap_documents == {}
    unbalanced = copy.deepcopy(billed_event())
    unbalanced["data"]["invoice"]["lines"][1]["gross"] = "10.87"
    sent = len(vendors.calls("/sap/"))
    with pytest.raises(PermanentError, match="would not balance"):
        sap.deliver(unbalanced, cfg, DeliveryContext(OneShotHttp()))
    assert len(vendors.calls("/sap/")) == sent == 1  # refused before sending


def test_incentive_is_debited_to_the_authority_receivable() -> None:
    doc = sap.build_document(incentive_event(), CFG)
    # AR 10.88 (amount due) + incentive receivable 1.17 = revenue 1.00 + 9.13 + tax 1.92
    assert amounts(doc) == [("1", "10.88"), ("2", "-1.00"), ("3", "-9.13"), ("4", "1.17"), ("5", "-1.92")]
    assert doc["ACCOUNTGL"][2]["GL_ACCOUNT"] == "0000140000" and "TAX_CODE" not in doc["ACCOUNTGL"][2]
    assert sap.balances(doc) == {("00", "EUR"): Decimal(0)}


def test_oauth_client_credentials_for_the_integration_endpoint(vendors: FinanceVendors) -> None:
    cfg = _cfg(vendors, "json").model_copy(update={"username": None, "password": None, "client_id": "cc-app",
                                                    "client_secret": "cc-app-secret",
                                                    "token_url": vendors.url + "/oauth2/cc-token"})
    assert sap.deliver(billed_event(), cfg, DeliveryContext(OneShotHttp()))["status"] == "sent"
    [call] = vendors.calls("/sap/evbill/")
    assert call["headers"]["Authorization"].startswith("Bearer cc-app-token-") and len(vendors.sap_documents) == 1


def credit_note_event() -> dict[str, Any]:
    invoice = billed_event()["data"]["invoice"] | {"id": "cn_1", "kind": "credit_note", "number": "CN-000001",
                                                   "credit_note_of": "inv_S-100"}
    return {"id": "evt_cn_1", "type": "credit_note.issued", "tenant_id": "t1", "created_at": "2026-01-20T09:00:00Z",
            "data": {"invoice": invoice}}


def test_credit_note_reverses_the_posting(vendors: FinanceVendors) -> None:
    doc = sap.build_document(credit_note_event(), CFG)
    assert (doc["DOCUMENTHEADER"]["DOC_TYPE"], doc["DOCUMENTHEADER"]["REF_DOC_NO"]) == ("DG", "CN-000001")
    assert amounts(doc) == [("1", "-12.05"), ("2", "1.00"), ("3", "9.13"), ("4", "1.92")]
    assert doc["CURRENCYAMOUNT"][-1]["AMT_BASE"] == "10.13" and sap.balances(doc) == {("00", "EUR"): Decimal(0)}
    cfg = _cfg(vendors, "json")
    assert sap.idempotency_key(credit_note_event(), cfg) == "sap_s4hana:t1:1010:CN-000001"
    first, again = (sap.deliver(credit_note_event(), cfg, DeliveryContext(OneShotHttp())) for _ in range(2))
    assert first["ref"] == again["ref"] and list(vendors.sap_documents) == [("1010", "CN-000001")]


def test_soap_is_the_default_transport() -> None:
    assert sap.SapConfig().transport == "soap"
    with pytest.raises(PermanentError, match="soap_url: required for this transport"):
        sap.deliver(billed_event(), sap.SapConfig(json_url="http://127.0.0.1:9/x", customer_ids={"C-1": "1"},
                                                  tax_codes={"19": "O1"}), DeliveryContext(OneShotHttp()))


def voided(event: dict[str, Any], number: str | None = "INV-000001") -> dict[str, Any]:
    inv = dict(copy.deepcopy(event["data"]["invoice"]), status="void", number=number)
    return {"id": "evt_void", "type": "invoice.voided", "tenant_id": "t1", "created_at": "2026-01-14T09:00:00Z",
            "data": {"invoice": inv}}


def test_a_void_posts_one_reversing_document_of_the_invoice(vendors: FinanceVendors) -> None:
    """Each session was posted on session.billed, so the void of our invoice (finalized or draft) reverses all
    of its lines in one document referenced by the invoice: SAP's receivable for it goes back to zero."""
    cfg = _cfg(vendors, "json")  # the JSON double keeps the BAPI tables to read the receivable from
    event = billed_event()
    posted = sap.build_document(event, cfg)
    reversal = sap.build_document(voided(event), cfg)
    assert reversal["DOCUMENTHEADER"]["REF_DOC_NO"] == "INV-000001~VOID"
    assert reversal["DOCUMENTHEADER"]["DOC_TYPE"] == cfg.credit_doc_type
    assert [a for _, a in amounts(reversal)] == [str(-Decimal(a)) for _, a in amounts(posted)]
    assert sap.idempotency_key(voided(event), cfg) != sap.idempotency_key(event, cfg)
    sap.deliver(event, cfg, DeliveryContext(OneShotHttp()))
    sap.deliver(voided(event), cfg, DeliveryContext(OneShotHttp()))
    receivable = sum(Decimal(doc["CURRENCYAMOUNT"][0]["AMT_DOCCUR"]) for doc in vendors.sap_documents.values())
    assert len(vendors.sap_documents) == 2 and receivable == 0
    draft = voided(billed_event(sid="S-200"), number=None)
    assert sap.skip_reason(draft) is None  # a voided draft's sessions were posted too: reversed as well


@pytest.mark.parametrize("transport", ["json", "soap"])
def test_vat_restatement_posts_one_adjusting_document(vendors: FinanceVendors, transport: str) -> None:
    """The session was posted as rated (12.05); the invoice's VAT per rate is a cent more: one document,
    receivable against output tax on a zero base, referenced by the invoice, once under retries; the full
    credit note (the invoice's lines) then brings the receivable back to zero."""
    cfg = _cfg(vendors, transport)
    event = vat_restated_event("0.01")
    doc = sap.build_document(event, cfg)
    assert doc["DOCUMENTHEADER"]["REF_DOC_NO"] == "INV-0001~VAT" and doc["ACCOUNTGL"] == []
    assert doc["DOCUMENTHEADER"]["HEADER_TXT"] == "EV VAT per rate INV-0001"
    assert amounts(doc) == [("1", "0.01"), ("2", "-0.01")] and doc["CURRENCYAMOUNT"][1]["AMT_BASE"] == "0.00"
    assert doc["ACCOUNTTAX"][0]["TAX_CODE"] == "O1" and sap.balances(doc) == {("00", "EUR"): Decimal(0)}
    assert sap.idempotency_key(event, cfg) == "sap_s4hana:t1:1010:INV-0001~VAT"
    xml = ET.fromstring(sap.build_message(doc, sap.message_id(event, cfg), cfg))
    assert [el.findtext("DebitCreditCode") for el in xml.iter() if el.tag in ("DebtorItem", "ProductTaxItem")] == [
        "S", "H"]
    lowered = sap.build_document(vat_restated_event("-0.02"), cfg)
    assert amounts(lowered) == [("1", "-0.02"), ("2", "0.02")]
    path = "/sap/evbill/" if transport == "json" else "/sap/bc/srt/"
    vendors.fail(path, 429, 500, retry_after="1")
    vendors.lose(path, method="POST")
    result, _ = retrying(lambda: sap.deliver(event, cfg, DeliveryContext(OneShotHttp())))
    again = sap.deliver(event, cfg, DeliveryContext(OneShotHttp()))  # redelivered after a worker restart
    assert result["status"] == "sent" and again["ref"] == result["ref"]
    assert list(vendors.sap_documents) == [("1010", "INV-0001~VAT")]
    if transport == "json":  # the JSON double keeps the BAPI tables to read the receivable from
        for other in (fin_billed_event(), credit_note_of(event)):
            sap.deliver(other, cfg, DeliveryContext(OneShotHttp()))
        receivable = sum(Decimal(d["CURRENCYAMOUNT"][0]["AMT_DOCCUR"]) for d in vendors.sap_documents.values())
        assert len(vendors.sap_documents) == 3 and receivable == 0


def test_vat_restatement_that_moved_nothing_sends_nothing(vendors: FinanceVendors) -> None:
    cfg = _cfg(vendors, "json")
    result = sap.deliver(vat_restated_event("0.00"), cfg, DeliveryContext(OneShotHttp()))
    assert result == {"status": "skipped", "reason": "the VAT restatement moved nothing"}
    assert vendors.calls("/sap/") == [] and vendors.sap_documents == {}
    skewed = vat_restated_event("0.01")
    skewed["data"]["restatement"]["receivable"] = "0.02"
    with pytest.raises(PermanentError, match="receivable 0.02 != sum of the tax deltas"):
        sap.deliver(skewed, cfg, DeliveryContext(OneShotHttp()))
    assert vendors.calls("/sap/") == []
    usd = sap.build_document(vat_restated_event("0.01", currency="USD"), CFG.model_copy(
        update={"local_currency": "EUR", "exchange_rates": {"USD": Decimal("0.9231")}}))
    assert sap.balances(usd) == {("00", "USD"): Decimal(0), ("10", "EUR"): Decimal(0)}
