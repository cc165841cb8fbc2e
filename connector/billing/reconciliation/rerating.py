"""Re-rating for reconciliation in chunks, in this process or in a pool of worker processes.

Why a module of its own: a worker process must rate without a database, so everything a rating needs is
shipped to it as plain data (tariff version documents once per worker; per session its document, customer
and adjustments). The inputs are the billing's own (``connector.billing.pricing.inputs``): the tariff
versions a session may use under its switch policy, its customer and the adjustments engine's list, so
"expected" is what billing would charge today with the stored tariff versions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from connector.models import Customer, Tariff
from connector.models.customer import Adjustment
from connector.models.session_event import IngestError
from connector.models.session_merge import to_session
from connector.money import round_money
from connector.rating import RatedSession, RatingError, RatingOptions, TariffSwitchPolicy, rate
from connector.storage import repo


@dataclass(frozen=True, slots=True)
class VersionData:
    """The fields of a ``TariffVersionRow`` that choosing candidate versions reads (picklable)."""

    version_no: int
    effective_at: datetime | None
    policy: str | None
    document: str


@dataclass(slots=True)
class RateItem:
    """One session to re-rate: its stored document, customer and adjustments (all picklable)."""

    session_id: str
    document: dict[str, Any]
    tariff_id: str | None
    customer: Customer | None
    adjustments: tuple[Adjustment, ...]


@dataclass(slots=True)
class Rated:
    """The re-rating outcome: ``amount`` (amount due, minor-unit exact) or ``error`` (field, reason)."""

    session_id: str
    currency: str | None
    customer_class: str | None
    amount: Decimal | None
    energy: Decimal | None
    error: tuple[str, str] | None


_VERSIONS: dict[str, list[VersionData]] = {}
# per tariff id: (the latest effective time of a version after the first, every version newest first): a
# session that starts at or after that time has no version published mid-session, so ``versions_for``
# gives it every version under price lock; kept per run (``init_worker`` clears it)
_SETTLED: dict[str, tuple[datetime | None, list[Tariff]]] = {}
_OPTIONS = {policy: RatingOptions(tariff_switch=policy) for policy in TariffSwitchPolicy}


def init_worker(versions: dict[str, list[VersionData]]) -> None:
    """Pool initializer (and in-process setup): the tenant's tariff versions, shipped once."""
    _VERSIONS.clear()
    _VERSIONS.update(versions)
    _SETTLED.clear()


@lru_cache(maxsize=4096)
def _tariff(document: str) -> Tariff:
    return Tariff.model_validate_json(document)


def _candidates(session: Any, versions: list[VersionData], tariff_id: str | None = None
                ) -> tuple[list[Tariff], TariffSwitchPolicy]:
    """The versions and switch policy billing uses for this session (``pricing.inputs.versions_for``); with
    ``tariff_id``, the answer for sessions that start after the tariff's last change is worked out once."""
    from connector.billing.pricing.inputs import versions_for

    if tariff_id is not None:
        settled = _SETTLED.get(tariff_id)
        if settled is None:
            changes = [v.effective_at for v in versions if v.version_no > 1 and v.effective_at is not None]
            newest_first = sorted(versions, key=lambda v: v.version_no, reverse=True)
            settled = _SETTLED[tariff_id] = (max(changes) if changes else None,
                                             [repo._parsed_tariff(v.document) for v in newest_first])
        latest, tariffs = settled
        if latest is None or session.start >= latest:
            return tariffs, TariffSwitchPolicy.PRICE_LOCK_AT_START
    return versions_for(session, versions, session.end)  # type: ignore[arg-type]


def rate_one(item: RateItem) -> Rated:
    """Re-rate one ended session with the rating core; a refusal or any failure of this one session becomes
    ``error`` (never raises), reported as a ``rating_failure`` exception while the run goes on."""
    try:
        session = to_session(item.document)
    except IngestError as exc:
        return Rated(item.session_id, None, None, None, None, (exc.field, exc.reason))
    tariff_id = session.tariff_id or item.tariff_id
    versions = _VERSIONS.get(tariff_id or "")
    if not tariff_id or not versions:
        reason = "required to price the session" if not tariff_id else f"tariff '{tariff_id}' does not exist"
        return Rated(item.session_id, None, None, None, None, ("session.tariff_id", reason))
    try:
        tariffs, policy = _candidates(session, versions, tariff_id)
        options = RatingOptions(tariff_switch=policy, adjustments=item.adjustments) if item.adjustments \
            else _OPTIONS[policy]
        result = rate(session, tariffs, item.customer, options)
        return Rated(item.session_id, result.currency, result.customer_class,
                     amount_due(result, tariffs, item.customer, options), result.total_energy, None)
    except RatingError as exc:
        return Rated(item.session_id, None, None, None, None, (exc.field, exc.reason))
    except ValueError as exc:  # e.g. an adjustment the core refuses: reported, never a crash
        return Rated(item.session_id, None, None, None, None, ("session", str(exc)))
    except Exception as exc:  # noqa: BLE001 - e.g. a value too large to compute: this session only
        return Rated(item.session_id, None, None, None, None,
                     ("session", f"could not be rated ({type(exc).__name__})"))


def amount_due(result: RatedSession, tariffs: list[Tariff], customer: Customer | None,
               options: RatingOptions) -> Decimal:
    """The invoice's amount due, without building the invoice when it is known in advance: with VAT per
    component (no named taxes, no tax exemption) and no adjustments, the invoice bills the OCPI gross total
    rounded once to the currency (``RoundingPolicy``); otherwise (and for a session with no priced line,
    whose invoice has no line to sum) the invoice is built."""
    if not result.lines or options.adjustments or (customer is not None and customer.tax_exempt) or any(t.x_taxes for t in tariffs):
        return result.invoice.amount_due
    return round_money(result.total_cost.incl_vat, result.currency, options.rounding)


def rate_chunk(items: list[RateItem]) -> list[Rated]:
    """The unit of work of a pool worker."""
    return [rate_one(item) for item in items]
