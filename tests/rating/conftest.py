"""Helpers for core tests: reference data lives in ../shared (never copied into the repo)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from connector.models import Cdr, Tariff
from tests.paths import SHARED

VECTORS = SHARED / "ocpi" / "tandemdrive-v0.6.1" / "test_data"
SPEC_221 = SHARED / "ocpi" / "spec-examples" / "2.2.1"
SPEC_230 = SHARED / "ocpi" / "spec-examples" / "2.3.0"


def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def spec_tariff(name: str) -> Tariff:
    return Tariff.model_validate(load_json(SPEC_221 / f"{name}.json"))


def make_cdr(start: str, periods: list[tuple[int, dict[str, str]]], currency: str = "EUR",
             end_minutes: int | None = None) -> Cdr:
    """A CDR from (minutes after start, {dimension: volume}) pairs, as the spec examples describe."""
    t0 = datetime.fromisoformat(start)
    charging_periods = [
        {"start_date_time": (t0 + timedelta(minutes=m)).isoformat(),
         "dimensions": [{"type": k, "volume": v} for k, v in dims.items()]}
        for m, dims in periods
    ]
    if end_minutes is None:
        end_minutes = periods[-1][0] + 60
    return Cdr.model_validate({
        "id": "CDR1", "currency": currency, "start_date_time": t0.isoformat(),
        "end_date_time": (t0 + timedelta(minutes=end_minutes)).isoformat(),
        "charging_periods": charging_periods,
    })


def D(value: str) -> Decimal:
    return Decimal(value)


@pytest.fixture
def shared_dir() -> Path:
    if not SHARED.exists():
        pytest.fail(f"reference material missing: {SHARED} (CI has ../shared beside the checkout)")
    return SHARED
