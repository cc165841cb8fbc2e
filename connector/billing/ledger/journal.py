"""The append-only double-entry journal: every financial fact is one balanced entry.

``post_entry`` refuses an unbalanced or empty entry before anything is written (and the rows refuse
UPDATE/DELETE, see ``tables``); corrections are reversing entries (``reverse_entry``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from connector.models.documents import JournalEntryJson
from connector.money import major_str
from connector.storage import inserts
from connector.storage.repo import aware
from connector.storage.tables.billing import JournalEntryRow, JournalLineRow
from connector.validation import FieldError


class UnbalancedEntry(FieldError):
    def __init__(self, reason: str) -> None:
        super().__init__("lines", reason)


Posting = tuple[str, int, str]  # (account, signed minor units: + debit / - credit, description)


def _lines(postings: Iterable[Posting]) -> list[tuple[str, int, int, str]]:
    """Merge postings per (account, description); a signed sum becomes a debit or a credit line."""
    merged: dict[tuple[str, str], int] = {}
    for account, amount, description in postings:
        if not isinstance(amount, int):
            raise UnbalancedEntry(f"amount for {account} must be integer minor units")
        merged[(account, description)] = merged.get((account, description), 0) + amount
    return [(acc, max(v, 0), max(-v, 0), desc) for (acc, desc), v in merged.items() if v != 0]


def post_entry(db: DbSession, tenant_id: str, *, currency: str, memo: str, reference: str | None,
               source: str, postings: Iterable[Posting], date: datetime | None = None,
               reverses: str | None = None) -> JournalEntryJson | None:
    """Insert one balanced entry; returns its JSON, or None when every posting nets to zero."""
    lines = _lines(postings)
    if not lines:
        return None
    debits, credits = sum(line[1] for line in lines), sum(line[2] for line in lines)
    if debits != credits:
        raise UnbalancedEntry(f"debits {debits} != credits {credits} ({memo})")
    entry = JournalEntryRow(tenant_id=tenant_id, entry_id="je_" + uuid.uuid4().hex, date=date or datetime.now(UTC),
                            currency=currency, memo=memo[:300], reference=reference, source=source,
                            reverses=reverses)
    rows = [JournalLineRow(tenant_id=tenant_id, entry_id=entry.entry_id, line_no=i + 1, account=acc, debit=dr,
                           credit=cr, description=desc[:300]) for i, (acc, dr, cr, desc) in enumerate(lines)]
    _insert(db, entry, rows)
    return entry_json(entry, rows)


_ENTRY_COLUMNS = ("tenant_id", "entry_id", "date", "currency", "memo", "reference", "source", "reverses")
_LINE_COLUMNS = ("tenant_id", "entry_id", "line_no", "account", "debit", "credit", "description")


def _insert(db: DbSession, entry: JournalEntryRow, lines: list[JournalLineRow]) -> None:
    """The entry and its lines as two Core ``INSERT`` statements (the lines in one), not an ORM unit of work:
    journal rows are never updated, so nothing needs them in the session. ``entry`` and ``lines`` stay
    transient objects for the JSON answer; ``created_at`` takes its column default, as with the ORM. Pending
    ORM changes are flushed first, as the unit of work did."""
    inserts.insert_rows(db, JournalEntryRow, [inserts.values_of(entry, _ENTRY_COLUMNS)])
    inserts.insert_rows(db, JournalLineRow, [inserts.values_of(ln, _LINE_COLUMNS) for ln in lines])


def entry_json(entry: JournalEntryRow, lines: list[JournalLineRow]) -> JournalEntryJson:
    """The pinned ``JournalEntry`` JSON (amounts as decimal strings with the currency's minor-unit digits)."""
    return {
        "id": entry.entry_id, "tenant_id": entry.tenant_id, "date": aware(entry.date).isoformat(),
        "currency": entry.currency, "memo": entry.memo, "reference": entry.reference, "source": entry.source,
        "reverses": entry.reverses,
        "lines": [{"account": ln.account, "debit": major_str(ln.debit, entry.currency),
                   "credit": major_str(ln.credit, entry.currency),
                   "description": ln.description} for ln in sorted(lines, key=lambda x: x.line_no)],
    }


def entries_for(db: DbSession, tenant_id: str, reference: str) -> list[JournalEntryRow]:
    return list(db.scalars(select(JournalEntryRow).where(
        JournalEntryRow.tenant_id == tenant_id, JournalEntryRow.reference == reference)))


def lines_of(db: DbSession, tenant_id: str, entry_ids: list[str]) -> dict[str, list[JournalLineRow]]:
    out: dict[str, list[JournalLineRow]] = {e: [] for e in entry_ids}
    if entry_ids:
        for line in db.scalars(select(JournalLineRow).where(
                JournalLineRow.tenant_id == tenant_id, JournalLineRow.entry_id.in_(entry_ids))):
            out[line.entry_id].append(line)
    return out


def list_entries(db: DbSession, tenant_id: str, *, reference: str | None = None, source: str | None = None,
                 account: str | None = None, currency: str | None = None, since: datetime | None = None,
                 until: datetime | None = None, limit: int = 100) -> list[JournalEntryJson]:
    """Entries newest first, filtered; each with its lines."""
    query = select(JournalEntryRow).where(JournalEntryRow.tenant_id == tenant_id)
    if reference:
        query = query.where(JournalEntryRow.reference == reference)
    if source:
        query = query.where(JournalEntryRow.source == source)
    if currency:
        query = query.where(JournalEntryRow.currency == currency)
    if since:
        query = query.where(JournalEntryRow.date >= since)
    if until:
        query = query.where(JournalEntryRow.date < until)
    if account:
        query = query.where(JournalEntryRow.entry_id.in_(select(JournalLineRow.entry_id).where(
            JournalLineRow.tenant_id == tenant_id, JournalLineRow.account == account)))
    entries = list(db.scalars(query.order_by(JournalEntryRow.created_at.desc(), JournalEntryRow.entry_id)
                              .limit(limit)))
    lines = lines_of(db, tenant_id, [e.entry_id for e in entries])
    return [entry_json(e, lines[e.entry_id]) for e in entries]


def reversal_postings(lines: Iterable[JournalLineRow]) -> list[Posting]:
    """The postings that undo ``lines`` (debits become credits)."""
    return [(ln.account, ln.credit - ln.debit, ln.description) for ln in lines]
