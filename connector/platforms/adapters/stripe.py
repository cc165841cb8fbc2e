"""Stripe: one Stripe invoice per finalized invoice of ours (invoice, items, finalize, send); voids and credit notes follow.

Every POST has its own idempotency key; items are our line nets in Stripe's units for the currency
(``vendor_units.STRIPE``: ISK x100, three-decimal amounts ending in 0). Tax goes out as Stripe tax rates on the
items (found or created per tax name and rate), so Stripe's tax reports hold it as tax; the draft's total and
tax are checked against ours before it is finalized. Corrections name the Stripe invoice the original's
delivery recorded (``ctx.refs``). See docs/platforms/stripe.md."""

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
    operation,
    unsendable,
)
from connector.platforms.invoice_event import minor as iso_minor
from connector.platforms.sender import Sender
from connector.platforms.sent_refs import SentRefs
from connector.platforms.vendor_units import STRIPE, vendor_minor

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
    tax_mode: Literal["tax_amounts", "tax_rates", "items"] = Field(
        default="tax_amounts", description="tax_amounts: our tax amounts on each invoice line (Stripe's tax "
        "reports hold them, nothing recomputed); tax_rates: Stripe tax rates on the items (Stripe computes and "
        "rounds per item; checked against ours before finalizing); items: each tax total as one more item "
        "(revenue in Stripe's reports; only for accounts whose tax is reported elsewhere)")
    tax_rate_ids: dict[str, str] = Field(default_factory=dict, description='"VAT:19" -> "txr_…"; a tax not '
                                         "listed is found or created in Stripe (metadata evbill_tax)")
    tax_jurisdiction: str | None = Field(default=None, description="jurisdiction of created tax rates, e.g. DE")
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


def minor(value: object, currency: str, field: str) -> int:
    """Our decimal amount as Stripe's integer amount for ``currency`` (``"1372"`` ISK -> 137200; ``"0.049"``
    KWD is refused: Stripe's three-decimal amounts end in 0)."""
    return vendor_minor(iso_minor(value, currency, field), currency, STRIPE, field)


# our tax names Stripe has a ``tax_type`` for (its reports group by it); other names go without one
STRIPE_TAX_TYPES = {"vat": "vat", "gst": "gst", "hst": "hst", "pst": "pst", "qst": "qst", "rst": "rst",
                    "jct": "jct", "igst": "igst", "sales tax": "sales_tax", "state sales tax": "sales_tax",
                    "city sales tax": "sales_tax", "county sales tax": "sales_tax"}


def tax_key(tax: LineTaxJson | dict[str, Any]) -> str:
    """``"VAT:19"``: the config key and ``metadata[evbill_tax]`` of the Stripe tax rate of one of our taxes."""
    return f"{tax.get('name')}:{Decimal(str(tax.get('rate'))).normalize():f}"


def tax_rate_keys(inv: InvoiceJson) -> list[str]:
    """The distinct taxes (``tax_key``) the lines of an invoice or credit note carry, in order."""
    seen: dict[str, None] = {}
    for line in inv.get("lines") or []:
        for tax in line.get("taxes") or []:
            seen.setdefault(tax_key(tax), None)
    return list(seen)


def build_tax_rate(key: str, config: StripeConfig) -> dict[str, Any]:
    """``POST /v1/tax_rates`` body for one of our taxes (exclusive: our nets are before tax)."""
    name, _, rate = key.rpartition(":")
    body: dict[str, Any] = {"display_name": name[:50] or "Tax", "percentage": rate, "inclusive": False,
                            "description": f"{name} {rate}% (EV charging)", "metadata": {"evbill_tax": key}}
    kind = STRIPE_TAX_TYPES.get(name.strip().lower())
    if kind:
        body["tax_type"] = kind
    if config.tax_jurisdiction:
        body["jurisdiction"] = config.tax_jurisdiction[:50]
    return body



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


def build_items(event: EventJson, config: StripeConfig, stripe_invoice: str,
                rates: dict[str, str] | None = None) -> list[tuple[str, dict[str, Any]]]:
    """(step name, ``POST /v1/invoiceitems`` body) per priced line (with its ``tax_rates``: ``rates`` maps
    ``tax_key`` -> ``txr_…``, default the config's), then per tax in ``items`` mode."""
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
            item["tax_rates"] = [_tax_rate_id(t, rates, config, f"invoice.lines[{i}].taxes") for t in line["taxes"]]
        out.append((f"item:{line.get('id', i)}", item))
    if config.tax_mode == "items":
        for j, amount, label in _tax_totals(inv, cur):
            out.append((f"tax:{j}", {"customer": customer, "invoice": stripe_invoice, "currency": cur.lower(),
                                     "amount": amount, "description": label, "discountable": False,
                                     "metadata": {"invoice_id": str(inv["id"]), "kind": "tax",
                                                  "tax": label}}))
    return out


def build_line_taxes(event: EventJson, config: StripeConfig) -> dict[str, dict[str, Any]]:
    """``tax_amounts`` mode: per line id of ours, the ``POST /v1/invoices/{id}/lines/{line}`` body that puts our
    tax amounts on the Stripe invoice line made from its item (``tax_rate_data`` describes the tax, so Stripe's
    tax reports group it by name, rate and jurisdiction; the amount is ours, Stripe computes nothing)."""
    inv = invoice_of(event)
    cur = str(inv["currency"])
    out: dict[str, dict[str, Any]] = {}
    for i, line in enumerate(inv.get("lines") or []):
        net = minor(line.get("net"), cur, f"invoice.lines[{i}].net")
        if net == 0 or not line.get("taxes"):
            continue
        amounts = []
        for j, tax in enumerate(line["taxes"]):
            name, _, rate = tax_key(tax).rpartition(":")
            data: dict[str, Any] = {"display_name": name[:50] or "Tax", "inclusive": False, "percentage": rate}
            kind = STRIPE_TAX_TYPES.get(name.strip().lower())
            if kind:
                data["tax_type"] = kind
            if config.tax_jurisdiction:
                data["jurisdiction"] = config.tax_jurisdiction[:50]
            amounts.append({"amount": minor(tax.get("amount"), cur, f"invoice.lines[{i}].taxes[{j}].amount"),
                            "taxable_amount": net, "tax_rate_data": data})
        out[str(line.get("id", i))] = {"tax_amounts": amounts}
    return out


def _tax_rate_id(tax: LineTaxJson, rates: dict[str, str] | None, config: StripeConfig, field: str) -> str:
    key = tax_key(tax)
    known = config.tax_rate_ids if rates is None else rates
    if key not in known:
        raise ValueError(f"{field}: no Stripe tax rate configured for {key!r} (config tax_rate_ids)")
    return known[key]


def build_credit_note(event: EventJson, config: StripeConfig, stripe_invoice: str,
                      rates: dict[str, str] | None = None) -> dict[str, Any]:
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
        if config.tax_mode != "items" and line.get("taxes"):
            amounts = []
            for j, tax in enumerate(line["taxes"]):
                amount = minor(tax.get("amount"), cur, f"invoice.lines[{i}].taxes[{j}].amount")
                amounts.append({"amount": amount, "taxable_amount": net,
                                "tax_rate": _tax_rate_id(tax, rates, config, f"invoice.lines[{i}].taxes")})
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

    try:
        expected = _expected_totals(invoice_of(event))
    except ValueError as exc:
        raise PermanentError(str(exc)) from exc
    rates = _tax_rates(invoice_of(event), config, ctx.http, base) if config.tax_mode == "tax_rates" else {}
    stripe_invoice = _id(post("/v1/invoices", invoice_body, "invoice"), "in_dry_run")
    try:
        items = build_items(event, config, stripe_invoice, rates)
    except ValueError as exc:
        raise PermanentError(str(exc)) from exc
    item_ids = [_id(post("/v1/invoiceitems", body, step), f"ii_dry_run_{step}") for step, body in items]
    if config.tax_mode == "tax_amounts":
        try:
            line_taxes = build_line_taxes(event, config)
        except ValueError as exc:
            raise PermanentError(str(exc)) from exc
        if line_taxes:
            lines = _invoice_lines(ctx.http, config, base, stripe_invoice)
            for (step, _body), item_id in zip(items, item_ids, strict=True):
                ours = step.removeprefix("item:")
                if ours in line_taxes:
                    line = lines.get(item_id, f"il_dry_run_{ours}")
                    post(f"/v1/invoices/{stripe_invoice}/lines/{quote(line, safe='')}", line_taxes[ours],
                         f"line_tax:{ours}")
    draft = dict(ctx.http.send("GET", f"{base}/v1/invoices/{quote(stripe_invoice, safe='')}",
                               headers=_read_headers(config)).json() or {})
    _check_totals(draft, expected, stripe_invoice, config)
    final = post(f"/v1/invoices/{stripe_invoice}/finalize", build_finalize(), "finalize")
    if config.send:
        final = post(f"/v1/invoices/{stripe_invoice}/send", {}, "send")
    return {"status": "sent", "ref": stripe_invoice, "items": item_ids, "amount_due": final.get("amount_due"),
            "number": final.get("number")}


def _invoice_lines(http: Sender, config: StripeConfig, base: str, stripe_invoice: str) -> dict[str, str]:
    """Invoice item id -> the Stripe invoice line made from it (``GET /v1/invoices/{id}/lines``, paged; the item
    is ``parent.invoice_item_details.invoice_item`` since 2025 API versions, ``invoice_item`` before)."""
    out: dict[str, str] = {}
    params: dict[str, Any] = {"limit": 100}
    for _ in range(100):
        page = dict(http.send("GET", f"{base}/v1/invoices/{quote(stripe_invoice, safe='')}/lines", params=params,
                              headers=_read_headers(config)).json() or {})
        data = page.get("data") or []
        for line in data:
            details = ((line.get("parent") or {}).get("invoice_item_details") or {})
            item = details.get("invoice_item") or line.get("invoice_item")
            if item:
                out[str(item)] = str(line["id"])
        if not page.get("has_more") or not data:
            break
        params = {**params, "starting_after": data[-1]["id"]}
    return out


def _expected_totals(inv: InvoiceJson) -> tuple[int, int]:
    """(total, tax) of our invoice in Stripe's units: what Stripe's draft must show before it is finalized."""
    cur = str(inv["currency"])
    return minor(inv.get("amount_due"), cur, "invoice.amount_due"), minor(inv.get("tax_total") or "0", cur,
                                                                            "invoice.tax_total")


def stripe_tax(stripe_invoice: dict[str, Any]) -> int:
    """The tax Stripe computed on an invoice: the sum of ``total_taxes`` (older API versions: ``tax``)."""
    if isinstance(stripe_invoice.get("total_taxes"), list):
        return sum(int(t.get("amount") or 0) for t in stripe_invoice["total_taxes"])
    return int(stripe_invoice.get("tax") or 0)


def _check_totals(draft: dict[str, Any], expected: tuple[int, int], ref: str, config: StripeConfig) -> None:
    """Stripe computes the tax of tax-rate items itself (per line, rounded): a draft whose total or tax is not
    ours is left unfinalized and the delivery fails, rather than sending the customer another amount."""
    if draft.get("dry_run") is True:
        return
    total, tax = draft.get("total"), stripe_tax(draft)
    want_total, want_tax = expected
    if total != want_total or (config.tax_mode != "items" and tax != want_tax):
        raise PermanentError(f"Stripe draft invoice {ref} totals {total} with tax {tax} (Stripe minor units), ours "
                             f"is {want_total} with tax {want_tax}: left as a draft in Stripe, not finalized or "
                             "sent; check the Stripe tax rates (tax_rate_ids) and the rounding policy")


def _tax_rates(inv: InvoiceJson, config: StripeConfig, http: Sender, base: str) -> dict[str, str]:
    """``tax_key`` -> ``txr_…`` for every tax on the invoice's lines (tax_rates mode): the config's mapping,
    else an active exclusive Stripe tax rate whose ``metadata[evbill_tax]`` is the key, else a new one."""
    rates = dict(config.tax_rate_ids)
    wanted = [k for k in tax_rate_keys(inv) if k not in rates] if config.tax_mode != "items" else []
    if not wanted:
        return rates
    params: dict[str, Any] = {"active": "true", "limit": 100}
    for _ in range(100):
        page = dict(http.send("GET", f"{base}/v1/tax_rates", params=params, headers=_read_headers(config)).json()
                    or {})
        data = page.get("data") or []
        for rate in data:
            key = (rate.get("metadata") or {}).get("evbill_tax")
            if key in wanted and key not in rates and not rate.get("inclusive"):
                rates[key] = str(rate["id"])
        if not page.get("has_more") or not data:
            break
        params = {**params, "starting_after": data[-1]["id"]}
    for key in wanted:
        if key not in rates:
            body = build_tax_rate(key, config)
            idem = bounded_key(f"evbill:tax_rate:{config.tax_jurisdiction or ''}:{key}", STRIPE_KEY_LIMIT)
            made = http.send("POST", f"{base}/v1/tax_rates", data=form_encode(body), headers=_headers(config, idem))
            rates[key] = _id(dict(made.json() or {}), f"txr_dry_run_{key}")
    return rates


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
    rates = _tax_rates(inv, config, http, base)
    try:
        body = build_credit_note(event, config, ref, rates)
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
