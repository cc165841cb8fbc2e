"""PayPal Invoicing v2: one PayPal invoice per finalized invoice of ours, then send; voids and credit notes follow.

PayPal invoicing has no idempotency header: our invoice number is the key, searched before every create; each
correction is decided on the PayPal invoice's current status. Tax goes out as each item's PayPal ``tax`` (name
and percent; PayPal computes the amount), discounts as item discounts, after-tax incentives as a negative custom
amount; PayPal's total and tax are checked against ours before the invoice is sent (a draft that disagrees is
deleted, never sent). Amounts follow PayPal's currency rules (``vendor_units.PAYPAL``: no decimals for HUF, JPY,
TWD). See docs/platforms/paypal.md."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

from connector.models.documents import EventJson
from connector.money import to_decimal
from connector.platforms.context import DeliveryContext
from connector.platforms.errors import PermanentError, RetryableError
from connector.platforms.invoice_event import (
    MONEY_TEXT,
    bounded_key,
    correction_skip,
    delivery_key,
    invoice_of,
    line_description,
    major,
    minor,
    operation,
    unsendable,
)
from connector.platforms.oauth import TokenProvider, send_authorized, shared_provider
from connector.platforms.sent_refs import SentRefs
from connector.platforms.vendor_units import PAYPAL, vendor_decimal

NAME = "paypal"
EVENTS = ("session.billed", "invoice.finalized", "invoice.voided", "credit_note.issued")
CREATING = frozenset({"session.billed", "invoice.finalized"})
SENDABLE = frozenset({"finalized", "paid"})
TermType = Literal["DUE_ON_RECEIPT", "NET_10", "NET_15", "NET_30", "NET_45", "NET_60", "NET_90", "NO_DUE_DATE"]
RefundMethod = Literal["BANK_TRANSFER", "CASH", "CHECK", "CREDIT_CARD", "DEBIT_CARD", "PAYPAL", "WIRE_TRANSFER",
                       "OTHER"]
CANCELLABLE = frozenset({"SENT", "UNPAID"})  # "Cancels a sent invoice" (invoices.cancel)
DELETABLE = frozenset({"DRAFT", "SCHEDULED"})  # "Deletes a draft or scheduled invoice" (invoices.delete)
PAID = frozenset({"PAID", "MARKED_AS_PAID", "PARTIALLY_PAID"})  # MARKED_AS_PAID: a payment recorded by hand
PENDING = frozenset({"PAYMENT_PENDING"})  # a payment in flight: wait until it settles or fails
REFUNDABLE = frozenset({"PAID", "MARKED_AS_PAID", "PARTIALLY_REFUNDED", "REFUNDED", "MARKED_AS_REFUNDED"})


class PayPalConfig(BaseModel):
    """Per tenant: REST app credentials (client credentials grant) and the invoicer shown on the invoice."""

    model_config = ConfigDict(extra="forbid")

    client_id: str = Field(min_length=1)
    client_secret: str = Field(min_length=1, repr=False)
    api_base: str = Field(default="https://api-m.paypal.com", description="sandbox: https://api-m.sandbox.paypal.com")
    invoicer_email: str = Field(min_length=3)
    invoicer_business_name: str | None = None
    invoice_number_prefix: str = Field(default="EV-", max_length=20)
    payment_term: TermType = "NET_30"
    send_to_invoicer: bool = False
    subject: str = "Your EV charging invoice {number}"
    note: str | None = None
    cancel_subject: str = "Invoice {number} has been cancelled"
    cancel_note: str = "This invoice was cancelled; please do not pay it. {reason}"
    refund_method: RefundMethod = Field(default="BANK_TRANSFER",
                                        description="how credit-note refunds of paid invoices are recorded")
    # inbound payments (connector.billing.payments.paypal): the webhook's id for verify-webhook-signature
    webhook_id: str | None = Field(default=None, description="the ID PayPal gave the payments webhook")


Config = PayPalConfig


def skip_reason(event: EventJson) -> str | None:
    """Why this event needs nothing at PayPal (None: it does). A credit note is found through the invoice it
    credits, so one without ``credit_note_of`` has nothing to act on."""
    op = operation(event)
    if op == "invoice":
        return unsendable(event, "PayPal", SENDABLE, "credit notes reach PayPal through credit_note.issued")
    reason = correction_skip(event, "PayPal")
    if reason is None and op == "credit_note" and not invoice_of(event).get("credit_note_of"):
        return f"invoice {invoice_of(event).get('id')} is not a credit note of another invoice"
    return reason


def invoice_number(event: EventJson, config: PayPalConfig) -> str:
    """PayPal's dedupe key: our (gapless, per tenant) number, else the invoice id."""
    inv = invoice_of(event)
    return f"{config.invoice_number_prefix}{inv.get('number') or inv['id']}"[:127]


def creation_key(tenant_id: str, invoice_id: str) -> str:
    """The key of the delivery that creates and sends the PayPal invoice of our invoice ``invoice_id``."""
    return bounded_key(f"paypal:{tenant_id}:{invoice_id}", 200)


def idempotency_key(event: EventJson, config: PayPalConfig | None = None) -> str:
    """Per invoice (``session.billed`` and ``invoice.finalized`` of one invoice are one PayPal invoice); a
    void or credit note has a key of its own (``…:void``, ``…:credit_note``), never the creation's, or the
    worker would take it for a duplicate of the creation.

    An event this adapter skips (a draft, no invoice) gets a key of its own: it never stands for a delivery
    of the invoice when the worker dedupes on equal keys."""
    skipped = skip_reason(event) is not None
    key = ""
    if not skipped:
        base = creation_key(str(event.get("tenant_id", "")), str(invoice_of(event).get("id")))
        suffix = {"invoice.voided": ":void", "credit_note.issued": ":credit_note"}.get(str(event.get("type")), "")
        key = f"{base[:200 - len(suffix)]}{suffix}"
    return delivery_key(NAME, event, skipped, key, 200)


def _money(amount_minor: int, currency: str, field: str = "amount") -> dict[str, str]:
    """PayPal money from ISO minor units: a decimal string in PayPal's digits for the currency (EUR 913 ->
    "9.13", JPY 1372 -> "1372"); an amount PayPal cannot hold (HUF 12.50) is refused with ``field`` named."""
    return {"currency_code": currency, "value": vendor_decimal(amount_minor, currency, PAYPAL, field)}


def _percent(rate: Any, field: str) -> str:
    return f"{to_decimal(rate, field).normalize():f}"


def _item_tax(line: dict[str, Any], i: int) -> dict[str, str] | None:
    """The line's PayPal ``tax``: one per item, so several taxes of one line (state + city sales tax) become
    one tax with their summed percent (PayPal's amount is then checked against ours)."""
    taxes = line.get("taxes") or []
    if not taxes:
        return None
    names = " + ".join(f"{t.get('name')} {_percent(t.get('rate'), f'invoice.lines[{i}].taxes')}%" for t in taxes)
    total = sum((to_decimal(t.get("rate"), f"invoice.lines[{i}].taxes") for t in taxes), Decimal(0))
    return {"name": names[:100], "percent": f"{total.normalize():f}"}


def build_invoice(event: EventJson, config: PayPalConfig) -> dict[str, Any]:
    """The draft invoice body (``invoice`` schema; no readOnly fields).

    Each positive line is an item with its tax as PayPal's item ``tax``; a negative line carrying tax (a
    discount) is spread over the items with the same tax as item ``discount`` amounts (in proportion, largest
    remainder), so PayPal taxes the discounted amount as we do; a negative line without tax (an incentive, after
    tax) is the invoice's ``custom`` amount."""
    inv = invoice_of(event)
    cur = str(inv["currency"])
    customer = inv.get("customer") or {}
    if not customer.get("email"):
        raise ValueError(f"invoice.customer.email: required to send PayPal invoice {inv.get('id')}")
    items: list[dict[str, Any]] = []
    nets: list[int] = []
    profiles: list[str] = []
    discounts: dict[str, int] = {}
    custom = 0
    for i, line in enumerate(inv.get("lines") or []):
        net = minor(line.get("net"), cur, f"invoice.lines[{i}].net")
        tax = _item_tax(dict(line), i)
        profile = tax["name"] if tax else ""
        if net < 0:
            if tax:
                discounts[profile] = discounts.get(profile, 0) - net
            else:
                custom += net
        elif net > 0:
            item: dict[str, Any] = {"name": str(line.get("description") or line.get("category") or "EV charging")[:200],
                                    "description": line_description(line)[:1000], "quantity": "1",
                                    "unit_amount": _money(net, cur, f"invoice.lines[{i}].net"),
                                    "unit_of_measure": "QUANTITY"}
            if tax:
                item["tax"] = tax
            items.append(item)
            nets.append(net)
            profiles.append(profile)
    for profile, off in discounts.items():
        idx = [k for k, p in enumerate(profiles) if p == profile]
        base = sum(nets[k] for k in idx)
        if not idx or off > base:
            raise ValueError(f"invoice.lines: a discount of {off} minor units under {profile!r} has no items to "
                             "reduce; PayPal cannot tax it as we do")
        shares = {k: off * nets[k] // base for k in idx}
        for k in sorted(idx, key=lambda k: -((off * nets[k]) % base))[:off - sum(shares.values())]:
            shares[k] += 1
        for k, share in shares.items():
            if share:
                items[k]["discount"] = {"amount": _money(share, cur, "invoice.lines.net")}
    if len(items) > 100:
        raise ValueError(f"invoice.lines: {len(items)} items, PayPal allows 100 per invoice")
    recipient: dict[str, Any] = {"email_address": customer["email"]}
    if customer.get("name"):
        recipient["name"] = {"full_name": str(customer["name"])[:300]}
    invoicer: dict[str, Any] = {"email_address": config.invoicer_email}
    if config.invoicer_business_name:
        invoicer["business_name"] = config.invoicer_business_name
    detail: dict[str, Any] = {"currency_code": cur, "invoice_number": invoice_number(event, config),
                              "reference": str(inv["id"])[:120],
                              "payment_term": {"term_type": config.payment_term}}
    if inv.get("issued_at"):
        detail["invoice_date"] = str(inv["issued_at"])[:10]
    if config.note:
        detail["note"] = config.note
    body: dict[str, Any] = {"detail": detail, "invoicer": invoicer,
                            "primary_recipients": [{"billing_info": recipient}], "items": items,
                            "configuration": {"tax_calculated_after_discount": True, "tax_inclusive": False}}
    if custom:
        body["amount"] = {"breakdown": {"custom": {"label": "Incentives", "amount": _money(custom, cur,
                                                                                           "invoice.incentive_total")}}}
    return body


def expected_totals(event: EventJson) -> tuple[Decimal, Decimal]:
    """(total, tax) of our invoice as PayPal shows them."""
    inv = invoice_of(event)
    cur = str(inv["currency"])
    return (Decimal(vendor_decimal(minor(inv.get("amount_due"), cur, "invoice.amount_due"), cur, PAYPAL,
                                   "invoice.amount_due")),
            Decimal(vendor_decimal(minor(inv.get("tax_total") or "0", cur, "invoice.tax_total"), cur, PAYPAL,
                                   "invoice.tax_total")))


def build_send(event: EventJson, config: PayPalConfig) -> dict[str, Any]:
    inv = invoice_of(event)
    return {"subject": config.subject.format(number=inv.get("number") or inv["id"])[:4000],
            "send_to_recipient": True, "send_to_invoicer": config.send_to_invoicer}


def _id_from(payload: dict[str, Any]) -> str:
    if payload.get("id"):
        return str(payload["id"])
    if payload.get("dry_run") is True:  # DryRunSender: nothing was created; keep writing the send request
        return "INV2-DRY-RUN"
    href = str(payload.get("href") or "")  # the default (minimal) answer is a link to the new invoice
    if not href:
        raise PermanentError("PayPal create answer has neither id nor href")
    return urlsplit(href).path.rstrip("/").rsplit("/", 1)[-1]



def build_cancel(event: EventJson, config: PayPalConfig, original_number: str | None = None) -> dict[str, Any]:
    """The cancellation notification (``notification`` schema, the body ``invoices.cancel`` takes). For a
    credit note, ``original_number`` is the cancelled invoice's number (the credit note carries only its id)."""
    inv = invoice_of(event)
    original = inv.get("credit_note_of") if inv.get("kind") == "credit_note" else None
    number = inv.get("number") or inv["id"]
    if original:
        reason = f"Credited in full by credit note {number}."
        number = original_number or original
    else:
        reason = f"Reason: {inv['reason']}." if inv.get("reason") else ""
    texts = {}
    for field in ("cancel_subject", "cancel_note"):
        try:
            texts[field] = getattr(config, field).format(number=number, reason=reason).strip()[:4000]
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"config.{field}: only {{number}} and {{reason}} can be filled in ({exc!r})") from exc
    return {"subject": texts["cancel_subject"], "note": texts["cancel_note"],
            "send_to_recipient": True, "send_to_invoicer": config.send_to_invoicer}


def build_refund(event: EventJson, config: PayPalConfig) -> dict[str, Any]:
    """The external refund a credit note of a paid invoice records (``refund_detail``): our credit note's
    ``amount_due`` exactly, dated on the credit note's issue date."""
    inv = invoice_of(event)
    cur = str(inv["currency"])
    amount = minor(inv.get("amount_due"), cur, "invoice.amount_due")
    if amount <= 0:
        raise ValueError(f"invoice.amount_due: credit note {inv.get('id')} credits nothing")
    when = str(inv.get("issued_at") or event.get("created_at") or "")[:10]
    if len(when) != 10:
        raise ValueError("invoice.issued_at: required to date the refund")
    return {"method": config.refund_method, "refund_date": when, "amount": _money(amount, cur)}


def _paypal_amount(money: Any, currency: str, field: str) -> Decimal:
    """A PayPal money object's value as an exact Decimal in ``currency`` (never a float)."""
    if not isinstance(money, dict):
        raise PermanentError(f"PayPal {field}: missing")
    value = str(money.get("value", ""))
    if money.get("currency_code") != currency or not MONEY_TEXT.fullmatch(value):
        raise PermanentError(f"PayPal {field}: {money!r} is not an amount in {currency}")
    return Decimal(value)


class _PayPal:
    """One delivery's authorized calls against ``api_base``."""

    def __init__(self, config: PayPalConfig, http: Any) -> None:
        self.base = config.api_base.rstrip("/")
        self.http = http
        self.tokens: TokenProvider = shared_provider(f"{self.base}/v1/oauth2/token", config.client_id,
                                                     config.client_secret)

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        return send_authorized(self.tokens, self.http, method, f"{self.base}{path}", **kwargs)

    def search(self, criteria: dict[str, str], match: Any) -> tuple[list[dict[str, Any]], bool]:
        """Invoices matching ``criteria`` whose ``detail`` passes ``match``; (items, dry_run)."""
        found = self.call("POST", "/v2/invoicing/search-invoices", params={"page_size": 2}, json=criteria).json()
        items = [i for i in found.get("items") or [] if match(i.get("detail") or {})]
        return items, found.get("dry_run") is True


def _create_and_send(event: EventJson, config: PayPalConfig, api: _PayPal) -> dict[str, Any]:
    """Find-or-create the draft by invoice number, then send it unless it was already sent."""
    try:
        body, notification = build_invoice(event, config), build_send(event, config)
    except ValueError as exc:
        raise PermanentError(str(exc)) from exc
    number = body["detail"]["invoice_number"]
    key = idempotency_key(event, config)
    matches, _ = api.search({"invoice_number": number}, lambda d: d.get("invoice_number") == number)
    shown: dict[str, Any] = {}
    if matches:
        invoice_id, status = str(matches[0]["id"]), str(matches[0].get("status"))
    else:
        created = api.call("POST", "/v2/invoicing/invoices", json=body,
                           headers={"Prefer": "return=representation", "PayPal-Request-Id": f"{key}:create"})
        shown = dict(created.json() or {})
        invoice_id, status = _id_from(shown), "DRAFT"
    if status == "DRAFT":
        if "amount" not in shown and not invoice_id.startswith("INV2-DRY-RUN"):
            shown = dict(api.call("GET", f"/v2/invoicing/invoices/{invoice_id}").json() or {})
        if shown.get("dry_run") is not True and not invoice_id.startswith("INV2-DRY-RUN"):
            _check_totals(api, shown, event, invoice_id, key)
        api.call("POST", f"/v2/invoicing/invoices/{invoice_id}/send", json=notification,
                 headers={"PayPal-Request-Id": f"{key}:send"})
        status = "SENT"
    return {"status": "sent", "ref": invoice_id, "invoice_number": number, "paypal_status": status,
            "found_existing": bool(matches)}


def _check_totals(api: _PayPal, shown: dict[str, Any], event: EventJson, invoice_id: str, key: str) -> None:
    """PayPal computes item taxes itself: a draft whose total or tax is not ours is deleted (its number is free
    for a corrected redelivery) and the delivery fails; nothing is sent to the customer."""
    cur = str(invoice_of(event)["currency"])
    want_total, want_tax = expected_totals(event)
    total = _paypal_amount(shown.get("amount"), cur, f"invoice {invoice_id} amount")
    breakdown = (shown.get("amount") or {}).get("breakdown") or {}
    tax = (_paypal_amount(breakdown["tax_total"], cur, f"invoice {invoice_id} tax_total")
           if breakdown.get("tax_total") else Decimal(0))
    if (total, tax) != (want_total, want_tax):
        api.call("DELETE", f"/v2/invoicing/invoices/{invoice_id}", headers={"PayPal-Request-Id": f"{key}:discard"})
        raise PermanentError(f"PayPal invoice {invoice_id} totals {total:f} with tax {tax:f} {cur}, ours is "
                             f"{want_total:f} with tax {want_tax:f}: the draft was deleted, nothing was sent; check "
                             "the tax percentages and the rounding policy")


def _cancel(api: _PayPal, invoice_id: str, body: dict[str, Any], key: str) -> None:
    api.call("POST", f"/v2/invoicing/invoices/{invoice_id}/cancel", json=body,
             headers={"PayPal-Request-Id": f"{key}:cancel"})


def _void(event: EventJson, config: PayPalConfig, api: _PayPal, refs: SentRefs | None) -> dict[str, Any]:
    """Cancel (sent) or delete (draft, scheduled) the PayPal invoice of our voided invoice."""
    inv = invoice_of(event)
    number = invoice_number(event, config)
    key = idempotency_key(event, config)
    try:
        body = build_cancel(event, config)
    except ValueError as exc:
        raise PermanentError(str(exc)) from exc
    matches, dry = api.search({"invoice_number": number}, lambda d: d.get("invoice_number") == number)
    if dry:  # DryRunSender: write the cancellation PayPal would get
        _cancel(api, "INV2-DRY-RUN", body, key)
        return {"status": "sent", "ref": "INV2-DRY-RUN", "invoice_number": number, "action": "cancel"}
    if not matches:
        raise RetryableError(f"original invoice {number} not yet delivered to PayPal; the void waits for it")
    invoice_id, status = str(matches[0]["id"]), str(matches[0].get("status"))
    result = {"status": "sent", "ref": invoice_id, "invoice_number": number, "paypal_status_before": status}
    if status == "CANCELLED":
        return {**result, "action": "none", "result": "already cancelled", "paypal_status": "CANCELLED"}
    if status in PENDING:
        raise RetryableError(f"PayPal invoice {invoice_id} ({number}) has a payment pending; the void waits for it")
    if status in PAID:
        raise PermanentError(f"PayPal invoice {invoice_id} ({number}) is {status} but our invoice {inv['id']} "
                             "was voided as unpaid: the books disagree; record the payment in billing (then credit "
                             "it) or refund it in PayPal")
    if status in CANCELLABLE:
        _cancel(api, invoice_id, body, key)
        return {**result, "action": "cancel", "paypal_status": "CANCELLED"}
    if status in DELETABLE:
        tenant = str(event.get("tenant_id", ""))
        if status == "DRAFT" and refs is not None and refs.result_of(
                tenant, NAME, creation_key(tenant, str(inv["id"]))) is None:
            raise RetryableError(f"PayPal invoice {invoice_id} ({number}) is a draft whose delivery is still in "
                                 "progress; the void waits for it (deleting now would let it be created again)")
        api.call("DELETE", f"/v2/invoicing/invoices/{invoice_id}", headers={"PayPal-Request-Id": f"{key}:delete"})
        return {**result, "action": "delete", "paypal_status": "DELETED"}
    raise PermanentError(f"PayPal invoice {invoice_id} ({number}) is {status}; a void cannot be applied to it")


def _credit(event: EventJson, config: PayPalConfig, api: _PayPal) -> dict[str, Any]:
    """Apply a credit note to the PayPal invoice of the invoice it credits (see the module docstring)."""
    note = invoice_of(event)
    cur = str(note["currency"])
    original = str(note["credit_note_of"])
    key = idempotency_key(event, config)
    try:
        credit = major(note.get("amount_due"), cur, "invoice.amount_due")
        refund = build_refund(event, config)
        build_cancel(event, config)  # a broken cancel template is a config error before anything is read
    except ValueError as exc:
        raise PermanentError(str(exc)) from exc
    prefix = config.invoice_number_prefix
    matches, dry = api.search({"reference": original[:120]}, lambda d: d.get("reference") == original[:120]
                              and str(d.get("invoice_number") or "").startswith(prefix))
    if dry:
        return {"status": "skipped", "reason": "dry run: the PayPal invoice's status is unknown, nothing written"}
    if not matches:
        raise RetryableError(f"original invoice {original} not yet delivered to PayPal; credit note "
                             f"{note.get('number')} waits for it")
    invoice_id, status = str(matches[0]["id"]), str(matches[0].get("status"))
    number = (matches[0].get("detail") or {}).get("invoice_number")
    result = {"status": "sent", "ref": invoice_id, "invoice_number": number, "credit_note": note.get("number"),
              "amount": f"{credit:f}", "currency": cur, "paypal_status_before": status}
    if status in DELETABLE:
        raise RetryableError(f"PayPal invoice {invoice_id} ({number}) is {status}: its delivery is not finished; "
                             f"credit note {note.get('number')} waits for it")
    if status == "CANCELLED":
        return {**result, "action": "none", "result": "already cancelled", "paypal_status": "CANCELLED"}
    if status in PENDING:
        raise RetryableError(f"PayPal invoice {invoice_id} ({number}) has a payment pending; credit note "
                             f"{note.get('number')} waits for it")
    if status == "PARTIALLY_PAID":
        raise PermanentError(f"PayPal invoice {invoice_id} ({number}) is PARTIALLY_PAID; billing knows no partial "
                             f"payments, so credit note {note.get('number')} cannot be applied automatically: "
                             "record the payment in billing or settle it in PayPal by hand")
    detail = api.call("GET", f"/v2/invoicing/invoices/{invoice_id}").json()
    total = _paypal_amount(detail.get("amount"), cur, f"invoice {invoice_id} amount")
    if status in CANCELLABLE:
        if credit != total:
            return {"status": "skipped", "ref": invoice_id, "invoice_number": number, "paypal_status": status,
                    "reason": f"PayPal has no credit notes and this adapter does not rewrite a sent invoice: "
                              f"credit note {note.get('number')} credits {credit:f} {cur} of PayPal invoice "
                              f"{number} ({total:f} {cur}, {status}), which stays payable in full; cancel it and "
                              "re-invoice the rest by hand, or refund the difference once it is paid"}
        ours = str(number or "")
        ours = ours[len(prefix):] if prefix and ours.startswith(prefix) else ours
        try:
            cancel = build_cancel(event, config, ours or None)
        except ValueError as exc:
            raise PermanentError(str(exc)) from exc
        _cancel(api, invoice_id, cancel, key)
        return {**result, "action": "cancel", "paypal_status": "CANCELLED"}
    if status in REFUNDABLE:
        for tx in ((detail.get("refunds") or {}).get("transactions") or []):  # a lost answer: already recorded?
            if (tx.get("refund_date") == refund["refund_date"] and tx.get("method") == refund["method"]
                    and _paypal_amount(tx.get("amount"), cur, "refund amount") == credit):
                return {**result, "action": "none", "result": "refund already recorded", "paypal_status": status}
        answer = api.call("POST", f"/v2/invoicing/invoices/{invoice_id}/refunds", json=refund,
                          headers={"PayPal-Request-Id": f"{key}:refund"}).json()
        return {**result, "action": "refund", "refund_id": answer.get("refund_id"), "refund": refund}
    raise PermanentError(f"PayPal invoice {invoice_id} ({number}) is {status}; credit note {note.get('number')} "
                         "cannot be applied to it")


def deliver(event: EventJson, config: PayPalConfig, ctx: DeliveryContext) -> dict[str, Any]:
    """Create and send (``session.billed``, ``invoice.finalized``), or apply a void or credit note."""
    reason = skip_reason(event)
    if reason is not None:
        return {"status": "skipped", "reason": reason}
    api = _PayPal(config, ctx.http)
    if event.get("type") == "invoice.voided":
        return _void(event, config, api, ctx.refs)
    if event.get("type") == "credit_note.issued":
        return _credit(event, config, api)
    return _create_and_send(event, config, api)
