"""Our raw charging Session: what a charger or network tells us, before periods are cut.

The rating engine cuts OCPI charging periods from it (see ``connector.rating.periods``).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from connector.models.common import AS_TEXT, MAX_HOURS, AwareDatetime, CurrencyCode, Kwh, Model, bounded
from connector.models.energy_profile import ZERO, EnergyProfile, first_decrease, session_profile
from connector.models.limits import (
    CUSTOMER_CLASS_MAX,
    CUSTOMER_ID_MAX,
    SESSION_ID_MAX,
    STATION_ID_MAX,
    TARIFF_ID_MAX,
    TENANT_ID_MAX,
)


def check_time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"'{value}' is not an IANA time zone (e.g. Europe/Berlin)") from exc
    return value


class MeterSample(Model):
    """A meter reading: cumulative kWh since session start, optionally instantaneous power/current.

    Also accepted as a list ``[timestamp, cumulative_kwh, power_kw?]``.
    """

    timestamp: AwareDatetime
    energy_kwh: Kwh
    power_kw: Annotated[Decimal, bounded(-MAX_HOURS, MAX_HOURS, "kW"), AS_TEXT] | None = None
    current_a: Annotated[Decimal, bounded(-MAX_HOURS, MAX_HOURS, "A"), AS_TEXT] | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_tuple(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            if not 2 <= len(value) <= 4:
                raise ValueError("a meter sample is [timestamp, cumulative_kwh, power_kw?, current_a?]")
            keys = ("timestamp", "energy_kwh", "power_kw", "current_a")
            return dict(zip(keys, value, strict=False))
        return value


class Session(Model):
    # lengths: connector.models.limits, the same constants as the sessions table's columns
    id: str = Field(min_length=1, max_length=SESSION_ID_MAX)
    tenant_id: str = Field(default="default", max_length=TENANT_ID_MAX)
    location_id: str | None = None
    station_id: str | None = Field(default=None, max_length=STATION_ID_MAX)
    evse_id: str | None = None
    time_zone: str = "UTC"
    customer_id: str | None = Field(default=None, max_length=CUSTOMER_ID_MAX)
    customer_class: str | None = Field(default=None, max_length=CUSTOMER_CLASS_MAX)
    start: AwareDatetime
    end: AwareDatetime | None = Field(default=None, description="None while the session is ongoing")
    energy_kwh: Kwh | None = Field(default=None, description="Total energy; optional when meter samples are given")
    charging_ended_at: AwareDatetime | None = Field(default=None, description="Idle (parking) time starts here")
    meter_samples: list[MeterSample] = Field(default_factory=list)
    currency: CurrencyCode | None = None
    tariff_id: str | None = Field(default=None, max_length=TARIFF_ID_MAX)
    # reservation before the session, priced by elements with a ``reservation`` restriction
    reservation_start: AwareDatetime | None = None
    reservation_expired: bool = False

    _check_tz = field_validator("time_zone")(classmethod(lambda cls, v: check_time_zone(v)))

    @field_validator("meter_samples")
    @classmethod
    def _cumulative(cls, samples: list[MeterSample]) -> list[MeterSample]:
        found = first_decrease([(s.timestamp, s.energy_kwh) for s in samples])
        if found is not None:
            index, before = found
            raise ValueError(f"[{index}].energy_kwh {samples[index].energy_kwh} is below the earlier reading "
                             f"{samples[before].energy_kwh}: cumulative readings must not go down")
        return samples

    @model_validator(mode="after")
    def _consistent(self) -> Session:
        if self.end is not None and self.end < self.start:
            raise ValueError("end: must not be before start")
        if self.charging_ended_at is not None:
            if self.charging_ended_at < self.start:
                raise ValueError("charging_ended_at: must not be before start")
            if self.end is not None and self.charging_ended_at > self.end:
                raise ValueError("charging_ended_at: must not be after end")
        delivered = max([self.energy_kwh or ZERO, *(s.energy_kwh for s in self.meter_samples)])
        if self.end is not None and self.end == self.start and delivered > 0:
            raise ValueError(f"energy_kwh: {delivered} kWh in a session of zero length (end == start): "
                             "energy needs charging time")
        if (self.charging_ended_at is not None and self.charging_ended_at == self.start and not self.meter_samples
                and delivered > 0):
            raise ValueError(f"charging_ended_at: equals start, but {delivered} kWh were delivered: "
                             "energy needs charging time")
        if self.reservation_start is not None and self.reservation_start > self.start:
            raise ValueError("reservation_start: must not be after start")
        if self.end is not None and self.energy_kwh is not None and self.meter_samples:
            last = max(self.meter_samples, key=lambda s: s.timestamp)
            if self.energy_kwh < last.energy_kwh:
                raise ValueError(f"energy_kwh: {self.energy_kwh} is below the last meter reading "
                                 f"{last.energy_kwh}: cumulative readings must not go down")
        previous: MeterSample | None = None
        for index, sample in enumerate(self.meter_samples):
            if previous is not None and sample.timestamp < previous.timestamp:
                raise ValueError(f"meter_samples[{index}].timestamp: samples must be in time order")
            previous = sample
        return self

    def total_energy(self, until: datetime | None = None) -> Decimal:
        """Energy delivered by ``until`` (default: session end), from samples or the total."""
        end = until or self.end
        if end is None:
            raise ValueError("end: an ongoing session needs an instant to measure up to")
        return self.energy_profile(end).energy_at(end)

    def energy_profile(self, until: datetime) -> EnergyProfile:
        """Cumulative kWh over time, from the meter samples or spread over the charging time."""
        samples = [(s.timestamp, s.energy_kwh, s.power_kw, s.current_a) for s in self.meter_samples]
        return session_profile(self.start, self.end, self.charging_ended_at, self.energy_kwh, samples, until)
