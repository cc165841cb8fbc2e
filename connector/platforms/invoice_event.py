"""Reading our Invoice JSON out of an event, shared by the finance adapters (one parser, not one per vendor).

Invoice JSON money is a decimal string with exactly the currency's minor-unit digits ("10.71" EUR,
"1372" JPY, "1.234" KWD; docs/architecture.md). Vendors that want integer minor units get them from
``minor``; more decimals than the currency has, floats or other text are refused with the field named,
never rounded.
"""

from __future__ import annotations

import hashlib
import re
from decimal import Decimal
from typing import Any, Literal

from connector.models.documents import EventJson, InvoiceJson, InvoiceLineJson
from connector.money import to_minor

Operation = Literal["invoice", "void", "credit_note"]
ISSUED = frozenset({"finalized", "paid"})  # an invoice or credit note that left the draft state
MONEY_TEXT = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def major(value: Any, currency: str, field: str) -> Decimal:
    """``"10.71"`` → ``Decimal("10.71")``, checked against the currency's minor units."""
    text = value.strip() if isinstance(value, str) else str(value) if type(value) is int else ""
    if not MONEY_TEXT.fullmatch(text):
        raise ValueError(f"{field}: expected a decimal amount, got {value!r}")
    minor(text, currency, field)  # refuses more decimals than the currency has
    return Decimal(text)


def minor(value: Any, currency: str, field: str) -> int:
    """``"10.71"`` EUR → 1071, ``"1372"`` JPY → 1372."""
    text = value.strip() if isinstance(value, str) else str(value) if type(value) is int else ""
    if not MONEY_TEXT.fullmatch(text):
        raise ValueError(f"{field}: expected a decimal amount, got {value!r}")
    try:
        return to_minor(text, currency)
    except ValueError as exc:
        raise ValueError(f"{field}: {text} has more decimals than {currency} allows") from exc


def invoice_of(event: EventJson) -> InvoiceJson:
    """The event's ``data.invoice`` (``ValueError`` naming the field when it is missing)."""
    invoice = (event.get("data") or {}).get("invoice")
    if not isinstance(invoice, dict):
        raise ValueError("data.invoice: required")
    return invoice


def unsendable(event: EventJson, vendor: str, sendable: frozenset[str], credit_notes: str | None) -> str | None:
    """Why an invoice event is not sent to ``vendor`` (no invoice, a credit note the adapter leaves out, a
    status not in ``sendable``), or None when it is."""
    invoice = (event.get("data") or {}).get("invoice")
    if not isinstance(invoice, dict):
        return "event carries no invoice"
    if credit_notes is not None and invoice.get("kind") == "credit_note":
        return credit_notes
    if invoice.get("status") not in sendable:
        return f"invoice {invoice.get('id')} is {invoice.get('status')}; it goes to {vendor} when finalized"
    return None


def bounded_key(key: str, limit: int) -> str:
    """``key`` itself when it fits the vendor's limit, else a prefix + its SHA-256: two long keys that share
    their first ``limit`` characters (an invoice's creation and its void) never become one."""
    if len(key) <= limit:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()
    return f"{key[:limit - len(digest) - 1]}~{digest}"


def operation(event: EventJson) -> Operation:
    """Which vendor call an invoice event stands for: creating the invoice, voiding it, or a credit note."""
    kind = event.get("type")
    return "void" if kind == "invoice.voided" else "credit_note" if kind == "credit_note.issued" else "invoice"


def correction_skip(event: EventJson, vendor: str, *, voided_drafts: bool = False) -> str | None:
    """Why an ``invoice.voided`` / ``credit_note.issued`` event needs nothing at ``vendor`` (None: it does).

    One reading for every adapter that follows corrections: a void concerns an invoice (not a credit note)
    whose status is void, and one voided as a draft never reached a vendor that is sent finalized invoices
    (``voided_drafts=True`` for a vendor that already holds drafts' sessions, Zoho Books); a credit note
    must be issued. The credited invoice (``credit_note_of``) is each mapping's to require."""
    invoice = (event.get("data") or {}).get("invoice")
    if not isinstance(invoice, dict):
        return "event carries no invoice"
    ident, status = invoice.get("id"), invoice.get("status")
    if operation(event) == "void":
        if invoice.get("kind") == "credit_note":
            return f"{ident} is a credit note; {vendor} voids invoices only"
        if status != "void":
            return f"invoice {ident} is {status}, not void"
        if not voided_drafts and not invoice.get("number"):
            return (f"invoice {ident} was voided while a draft (no number): it was never sent to {vendor}, "
                    "so there is nothing to void")
        return None
    if invoice.get("kind") != "credit_note":
        return f"credit_note.issued carries {ident} of kind {invoice.get('kind')!r}, not a credit note"
    if status not in ISSUED:
        return f"credit note {ident} is {status}; it goes to {vendor} when issued"
    return None


def delivery_key(name: str, event: EventJson, skipped: bool, key: str, limit: int) -> str:
    """The adapter's idempotency key; an event the adapter skips gets a key of its own, so it never stands
    for the invoice's delivery when the worker dedupes on equal keys."""
    if skipped:
        return bounded_key(f"{name}:skip:{event.get('tenant_id', '')}:{event.get('id')}", limit)
    return bounded_key(key, limit)


def event_lines(event: EventJson) -> list[InvoiceLineJson]:
    """The lines an event carries: ``session.billed`` carries the billed session's own lines in ``data.lines``
    (its ``data.invoice`` is a summary: totals, status, no lines); the other invoice events carry the whole
    invoice, lines included. Events stored before the summary carry the whole draft in ``data.invoice``."""
    data = event.get("data") or {}
    lines = data.get("lines")
    if isinstance(lines, list):
        return lines
    invoice = data.get("invoice")
    return list(invoice.get("lines") or []) if isinstance(invoice, dict) else []


def session_lines(event: EventJson) -> tuple[dict[str, Any], InvoiceJson, list[InvoiceLineJson]]:
    """(the billed session with its id, the invoice, the invoice lines of that session) of a
    ``session.billed`` event: a draft invoice may hold other sessions' lines too."""
    from connector.platforms.errors import MappingError

    data = event.get("data") or {}
    session = data.get("session") or {}
    invoice = data.get("invoice")
    if not isinstance(invoice, dict):
        raise MappingError("data.invoice", "required")
    rating = data.get("rating")
    sid = session.get("id") or (rating.get("session_id") if rating else None)
    if not sid:
        raise MappingError("data.session.id", "required")
    lines = [ln for ln in event_lines(event) if ln.get("session_id") in (None, sid)]
    if not lines:
        raise MappingError("data.lines", f"no line for session {sid}")
    return {**session, "id": str(sid)}, invoice, lines


def rebilling(event: EventJson) -> str:
    """``""`` for a session's first ``session.billed``; for the one a correction emits after crediting the old
    lines, a suffix naming that credit note (``"~CN-000001"``), so per-session vendor documents and keys of the
    new charge never collide with the original's."""
    correction = (event.get("data") or {}).get("correction")
    if not isinstance(correction, dict):
        return ""
    return f"~{correction.get('credit_note_number') or correction.get('credit_note_id')}"


def line_description(line: InvoiceLineJson) -> str:
    """What a vendor shows under an invoice item: ``"12.5 kWh, session S-1, station ST-1"``."""
    parts = []
    if line.get("unit") and line.get("quantity") not in (None, ""):
        parts.append(f"{line['quantity']} {line['unit']}")
    if line.get("session_id"):
        parts.append(f"session {line['session_id']}")
    if line.get("station_id"):
        parts.append(f"station {line['station_id']}")
    return ", ".join(parts)
