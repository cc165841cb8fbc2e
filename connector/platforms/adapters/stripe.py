"""Stripe: one Stripe invoice per finalized invoice of ours (invoice, items, finalize, send); voids and credit notes follow.

Every POST has its own idempotency key; items are our line nets in minor units, so Stripe's total is our
``amount_due``. Corrections name the Stripe invoice the original's delivery recorded (``ctx.refs``). See
docs/platforms/stripe.md."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field

from connector.models.documents import EventJson, InvoiceJson, InvoiceLineJson, LineTaxJson
from connector.platforms.context import DeliveryContext
from connector.platforms.errors import PermanentError, RetryableError
from connector.platforms.invoice_event import (
    bounded_key,
    correction_skip,
    delivery_key,
    invoice_of,
    minor,
    operation,
    unsendable,
)
from connector.platforms.sender import Sender
from connector.platforms.sent_refs import SentRefs

NAME = "stripe"
EVENTS = ("session.billed", "invoice.finalized", "invoice.voided", "credit_note.issued")
SENDABLE = frozenset({"finalized", "paid"})
KEY_LIMIT = 200  # our delivery key column / dedupe key
STRIPE_KEY_LIMIT = 255  # Stripe's Idempotency-Key maximum


class StripeConfig(BaseModel):
    """Per tenant. ``customer_map``: our customer id -> Stripe ``cus_…`` (ids already ``cus_…`` pass through)."""

    model_config = ConfigDict(extra="forbid")

    api_key: str = Field(min_length=1, repr=False)
    api_base: str = "https://api.stripe.com"
    stripe_version: str | None = Field(default=None, description="Pins Stripe-Version, e.g. 2026-10-28.endive")
    stripe_account: str | None = Field(default=None, description="Connect: acct_… to act for")
    customer_map: dict[str, str] = Field(default_factory=dict)
    days_until_due: int = Field(default=30, ge=0, le=365)
    tax_mode: Literal["items", "tax_rates"] = "items"
    tax_rate_ids: dict[str, str] = Field(default_factory=dict, description='"VAT:19" -> "txr_…" (tax_rates mode)')
    send: bool = True
    post_payment_credit: Literal["out_of_band", "credit"] = Field(
        default="out_of_band", description="Credit note on an invoice already paid in Stripe: the part beyond "
        "its amount_remaining is recorded as credited outside Stripe (out_of_band) or to the customer balance")
    # inbound payments (connector.billing.payments.stripe): the webhook endpoint's signing secret(s)
    webhook_secret: str | None = Field(default=None, repr=False, description="whsec_… of the payments webhook")
    webhook_secret_previous: str | None = Field(default=None, repr=False,
                                                description="the old secret while Stripe rolls it (up to 24 h)")
    webhook_tolerance_seconds: int = Field(default=300, ge=1, le=3600, description="Stripe-Signature t= age")


Config = StripeConfig



def skip_reason(event: EventJson) -> str | None:
    """Drafts (monthly invoices still collecting sessions) are not Stripe invoices; a void of an invoice that
    never left the draft state has nothing to void in Stripe. Credit notes go out on ``credit_note.issued``."""
    if operation(event) != "invoice":
        return correction_skip(event, "Stripe")
    return unsendable(event, "Stripe", SENDABLE, "a credit note goes to Stripe on credit_note.issued only")


def _base(tenant_id: str, invoice_id: str) -> str:
    return f"evbill:{tenant_id}:{invoice_id}"


def _base_key(event: EventJson) -> str:
    return _base(str(event.get("tenant_id", "")), str(invoice_of(event).get("id")))


def invoice_key(tenant_id: str, invoice_id: str) -> str:
    """The key the delivery that created the Stripe invoice for ``invoice_id`` carried (the lookup key of
    voids and credit notes); equal to ``idempotency_key`` of the invoice's ``invoice.finalized``."""
    return bounded_key(f"stripe:{_base(tenant_id, invoice_id)}", KEY_LIMIT)


def _correction_base(event: EventJson) -> str:
    """Stem of a void's / credit note's keys: the original's base plus what is done to it."""
    inv = invoice_of(event)
    tenant = str(event.get("tenant_id", ""))
    if event.get("type") == "invoice.voided":
        return f"{_base(tenant, str(inv.get('id')))}:void"
    return f"{_base(tenant, str(inv.get('credit_note_of')))}:credit_note:{inv.get('id')}"


def idempotency_key(event: EventJson, config: StripeConfig | None = None) -> str:
    """Per invoice: ``session.billed`` and ``invoice.finalized`` of one invoice make one Stripe invoice.
    A void (``…:void``) and each credit note (``…:credit_note:<id>``) have keys of their own, never equal to
    the creation key: the worker's dedupe would take them for the creation.

    An event this adapter skips (a draft, no invoice) gets a key of its own: it never stands for a delivery
    of the invoice when the worker dedupes on equal keys."""
    skipped = skip_reason(event) is not None
    if skipped:
        return delivery_key(NAME, event, True, "", KEY_LIMIT)
    if event.get("type") in ("invoice.voided", "credit_note.issued"):
        return bounded_key(f"stripe:{_correction_base(event)}", KEY_LIMIT)
    return delivery_key(NAME, event, False, f"stripe:{_base_key(event)}", KEY_LIMIT)


def stripe_customer(invoice: InvoiceJson, config: StripeConfig) -> str:
    ours = str((invoice.get("customer") or {}).get("id") or "")
    mapped = config.customer_map.get(ours) or (ours if ours.startswith("cus_") else None)
    if not mapped:
        raise ValueError(f"invoice.customer.id: {ours!r} has no Stripe customer in config customer_map")
    return mapped


def _tax_totals(inv: InvoiceJson, cur: str) -> list[tuple[int, int, str]]:
    """(index, amount in minor units, "VAT 19%") of each non-zero tax total of our invoice or credit note:
    in ``tax_mode="items"`` each becomes one Stripe line, so Stripe's total is ours to the minor unit."""
    out = []
    for j, tax in enumerate(inv.get("taxes") or []):
        amount = minor(tax.get("amount"), cur, f"invoice.taxes[{j}].amount")
        if amount:
            out.append((j, amount, f"{tax.get('name')} {Decimal(str(tax.get('rate'))).normalize():f}%"))
    return out


def build_invoice(event: EventJson, config: StripeConfig) -> dict[str, Any]:
    """``POST /v1/invoices`` body (before form encoding)."""
    inv = invoice_of(event)
    return {"customer": stripe_customer(inv, config), "currency": str(inv["currency"]).lower(),
            "collection_method": "send_invoice", "days_until_due": config.days_until_due,
            "pending_invoice_items_behavior": "exclude", "auto_advance": False,
            "description": f"EV charging - invoice {inv.get('number') or inv['id']}",
            "metadata": {"invoice_id": str(inv["id"]), "invoice_number": str(inv.get("number") or ""),
                         "tenant_id": str(event.get("tenant_id", ""))}}


def _line_description(line: InvoiceLineJson) -> str:
    text = str(line.get("description") or line.get("category") or "EV charging")
    if line.get("unit") and line.get("quantity") not in (None, "", "1"):
        text += f" ({line['quantity']} {line['unit']})"
    if line.get("session_id"):
        text += f" - session {line['session_id']}"
    return text


def build_items(event: EventJson, config: StripeConfig, stripe_invoice: str) -> list[tuple[str, dict[str, Any]]]:
    """(step name, ``POST /v1/invoiceitems`` body) per priced line, then per tax in ``items`` mode."""
    inv = invoice_of(event)
    cur = str(inv["currency"])
    customer = stripe_customer(inv, config)
    out: list[tuple[str, dict[str, Any]]] = []
    for i, line in enumerate(inv.get("lines") or []):
        net = minor(line.get("net"), cur, f"invoice.lines[{i}].net")
        if net == 0:
            continue
        item: dict[str, Any] = {"customer": customer, "invoice": stripe_invoice, "currency": cur.lower(),
                                "amount": net, "description": _line_description(line)[:5000],
                                "tax_behavior": "exclusive",
                                "metadata": {"invoice_id": str(inv["id"]), "line_id": str(line.get("id", i)),
                                             "session_id": str(line.get("session_id") or ""),
                                             "kind": str(line.get("kind") or "")}}
        if config.tax_mode == "tax_rates" and line.get("taxes"):
            item["tax_rates"] = [_tax_rate_id(t, config, f"invoice.lines[{i}].taxes") for t in line["taxes"]]
        out.append((f"item:{line.get('id', i)}", item))
    if config.tax_mode == "items":
        for j, amount, label in _tax_totals(inv, cur):
            out.append((f"tax:{j}", {"customer": customer, "invoice": stripe_invoice, "currency": cur.lower(),
                                     "amount": amount, "description": label, "discountable": False,
                                     "metadata": {"invoice_id": str(inv["id"]), "kind": "tax",
                                                  "tax": label}}))
    return out


def _tax_rate_id(tax: LineTaxJson, config: StripeConfig, field: str) -> str:
    key = f"{tax.get('name')}:{Decimal(str(tax.get('rate'))).normalize():f}"
    if key not in config.tax_rate_ids:
        raise ValueError(f"{field}: no Stripe tax rate configured for {key!r} (config tax_rate_ids)")
    return config.tax_rate_ids[key]


def build_credit_note(event: EventJson, config: StripeConfig, stripe_invoice: str) -> dict[str, Any]:
    """``POST /v1/credit_notes`` body (before form encoding; the post-payment part is added at delivery).

    Each line of our credit note with a non-zero net is one ``custom_line_item`` (``quantity`` 1,
    ``unit_amount`` = its net in minor units: the amount, not quantity x unit price, so nothing is recomputed).
    ``items`` mode: each of our credit note's taxes is one more custom line (the original invoice carried tax
    as items too). ``tax_rates`` mode: each line carries our tax amounts as ``tax_amounts`` (the Stripe tax
    rate with our amount and base), so Stripe does not recompute them. A credit note with a negative line (a
    discount or incentive credited back) is sent as one custom line of the whole amount instead, since Stripe
    credit note lines are positive. Either way the total equals our ``amount_due`` exactly (checked)."""
    cn = invoice_of(event)
    cur = str(cn["currency"])
    due = minor(cn.get("amount_due"), cur, "invoice.amount_due")
    if due <= 0:
        raise ValueError(f"invoice.amount_due: a credit note to Stripe must credit more than 0, got {cn.get('amount_due')}")
    number = str(cn.get("number") or cn["id"])
    lines: list[dict[str, Any]] = []
    total = 0
    for i, line in enumerate(cn.get("lines") or []):
        net = minor(line.get("net"), cur, f"invoice.lines[{i}].net")
        if net == 0:
            continue
        entry: dict[str, Any] = {"type": "custom_line_item", "quantity": 1, "unit_amount": net,
                                 "description": _line_description(line)[:5000]}
        total += net
        if config.tax_mode == "tax_rates" and line.get("taxes"):
            amounts = []
            for j, tax in enumerate(line["taxes"]):
                amount = minor(tax.get("amount"), cur, f"invoice.lines[{i}].taxes[{j}].amount")
                amounts.append({"amount": amount, "taxable_amount": net,
                                "tax_rate": _tax_rate_id(tax, config, f"invoice.lines[{i}].taxes")})
                total += amount
            entry["tax_amounts"] = amounts
        lines.append(entry)
    if config.tax_mode == "items":
        for _, amount, label in _tax_totals(cn, cur):
            lines.append({"type": "custom_line_item", "quantity": 1, "unit_amount": amount,
                          "description": f"Credit: {label}"})
            total += amount
    if total != due:
        raise ValueError(f"invoice.amount_due: {cn.get('amount_due')} is not the sum of the credit note's lines "
                         f"and taxes ({total} minor units); refusing to send a credit note that disagrees")
    if any(ln["unit_amount"] < 0 or any(t["amount"] < 0 for t in ln.get("tax_amounts", [])) for ln in lines):
        lines = [{"type": "custom_line_item", "quantity": 1, "unit_amount": due,
                  "description": f"Credit note {number} (lines net of discounts and incentives)"}]
    memo = f"Credit note {number}" + (f": {cn['reason']}" if cn.get("reason") else "")
    return {"invoice": stripe_invoice, "lines": lines, "memo": memo[:5000],
            "metadata": {"credit_note_id": str(cn["id"]), "credit_note_number": str(cn.get("number") or ""),
                         "invoice_id": str(cn.get("credit_note_of") or ""),
                         "tenant_id": str(event.get("tenant_id", ""))}}


def credit_note_total(body: dict[str, Any]) -> int:
    """What Stripe will credit for ``body``: its lines' ``unit_amount x quantity`` plus their tax amounts."""
    return sum(int(ln["unit_amount"]) * int(ln["quantity"]) + sum(int(t["amount"]) for t in ln.get("tax_amounts", []))
               for ln in body["lines"])


def build_finalize() -> dict[str, Any]:
    return {"auto_advance": False}


def form_encode(body: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Stripe's form encoding: nested keys as ``a[b]``, list items as ``a[0]``, booleans ``true``/``false``."""
    pairs: list[tuple[str, str]] = []
    for key, value in body.items():
        name = f"{prefix}[{key}]" if prefix else str(key)
        if isinstance(value, dict):
            pairs.extend(form_encode(value, name))
        elif isinstance(value, list):
            for i, v in enumerate(value):
                pairs.extend(form_encode({str(i): v}, name))
        elif isinstance(value, bool):
            pairs.append((name, "true" if value else "false"))
        elif value is not None:
            pairs.append((name, str(value)))
    return pairs


def _id(payload: dict[str, Any], dry_run_placeholder: str) -> str:
    """The created object's id; under the DryRunSender (nothing sent) a placeholder so later steps are written."""
    if payload.get("id"):
        return str(payload["id"])
    if payload.get("dry_run") is True:
        return dry_run_placeholder
    raise PermanentError("Stripe answered without an object id")


def _headers(config: StripeConfig, key: str) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {config.api_key}", "Idempotency-Key": key}
    if config.stripe_version:
        headers["Stripe-Version"] = config.stripe_version
    if config.stripe_account:
        headers["Stripe-Account"] = config.stripe_account
    return headers


def _original_ref(refs: SentRefs | None, tenant: str, invoice_id: str, what: str) -> str:
    """The ``in_…`` of our invoice ``invoice_id`` as recorded by its creation, or RetryableError."""
    if refs is None:
        raise PermanentError(f"{what} needs the record of sent deliveries (run it through the outbox worker)")
    ref = refs.ref_of(tenant, NAME, invoice_key(tenant, invoice_id))
    if ref is None:
        raise RetryableError(f"original invoice not yet delivered to Stripe: {what} of invoice {invoice_id} waits "
                             f"for the delivery keyed {invoice_key(tenant, invoice_id)!r}")
    return ref


def deliver(event: EventJson, config: StripeConfig, ctx: DeliveryContext) -> dict[str, Any]:
    """Invoice, items, finalize, send; each POST idempotent on its own derived key. Voids and credit notes
    name the Stripe invoice the original's delivery recorded (``ctx.refs``)."""
    reason = skip_reason(event)
    if reason is not None:
        return {"status": "skipped", "reason": reason}
    base = config.api_base.rstrip("/")
    if event.get("type") in ("invoice.voided", "credit_note.issued"):
        return _correct(event, config, ctx.http, ctx.refs, base)
    key = _base_key(event)
    try:
        invoice_body = build_invoice(event, config)
    except ValueError as exc:
        raise PermanentError(str(exc)) from exc

    def post(path: str, body: dict[str, Any], step: str) -> dict[str, Any]:
        resp = ctx.http.send("POST", base + path, data=form_encode(body), headers=_headers(config, f"{key}:{step}"))
        return dict(resp.json() or {})

    stripe_invoice = _id(post("/v1/invoices", invoice_body, "invoice"), "in_dry_run")
    try:
        items = build_items(event, config, stripe_invoice)
    except ValueError as exc:
        raise PermanentError(str(exc)) from exc
    item_ids = [_id(post("/v1/invoiceitems", body, step), f"ii_dry_run_{step}") for step, body in items]
    final = post(f"/v1/invoices/{stripe_invoice}/finalize", build_finalize(), "finalize")
    if config.send:
        final = post(f"/v1/invoices/{stripe_invoice}/send", {}, "send")
    return {"status": "sent", "ref": stripe_invoice, "items": item_ids, "amount_due": final.get("amount_due"),
            "number": final.get("number")}


def _read_headers(config: StripeConfig) -> dict[str, str]:
    headers = _headers(config, "")
    del headers["Idempotency-Key"]  # GETs take none
    return headers


def _correct(event: EventJson, config: StripeConfig, http: Sender, refs: SentRefs | None, base: str) -> dict[str, Any]:
    """Void the Stripe invoice, or credit it; read first so a late redelivery never acts twice."""
    inv = invoice_of(event)
    tenant = str(event.get("tenant_id", ""))
    stripe_key = bounded_key(_correction_base(event), STRIPE_KEY_LIMIT)

    def get(path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return dict(http.send("GET", base + path, params=params, headers=_read_headers(config)).json() or {})

    def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        resp = http.send("POST", base + path, data=form_encode(body), headers=_headers(config, stripe_key))
        return dict(resp.json() or {})

    if event.get("type") == "invoice.voided":
        ref = _original_ref(refs, tenant, str(inv.get("id")), "the void")
        path = f"/v1/invoices/{quote(ref, safe='')}"
        current = get(path)
        if current.get("status") == "void":
            return {"status": "sent", "ref": ref, "stripe_status": "void", "note": "already void in Stripe"}
        if current.get("status") == "paid":
            raise PermanentError(f"Stripe invoice {ref} is paid; Stripe cannot void a paid invoice (refund or "
                                 "credit it in Stripe)")
        done = post(path + "/void", {})
        return {"status": "sent", "ref": ref, "stripe_status": done.get("status")}

    original = inv.get("credit_note_of")
    if not original:
        raise PermanentError("invoice.credit_note_of: required on a credit note (the invoice it credits)")
    ref = _original_ref(refs, tenant, str(original), f"credit note {inv.get('id')}")
    try:
        body = build_credit_note(event, config, ref)
    except ValueError as exc:
        raise PermanentError(str(exc)) from exc
    found = _existing_credit_note(get, ref, str(inv["id"]))
    if found is not None:
        return {"status": "sent", "ref": found.get("id"), "invoice": ref, "total": found.get("total"),
                "note": "already in Stripe"}
    stripe_invoice = get(f"/v1/invoices/{quote(ref, safe='')}")
    total = credit_note_total(body)
    remaining = stripe_invoice.get("amount_remaining")
    if isinstance(remaining, int) and total > remaining:  # beyond what is still open: paid in Stripe
        body[f"{config.post_payment_credit}_amount"] = total - remaining
    created = post("/v1/credit_notes", body)
    return {"status": "sent", "ref": _id(created, "cn_dry_run"), "invoice": ref, "total": created.get("total", total)}


def _existing_credit_note(get: Any, stripe_invoice: str, credit_note_id: str) -> dict[str, Any] | None:
    """Stripe's credit note of ``stripe_invoice`` whose ``metadata[credit_note_id]`` is ours (lists are
    consistent, unlike search), or None."""
    params: dict[str, Any] = {"invoice": stripe_invoice, "limit": 100}
    for _ in range(100):  # 10 000 credit notes on one invoice: far beyond anything real
        page = get("/v1/credit_notes", params)
        data = page.get("data") or []
        for note in data:
            if (note.get("metadata") or {}).get("credit_note_id") == credit_note_id:
                return dict(note)
        if not page.get("has_more") or not data:
            return None
        params = {**params, "starting_after": data[-1]["id"]}
    return None
