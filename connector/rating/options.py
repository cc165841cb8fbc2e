"""Options of one rating call. Everything that changes a price is explicit here (no globals, no clock)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from connector.models.customer import Adjustment
from connector.money import RoundingPolicy


class StepSizePolicy(StrEnum):
    """``ocpi_2_3_0`` (default): once per ENERGY and once per TIME+PARKING on the session total, parking
    alone when parking was priced, delta billed in the last period (OCPI 2.3.0 / reference engine).
    ``exact``: ignore step_size, bill measured quantities (the OCPI 3.0 direction)."""

    OCPI_2_3_0 = "ocpi_2_3_0"
    EXACT = "exact"


class TariffSwitchPolicy(StrEnum):
    """Which tariff prices a session when a new version becomes effective while it runs.

    ``price_lock_at_start`` (default, consumer-law norm): the tariff valid at session start for the
    whole session. ``apply_from_effective_time``: the session is split at the effective time and each
    part is priced with the tariff valid then (FLAT once, caps on the whole)."""

    PRICE_LOCK_AT_START = "price_lock_at_start"
    APPLY_FROM_EFFECTIVE_TIME = "apply_from_effective_time"


@dataclass(frozen=True, slots=True)
class RatingLimits:
    """Bounds checked before any rating work (a charger with a reset clock reports 1970): a session or
    CDR longer than ``max_session_days`` (reservation included) or cut into more than ``max_periods``
    periods is refused. Faces take both from the configuration (EVBILL_MAX_SESSION_DAYS,
    EVBILL_MAX_RATING_PERIODS)."""

    max_session_days: int = 62
    max_periods: int = 50_000


@dataclass(frozen=True, slots=True)
class RatingOptions:
    time_zone: str | None = None  # overrides the session's / CDR location's zone
    customer_class: str | None = None  # overrides the session's / customer's class
    rounding: RoundingPolicy = RoundingPolicy.LINE_HALF_UP
    step_size: StepSizePolicy = StepSizePolicy.OCPI_2_3_0
    tariff_switch: TariffSwitchPolicy = TariffSwitchPolicy.PRICE_LOCK_AT_START
    as_of: datetime | None = None  # interim cost: rate an ongoing session up to this instant
    adjustments: tuple[Adjustment, ...] = field(default_factory=tuple)
    limits: RatingLimits = field(default_factory=RatingLimits)

    def __post_init__(self) -> None:
        """A policy given by its value (``"apply_from_effective_time"``) means that policy: the engine
        compares members by identity, so a plain string would silently mean the default (and compiled
        code refuses it); an unknown value is a ValueError here rather than a default later."""
        for name, kind in (("rounding", RoundingPolicy), ("step_size", StepSizePolicy),
                           ("tariff_switch", TariffSwitchPolicy)):
            value = getattr(self, name)
            if type(value) is not kind:
                object.__setattr__(self, name, kind(value))
