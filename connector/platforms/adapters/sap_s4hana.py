"""SAP S/4HANA: the revenue posting of each billed session, balanced in every currency; voids and credit notes reverse.

One accounting document per session, sent as SAP's Journal Entry SOAP message (default) or as BAPI tables in
JSON for customer middleware, refused before sending unless it sums to zero; the session id is the reference
SAP dedupes on. A credit note or the void of an invoice posts one reversing document. An invoice whose VAT
was restated per rate at finalize (``invoice.vat_restated``) posts one adjusting document, receivable against
tax per rate, referenced ``<number>~VAT``. See docs/platforms/sap_s4hana.md."""

from __future__ import annotations

import hashlib
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from connector.models.documents import EventJson, InvoiceJson, InvoiceLineJson
from connector.money import quantum, round_money
from connector.platforms.context import DeliveryContext
from connector.platforms.errors import MappingError
from connector.platforms.invoice_event import correction_skip, rebilling, session_lines

NAME = "sap_s4hana"
EVENTS = ("session.billed", "invoice.vat_restated", "credit_note.issued", "invoice.voided")
RESTATED = "invoice.vat_restated"
DOC_CURRENCY, LOCAL_CURRENCY = "00", "10"


class SapConfig(BaseModel):
    """Per-tenant settings: transport, company code and the account / tax-code mapping."""

    model_config = ConfigDict(extra="forbid")

    transport: Literal["soap", "json"] = Field(default="soap", description="soap: SAP's Journal Entry SOAP "
                                                "service (default); json: the BAPI tables for customer middleware")
    json_url: str | None = Field(default=None, description="integration endpoint that calls the BAPI")
    soap_url: str | None = Field(default=None, description="…/sap/bc/srt/scs_ext/sap/journalentrycreaterequestconfi")
    username: str | None = None
    password: str | None = Field(default=None, repr=False)
    token_url: str | None = Field(default=None, description="OAuth client credentials (Integration Suite)")
    client_id: str | None = None
    client_secret: str | None = Field(default=None, repr=False)
    comp_code: str = Field(default="1000", max_length=4)
    doc_type: str = Field(default="DR", max_length=2)
    credit_doc_type: str = Field(default="DG", max_length=2, description="document type of credit-note reversals")
    bapi_user: str = Field(default="EVBILLING", max_length=12)
    logical_system: str = Field(default="EVBILLING", max_length=10)
    customer_ids: dict[str, str] = Field(default_factory=dict, description="our customer id -> SAP KUNNR")
    default_customer: str | None = None
    revenue_accounts: dict[str, str] = Field(default_factory=dict, description="line category -> G/L account")
    default_revenue_account: str = "800000"
    incentive_account: str = Field(default="140000", description="receivable from the authority paying incentives")
    tax_codes: dict[str, str] = Field(default_factory=dict, description="tax rate ('19') -> SAP tax code")
    tax_account: str = "175000"
    tax_acct_key: str = "MWS"
    tax_cond_key: str = "MWST"
    profit_center: str | None = None
    local_currency: str | None = Field(default=None, description="company-code currency (CURR_TYPE 10)")
    exchange_rates: dict[str, Decimal] = Field(default_factory=dict,
                                               description="document currency -> local units per 1 unit")


def alpha(value: str, width: int = 10) -> str:
    """SAP ALPHA conversion: numeric keys are zero-padded, others kept as they are."""
    return value.zfill(width) if value.isdigit() else value


def ref_doc_no(session_id: str) -> str:
    """XBLNR holds 16 characters: longer session ids become a stable hash reference."""
    return session_id if len(session_id) <= 16 else "EV" + hashlib.sha256(session_id.encode()).hexdigest()[:14].upper()


def is_credit_note(event: EventJson) -> bool:
    """A document that reverses postings: a credit note, or the void of an invoice (its sessions were posted
    one by one on ``session.billed``, draft or not, so a void reverses all its lines)."""
    if event.get("type") in ("credit_note.issued", "invoice.voided"):
        return True
    invoice: Mapping[str, Any] = (event.get("data") or {}).get("invoice") or {}
    return invoice.get("kind") == "credit_note"


def skip_reason(event: EventJson) -> str | None:
    """Why a void or credit note posts nothing (None: it does); voided drafts count, their sessions were posted."""
    if event.get("type") in ("invoice.voided", "credit_note.issued"):
        return correction_skip(event, "SAP S/4HANA", voided_drafts=True)
    if event.get("type") == RESTATED:
        restatement: Mapping[str, Any] = (event.get("data") or {}).get("restatement") or {}
        if not any(Decimal(str(t.get("amount") or 0)) for t in restatement.get("taxes") or []):
            return "the VAT restatement moved nothing"
    return None


def _session(event: EventJson) -> tuple[dict[str, Any], InvoiceJson, list[InvoiceLineJson]]:
    """(what the document references, the invoice, its lines): a session's lines, or a whole credit note."""
    data = event.get("data") or {}
    invoice = data.get("invoice")
    if not isinstance(invoice, dict):
        raise MappingError("data.invoice", "required")
    if event.get("type") == RESTATED:  # the invoice's adjustment: "INV-000001~VAT", no lines of its own
        ref = invoice.get("number") or invoice.get("id")
        if not ref:
            raise MappingError("data.invoice.number", "required")
        customer_of: Mapping[str, Any] = invoice.get("customer") or {}
        return {"id": f"{ref}~VAT", "customer_id": customer_of.get("id")}, invoice, []
    if is_credit_note(event):  # referenced by its own number; all its lines reverse the original postings
        ref = invoice.get("number") or invoice.get("id")
        if event.get("type") == "invoice.voided":  # the void of invoice INV-000001: "INV-000001~VOID"
            ref = f"{ref}~VOID"
        if not ref or not invoice.get("lines"):
            raise MappingError("data.invoice", "a credit note needs a number and lines")
        customer: Mapping[str, Any] = invoice.get("customer") or {}
        return {"id": str(ref), "customer_id": customer.get("id")}, invoice, invoice["lines"]
    session, invoice, lines = session_lines(event)
    if rebilling(event):  # the new charge after a correction: a document of its own, referenced apart
        session = {**session, "id": f"{session['id']}{rebilling(event)}"}
    return session, invoice, lines


def _sap_date(iso: str) -> str:
    return iso[:10].replace("-", "")


def _restatement_taxes(event: EventJson, currency: str) -> tuple[Decimal, dict[tuple[str, str], list[Decimal]]]:
    """(receivable delta, (name, rate) -> [tax delta, base 0]) of ``invoice.vat_restated``: the tax moves on
    the same base, so the adjustment's tax items carry a zero base."""
    data = (event.get("data") or {}).get("restatement")
    if not isinstance(data, dict):
        raise MappingError("data.restatement", "required")
    taxes: dict[tuple[str, str], list[Decimal]] = {}
    for t in data.get("taxes") or []:
        acc = taxes.setdefault((str(t.get("name") or "TAX"), _rate(t["rate"])), [Decimal(0), quantum(currency) * 0])
        acc[0] += Decimal(str(t["amount"]))
    receivable = Decimal(str(data.get("receivable")))
    if receivable != sum((a for a, _ in taxes.values()), Decimal(0)):
        raise MappingError("data.restatement", f"receivable {receivable} != sum of the tax deltas ({currency})")
    return receivable, taxes


def build_document(event: EventJson, config: SapConfig) -> dict[str, Any]:
    """The BAPI tables for this session (pure; balanced or MappingError)."""
    session, invoice, lines = _session(event)
    currency = str(invoice["currency"])
    customer_id = str((invoice.get("customer") or {}).get("id") or session.get("customer_id"))
    kunnr = config.customer_ids.get(customer_id) or config.default_customer
    if not kunnr:
        raise MappingError("customer_ids", f"no SAP customer for customer {customer_id}")
    date = _sap_date(str(invoice.get("issued_at") or event.get("created_at") or ""))
    ref = ref_doc_no(session["id"])
    credit = is_credit_note(event)
    sign = Decimal(-1) if credit else Decimal(1)  # a credit note reverses: receivable credited, revenue debited
    text = (f"EV void {session['id']}" if event.get("type") == "invoice.voided" else
            f"EV VAT per rate {session['id'].removesuffix('~VAT')}" if event.get("type") == RESTATED else
            f"EV credit note {session['id']}" if credit else f"EV charging {session['id']}")
    header = {"BUS_ACT": "RFBU", "USERNAME": config.bapi_user, "HEADER_TXT": text[:25], "COMP_CODE": config.comp_code,
              "DOC_DATE": date, "PSTNG_DATE": date, "DOC_TYPE": config.credit_doc_type if credit else config.doc_type,
              "REF_DOC_NO": ref}
    items: list[tuple[str, Decimal, Decimal | None]] = []  # (table, amount, tax base)
    gl: list[dict[str, Any]] = []
    tax: list[dict[str, Any]] = []
    taxes: dict[tuple[str, str], list[Decimal]] = {}
    gross = Decimal(0)
    for ln in lines:  # Invoice JSON money: decimal strings with the currency's digits, as the BAPI takes them
        net, line_gross = sign * Decimal(str(ln["net"])), sign * Decimal(str(ln["gross"]))
        gross += line_gross  # incentive lines are negative: the customer owes the amount due
        rates = [_rate(t["rate"]) for t in ln.get("taxes") or []]
        for t in ln.get("taxes") or []:
            acc = taxes.setdefault((str(t.get("name") or "TAX"), _rate(t["rate"])), [Decimal(0), Decimal(0)])
            acc[0] += sign * Decimal(str(t["amount"]))
            acc[1] += net
        category = str(ln.get("category"))
        account = (config.incentive_account if category == "incentive"  # debit: the authority pays this part
                   else config.revenue_accounts.get(category, config.default_revenue_account))
        item = {"ITEMNO_ACC": "", "GL_ACCOUNT": alpha(account),
                "ITEM_TEXT": f"{ln.get('description') or ln.get('category')} {session['id']}"[:50],
                "ALLOC_NMBR": session["id"][:18]}
        if rates:
            item["TAX_CODE"] = _tax_code(rates[0], config)
        if config.profit_center:
            item["PROFIT_CTR"] = alpha(config.profit_center)
        gl.append(item)
        items.append(("ACCOUNTGL", -net, None))
    if event.get("type") == RESTATED:
        gross, taxes = _restatement_taxes(event, currency)
    for (_name, rate), (amount, base) in taxes.items():
        tax.append({"ITEMNO_ACC": "", "GL_ACCOUNT": alpha(config.tax_account), "COND_KEY": config.tax_cond_key,
                    "ACCT_KEY": config.tax_acct_key, "TAX_CODE": _tax_code(rate, config), "TAX_RATE": rate})
        items.append(("ACCOUNTTAX", -amount, -base if base else base))  # never "-0.00"
    receivable = {"ITEMNO_ACC": "0000000001", "CUSTOMER": alpha(kunnr), "ITEM_TEXT": text[:50],
                  "ALLOC_NMBR": session["id"][:18], "BLINE_DATE": date}
    amounts: list[dict[str, Any]] = [_amount(1, DOC_CURRENCY, currency, gross)]
    for n, ((_table, item_amount, item_base), row) in enumerate(zip(items, gl + tax, strict=True), start=2):
        row["ITEMNO_ACC"] = f"{n:010d}"
        amounts.append(_amount(n, DOC_CURRENCY, currency, item_amount, item_base))
    if sum((Decimal(a["AMT_DOCCUR"]) for a in amounts), Decimal(0)) != 0:
        raise MappingError("data.invoice.lines", f"session {session['id']}: gross != net + tax, document would not balance")
    if config.local_currency and config.local_currency != currency:
        amounts += _translate(amounts, currency, config, first_revenue=2)
    return {"DOCUMENTHEADER": header, "ACCOUNTRECEIVABLE": [receivable], "ACCOUNTGL": gl, "ACCOUNTTAX": tax,
            "CURRENCYAMOUNT": amounts}


def _rate(rate: Any) -> str:
    """"19", "19.0" and "19.00" are one tax rate."""
    return format(Decimal(str(rate)).normalize(), "f")


def _tax_code(rate: str, config: SapConfig) -> str:
    codes = {_rate(k): v for k, v in config.tax_codes.items()}
    if rate not in codes:
        raise MappingError("tax_codes", f"no SAP tax code configured for tax rate {rate}")
    return codes[rate]


def _amount(item: int, curr_type: str, currency: str, amount: Decimal, base: Decimal | None = None,
            rate: Decimal | None = None) -> dict[str, Any]:
    row = {"ITEMNO_ACC": f"{item:010d}", "CURR_TYPE": curr_type, "CURRENCY_ISO": currency, "AMT_DOCCUR": str(amount)}
    if base is not None:
        row["AMT_BASE"] = str(base)
    if rate is not None:
        row["EXCH_RATE"] = str(rate)
    return row


def _translate(doc_rows: list[dict[str, Any]], currency: str, config: SapConfig, first_revenue: int) -> list[dict[str, Any]]:
    """CURR_TYPE 10 rows: each amount at the configured rate, rounded in the local currency; the rounding
    difference is booked on the largest revenue item so the local side balances too."""
    local = str(config.local_currency)
    if currency not in config.exchange_rates:
        raise MappingError("exchange_rates", f"no rate from {currency} to {local}")
    rate = config.exchange_rates[currency]
    rows = []
    for r in doc_rows:
        base = r.get("AMT_BASE")
        rows.append(_amount(int(r["ITEMNO_ACC"]), LOCAL_CURRENCY, local,
                            round_money(Decimal(r["AMT_DOCCUR"]) * rate, local),
                            round_money(Decimal(base) * rate, local) if base is not None else None, rate))
    diff = sum((Decimal(r["AMT_DOCCUR"]) for r in rows), Decimal(0))
    if diff:
        revenue = [r for r in rows if int(r["ITEMNO_ACC"]) >= first_revenue and "AMT_BASE" not in r] or [
            r for r in rows if int(r["ITEMNO_ACC"]) >= first_revenue]  # a VAT adjustment has tax items only
        target = max(revenue, key=lambda r: abs(Decimal(r["AMT_DOCCUR"])))
        target["AMT_DOCCUR"] = str(Decimal(target["AMT_DOCCUR"]) - diff)
    return rows


def balances(document: dict[str, Any]) -> dict[tuple[str, str], Decimal]:
    """Sum of AMT_DOCCUR per (currency type, currency): all zero for a postable document."""
    out: dict[tuple[str, str], Decimal] = {}
    for row in document["CURRENCYAMOUNT"]:
        key = (row["CURR_TYPE"], row["CURRENCY_ISO"])
        out[key] = out.get(key, Decimal(0)) + Decimal(row["AMT_DOCCUR"])
    return out


def message_id(event: EventJson, config: SapConfig) -> str:
    """Deterministic SOAP message id: a retry is the same message (SAP dedupes message ids)."""
    session, _, _ = _session(event)
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"evbill:{event.get('tenant_id')}:{config.comp_code}:{session['id']}"))


def idempotency_key(event: EventJson, config: SapConfig | None = None) -> str:
    """One document per session and company code."""
    comp = config.comp_code if config else ""
    return f"sap_s4hana:{event.get('tenant_id', '')}:{comp}:{_session(event)[0]['id']}"


# ---------------------------------------------------------------- SOAP: Journal Entry - Post
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SFIN = "http://sap.com/xi/SAPSCORE/SFIN"
SOAP_ACTION = ("http://sap.com/xi/SAPSCORE/SFIN/JournalEntryCreateRequestConfirmation_In/"
               "JournalEntryCreateRequestConfirmation_InRequest")


def _iso(sap_date: str) -> str:
    return f"{sap_date[:4]}-{sap_date[4:6]}-{sap_date[6:]}"


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, tag, attrs)
    if text is not None:
        el.text = text
    return el


def _amounts(el: ET.Element, rows: dict[str, dict[str, Any]], item: str, base: bool = False) -> Decimal:
    """Transaction (00) and company-code (10) amounts of one item; returns the transaction amount."""
    doc = rows[DOC_CURRENCY]
    _sub(el, "AmountInTransactionCurrency", doc["AMT_DOCCUR"], currencyCode=doc["CURRENCY_ISO"])
    if LOCAL_CURRENCY in rows:
        loc = rows[LOCAL_CURRENCY]
        _sub(el, "AmountInCompanyCodeCurrency", loc["AMT_DOCCUR"], currencyCode=loc["CURRENCY_ISO"])
    if base:
        _sub(el, "TaxBaseAmountInTransCrcy", doc["AMT_BASE"], currencyCode=doc["CURRENCY_ISO"])
        if LOCAL_CURRENCY in rows:
            _sub(el, "TaxBaseAmountInCoCodeCrcy", rows[LOCAL_CURRENCY]["AMT_BASE"],
                 currencyCode=rows[LOCAL_CURRENCY]["CURRENCY_ISO"])
    amount = Decimal(doc["AMT_DOCCUR"])
    _sub(el, "DebitCreditCode", "S" if amount >= 0 else "H")
    return amount


def build_message(document: dict[str, Any], msg_id: str, config: SapConfig,
                  now: datetime | None = None) -> str:
    """``JournalEntryBulkCreateRequest`` (SOAP 1.1 envelope) carrying exactly the BAPI document."""
    ET.register_namespace("soapenv", SOAP_ENV)
    ET.register_namespace("sfin", SFIN)
    created = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    header = document["DOCUMENTHEADER"]
    rows: dict[str, dict[str, dict[str, Any]]] = {}
    for r in document["CURRENCYAMOUNT"]:
        rows.setdefault(r["ITEMNO_ACC"], {})[r["CURR_TYPE"]] = r
    env = ET.Element(f"{{{SOAP_ENV}}}Envelope")
    _sub(env, f"{{{SOAP_ENV}}}Header")
    bulk = _sub(_sub(env, f"{{{SOAP_ENV}}}Body"), f"{{{SFIN}}}JournalEntryBulkCreateRequest")
    mh = _sub(bulk, "MessageHeader")
    _sub(mh, "ID", msg_id.replace("-", "")[:35])
    _sub(mh, "CreationDateTime", created)
    req = _sub(bulk, "JournalEntryCreateRequest")
    rmh = _sub(req, "MessageHeader")
    _sub(rmh, "ID", msg_id.replace("-", "")[:35])
    _sub(rmh, "CreationDateTime", created)
    je = _sub(req, "JournalEntry")
    _sub(je, "OriginalReferenceDocumentType", "BKPFF")
    _sub(je, "OriginalReferenceDocument", header["REF_DOC_NO"])
    _sub(je, "OriginalReferenceDocumentLogicalSystem", config.logical_system)
    _sub(je, "BusinessTransactionType", header["BUS_ACT"])
    _sub(je, "AccountingDocumentType", header["DOC_TYPE"])
    _sub(je, "DocumentReferenceID", header["REF_DOC_NO"])
    _sub(je, "DocumentHeaderText", header["HEADER_TXT"])
    _sub(je, "CreatedByUser", header["USERNAME"])
    _sub(je, "CompanyCode", header["COMP_CODE"])
    _sub(je, "DocumentDate", _iso(header["DOC_DATE"]))
    _sub(je, "PostingDate", _iso(header["PSTNG_DATE"]))
    for gl in document["ACCOUNTGL"]:
        item = _sub(je, "Item")
        _sub(item, "ReferenceDocumentItem", str(int(gl["ITEMNO_ACC"])))
        _sub(item, "GLAccount", gl["GL_ACCOUNT"])
        _amounts(item, rows[gl["ITEMNO_ACC"]], gl["ITEMNO_ACC"])
        _sub(item, "DocumentItemText", gl["ITEM_TEXT"])
        _sub(item, "AssignmentReference", gl["ALLOC_NMBR"])
        if gl.get("PROFIT_CTR"):
            _sub(_sub(item, "AccountAssignment"), "ProfitCenter", gl["PROFIT_CTR"])
        if gl.get("TAX_CODE"):
            _sub(_sub(item, "Tax"), "TaxCode", gl["TAX_CODE"])
    for ar in document["ACCOUNTRECEIVABLE"]:
        item = _sub(je, "DebtorItem")
        _sub(item, "ReferenceDocumentItem", str(int(ar["ITEMNO_ACC"])))
        _sub(item, "Debtor", ar["CUSTOMER"])
        _amounts(item, rows[ar["ITEMNO_ACC"]], ar["ITEMNO_ACC"])
        _sub(item, "DocumentItemText", ar["ITEM_TEXT"])
        _sub(item, "AssignmentReference", ar["ALLOC_NMBR"])
    for tx in document["ACCOUNTTAX"]:
        item = _sub(je, "ProductTaxItem")
        _sub(item, "TaxCode", tx["TAX_CODE"])
        _sub(item, "TaxItemClassification", tx["ACCT_KEY"])
        _sub(item, "ConditionType", tx["COND_KEY"])
        _amounts(item, rows[tx["ITEMNO_ACC"]], tx["ITEMNO_ACC"], base=True)
    return '<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(env, encoding="unicode")


def parse_confirmation(text: str) -> dict[str, Any]:
    """AccountingDocument and the log of a ``JournalEntryBulkCreateConfirmation`` (severity 3 = error)."""
    from connector.platforms.errors import PermanentError

    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise PermanentError(f"SAP answer is not XML: {exc}") from exc
    doc = root.find(".//JournalEntryCreateConfirmation/JournalEntryCreateConfirmation/AccountingDocument")
    severity = root.findtext(".//Log/MaximumLogItemSeverityCode") or "1"
    notes = [n.text or "" for n in root.iterfind(".//Log/Item/Note")]
    number = doc.text if doc is not None else None
    if number in (None, "", "0000000000") and int(severity) < 3:
        severity, notes = "3", [*notes, "no AccountingDocument in the confirmation"]
    return {"document": number, "severity": int(severity), "notes": notes}


def _auth(config: SapConfig, http: Any) -> dict[str, Any]:
    if config.token_url and config.client_id and config.client_secret:
        from connector.platforms.oauth import shared_provider

        provider = shared_provider(config.token_url, config.client_id, config.client_secret)
        return {"headers": provider.authorization(http)}
    if config.username and config.password:
        return {"auth": (config.username, config.password)}
    raise MappingError("username/password", "required (or token_url/client_id/client_secret)")


def deliver(event: EventJson, config: SapConfig, ctx: DeliveryContext) -> dict[str, Any]:
    """Build, check the balance, send over the configured transport, read SAP's own result."""
    from connector.platforms.errors import PermanentError

    reason = skip_reason(event)
    if reason is not None:
        return {"status": "skipped", "reason": reason}
    try:
        document = build_document(event, config)
        url = config.json_url if config.transport == "json" else config.soap_url
        if not url:
            raise MappingError(f"{config.transport}_url", "required for this transport")
        auth = _auth(config, ctx.http)
    except MappingError as exc:
        raise PermanentError(str(exc)) from exc
    headers = dict(auth.pop("headers", {}))
    if config.transport == "json":
        resp = ctx.http.send("POST", url, json=document, headers={**headers, "Accept": "application/json",
                                                             "Idempotency-Key": idempotency_key(event, config)}, **auth)
        payload = resp.json()
        errors = [r for r in payload.get("RETURN") or [] if r.get("TYPE") in ("E", "A")]
        if errors:
            raise PermanentError("SAP: " + "; ".join(f"{r.get('ID')}/{r.get('NUMBER')} {r.get('MESSAGE')}" for r in errors))
        return {"status": "sent", "ref": payload.get("OBJ_KEY"), "duplicate": bool(payload.get("DUPLICATE"))}
    xml = build_message(document, message_id(event, config), config)
    resp = ctx.http.send("POST", url, data=xml.encode("utf-8"),
                     headers={**headers, "Content-Type": "text/xml; charset=utf-8", "SOAPAction": SOAP_ACTION}, **auth)
    result = parse_confirmation(resp.text)
    if result["severity"] >= 3:
        raise PermanentError("SAP: " + "; ".join(result["notes"]))
    return {"status": "sent", "ref": result["document"]}


Config = SapConfig
