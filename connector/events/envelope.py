"""The event envelope every face sees: ``{id, type, tenant_id, created_at, data}`` (docs/architecture.md).

``data`` is stored and sent as JSON, so it is normalised here once: Decimals become strings (money is
never a float on the wire), datetimes ISO 8601; anything JSON cannot carry (NaN, Infinity, sets, objects)
is a ValueError naming the path, raised at ``emit`` time in the caller's transaction instead of later in
the worker. Finite floats are JSON and pass (measurements in anomaly details); money must be Decimal.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, cast

from pydantic import BaseModel, ConfigDict, Field

from connector.models.documents import EventDataJson, EventJson
from connector.validation import FieldError


class EventError(FieldError):
    """Bad input to ``emit`` (``field``/``reason`` let the API answer 422 naming the field)."""


class Envelope(BaseModel):
    """Validated envelope; ``to_dict`` is the wire shape."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(pattern=r"^evt_[0-9a-f]{32}$")
    type: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+(\.[a-z0-9_]+)+$")
    tenant_id: str = Field(min_length=1, max_length=64)
    created_at: datetime
    data: dict[str, Any]

    def to_dict(self) -> EventJson:
        return {"id": self.id, "type": self.type, "tenant_id": self.tenant_id,
                "created_at": iso(self.created_at), "data": cast(EventDataJson, self.data)}


def new_event_id() -> str:
    return f"evt_{uuid.uuid4().hex}"


def iso(value: datetime) -> str:
    """UTC, second precision unless sub-second parts exist, ``Z`` suffix (the documented example)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


_PLAIN = frozenset({str, int, bool, type(None)})  # returned as they are, whatever the path


def json_safe(value: Any, path: str = "data") -> Any:
    """A copy of ``value`` with only JSON types; Decimal -> str, datetime/date -> ISO string.

    Plain dicts and lists copy their plain items in place: an event's data is mostly strings, and building
    each item's path (for an error message only) cost more than the copy."""
    kind = type(value)
    if kind is dict:
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise EventError(f"{path}.{key}", "object keys must be strings")
            out[key] = item if type(item) in _PLAIN else json_safe(item, f"{path}.{key}")
        return out
    if kind is list:
        return [item if type(item) in _PLAIN else json_safe(item, f"{path}[{i}]") for i, item in enumerate(value)]
    return _json_safe(value, path)


def _json_safe(value: Any, path: str) -> Any:
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise EventError(path, "NaN and Infinity are not JSON")
        return value
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise EventError(path, "NaN and Infinity are not JSON")
        return str(value)
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "to_dict"):
        return json_safe(value.to_dict(), path)
    if isinstance(value, BaseModel):
        return json_safe(value.model_dump(mode="json"), path)
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise EventError(f"{path}.{key}", "object keys must be strings")
            out[key] = json_safe(item, f"{path}.{key}")
        return out
    if isinstance(value, (list, tuple)):
        return [json_safe(item, f"{path}[{i}]") for i, item in enumerate(value)]
    raise EventError(path, f"{type(value).__name__} is not JSON-safe")


def build(tenant_id: str, type: str, data: EventDataJson, created_at: datetime | None = None) -> Envelope:
    """A new envelope (fresh ``evt_`` id) or an ``EventError`` naming the bad field."""
    if not isinstance(data, dict):
        raise EventError("data", "must be a JSON object")
    from pydantic import ValidationError

    try:
        return Envelope(id=new_event_id(), type=type, tenant_id=tenant_id,
                        created_at=created_at or datetime.now(UTC), data=json_safe(data))
    except ValidationError as exc:
        err = exc.errors()[0]
        raise EventError(".".join(str(p) for p in err["loc"]) or "event", err["msg"]) from exc
