"""Fold session events into one stored session document (pure; the pipeline persists the result).

Rules: ``session`` fields of later events overwrite earlier ones (an explicit ``null`` clears, e.g.
``charging_ended_at`` when charging resumes); meter samples are merged by timestamp (a re-sent
sample replaces the earlier one) and kept in time order. The document is the ``Session`` JSON plus
source extras (``id_tag``, ``meter_start_wh``, ``stop_reason``, ``sources``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ValidationError

from connector.models.session import Session
from connector.models.session_event import IngestError, SessionEvent
from connector.validation import field_errors


def apply_event(stored: dict[str, Any] | None, event: SessionEvent, tenant_id: str) -> dict[str, Any]:
    doc: dict[str, Any] = dict(stored or {})
    doc["id"] = event.session_id
    doc["tenant_id"] = tenant_id
    for key, value in event.session.items():
        if key in ("id", "tenant_id", "meter_samples"):
            continue
        doc[key] = value.isoformat() if isinstance(value, datetime) else value
    if "start" not in doc:
        if event.type != "start":
            raise IngestError("session.start", f"session '{event.session_id}' has no start event and no start time")
        doc["start"] = event.timestamp.isoformat()
    samples = {_key(s["timestamp"]): s for s in doc.get("meter_samples", [])}
    for sample in event.meter_samples:
        samples[sample.timestamp] = sample.model_dump(mode="json", exclude_none=True)
    doc["meter_samples"] = [samples[k] for k in sorted(samples)]
    sources = list(doc.get("sources", []))
    if event.source not in sources:
        sources.append(event.source)
    doc["sources"] = sources
    doc["status"] = "ended" if event.type == "end" or doc.get("end") else "active"
    return doc


def _key(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def to_session(doc: dict[str, Any]) -> Session:
    """The stored document as the one ``Session`` model; a bad field becomes an ``IngestError``."""
    try:
        return Session.model_validate({k: v for k, v in doc.items() if k not in ("status", "sources")})
    except ValidationError as exc:
        first = field_errors(exc, "session")[0]
        raise IngestError(first["field"], first["reason"]) from exc
