"""A session message from a queue or webhook (SNS, Pub/Sub, HTTP) → ``SessionEvent``.

Two shapes are accepted:

1. a session event: ``{"event_id", "type": "start"|"update"|"end", "session_id", "timestamp", "session",
   "meter_samples"}`` (the body of ``POST /v1/sessions/events``);
2. a session closure: the Session JSON itself (``{"id"|"session_id", "start", "end", "energy_kwh"|"kwh",
   "meter_samples", ...}``) → an ``end`` event. ``end`` defaults to the message time, so
   ``{"session_id": "S-123", "kwh": 18.2}`` closes a session whose start was captured earlier.

Missing ``event_id`` → ``<source>:<transport message id>``: a redelivered message is a duplicate.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from connector.models.session_event import IngestError, SessionEvent, parse_event

TYPES_BY_NAME = {"session.started": "start", "session.updated": "update", "session.completed": "end",
                 "session.ended": "end", "session.closed": "end"}
_CLOSURE_ALIASES = {"kwh": "energy_kwh", "session_start": "start", "session_end": "end"}
_NOT_SESSION = {"event_id", "type", "session_id", "timestamp", "source", "meter_samples", "amount", "event"}


def event_from_message(payload: Any, *, message_id: str, published: datetime, source: str,
                       event_name: str | None = None) -> SessionEvent:
    if not isinstance(payload, dict):
        raise IngestError("message", "expected a JSON object")
    if "type" in payload and "session" in payload:
        body = dict(payload)
        body.setdefault("event_id", f"{source}:{message_id}")
        body.setdefault("timestamp", published.isoformat())
        body.setdefault("source", source)
        return parse_event(body, "message")
    session_id = payload.get("session_id") or payload.get("id")
    if not session_id:
        raise IngestError("message.session_id", "required (or send a session event with 'type')")
    kind = TYPES_BY_NAME.get(event_name or payload.get("event") or "session.completed")
    if kind is None:
        raise IngestError("event", f"'{event_name}' is not one of {', '.join(sorted(TYPES_BY_NAME))}")
    session = {_CLOSURE_ALIASES.get(k, k): v for k, v in payload.items()
               if k not in _NOT_SESSION and k != "id"}
    if kind == "end":
        session.setdefault("end", published.isoformat())
    return parse_event({
        "event_id": payload.get("event_id") or f"{source}:{message_id}", "type": kind, "session_id": session_id,
        "timestamp": payload.get("timestamp") or published.isoformat(), "source": source, "session": session,
        "meter_samples": payload.get("meter_samples", []),
    }, "message")
