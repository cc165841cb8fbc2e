"""Tariff update → re-rating: open sessions follow the publication policy; closed ones only by correction.

Why "before" is rebuilt rather than read: publishing closes the previous version at the effective time
(``repo.publish_version``), so the before-rating is the same ``rate()`` call over the versions older than
the new one with that closing undone, at the same instant as the after-rating — the difference is then
only the tariff change, never elapsed time.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session as DbSession

from connector.billing.pricing.inputs import BatchCache, inputs_for, rate_row
from connector.billing.pricing.interim import session_json
from connector.events.outbox import emit
from connector.models import Tariff
from connector.models.documents import DifferenceJson, RatedSessionJson
from connector.models.session_event import IngestError
from connector.money import money_str
from connector.rating import RatingError, TariffSwitchPolicy
from connector.storage import repo
from connector.storage.tables.adjustments import SessionRerateRow, TariffRerateRunRow
from connector.storage.tables.core import SessionRow, TariffVersionRow
from connector.validation import FieldError, NotFound

OPEN_STATUSES = ("active", "ended")  # not billed yet: their bill is still to be made


class RerateError(FieldError):
    """Refused input: ``field`` and ``reason`` (see ``connector.validation.FieldError``)."""


def _before_versions(versions: list[TariffVersionRow], version_no: int, effective: datetime | None
                     ) -> list[TariffVersionRow]:
    """The versions as they were before ``version_no`` was published (its closing of the previous one undone)."""
    out = []
    for v in versions:
        if v.version_no >= version_no:
            continue
        if effective is not None and repo.aware(v.end_at) == effective:
            doc = Tariff.model_validate_json(v.document).model_copy(update={"end_date_time": None})
            v = TariffVersionRow(tenant_id=v.tenant_id, tariff_id=v.tariff_id, version_no=v.version_no,
                                 effective_at=v.effective_at, end_at=None, policy=v.policy,
                                 document=repo.tariff_json(doc))
        out.append(v)
    return out


def _money(rating: RatedSessionJson, key: Literal["net_total", "gross_total"]) -> Decimal:
    return Decimal(str(rating["invoice"][key]))


def _difference(before: RatedSessionJson, after: RatedSessionJson) -> DifferenceJson:
    """after - before, with exactly the currency's digits ("0.00" when unchanged)."""
    cur = after["invoice"]["currency"]
    return {"net": money_str(_money(after, "net_total") - _money(before, "net_total"), cur),
            "gross": money_str(_money(after, "gross_total") - _money(before, "gross_total"), cur)}


def _record(db: DbSession, tenant_id: str, row: SessionRow, policy: str, outcome: str, before: RatedSessionJson | None,
            after: RatedSessionJson | None, diff: DifferenceJson, version_no: int | None = None,
            reason: str | None = None) -> None:
    db.add(SessionRerateRow(tenant_id=tenant_id, session_id=row.session_id, tariff_id=row.tariff_id,
                            version_no=version_no, policy=policy, outcome=outcome, reason=reason, before=before,
                            after=after, difference_net=diff["net"], difference_gross=diff["gross"]))
    db.flush()


def on_tariff_published(db: DbSession, tenant_id: str, tariff_id: str, version_no: int, policy: str,
                        as_of: datetime | None = None) -> dict[str, Any]:
    """Re-rate every open session of the tariff under ``policy``; record all, emit ``session.rerated`` for
    those whose rating changed. Ongoing sessions are rated up to ``as_of`` (default: now)."""
    try:
        switch = TariffSwitchPolicy(policy)
    except ValueError as exc:
        raise RerateError("policy", "one of: price_lock_at_start, apply_from_effective_time") from exc
    versions = repo.tariff_versions(db, tenant_id, tariff_id)
    new = next((v for v in versions if v.version_no == version_no), None)
    if new is None:
        raise NotFound(f"tariff '{tariff_id}' has no version {version_no}")
    if new.policy and new.policy != switch.value:
        raise RerateError("policy", f"version {version_no} was published with {new.policy}; interim and final "
                                    "bills follow that policy, so re-rating must too")
    effective = repo.aware(new.effective_at)
    before_versions = _before_versions(versions, version_no, effective)
    now = as_of or datetime.now(UTC)
    rows = db.scalars(select(SessionRow).where(
        SessionRow.tenant_id == tenant_id, SessionRow.tariff_id == tariff_id, SessionRow.status.in_(OPEN_STATUSES)
    ).order_by(SessionRow.start_at, SessionRow.session_id).with_for_update()).all()
    results: list[dict[str, Any]] = []
    cache = BatchCache.load(db, tenant_id, list(rows))
    for row in rows:
        at = None if row.end_at is not None else max(now, repo.aware(row.start_at) or now)
        try:
            with db.no_autoflush:
                before = (inputs_for(db, tenant_id, row, at, before_versions, cache).rate().to_dict()
                          if before_versions else None)
                after = inputs_for(db, tenant_id, row, at, versions, cache).rate().to_dict()
        except (RatingError, IngestError) as exc:
            results.append({"session_id": row.session_id, "outcome": "error",
                            "error": {"field": exc.field, "reason": exc.reason}})
            continue
        if before is None:
            zero = money_str(Decimal(0), after["invoice"]["currency"])
            diff: DifferenceJson = {"net": zero, "gross": zero}
            outcome = "changed"
        else:
            diff = _difference(before, after)
            # what the customer pays decides: a new version that only re-cuts the periods at the same
            # price (a 0.00 difference) changes no bill, so it is "unchanged" and emits no event
            outcome = "unchanged" if Decimal(diff["net"]) == 0 and Decimal(diff["gross"]) == 0 else "changed"
        _record(db, tenant_id, row, switch.value, outcome, before, after, diff, version_no)
        item: dict[str, Any] = {"session_id": row.session_id, "outcome": outcome, "difference": diff,
                                "as_of": None if at is None else at.isoformat()}
        if outcome == "changed":
            event = emit(db, tenant_id, "session.rerated", {"session": session_json(row), "policy": switch.value,
                                                             "before": before, "after": after, "difference": diff})
            item["event_id"] = event["id"]
        results.append(item)
    db.add(TariffRerateRunRow(tenant_id=tenant_id, tariff_id=tariff_id, version_no=version_no, as_of=now))
    db.flush()
    return {"tariff_id": tariff_id, "version_no": version_no, "policy": switch.value,
            "effective_at": None if effective is None else effective.isoformat(),
            "changed": sum(1 for r in results if r["outcome"] == "changed"),
            "unchanged": sum(1 for r in results if r["outcome"] == "unchanged"),
            "errors": sum(1 for r in results if r["outcome"] == "error"), "sessions": results}


def due_versions(db: DbSession, now: datetime) -> list[tuple[str, str, int]]:
    """(tenant, tariff, version) of split-policy versions that became effective after their last re-rating
    run: published ahead of time, their effect on running sessions starts only now."""
    last = select(TariffRerateRunRow.tenant_id, TariffRerateRunRow.tariff_id, TariffRerateRunRow.version_no,
                  func.max(TariffRerateRunRow.as_of).label("as_of")).group_by(
        TariffRerateRunRow.tenant_id, TariffRerateRunRow.tariff_id, TariffRerateRunRow.version_no).subquery()
    rows = db.execute(select(TariffVersionRow.tenant_id, TariffVersionRow.tariff_id, TariffVersionRow.version_no,
                             TariffVersionRow.effective_at, last.c.as_of).outerjoin(last, and_(
        last.c.tenant_id == TariffVersionRow.tenant_id, last.c.tariff_id == TariffVersionRow.tariff_id,
        last.c.version_no == TariffVersionRow.version_no)).where(
        TariffVersionRow.policy == TariffSwitchPolicy.APPLY_FROM_EFFECTIVE_TIME.value,
        TariffVersionRow.effective_at.is_not(None), TariffVersionRow.effective_at <= now))
    due = []
    for tenant_id, tariff_id, version_no, effective, ran in rows:
        if ran is not None and repo.aware(ran) >= repo.aware(effective):
            continue
        due.append((str(tenant_id), str(tariff_id), int(version_no)))
    return sorted(due)


def published_policy(db: DbSession, tenant_id: str, tariff_id: str, version_no: int) -> str:
    """The policy a version was published with (re-running its re-rating uses the same)."""
    row = next((v for v in repo.tariff_versions(db, tenant_id, tariff_id) if v.version_no == version_no), None)
    if row is None:
        raise NotFound(f"tariff '{tariff_id}' has no version {version_no}")
    return row.policy or TariffSwitchPolicy.PRICE_LOCK_AT_START.value


def rerate_closed(db: DbSession, tenant_id: str, session_ids: list[str], reason: str) -> dict[str, Any]:
    """Explicit correction of billed sessions: re-rate with today's versions and, where the bill differs,
    ``invoicing.sessions.correct_session`` issues the credit note and new lines (never a silent edit)."""
    from connector.billing.invoicing import sessions as service

    if not reason or not reason.strip():
        raise RerateError("reason", "required: why the billed sessions are corrected")
    if not session_ids:
        raise RerateError("session_ids", "give at least one session id")
    results: list[dict[str, Any]] = []
    for session_id in session_ids:
        row = repo.get_session_row(db, tenant_id, session_id, lock=True)
        if row is None:
            raise NotFound(f"session '{session_id}' does not exist")
        if row.status != "billed" or row.rating is None:
            raise RerateError("session_ids", f"session '{session_id}' is not billed; open sessions are "
                                             "re-rated when a tariff version is published")
        before = row.rating.copy()
        try:
            after = rate_row(db, tenant_id, row).to_dict()
        except (RatingError, IngestError) as exc:
            raise RerateError(f"session_ids[{session_id}].{exc.field}", exc.reason) from exc
        diff = _difference(before, after)
        if before.get("invoice") == after.get("invoice"):
            _record(db, tenant_id, row, "correction", "unchanged", before, after, diff, reason=reason)
            results.append({"session_id": session_id, "outcome": "unchanged", "difference": diff})
            continue
        correction = service.correct_session(db, tenant_id, session_id, after, reason)
        _record(db, tenant_id, row, "correction", "corrected", before, after, diff, reason=reason)
        emit(db, tenant_id, "session.rerated", {"session": session_json(row), "policy": "correction",
                                                "before": before, "after": after, "difference": diff})
        results.append({"session_id": session_id, "outcome": "corrected", "difference": diff,
                        "correction": correction})
    return {"reason": reason, "sessions": results}


def history(db: DbSession, tenant_id: str, session_id: str) -> list[dict[str, Any]]:
    """Every recorded re-rating of a session, oldest first."""
    rows = db.scalars(select(SessionRerateRow).where(
        SessionRerateRow.tenant_id == tenant_id, SessionRerateRow.session_id == session_id
    ).order_by(SessionRerateRow.id))
    return [{"session_id": r.session_id, "tariff_id": r.tariff_id, "version_no": r.version_no, "policy": r.policy,
             "outcome": r.outcome, "reason": r.reason, "difference": {"net": r.difference_net,
                                                                      "gross": r.difference_gross},
             "before": r.before, "after": r.after} for r in rows]
