"""SendGrid: bodies against the vendor contract in ../shared/vendor-specs (each schema also shown to bite
on a broken variant of our own body), then end to end over HTTP against the local double on 127.0.0.1:
429/500 replays, permanent errors, and no duplicates after a worker restart."""

from __future__ import annotations

import copy

import pytest

from connector.platforms.adapters import sendgrid
from connector.platforms.context import DeliveryContext
from connector.platforms.errors import PermanentError
from tests.platforms.events import anomaly_event, billed_event
from tests.platforms.fakes.http import OneShotHttp
from tests.platforms.fakes.messaging_and_crm import FakeVendors
from tests.platforms.schemas import schema_errors
from tests.platforms.worker_model import worker

SG = sendgrid.SendGridConfig(api_key="SG.x", from_email="billing@evcharge.example", reply_to="help@evcharge.example",
                             bcc=["audit@evcharge.example"])


@pytest.mark.parametrize(("currency", "locale"), [("EUR", "de_DE"), ("JPY", "ja_JP"), ("KWD", "ar_KW")])
def test_sendgrid_body_matches_vendor_schema(currency: str, locale: str) -> None:
    event = billed_event(currency, locale)
    body = sendgrid.build_mail(event, SG)
    assert schema_errors("sendgrid/mail_send.schema.json", body) == []
    p = body["personalizations"][0]
    assert p["to"] == [{"email": "jane@example.com", "name": "Jane Driver"}]
    assert p["custom_args"] == {"event_id": "evt_S-100", "invoice_id": "inv_S-100", "tenant_id": "t1",
                                "event_type": "session.billed"}
    assert [c["type"] for c in body["content"]] == ["text/plain", "text/html"]
    broken = copy.deepcopy(body)
    broken["content"][0]["type"] = 7
    assert schema_errors("sendgrid/mail_send.schema.json", broken)
    broken = copy.deepcopy(body)
    del broken["personalizations"]
    assert schema_errors("sendgrid/mail_send.schema.json", broken)


def test_sendgrid_one_receipt_per_invoice_and_skips() -> None:
    billed = billed_event()
    finalized = {"id": "evt_fin", "type": "invoice.finalized", "tenant_id": "t1",
                 "data": {"invoice": billed["data"]["invoice"]}}
    assert sendgrid.idempotency_key(billed) == sendgrid.idempotency_key(finalized) == "sendgrid:receipt:t1:inv_S-100"
    assert sendgrid.skip_reason(billed, SG) is None
    draft = copy.deepcopy(billed)
    draft["data"]["invoice"]["status"] = "draft"
    assert "goes out when it is finalized" in str(sendgrid.skip_reason(draft, SG))
    assert "no email address" in str(sendgrid.skip_reason(billed_event(email=None), SG))
    assert "not configured" in str(sendgrid.skip_reason(anomaly_event(), SG))


def test_sendgrid_receipt_retries_then_one_email_even_after_restart(messaging: FakeVendors, db_file: str) -> None:
    cfg = sendgrid.SendGridConfig(api_key="SG.test", from_email="billing@evcharge.example", base_url=messaging.url)
    event = billed_event("EUR", "de_DE")
    messaging.fail("/v3/mail/send", 429, 500, retry_after="2")
    outbox, http = worker(db_file)
    result = outbox.run(sendgrid.idempotency_key(event), lambda: sendgrid.deliver(
        event, cfg, DeliveryContext(http)))
    assert result["status"] == "sent" and result["ref"].startswith("msg-") and result["to"] == "jane@example.com"
    assert len(messaging.calls("/v3/mail/send")) == 3 and outbox.retry_afters == [2.0, None]
    [mail] = messaging.emails
    assert schema_errors("sendgrid/mail_send.schema.json", mail) == []
    assert 'data-total="amount_due" data-amount="12.05"' in mail["content"][1]["value"]
    assert "Zu zahlen: 12,05\xa0€" in mail["content"][0]["value"]
    # restart, then the same event and the invoice.finalized of the same invoice: no second email
    outbox, http = worker(db_file)
    finalized = {"id": "evt_fin", "type": "invoice.finalized", "tenant_id": "t1", "data": {"invoice": event["data"]["invoice"]}}
    for ev in (event, finalized):
        assert outbox.run(sendgrid.idempotency_key(ev), lambda ev=ev: sendgrid.deliver(
            ev, cfg, DeliveryContext(http))) == {
            "status": "already_delivered"}
    assert len(messaging.emails) == 1 and len(messaging.calls("/v3/mail/send")) == 3


def test_sendgrid_bad_key_is_permanent_without_retry(messaging: FakeVendors) -> None:
    cfg = sendgrid.SendGridConfig(api_key="SG.wrong", from_email="billing@evcharge.example", base_url=messaging.url)
    http = OneShotHttp()
    with pytest.raises(PermanentError, match="401"):
        sendgrid.deliver(billed_event(), cfg, DeliveryContext(http))
    assert http.attempts == 1 and messaging.emails == []
