"""SAP Concur Quick Expense: bodies against the (hand-transcribed) vendor schema with exact amounts,
the government/fleet filter, and delivery against a local double (token refresh, 429/500, no re-post)."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from connector.platforms.adapters import sap_concur
from connector.platforms.context import DeliveryContext, Stores
from connector.platforms.errors import PermanentError
from connector.platforms.sender import Sender
from connector.platforms.stores.expenses import ExpenseStore
from tests.platforms.events import billed_event, incentive_event
from tests.platforms.fakes.finance_vendors import FinanceVendors
from tests.platforms.fakes.http import OneShotHttp
from tests.platforms.schemas import schema_errors
from tests.platforms.worker_model import retrying

SCHEMA = "concur/quickexpense_v4_create.schema.json"
CFG = sap_concur.ConcurConfig(access_token="static", user_ids={"C-1": "0f8b8b2e-1111-2222-3333-444455556666"},
                              station_locations={"ST-7": sap_concur.Location(city="Bellevue", countryCode="US",
                                                                              countrySubDivisionCode="US-WA")})


@pytest.mark.parametrize(("currency", "cls", "value"), [("EUR", "government", Decimal("12.05")),
                                                        ("USD", "fleet", Decimal("12.05")),
                                                        ("JPY", "government", Decimal("1372"))])
def test_quick_expense_matches_the_vendor_schema(currency: str, cls: str, value: Decimal) -> None:
    kw = {"energy_price": "45", "flat": "100"} if currency == "JPY" else {}
    event = billed_event(currency, customer_class=cls, **kw)
    body = sap_concur.build_quick_expense(event, CFG)
    assert schema_errors(SCHEMA, body) == []
    assert body["transactionAmount"] == {"currencyCode": currency, "value": value}
    assert body["transactionDate"] == "2026-01-13" and body["paymentTypeId"] == "CPAID"
    assert body["location"] == {"city": "Bellevue", "countryCode": "US", "countrySubDivisionCode": "US-WA"}
    assert body["comment"] == "EV charging session S-100 at ST-7, 23.4 kWh, invoice INV-0001"
    wire = json.loads(sap_concur.dumps_exact(body), parse_float=Decimal)
    assert schema_errors(SCHEMA, wire) == [] and wire["transactionAmount"]["value"] == value


def test_schema_bites_on_broken_bodies() -> None:
    body = sap_concur.build_quick_expense(billed_event(customer_class="government"), CFG)
    for breaking in (lambda b: b.pop("transactionDate"), lambda b: b.update(paymentTypeId="CARD"),
                     lambda b: b["transactionAmount"].update(value="12.05"),
                     lambda b: b.update(transactionDate="13.01.2026")):
        broken = copy.deepcopy(body)
        breaking(broken)
        assert schema_errors(SCHEMA, broken)


def test_only_this_sessions_lines_and_the_local_date() -> None:
    event = billed_event(customer_class="fleet")
    event["data"]["invoice"]["lines"].append(dict(event["data"]["invoice"]["lines"][1], id="L9",
                                                  session_id="S-OTHER", gross="99.99"))
    event["data"]["session"].update(end="2026-01-13T23:30:00Z", time_zone="Asia/Tokyo")
    body = sap_concur.build_quick_expense(event, CFG)
    assert body["transactionAmount"]["value"] == Decimal("12.05") and body["transactionDate"] == "2026-01-14"


def test_non_fleet_sessions_are_skipped_and_missing_users_are_named() -> None:
    assert "customer class 'public'" in str(sap_concur.skip_reason(billed_event(), CFG))
    assert sap_concur.skip_reason(billed_event(customer_class="fleet"), CFG) is None
    only_gov = CFG.model_copy(update={"customer_classes": ["government"]})
    assert sap_concur.skip_reason(billed_event(customer_class="fleet"), only_gov) is not None
    with pytest.raises(PermanentError, match="user_ids: no Concur user for customer C-1"):
        sap_concur.deliver(billed_event(customer_class="fleet"), CFG.model_copy(update={"user_ids": {}}),
                           DeliveryContext(OneShotHttp()))
    assert "static" not in repr(CFG)


def test_delivery_with_retries_files_one_expense_even_after_restart(vendors: FinanceVendors, tmp_path: Path) -> None:
    cfg = CFG.model_copy(update={"base_url": vendors.url, "token_url": vendors.url + "/oauth2/v0/token",
                                 "access_token": None, "client_id": "cc-client", "client_secret": "cc-secret",
                                 "refresh_token": "cc-refresh"})
    db = f"sqlite:///{tmp_path / 'worker.db'}"
    event = billed_event(customer_class="government")
    vendors.fail("/quickexpense/", 429, 500, retry_after="7")
    http = OneShotHttp()

    def with_expenses(sender: Sender) -> DeliveryContext:
        """A worker process on the database: a new expense store object each time."""
        return DeliveryContext(sender, stores=Stores(expenses=ExpenseStore(create_engine(db))))

    result, retry_afters = retrying(lambda: sap_concur.deliver(event, cfg, with_expenses(http)))
    assert retry_afters == [7.0, None] and result["status"] == "sent"
    [expense] = vendors.concur_expenses
    assert result["ref"].endswith(f"/quickexpenses/{expense['id']}")
    assert expense["user"] == "0f8b8b2e-1111-2222-3333-444455556666"
    assert expense["transactionAmount"] == {"currencyCode": "EUR", "value": Decimal("12.05")}
    [call] = vendors.calls("/quickexpense/")[-1:]
    assert call["headers"]["Authorization"].startswith("Bearer cc-token-")
    assert call["headers"]["Concur-Correlationid"] == "sap_concur:t1:S-100"
    assert schema_errors(SCHEMA, call["body"]) == []
    # worker restart (new store object, same database): the redelivery does not post again
    again = sap_concur.deliver(event, cfg, with_expenses(OneShotHttp()))
    assert again == {"status": "duplicate", "ref": result["ref"]}
    assert len(vendors.concur_expenses) == 1 and len(vendors.calls("/quickexpense/")) == 3
    assert sap_concur.deliver(billed_event(sid="S-PUB"), cfg, DeliveryContext(http))["status"] == "skipped"
    assert len(vendors.calls("/quickexpense/")) == 3


def test_incentive_reduces_the_expense_to_the_amount_due() -> None:
    body = sap_concur.build_quick_expense(incentive_event("government"), CFG)
    assert body["transactionAmount"] == {"currencyCode": "EUR", "value": Decimal("10.88")}  # 12.05 - 1.17
    assert schema_errors(SCHEMA, body) == []
