"""Xero Invoices: body against the vendor schema, and delivery against a local Xero double."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from decimal import Decimal

import pytest

from connector.platforms.adapters import xero
from connector.platforms.context import DeliveryContext
from connector.platforms.errors import PermanentError
from tests.platforms.fakes.http import OneShotHttp
from tests.platforms.fakes.xero import TENANT, XeroDouble
from tests.platforms.finance_events import billed_event, incentive, invoice_event
from tests.platforms.schemas import schema_errors
from tests.platforms.worker_model import retrying

CFG = xero.XeroConfig(client_id="cid", client_secret="csecret", refresh_token="rt-0", xero_tenant_id=TENANT,
                      tax_types={"VAT:19": "OUTPUT2"}, account_codes={"energy": "4000", "fixed": "4030"},
                      default_account_code="4090")


@pytest.fixture
def double() -> Iterator[XeroDouble]:
    d = XeroDouble().start()
    yield d
    d.stop()


def lines(body: dict) -> list[tuple]:
    return [(li["UnitAmount"], li["TaxAmount"], li["AccountCode"], li["TaxType"]) for li in body["Invoices"][0]["LineItems"]]


def test_invoice_body_matches_schema_with_accounts_and_tax_types() -> None:
    body = xero.build_invoices(billed_event(), CFG)
    assert schema_errors("xero/invoices_put.schema.json", body) == []
    assert schema_errors("xero/invoices_post.schema.json", body) == []
    inv = body["Invoices"][0]
    assert lines(body) == [(Decimal("1.00"), Decimal("0.19"), "4030", "OUTPUT2"),
                           (Decimal("9.13"), Decimal("1.73"), "4000", "OUTPUT2")]
    assert sum(li["LineAmount"] + li["TaxAmount"] for li in inv["LineItems"]) == Decimal("12.05")
    assert inv["LineItems"][1]["Description"] == "Energy @ 0.39 EUR/kWh (23.4 kWh) - session S-100"
    assert {k: inv[k] for k in ("Type", "Date", "DueDate", "LineAmountTypes", "Reference", "CurrencyCode",
                                "Status", "InvoiceNumber")} == {
        "Type": "ACCREC", "Date": "2026-01-13", "DueDate": "2026-01-27", "LineAmountTypes": "Exclusive",
        "Reference": "inv_S-100", "CurrencyCode": "EUR", "Status": "AUTHORISED", "InvoiceNumber": "INV-0001"}
    assert inv["Contact"] == {"Name": "Jane Driver", "EmailAddress": "jane@example.com"}
    assert json.loads(xero.dumps_exact(body).decode())["Invoices"][0]["LineItems"][1]["UnitAmount"] == 9.13
    assert '"UnitAmount": 9.13, "LineAmount": 9.13' in xero.dumps_exact(body).decode()
    broken = copy.deepcopy(body)
    broken["Invoices"][0]["Total"] = Decimal("12.05")  # readOnly: Xero computes it
    assert schema_errors("xero/invoices_put.schema.json", broken)
    broken = copy.deepcopy(body)
    broken["Invoices"][0]["Type"] = "SALE"
    assert schema_errors("xero/invoices_put.schema.json", broken)


def test_jpy_discounts_mapping_and_refusals() -> None:
    jpy = xero.build_invoices(billed_event("JPY", flat="100", energy_price="45"), CFG)
    assert [(a, t) for a, t, _, _ in lines(jpy)] == [(Decimal(100), Decimal(19)), (Decimal(1053), Decimal(200))]
    assert '"UnitAmount": 1053,' in xero.dumps_exact(jpy).decode()  # 0 decimals: total 1372
    adj = xero.build_invoices(billed_event(adjustments=incentive()), CFG.model_copy(update={"contact_map": {
        "C-1": "430fa14a-f945-44d3-9f97-5df5e28441b8"}}))
    assert schema_errors("xero/invoices_put.schema.json", adj) == []
    assert lines(adj) == [(Decimal("1.00"), Decimal("0.19"), "4030", "OUTPUT2"),
                          (Decimal("9.13"), Decimal("1.73"), "4000", "OUTPUT2"),
                          (Decimal("-1.01"), Decimal("-0.19"), "4090", "OUTPUT2"),
                          (Decimal("-1.17"), Decimal("0.00"), "4090", "NONE")]
    assert sum(a + t for a, t, _, _ in lines(adj)) == Decimal("9.68")
    assert adj["Invoices"][0]["Contact"] == {"ContactID": "430fa14a-f945-44d3-9f97-5df5e28441b8"}
    with pytest.raises(ValueError, match="invoice.currency: KWD has 3 decimals; Xero amounts have 2"):
        xero.build_invoices(billed_event("KWD", energy="0.125", flat=None), CFG)
    strict = CFG.model_copy(update={"tax_types": {}, "default_tax_type": None})
    with pytest.raises(ValueError, match=r"invoice.lines\[0\].taxes: no Xero TaxType configured for 'VAT:19'"):
        xero.build_invoices(billed_event(), strict)
    assert "csecret" not in repr(CFG) and "rt-0" not in repr(CFG)


def test_end_to_end_rotation_retries_and_one_invoice(double: XeroDouble) -> None:
    cfg = CFG.model_copy(update={"token_url": double.url + "/connect/token", "api_base": double.url + "/api.xro/2.0"})
    saved: list[str] = []
    double.rotate = True
    double.fail("/api.xro/2.0/Invoices", 429, 500, retry_after="5")
    double.lose("/api.xro/2.0/Invoices")
    http = OneShotHttp()
    result, waits = retrying(lambda: xero.deliver(
        billed_event(), cfg, DeliveryContext(http, on_refresh=saved.append)))
    assert waits == [5.0, None, None]
    [(iid, stored)] = double.invoices.items()
    assert result == {"status": "sent", "ref": iid, "number": "INV-0001", "total": 12.05}
    assert stored["total"] == Decimal("12.05")
    assert saved == ["rt-1"] and double.token_requests == 1  # rotated once, cached token reused on retries
    calls = double.calls("/api.xro/2.0/Invoices")
    assert len(calls) == 4
    for c in calls:
        assert c["method"] == "PUT" and c["args"] == {"summarizeErrors": "true"}
        assert c["headers"]["Authorization"] == "Bearer at-1" and c["headers"]["Xero-Tenant-Id"] == TENANT
        assert c["headers"]["Idempotency-Key"] == "evbill:t1:inv_S-100:invoice"
    assert json.loads(calls[-1]["raw"])["Invoices"][0]["LineItems"][1]["LineAmount"] == 9.13
    # the invoice.finalized of the same invoice (or a redelivery): same key, Xero replays, nothing new
    again = xero.deliver(invoice_event(), cfg, DeliveryContext(OneShotHttp(), on_refresh=saved.append))
    assert again["ref"] == iid and len(double.invoices) == 1
    # the token is revoked: one refetch with the rotated refresh token, then the call succeeds
    double.tokens.clear()
    xero.deliver(billed_event(sid="S-101", number="INV-0002"), cfg,
                 DeliveryContext(OneShotHttp(), on_refresh=saved.append))
    assert saved == ["rt-1", "rt-3"] and double.calls("/connect/token")[-1]["body"]["refresh_token"] == "rt-1"
    assert len(double.invoices) == 2


def test_wrong_tenant_is_permanent(double: XeroDouble) -> None:
    cfg = CFG.model_copy(update={"token_url": double.url + "/connect/token", "api_base": double.url + "/api.xro/2.0",
                                 "xero_tenant_id": "someone-else"})
    with pytest.raises(PermanentError, match="403"):
        xero.deliver(billed_event(), cfg, DeliveryContext(OneShotHttp()))
    assert double.invoices == {}
    assert xero.deliver(
        billed_event(status="draft", number=None), cfg, DeliveryContext(OneShotHttp()))["status"] == "skipped"
