"""Plaid Transfer: bodies against the vendor schemas, and authorization + transfer against a local double."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from connector.platforms.adapters import plaid
from connector.platforms.context import DeliveryContext
from connector.platforms.errors import PermanentError
from tests.platforms.fakes.http import OneShotHttp
from tests.platforms.fakes.plaid import PlaidDouble
from tests.platforms.finance_events import billed_event, invoice_event
from tests.platforms.schemas import schema_errors
from tests.platforms.worker_model import retrying

ACCOUNT = plaid.PlaidAccount(access_token="access-sandbox-71e02f71", account_id="3gE5gnRzNyfXpBK5wEEKcymJ5albGVUqg77gr",
                             legal_name="Jane Driver", email_address="jane@example.com")
CFG = plaid.PlaidConfig(client_id="cid", secret="sandbox-secret", accounts={"C-1": ACCOUNT})
SALES_TAX = [{"name": "State sales tax", "rate": "6.25"}]


def usd(**kw: Any) -> dict[str, Any]:
    return invoice_event(currency="USD", x_taxes=SALES_TAX, **kw)


@pytest.fixture
def double() -> Iterator[PlaidDouble]:
    d = PlaidDouble().start()
    yield d
    d.stop()


def test_authorization_and_transfer_bodies_match_schemas_with_exact_amount() -> None:
    event = usd()
    assert event["data"]["invoice"]["amount_due"] == "10.76"  # 10.13 + 6.25 % sales tax (0.63), from rate(...)
    auth = plaid.build_authorization(event, CFG)
    assert schema_errors("plaid/transfer_authorization_create.schema.json", auth) == []
    assert {k: auth[k] for k in ("type", "network", "amount", "ach_class", "user", "account_id")} == {
        "type": "debit", "network": "ach", "amount": "10.76", "ach_class": "ppd",
        "user": {"legal_name": "Jane Driver", "email_address": "jane@example.com"},
        "account_id": "3gE5gnRzNyfXpBK5wEEKcymJ5albGVUqg77gr"}
    assert len(auth["idempotency_key"]) == 36 and auth["idempotency_key"] == plaid.idempotency_key(usd(), CFG)
    transfer = plaid.build_transfer(event, CFG, "auth-1")
    assert schema_errors("plaid/transfer_create.schema.json", transfer) == []
    assert transfer["description"] == "EV INV0001" and transfer["metadata"] == {"invoice_id": "inv_S-100",
                                                                                "tenant_id": "t1"}
    broken = copy.deepcopy(auth)
    broken["idempotency_key"] = "x" * 51
    assert schema_errors("plaid/transfer_authorization_create.schema.json", broken)
    broken = copy.deepcopy(transfer)
    broken["description"] = "EV charging invoice INV-0001"  # > 15 characters
    assert schema_errors("plaid/transfer_create.schema.json", broken)


def test_currency_skips_and_secrets() -> None:
    with pytest.raises(ValueError, match="invoice.currency: Plaid Transfer moves USD, invoice inv_S-100 is in EUR"):
        plaid.build_authorization(invoice_event(), CFG)
    assert "no linked bank account" in str(plaid.skip_reason(usd(customer_id="C-9"), CFG))
    assert "only finalized" in str(plaid.skip_reason(billed_event("USD", status="draft", number=None), CFG))
    note = usd(event_type="invoice.finalized")
    note["data"]["invoice"]["kind"] = "credit_note"
    assert "not settled by a debit" in str(plaid.skip_reason(note, CFG))
    note["type"] = "credit_note.issued"  # a credit note cancels the debit of the invoice it credits: it names it
    assert "names no invoice it credits" in str(plaid.skip_reason(note, CFG))
    text = repr(CFG)
    assert "sandbox-secret" not in text and "access-sandbox" not in text


def test_end_to_end_retries_and_one_transfer(double: PlaidDouble) -> None:
    cfg = CFG.model_copy(update={"api_base": double.url})
    double.fail("/transfer/authorization/create", 429, retry_after="4")
    double.fail("/transfer/create", 500)
    double.lose("/transfer/create")  # the transfer exists, the answer is lost
    http = OneShotHttp()
    result, waits = retrying(lambda: plaid.deliver(usd(), cfg, DeliveryContext(http)))
    assert waits == [4.0, None, None]
    [(tid, transfer)] = double.transfers.items()
    [(aid, _)] = double.authorizations.items()
    assert result == {"status": "sent", "ref": tid, "authorization_id": aid, "amount": "10.76",
                      "transfer_status": "pending"}
    assert transfer["description"] == "EV INV0001"
    for c in double.requests:
        assert c["headers"]["Plaid-Client-Id"] == "cid" and c["headers"]["Plaid-Secret"] == "sandbox-secret"
        assert c["headers"]["Plaid-Version"] == "2020-09-14" and "secret" not in (c["body"] or {})
    # the session.billed of the same (per-session, finalized) invoice: same key, same transfer
    again = plaid.deliver(billed_event("USD", x_taxes=SALES_TAX), cfg, DeliveryContext(OneShotHttp()))
    assert again["ref"] == tid and len(double.transfers) == 1 and len(double.authorizations) == 1


def test_declined_is_permanent(double: PlaidDouble) -> None:
    cfg = CFG.model_copy(update={"api_base": double.url})
    double.limit = plaid.Decimal("5.00")
    with pytest.raises(PermanentError, match="not approved: insufficient funds"):
        plaid.deliver(usd(), cfg, DeliveryContext(OneShotHttp()))
    assert double.transfers == {}
    with pytest.raises(PermanentError, match="INVALID_API_KEYS"):
        plaid.deliver(usd(), cfg.model_copy(update={"secret": "wrong"}), DeliveryContext(OneShotHttp()))


class Refs:
    """What the worker's ``SentRefs`` would hold: the results of earlier deliveries by key."""

    def __init__(self, known: dict[str, dict[str, Any]]) -> None:
        self.known = known

    def result_of(self, tenant_id: str, platform: str, key: str) -> dict[str, Any] | None:
        return self.known.get(key)

    def ref_of(self, tenant_id: str, platform: str, key: str) -> str | None:
        return (self.known.get(key) or {}).get("ref")


def correction(event: dict[str, Any], kind: str, amount_due: str | None = None) -> dict[str, Any]:
    inv = dict(event["data"]["invoice"])
    if kind == "invoice.voided":
        inv["status"] = "void"
    else:
        inv.update(id="cn_1", number="CN-1", kind="credit_note", credit_note_of=event["data"]["invoice"]["id"])
        if amount_due:
            inv["amount_due"] = amount_due
    return {"id": f"evt_{kind}", "type": kind, "tenant_id": event["tenant_id"], "data": {"invoice": inv}}


def test_a_void_or_full_credit_cancels_the_pending_transfer_once(double: PlaidDouble) -> None:
    cfg = CFG.model_copy(update={"api_base": double.url})
    event = usd()
    sent = plaid.deliver(event, cfg, DeliveryContext(OneShotHttp()))
    refs = Refs({plaid.idempotency_key(event, cfg): sent})
    void = correction(event, "invoice.voided")
    assert plaid.idempotency_key(void, cfg) == f"plaid:t1:{event['data']['invoice']['id']}:void"
    done = plaid.deliver(void, cfg, DeliveryContext(OneShotHttp(), refs=refs))
    assert done == {"status": "sent", "ref": sent["ref"], "transfer_status": "cancelled"}
    assert double.transfers[sent["ref"]]["status"] == "cancelled"
    again = plaid.deliver(void, cfg, DeliveryContext(OneShotHttp(), refs=refs))
    assert again["note"] == "already cancelled" and len(double.calls("/transfer/cancel")) == 1
    # a partial credit note is not a debit to cancel; a debit that already moved money is a refund, said so
    partial = plaid.deliver(correction(event, "credit_note.issued", "1.00"), cfg,
                            DeliveryContext(OneShotHttp(), refs=refs))
    assert partial["status"] == "skipped" and "only a debit credited in full is cancelled" in partial["reason"]
    other = usd(sid="S-200", number="INV-0002")
    sent2 = plaid.deliver(other, cfg, DeliveryContext(OneShotHttp()))
    refs.known[plaid.idempotency_key(other, cfg)] = sent2
    double.post(sent2["ref"])
    with pytest.raises(PermanentError, match="is posted and no longer cancellable.*refund the customer"):
        plaid.deliver(correction(other, "credit_note.issued"), cfg, DeliveryContext(OneShotHttp(), refs=refs))
    nothing = plaid.deliver(correction(usd(sid="S-300", number="INV-0003"), "invoice.voided"), cfg,
                            DeliveryContext(OneShotHttp(), refs=refs))
    assert nothing["status"] == "skipped" and "was not debited through Plaid" in nothing["reason"]
