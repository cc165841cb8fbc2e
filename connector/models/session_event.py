"""The one normalised session event every source produces (OCPP, OCPI, webhooks, imports, serverless).

A source maps its own message to a ``SessionEvent``; the pipeline stores it once per
``(tenant_id, event_id)`` and, for ``end`` events, hands the finished Session to billing.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationError

from connector.models.common import AwareDatetime, Model
from connector.models.limits import EVENT_ID_MAX, SESSION_ID_MAX
from connector.models.session import MeterSample
from connector.validation import FieldError, field_errors

EventType = Literal["start", "update", "end"]


class IngestError(FieldError):
    """A rejected message: which field, and why. Logged and reported; never stops a stream."""

    def to_dict(self) -> dict[str, str]:
        return {"field": self.field, "reason": self.reason}


class SessionClosed(IngestError):
    """An event for a session already billed: refused (409), never merged. Streams that skip a bad
    message (``IngestError``) skip this one too; the API answers problem+json naming ``session_id``."""

    status = 409
    title = "Conflict"


class SessionEvent(Model):
    """``session`` holds Session fields known at this point (start, end, energy_kwh, station_id, ...)."""

    event_id: str = Field(min_length=1, max_length=EVENT_ID_MAX)
    type: EventType
    session_id: str = Field(min_length=1, max_length=SESSION_ID_MAX)
    timestamp: AwareDatetime
    source: str = "api"
    session: dict[str, Any] = Field(default_factory=dict)
    meter_samples: list[MeterSample] = Field(default_factory=list)

    def to_api_body(self) -> dict[str, Any]:
        """The JSON body of ``POST /v1/sessions/events`` for this event."""
        return self.model_dump(mode="json", exclude_none=True)


def parse_event(data: Any, prefix: str = "") -> SessionEvent:
    """Validate a raw event dict; raise ``IngestError`` naming the first bad field."""
    if not isinstance(data, dict):
        raise IngestError(prefix or "body", "expected a JSON object")
    session = data.get("session")
    if isinstance(session, dict) and "meter_samples" in session:
        # the API body may carry samples inside ``session``; they are one list here
        data = {**data, "session": {k: v for k, v in session.items() if k != "meter_samples"},
                "meter_samples": [*(data.get("meter_samples") or []), *(session.get("meter_samples") or [])]}
    try:
        return SessionEvent.model_validate(data)
    except ValidationError as exc:
        first = field_errors(exc, prefix)[0]
        raise IngestError(first["field"], first["reason"]) from exc
