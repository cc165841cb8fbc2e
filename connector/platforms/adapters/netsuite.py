"""Oracle NetSuite: one Invoice per finalized invoice of ours (or per billed session, or a balanced Journal Entry
per billed session), upserted by external id.

``document="invoice"`` (the default) posts our finalized invoice, whose VAT is already levied per rate, so
NetSuite's rate x net matches it; ``document="session"`` keeps one Invoice per session as rated. Journal entries
take the invoice's VAT restatement (``invoice.vat_restated``) as one adjusting entry.

Sent asynchronously with an idempotency key derived from tenant, document and body, so a retry leaves the record as
it was. Invoices: NetSuite's computed tax is read back and a total not ours fails the delivery; credit notes and
voids become Credit Memos. ``record="journalEntry"`` posts receivable, revenue and tax itself and reverses them for
corrections; ``record="itemFulfillment"`` keeps the former fulfillment update (no revenue). Auth: TBA or NetSuite's
OAuth 2.0 M2M grant. See docs/platforms/netsuite.md."""

from __future__ import annotations

import hashlib
import uuid
from decimal import Decimal
from typing import Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, field_validator

from connector.models.documents import EventJson, InvoiceJson, InvoiceLineJson, VatRestatementJson
from connector.platforms import tax_groups
from connector.platforms.context import DeliveryContext
from connector.platforms.errors import MappingError
from connector.platforms.exact_json import dumps_exact
from connector.platforms.invoice_event import ISSUED, correction_skip, rebilling, session_lines, unsendable

NAME = "netsuite"
EVENTS = ("session.billed", "invoice.finalized", "invoice.vat_restated", "credit_note.issued", "invoice.voided")
FINALIZED = "invoice.finalized"
RESTATED = "invoice.vat_restated"
CORRECTIONS = ("credit_note.issued", "invoice.voided")
CORRECTIONS_NOTE = "credit memos (record=invoice) or reversing journal entries; none to Item Fulfillments"


class NetSuiteConfig(BaseModel):
    """Per-tenant settings: account, credentials and the category -> item mapping."""

    model_config = ConfigDict(extra="forbid")

    account_id: str = Field(min_length=1, description="e.g. 1234567 or 1234567_SB1 (sandbox)")
    base_url: str | None = Field(default=None, description="default https://{account}.suitetalk.api.netsuite.com")
    auth: Literal["tba", "oauth2"] = "tba"
    consumer_key: str | None = None
    consumer_secret: str | None = Field(default=None, repr=False)
    token_id: str | None = None
    token_secret: str | None = Field(default=None, repr=False)
    token_url: str | None = Field(default=None, description="default {base}/services/rest/auth/oauth2/v1/token")
    client_id: str | None = Field(default=None, description="oauth2: the integration record's client id")
    client_secret: str | None = Field(default=None, repr=False, description="not used: NetSuite's machine-to-"
                                      "machine flow authenticates with certificate_id/private_key")
    certificate_id: str | None = Field(default=None, description="oauth2: the certificate id NetSuite assigned "
                                       "(OAuth 2.0 Client Credentials (M2M) Setup), the assertion's kid")
    private_key: str | None = Field(default=None, repr=False, description="oauth2: PEM private key of that "
                                    "certificate, signs the client assertion")
    jwt_algorithm: Literal["PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "RS256"] = "PS256"
    scope: str = Field(default="rest_webservices", description="oauth2 scopes, space separated")
    access_token: str | None = Field(default=None, repr=False)
    fulfillment_ref: str = Field(default="eid:{session_id}",
                                 description="internal id or eid:…; placeholders session_id, station_id, customer_id")
    item_ids: dict[str, str] = Field(default_factory=dict, description="line category -> NetSuite item internal id")
    ship_status: Literal["A", "B", "C"] = "C"  # Picked / Packed / Shipped
    amount_field: str | None = Field(default=None, pattern=r"^custcol[a-z0-9_]+$",
                                     description="custom column that receives the rated line net")
    async_mode: bool = True
    record: Literal["invoice", "journalEntry", "itemFulfillment"] = Field(
        default="invoice", description="invoice: one NetSuite Invoice per billed session (revenue and receivable "
        "posted); journalEntry: one balanced Journal Entry per billed session, reversed by credit notes and voids; "
        "itemFulfillment: rewrite the fulfillment's items, as before (posts no revenue)")
    document: Literal["invoice", "session"] = Field(
        default="invoice", description="record=invoice: 'invoice' posts one NetSuite Invoice per finalized invoice "
        "of ours (its VAT levied per rate, as NetSuite levies it); 'session' one per billed session as rated")
    invoice_external_id: str = Field(default="EV-{session_id}", description="externalId of a session's Invoice "
                                     "(document=session; upsert key)")
    document_external_id: str = Field(default="EV-{number}", description="externalId of an invoice's Invoice "
                                      "(document=invoice); placeholders number, invoice_id")
    customer_ids: dict[str, str] = Field(default_factory=dict, description="our customer id -> NetSuite customer")
    default_customer: str | None = None
    tax_codes: dict[str, str] = Field(default_factory=dict, description="tax rate ('19') -> NetSuite taxCode id "
                                      "(legacy tax; with SuiteTax leave empty, NetSuite determines it)")
    tax_groups: dict[str, str] = Field(default_factory=dict, description="the taxes of a line taxed twice, "
                                       "'6.25+2.25' (or 'State sales tax:6.25+City sales tax:2.25') -> the "
                                       "internal id of the NetSuite Tax Group sent as that line's taxCode")
    check_tax: bool = Field(default=True, description="invoice: read NetSuite's taxTotal and total back and fail "
                            "the delivery when they are not ours")
    credit_memo_external_id: str = Field(default="EVCM-{ref}", description="externalId of the Credit Memo of a "
                                         "credit note or void; {ref} = credit note number or '<invoice number>~VOID'")
    journal_external_id: str = Field(default="EVJE-{ref}", description="externalId of the Journal Entry; {ref} = "
                                     "session id, credit note number, '<invoice number>~VOID' or '<invoice number>~VAT' (VAT restatement)")
    subsidiary: str | None = Field(default=None, description="subsidiary internal id (OneWorld accounts)")
    currency_ids: dict[str, str] = Field(default_factory=dict, description="ISO currency -> NetSuite currency id "
                                         "(journal entries; empty: the subsidiary's currency)")
    receivable_account: str | None = Field(default=None, description="A/R account id, debited with the gross")
    revenue_accounts: dict[str, str] = Field(default_factory=dict, description="line category -> income account id")
    default_revenue_account: str | None = None
    incentive_account: str | None = Field(default=None, description="account debited with the part an authority "
                                          "pays (incentive lines)")
    tax_accounts: dict[str, str] = Field(default_factory=dict, description="tax rate ('19') -> tax payable account")
    default_tax_account: str | None = None

    @field_validator("tax_groups")
    @classmethod
    def _group_keys(cls, groups: dict[str, str]) -> dict[str, str]:
        return tax_groups.normalized(groups)


def record_ref(event: EventJson, config: NetSuiteConfig) -> str:
    session, invoice, _ = session_lines(event)
    values = {"session_id": session["id"], "station_id": session.get("station_id") or "",
              "customer_id": (invoice.get("customer") or {}).get("id") or session.get("customer_id") or ""}
    try:
        return config.fulfillment_ref.format(**values)
    except KeyError as exc:
        raise MappingError("fulfillment_ref", f"unknown placeholder {exc}") from exc


def build_update(event: EventJson, config: NetSuiteConfig) -> dict[str, Any]:
    """The PATCH body: ship status, memo, and the item sublist (one line per chargeable invoice line)."""
    session, invoice, lines = session_lines(event)
    items = []
    for ln in lines:
        if ln.get("category") == "incentive":  # paid by the authority: not an item the station delivered
            continue
        category = str(ln.get("category") or "")
        if category not in config.item_ids:
            raise MappingError("item_ids", f"no NetSuite item for line category {category!r}")
        item: dict[str, Any] = {"item": {"id": config.item_ids[category]}, "itemReceive": True,
                                "quantity": Decimal(str(ln["quantity"])),
                                "description": f"{ln.get('description') or category} ({ln.get('unit')})"[:999]}
        if config.amount_field:
            item[config.amount_field] = Decimal(str(ln["net"]))
        items.append(item)
    gross = sum((Decimal(str(ln["gross"])) for ln in lines), Decimal(0))
    return {
        "shipStatus": {"id": config.ship_status},
        "tranDate": str(invoice.get("issued_at") or event.get("created_at") or "")[:10],
        "memo": f"EV session {session['id']} at {session.get('station_id') or '-'}: {gross} {invoice['currency']}"
                f" (invoice {invoice.get('number') or invoice.get('id')})",
        "item": {"items": items},
    }


def external_id(event: EventJson, config: NetSuiteConfig) -> str:
    """The Invoice's externalId: per finalized invoice (``EV-INV-000001``) or per session (``EV-S-100``), the
    re-billing after a correction apart."""
    if event.get("type") == FINALIZED:
        invoice = _invoice(event)
        try:
            return config.document_external_id.format(number=invoice.get("number") or invoice.get("id"),
                                                      invoice_id=invoice.get("id"))
        except KeyError as exc:
            raise MappingError("document_external_id", f"unknown placeholder {exc}") from exc
    session, _, _ = session_lines(event)
    try:
        return config.invoice_external_id.format(session_id=session["id"]) + rebilling(event)
    except KeyError as exc:
        raise MappingError("invoice_external_id", f"unknown placeholder {exc}") from exc


def build_invoice(event: EventJson, config: NetSuiteConfig) -> dict[str, Any]:
    """The Invoice body: the customer, one item line per invoice line of the session at its net (quantity 1;
    incentives on the ``incentive`` item, negative), our tax code per rate when mapped (a line with several taxes:
    the Tax Group mapped in ``tax_groups``). A finalized invoice: all its lines, with the VAT as invoiced."""
    if event.get("type") == FINALIZED:
        ref, invoice, lines, ours = _document(event)
        gross = sum((Decimal(str(ln["gross"])) for ln in lines), Decimal(0))
        return {"externalId": external_id(event, config), "entity": {"id": _entity(ours, config)},
                "tranDate": str(invoice.get("issued_at") or event.get("created_at") or "")[:10],
                "memo": f"EV invoice {ref}: {gross} {invoice['currency']}"[:999],
                "item": {"items": _items(lines, config)}}
    session, invoice, lines = session_lines(event)
    ours = str((invoice.get("customer") or {}).get("id") or session.get("customer_id") or "")
    gross = sum((Decimal(str(ln["gross"])) for ln in lines), Decimal(0))
    return {"externalId": external_id(event, config), "entity": {"id": _entity(ours, config)},
            "tranDate": str(invoice.get("issued_at") or event.get("created_at") or "")[:10],
            "memo": f"EV session {session['id']} at {session.get('station_id') or '-'}: {gross} {invoice['currency']}"
                    f" (invoice {invoice.get('number') or invoice.get('id')})",
            "item": {"items": _items(lines, config)}}


def build_credit_memo(event: EventJson, config: NetSuiteConfig) -> dict[str, Any]:
    """The Credit Memo body for a credit note or a void (``record="invoice"``): its lines mapped exactly as the
    Invoices' were (positive amounts), so NetSuite credits the customer's A/R with what we credited."""
    ref, note, lines, ours = _document(event)
    gross = sum((Decimal(str(ln["gross"])) for ln in lines), Decimal(0))
    what = (f"void of invoice {note.get('number') or note.get('id')}" if event.get("type") == "invoice.voided" else
            f"credit note {ref} of invoice {note.get('credit_note_of')}")
    return {"externalId": credit_memo_external_id(event, config), "entity": {"id": _entity(ours, config)},
            "tranDate": str(note.get("issued_at") or event.get("created_at") or "")[:10],
            "memo": f"EV {what}: {gross} {note['currency']}"[:999], "item": {"items": _items(lines, config)}}


def credit_memo_external_id(event: EventJson, config: NetSuiteConfig) -> str:
    try:
        return config.credit_memo_external_id.format(ref=document_ref(event))
    except KeyError as exc:
        raise MappingError("credit_memo_external_id", f"unknown placeholder {exc}") from exc


def _entity(ours: str, config: NetSuiteConfig) -> str:
    entity = config.customer_ids.get(ours) or config.default_customer
    if not entity:
        raise MappingError("customer_ids", f"no NetSuite customer for customer {ours!r}")
    return entity


def _items(lines: list[InvoiceLineJson], config: NetSuiteConfig) -> list[dict[str, Any]]:
    items = []
    for ln in lines:
        category = str(ln.get("category") or "")
        if category not in config.item_ids:
            raise MappingError("item_ids", f"no NetSuite item for line category {category!r}")
        net = Decimal(str(ln["net"]))
        item: dict[str, Any] = {"item": {"id": config.item_ids[category]}, "quantity": 1, "rate": net,
                                "amount": net, "description": f"{ln.get('description') or category}"[:999]}
        taxes = list(ln.get("taxes") or [])
        if len(taxes) > 1 and (config.tax_codes or config.tax_groups):  # a Tax Group: its rates summed
            group = tax_groups.lookup(config.tax_groups, taxes)
            if group is None:
                raise MappingError("tax_groups", tax_groups.missing("NetSuite", ln.get("id"), taxes))
            item["taxCode"] = {"id": group}
        elif taxes and config.tax_codes:
            rate = _rate(taxes[0]["rate"])
            if rate not in config.tax_codes:
                raise MappingError("tax_codes", f"no NetSuite tax code for tax rate {rate}")
            item["taxCode"] = {"id": config.tax_codes[rate]}
        items.append(item)
    return items


def _rate(rate: Any) -> str:
    return format(Decimal(str(rate)).normalize(), "f")


def corrections_sent(settings: dict[str, Any]) -> bool:
    """Whether a tenant's settings send corrections (``evbill platforms list``): not to Item Fulfillments."""
    return settings.get("record", "invoice") != "itemFulfillment"


def is_correction(event: EventJson) -> bool:
    return event.get("type") in CORRECTIONS


def per_invoice(config: NetSuiteConfig) -> bool:
    """Whether NetSuite receives our finalized invoices (not the sessions one by one)."""
    return config.record == "invoice" and config.document == "invoice"


def skip_reason(event: EventJson, config: NetSuiteConfig) -> str | None:
    """Why an event posts nothing (None: it does). Invoices: the finalized invoice (``document="invoice"``) or each
    billed session; journal entries: each billed session plus the invoice's VAT restatement. Corrections become
    Credit Memos (invoices) or reversing journal entries; an Item Fulfillment has no correction (see
    docs/platforms/netsuite.md)."""
    kind = event.get("type")
    if kind == FINALIZED:
        if not per_invoice(config):
            return f"{kind} is sent with record='invoice' and document='invoice' only (these books take sessions)"
        return unsendable(event, "NetSuite", ISSUED, "a credit note goes to NetSuite on credit_note.issued")
    if kind == RESTATED:
        if config.record != "journalEntry":
            return (f"{kind} is posted with record='journalEntry' only (an Invoice's tax is NetSuite's own: "
                    "document='invoice' sends the invoice as restated)")
        if not any(Decimal(str(t.get("amount") or 0)) for t in _restatement(event)["taxes"]):
            return "the VAT restatement moved nothing"
        return None
    if not is_correction(event):
        if per_invoice(config):
            return "document='invoice': NetSuite receives the session on its invoice, when finalized"
        return None
    if config.record == "itemFulfillment":
        return (f"{event.get('type')} is not sent with record='itemFulfillment' (a fulfillment posts no revenue); "
                "correct the sales order in NetSuite by hand")
    # a voided draft counts where its sessions were posted one by one on session.billed
    return correction_skip(event, "NetSuite", voided_drafts=not per_invoice(config))


def _invoice(event: EventJson) -> InvoiceJson:
    invoice = (event.get("data") or {}).get("invoice")
    if not isinstance(invoice, dict):
        raise MappingError("data.invoice", "required")
    return invoice


def _restatement(event: EventJson) -> VatRestatementJson:
    data = (event.get("data") or {}).get("restatement")
    if not isinstance(data, dict) or not isinstance(data.get("taxes"), list):
        raise MappingError("data.restatement", "required: receivable and taxes")
    return data


def _document(event: EventJson) -> tuple[str, InvoiceJson, list[InvoiceLineJson], str]:
    """(reference, invoice, lines, customer id) of what a record posts: one session's lines, a finalized invoice,
    or a whole credit note / voided invoice (which reverses); a VAT restatement's reference is
    ``INV-000001~VAT`` (its amounts are in ``data.restatement``)."""
    if event.get("type") not in (FINALIZED, RESTATED) and not is_correction(event):
        session, invoice, lines = session_lines(event)
        ours = str((invoice.get("customer") or {}).get("id") or session.get("customer_id") or "")
        return f"{session['id']}{rebilling(event)}", invoice, lines, ours
    note = _invoice(event)
    ref = str(note.get("number") or note.get("id") or "")
    if event.get("type") == "invoice.voided":  # the void of INV-000001: "INV-000001~VOID"
        ref = f"{ref}~VOID"
    if event.get("type") == RESTATED:
        return f"{ref}~VAT", note, [], str((note.get("customer") or {}).get("id") or "")
    lines = list(note.get("lines") or [])
    if not ref or not lines:
        raise MappingError("data.invoice", "an invoice, credit note or void needs a number and lines")
    return ref, note, lines, str((note.get("customer") or {}).get("id") or "")


def document_ref(event: EventJson) -> str:
    """What the record and the worker's key stand for: ``S-100``, ``S-100~CN-000001`` (a re-billing),
    ``CN-000001``, ``INV-000001~VOID``, ``INV-000001`` (a finalized invoice) or ``INV-000001~VAT``."""
    if event.get("type") not in (FINALIZED, RESTATED) and not is_correction(event):
        return f"{session_lines(event)[0]['id']}{rebilling(event)}"
    return _document(event)[0]


def journal_external_id(event: EventJson, config: NetSuiteConfig) -> str:
    try:
        return config.journal_external_id.format(ref=document_ref(event))
    except KeyError as exc:
        raise MappingError("journal_external_id", f"unknown placeholder {exc}") from exc


def _required(value: str | None, field: str, why: str) -> str:
    if not value:
        raise MappingError(field, why)
    return value


def build_journal(event: EventJson, config: NetSuiteConfig) -> dict[str, Any]:
    """The Journal Entry body: A/R debited with the gross (the customer on that line), revenue credited with the
    net per income account, tax payable credited per tax rate, an incentive's part debited to
    ``incentive_account``; a credit note or void swaps every side. Refused unless debits equal credits. The
    invoice's VAT restatement: A/R by its receivable delta against each rate's tax payable by its delta."""
    ref, invoice, lines, ours = _document(event)
    sign = Decimal(-1) if is_correction(event) else Decimal(1)  # positive: debit
    entity = config.customer_ids.get(ours) or config.default_customer
    if not entity:
        raise MappingError("customer_ids", f"no NetSuite customer for customer {ours!r}")
    receivable = _required(config.receivable_account, "receivable_account", "required for journal entries")
    postings: dict[tuple[str, str], Decimal] = {}  # (kind, account) -> signed amount, debit positive

    def post(kind: str, account: str, amount: Decimal) -> None:
        postings[(kind, account)] = postings.get((kind, account), Decimal(0)) + amount

    gross = Decimal(0)
    if event.get("type") == RESTATED:  # sessions posted as rated + this = the invoice's receivable and tax
        restated = _restatement(event)
        for tax in restated["taxes"]:
            rate = _rate(tax["rate"])
            post(f"tax {rate} % per rate", _required(config.tax_accounts.get(rate) or config.default_tax_account,
                                                     "tax_accounts", f"no tax payable account for tax rate {rate}"),
                 -Decimal(str(tax["amount"])))
        gross = Decimal(str(restated["receivable"]))
    for ln in lines:
        net, line_gross = sign * Decimal(str(ln["net"])), sign * Decimal(str(ln["gross"]))
        gross += line_gross  # incentive lines are negative: the customer owes the amount due
        category = str(ln.get("category") or "")
        if category == "incentive":  # the authority owes this part: debited to its own account
            post("incentive", _required(config.incentive_account, "incentive_account",
                                        "required for incentive lines"), -net)
        else:
            post("revenue", _required(config.revenue_accounts.get(category) or config.default_revenue_account,
                                      "revenue_accounts", f"no income account for line category {category!r}"), -net)
        for tax in ln.get("taxes") or []:
            rate = _rate(tax["rate"])
            post(f"tax {rate} %", _required(config.tax_accounts.get(rate) or config.default_tax_account,
                                            "tax_accounts", f"no tax payable account for tax rate {rate}"),
                 -sign * Decimal(str(tax["amount"])))
    items: list[dict[str, Any]] = [_je_line(receivable, gross, f"EV {ref} receivable", entity)]
    items += [_je_line(account, amount, f"EV {ref} {kind}") for (kind, account), amount in postings.items()]
    items = [item for item in items if item]
    debits = sum((i.get("debit", Decimal(0)) for i in items), Decimal(0))
    credits = sum((i.get("credit", Decimal(0)) for i in items), Decimal(0))
    if debits != credits or not items:
        raise MappingError("data.invoice.lines", f"{ref}: debits {debits} != credits {credits}, gross != net + tax")
    currency = str(invoice["currency"])
    text = ("EV void of " if event.get("type") == "invoice.voided" else
            "EV credit note " if event.get("type") == "credit_note.issued" else
            "EV VAT per rate of " if event.get("type") == RESTATED else "EV charging ")
    body: dict[str, Any] = {"externalId": journal_external_id(event, config),
                            "tranDate": str(invoice.get("issued_at") or event.get("created_at") or "")[:10],
                            "memo": f"{text}{ref}: {abs(gross)} {currency} (invoice {invoice.get('number') or invoice.get('id')})"[:999],
                            "line": {"items": items}}
    if config.subsidiary:
        body["subsidiary"] = {"id": config.subsidiary}
    if config.currency_ids:
        if currency not in config.currency_ids:
            raise MappingError("currency_ids", f"no NetSuite currency for {currency}")
        body["currency"] = {"id": config.currency_ids[currency]}
    return body


def _je_line(account: str, amount: Decimal, memo: str, entity: str | None = None) -> dict[str, Any]:
    """One line: a positive amount is a debit, a negative one a credit (NetSuite takes both as positive)."""
    if amount == 0:
        return {}
    line: dict[str, Any] = {"account": {"id": account}, ("debit" if amount > 0 else "credit"): abs(amount),
                            "memo": memo[:999]}
    if entity:
        line["entity"] = {"id": entity}
    return line


def idempotency_key(event: EventJson, config: NetSuiteConfig | None = None) -> str:
    """A UUID (NetSuite's key format) fixed by tenant, account and document: every retry sends the same one."""
    account = config.account_id if config else ""
    ref = document_ref(event)
    if is_correction(event) or event.get("type") in (FINALIZED, RESTATED):
        ref = f"{event.get('type')}:{ref}"
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"evbill:netsuite:{event.get('tenant_id')}:{account}:{ref}"))


def request_key(event: EventJson, config: NetSuiteConfig, body: bytes) -> str:
    """``X-NetSuite-Idempotency-Key``: the document's key and the body's digest. A retry of the same request
    gets NetSuite's first job back; a redelivery after a mapping fix (other tax codes) is a new request."""
    digest = hashlib.sha256(body).hexdigest()
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{idempotency_key(event, config)}:{digest}"))


def endpoint(event: EventJson, config: NetSuiteConfig) -> str:
    base = _base(config)
    if config.record == "invoice" and is_correction(event):  # a Credit Memo, upserted the same way
        ref = quote(f"eid:{credit_memo_external_id(event, config)}", safe=":")
        return f"{base.rstrip('/')}/services/rest/record/v1/creditMemo/{ref}"
    if config.record == "invoice":  # upsert by external id: a retry updates the Invoice it made
        ref = quote(f"eid:{external_id(event, config)}", safe=":")
        return f"{base.rstrip('/')}/services/rest/record/v1/invoice/{ref}"
    if config.record == "journalEntry":
        ref = quote(f"eid:{journal_external_id(event, config)}", safe=":")
        return f"{base.rstrip('/')}/services/rest/record/v1/journalEntry/{ref}"
    return f"{base.rstrip('/')}/services/rest/record/v1/itemFulfillment/{quote(record_ref(event, config), safe=':')}"


def _auth(config: NetSuiteConfig, http: Any) -> dict[str, Any]:
    """TBA: a fresh OAuth1 signer per request (new nonce and timestamp); OAuth 2.0: bearer header."""
    if config.auth == "tba":
        if not (config.consumer_key and config.consumer_secret and config.token_id and config.token_secret):
            raise MappingError("consumer_key/consumer_secret/token_id/token_secret", "required for TBA")
        from requests_oauthlib import OAuth1

        return {"auth": OAuth1(config.consumer_key, config.consumer_secret, config.token_id, config.token_secret,
                               signature_method="HMAC-SHA256", realm=config.account_id.upper())}
    if config.access_token:
        return {"headers": {"Authorization": f"Bearer {config.access_token}"}}
    return {"headers": m2m_tokens(config).authorization(http)}


def m2m_tokens(config: NetSuiteConfig) -> Any:
    """NetSuite's machine-to-machine OAuth 2.0: the client-credentials grant authenticated by a JWT assertion
    signed with the certificate's private key (``kid`` = NetSuite's certificate id); no client secret."""
    if not (config.client_id and config.certificate_id and config.private_key):
        raise MappingError("client_id/certificate_id/private_key", "required for oauth2: NetSuite's M2M flow is "
                           "the client-credentials grant with a certificate-signed JWT assertion (or access_token)")
    from connector.platforms.client_assertion import shared

    return shared(config.token_url or f"{_base(config)}/services/rest/auth/oauth2/v1/token", config.client_id,
                  config.certificate_id, config.private_key, config.jwt_algorithm, config.scope)


def _base(config: NetSuiteConfig) -> str:
    base = config.base_url or f"https://{config.account_id.lower().replace('_', '-')}.suitetalk.api.netsuite.com"
    return base.rstrip("/")


def deliver(event: EventJson, config: NetSuiteConfig, ctx: DeliveryContext) -> dict[str, Any]:
    """Upsert the Invoice / Journal Entry (or PATCH the fulfillment), async with an idempotency key by default;
    ref = the job or record location. Invoices: NetSuite's tax is then read back and compared with ours."""
    from connector.platforms.errors import MappingError, PermanentError

    try:
        reason = skip_reason(event, config)
    except MappingError as exc:
        raise PermanentError(str(exc)) from exc
    if reason is not None:
        return {"status": "skipped", "reason": reason}
    builders = {"invoice": build_credit_memo if is_correction(event) else build_invoice,
                "journalEntry": build_journal, "itemFulfillment": build_update}
    try:
        body = builders[config.record](event, config)
        url = endpoint(event, config)
        auth = _auth(config, ctx.http)
    except MappingError as exc:
        raise PermanentError(str(exc)) from exc
    data = dumps_exact(body)
    headers = {**auth.pop("headers", {}), "Content-Type": "application/json", "Accept": "application/json"}
    if config.async_mode:
        headers |= {"Prefer": "respond-async", "X-NetSuite-Idempotency-Key": request_key(event, config, data)}
    method = "PATCH" if config.record == "itemFulfillment" else "PUT"
    sublist = "line" if config.record == "journalEntry" else "item"
    try:
        resp = ctx.http.send(method, url, params={"replace": sublist}, data=data, headers=headers, **auth)
    except PermanentError as exc:  # an expired M2M token: a new assertion buys a new one, sent once more
        if config.auth != "oauth2" or config.access_token or exc.status_code != 401:
            raise
        tokens = m2m_tokens(config)
        tokens.invalidate()
        headers |= tokens.authorization(ctx.http)
        resp = ctx.http.send(method, url, params={"replace": sublist}, data=data, headers=headers, **auth)
    result = {"status": "sent", "ref": resp.headers.get("Location"), "async": resp.status_code == 202}
    if config.record != "itemFulfillment":
        result["external_id"] = body["externalId"]
    if config.record == "invoice" and config.check_tax and not resp.headers.get("X-Dry-Run"):
        result |= _check_invoice(event, config, ctx, url, headers)
    return result


def _ours(lines: list[InvoiceLineJson]) -> tuple[Decimal, Decimal]:
    """(tax, gross) of the session's lines, as billed."""
    tax = sum((Decimal(str(t["amount"])) for ln in lines for t in ln.get("taxes") or []), Decimal(0))
    return tax, sum((Decimal(str(ln["gross"])) for ln in lines), Decimal(0))


def _check_invoice(event: EventJson, config: NetSuiteConfig, ctx: DeliveryContext, url: str,
                   headers: dict[str, str]) -> dict[str, str]:
    """NetSuite computes the Invoice's (Credit Memo's) tax from its tax codes (or SuiteTax): read ``taxTotal`` and
    ``total`` back and fail the delivery, naming both figures, when they are not ours; nothing is posted silently.
    An async upsert NetSuite has not applied yet is retried (the same key answers with the same job)."""
    from connector.platforms.errors import PermanentError, RetryableError

    read = {k: v for k, v in headers.items() if k in ("Authorization", "Accept")}
    correction = is_correction(event)
    kind = "Credit Memo" if correction else "Invoice"
    ident = credit_memo_external_id(event, config) if correction else external_id(event, config)
    try:
        resp = ctx.http.send("GET", url, params={"fields": "taxTotal,total"}, headers=read, **_auth_only(config))
    except PermanentError as exc:
        if config.async_mode and exc.status_code == 404:
            raise RetryableError(f"NetSuite has not applied the {kind} {ident} yet; its tax check is retried") from exc
        raise
    record = resp.json() or {}
    theirs_tax, theirs_total = Decimal(str(record.get("taxTotal") or 0)), Decimal(str(record.get("total") or 0))
    tax, gross = _ours(_document(event)[2])
    if (theirs_tax, theirs_total) != (tax, gross):
        raise PermanentError(
            f"NetSuite computes tax {theirs_tax:f} (total {theirs_total:f}) for {kind} {ident}, "
            f"ours is {tax:f} (total {gross:f}): the {kind} is in NetSuite at NetSuite's amount; correct it there "
            "(or fix tax_codes / tax_groups and redeliver: the upsert replaces its lines)")
    return {"tax_total": f"{theirs_tax:f}", "total": f"{theirs_total:f}"}


def _auth_only(config: NetSuiteConfig) -> dict[str, Any]:
    """TBA signs every request itself (a fresh nonce); a bearer token is already in the headers."""
    if config.auth != "tba":
        return {}
    return {"auth": _auth(config, None)["auth"]}


Config = NetSuiteConfig
