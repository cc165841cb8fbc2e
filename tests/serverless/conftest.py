"""Serverless tests: vendor envelopes from ../shared/vendor-specs/examples, local servers only."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from connector.models import Tariff
from connector.serverless.runtime import set_sink
from tests.paths import VENDOR_SPECS

# 0.30 EUR/kWh + 19 % VAT: 18.2 kWh → 5.46 net, 1.04 VAT, 6.50 due
FLAT_TARIFF: dict[str, Any] = {
    "id": "STD", "currency": "EUR", "country_code": "DE", "party_id": "EVB", "last_updated": "2026-01-01T00:00:00Z",
    "elements": [{"price_components": [{"type": "ENERGY", "price": "0.30", "vat": 19, "step_size": 1}]}],
}

CLOSED_SESSION = {"session_id": "S-123", "start": "2026-11-24T10:00:00Z", "end": "2026-11-24T10:30:00Z",
                  "kwh": 18.2, "station_id": "CP-9", "currency": "EUR"}


def load_example(name: str) -> dict[str, Any]:
    return json.loads((VENDOR_SPECS / "examples" / name).read_text(encoding="utf-8"))


def sns_event(*messages: tuple[str, Any], attributes: dict[str, str] | None = None) -> dict[str, Any]:
    """An SNS Lambda event built from the vendor example, one record per (MessageId, message)."""
    base = load_example("aws_lambda/sns_event.json")["Records"][0]
    records = []
    for message_id, message in messages:
        record = copy.deepcopy(base)
        record["Sns"]["MessageId"] = message_id
        record["Sns"]["Message"] = message if isinstance(message, str) else json.dumps(message)
        if attributes is not None:
            record["Sns"]["MessageAttributes"] = {k: {"Type": "String", "Value": v} for k, v in attributes.items()}
        records.append(record)
    return {"Records": records}


@pytest.fixture(params=["memory", "database"])
def memory_sink(request, tmp_path):
    """The sink the handlers use: in-process, and the database pipeline on a SQLite file."""
    from tests.ingest.probe import build_sink

    sink = build_sink(request.param, [Tariff.model_validate(FLAT_TARIFF)], tmp_path)
    set_sink(sink)
    yield sink
    set_sink(None)
