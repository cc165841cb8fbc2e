"""Payments that come back: one webhook route per payment platform and the list of booked payments.

``POST /v1/payments/webhooks/{platform}/{tenant_id}`` is public (the vendor cannot send our API key): the tenant's
platform settings hold the vendor's signing key, and the signature is checked on the raw body first
(``connector.billing.payments.inbound``). 200 once handled (also for a redelivery), 401 for a bad signature,
404 when the platform is not enabled for that tenant, 503 when reading the vendor failed (the vendor redelivers).
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import IntegrityError

from connector.api.context import db, rollback_db, tenant
from connector.api.errors import field_problem, problem
from connector.billing.payments import inbound, paypal, record, square, stripe, xero
from connector.platforms.errors import PermanentError, RetryableError
from connector.platforms.sender import HttpSender, Sender
from connector.security.hmac_sign import SignatureError

LOG = logging.getLogger("connector.api.payments")
bp = Blueprint("payments", __name__, url_prefix="/v1/payments")
WEBHOOK_PREFIX = "/v1/payments/webhooks/"
RECEIVERS = {m.NAME: m for m in (stripe, square, xero, paypal)}
SENDER_KEY = "evbill.payments_sender"  # tests and embedders put the sender vendor reads go through here


def _sender() -> Sender:
    sender = current_app.extensions.get(SENDER_KEY)
    if sender is None:
        sender = current_app.extensions[SENDER_KEY] = HttpSender(target="payments")
    return sender


@bp.post("/webhooks/<platform>/<tenant_id>")
def webhook(platform: str, tenant_id: str) -> ResponseReturnValue:
    module = RECEIVERS.get(platform)
    if module is None:
        return field_problem(404, "Not found", "platform", f"one of: {', '.join(sorted(RECEIVERS))}")
    delivery = inbound.Delivery(request.get_data(cache=True), {k.lower(): v for k, v in request.headers.items()},
                                request.url)
    try:
        outcome = inbound.receive_webhook(db(), tenant_id, module, delivery, _sender())
        db().commit()
    except SignatureError as exc:
        rollback_db()
        LOG.warning("rejected %s payments webhook for %s: %s: %s", platform, tenant_id, exc.field, exc.reason)
        return field_problem(401, "Invalid signature", exc.field, exc.reason)
    except IntegrityError:  # the same event handled by a concurrent delivery a moment ago
        rollback_db()
        outcome = {"status": "duplicate"}
    except (RetryableError, PermanentError) as exc:
        rollback_db()
        LOG.warning("%s payments webhook for %s not handled: %s", platform, tenant_id, exc)
        return problem(503, "Vendor unavailable", f"reading {platform} failed; redeliver later")
    if platform == "xero":  # Xero wants an empty 200
        return Response(status=200)
    return jsonify(outcome)


@bp.get("")
def list_payments() -> ResponseReturnValue:
    return jsonify(record.list_payments(db(), tenant(), invoice_id=request.args.get("invoice_id") or None))
