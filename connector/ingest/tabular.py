"""CSV/JSON session exports with a column mapping → session events (generic import, Shell Recharge).

A mapping (YAML/JSON) says which column holds which Session field, how times and numbers are
written and which defaults apply. Each row becomes one ``end`` event with ``event_id =
<source>:<session_id>``, so re-importing a file (or an overlapping export) is idempotent by session
id. A bad row is reported (file, row, field, reason) and the rest of the file goes on.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from connector.models.session import check_time_zone
from connector.models.session_event import IngestError, SessionEvent, parse_event
from connector.models.sink import SessionSink
from connector.validation import field_errors

PRESETS = Path(__file__).parent / "mappings"
TIME_FIELDS = ("start", "end", "charging_ended_at", "reservation_start")
NUMBER_FIELDS = ("energy_kwh",)


class ColumnMapping(BaseModel):
    """The mapping file. ``fields``: Session field → column name (CSV) or dotted key (JSON)."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(default="import", pattern=r"^[a-z0-9_.-]{1,40}$")
    format: str | None = Field(default=None, pattern=r"^(csv|json)$")
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    encoding: str = "utf-8-sig"
    records: str | None = None  # JSON: dotted key of the list of records (default: the document is the list)
    time_zone: str = "UTC"  # zone of times written without an offset
    datetime_format: str | None = None  # strptime format; default ISO 8601
    decimal_comma: bool = False  # "18,2" means 18.2
    energy_unit: str = Field(default="kWh", pattern=r"^(kWh|Wh)$")
    fields: dict[str, str]
    defaults: dict[str, Any] = Field(default_factory=dict)

    @field_validator("fields")
    @classmethod
    def _needs_keys(cls, value: dict[str, str]) -> dict[str, str]:
        missing = [k for k in ("session_id", "start", "end") if k not in value]
        if missing:
            raise ValueError(f"must map {', '.join(missing)}")
        return value

    _tz = field_validator("time_zone")(classmethod(lambda cls, v: check_time_zone(v)))



def load_mapping(source: str | Path | Mapping[str, Any]) -> ColumnMapping:
    """A mapping from a dict, a YAML/JSON file, or a preset name (``shell_recharge``)."""
    if isinstance(source, Mapping):
        data: Any = dict(source)
    else:
        path = Path(source)
        if not path.exists() and (PRESETS / f"{source}.yaml").exists():
            path = PRESETS / f"{source}.yaml"
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise IngestError("mapping", f"file not found: {source}") from exc
        except yaml.YAMLError as exc:
            raise IngestError("mapping", f"not valid YAML/JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise IngestError("mapping", "expected a mapping object")
    try:
        return ColumnMapping.model_validate(data)
    except ValidationError as exc:
        first = field_errors(exc, "mapping")[0]
        raise IngestError(first["field"], first["reason"]) from exc


@dataclass(slots=True)
class Rejection:
    file: str
    row: int
    field: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "row": self.row, "field": self.field, "reason": self.reason}


@dataclass(slots=True)
class ImportReport:
    file: str
    rows: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    sessions: list[dict[str, Any]] = field(default_factory=list)
    refused: str | None = None  # the whole file was not read (too large): why, in one line

    def to_dict(self) -> dict[str, Any]:
        out = {"file": self.file, "rows": self.rows, "accepted": self.accepted, "duplicates": self.duplicates,
               "rejected": [r.to_dict() for r in self.rejected], "sessions": self.sessions}
        if self.refused is not None:
            out["refused"] = self.refused
        return out


def _dig(record: Mapping[str, Any], dotted: str) -> Any:
    value: Any = record
    for part in dotted.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _time(value: Any, mapping: ColumnMapping, name: str) -> str:
    text = str(value).strip()
    try:
        if mapping.datetime_format:
            parsed = datetime.strptime(text, mapping.datetime_format)
        else:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        expected = mapping.datetime_format or "ISO 8601"
        raise IngestError(name, f"'{text}' is not a date-time ({expected})") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ZoneInfo(mapping.time_zone))
    return parsed.isoformat()


def _number(value: Any, mapping: ColumnMapping, name: str) -> str:
    text = str(value).strip()
    if mapping.decimal_comma:
        text = text.replace(".", "").replace(",", ".")
    try:
        number = Decimal(text)
    except InvalidOperation as exc:
        raise IngestError(name, f"'{value}' is not a number") from exc
    if not number.is_finite() or number < 0:
        raise IngestError(name, "must be a finite number ≥ 0")
    if mapping.energy_unit == "Wh":
        number = number / Decimal(1000)
    return format(number, "f")


def row_to_event(record: Mapping[str, Any], mapping: ColumnMapping) -> SessionEvent:
    session: dict[str, Any] = dict(mapping.defaults)
    for target, column in mapping.fields.items():
        value = record[column] if column in record else _dig(record, column)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if target in TIME_FIELDS:
            value = _time(value, mapping, column)
        elif target in NUMBER_FIELDS:
            value = _number(value, mapping, column)
        elif isinstance(value, str):
            value = value.strip()
        session[target] = value
    session_id = session.pop("session_id", None)
    if not session_id:
        raise IngestError(mapping.fields["session_id"], "session id is empty")
    for required in ("start", "end"):
        if required not in session:
            raise IngestError(mapping.fields[required], "required")
    return parse_event({
        "event_id": f"{mapping.source}:{session_id}", "type": "end", "session_id": str(session_id),
        "timestamp": session["end"], "source": mapping.source, "session": session,
    })


def read_records(name: str, content: bytes, mapping: ColumnMapping) -> Iterator[tuple[int, Mapping[str, Any]]]:
    """(row number as a person counts it: CSV line incl. header, JSON 1-based index, record)."""
    fmt = mapping.format or ("json" if name.lower().endswith(".json") else "csv")
    try:
        text = content.decode(mapping.encoding)
    except UnicodeDecodeError as exc:
        raise IngestError("file", f"not {mapping.encoding} text ({exc.reason} at byte {exc.start})") from exc
    if fmt == "json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise IngestError("file", f"not valid JSON ({exc.msg} at line {exc.lineno})") from exc
        except RecursionError as exc:
            raise IngestError("file", "JSON nested too deeply") from exc
        records = _dig(data, mapping.records) if mapping.records else data
        if not isinstance(records, list):
            raise IngestError(mapping.records or "file", "expected a list of records")
        for index, record in enumerate(records, start=1):
            yield index, record if isinstance(record, Mapping) else {}
        return
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=mapping.delimiter)
    missing = [c for c in mapping.fields.values() if reader.fieldnames is not None and c not in reader.fieldnames]
    if reader.fieldnames is None:
        return
    if missing:
        raise IngestError("header", f"missing column(s): {', '.join(missing)}")
    for record in reader:
        yield reader.line_num, record


def import_content(name: str, content: bytes, mapping: ColumnMapping, sink: SessionSink,
                   tenant_id: str, progress: Callable[[int], None] | None = None) -> ImportReport:
    """Ingest every row; never raises for a bad row or file (it is in the report). ``progress(n)`` after
    every 1,000 rows (the CLI prints it)."""
    report = ImportReport(file=name)
    try:
        for row, record in read_records(name, content, mapping):
            report.rows += 1
            if progress is not None and report.rows % 1000 == 0:
                progress(report.rows)
            try:
                outcome = sink.ingest(tenant_id, row_to_event(record, mapping))
            except IngestError as exc:
                report.rejected.append(Rejection(name, row, exc.field, exc.reason))
                continue
            if outcome.status == "duplicate":
                report.duplicates += 1
            else:
                report.accepted += 1
            report.sessions.append(outcome.to_dict())
    except IngestError as exc:
        report.rejected.append(Rejection(name, 0, exc.field, exc.reason))
    return report


def import_file(path: Path, mapping: ColumnMapping, sink: SessionSink, tenant_id: str) -> ImportReport:
    return import_content(path.name, path.read_bytes(), mapping, sink, tenant_id)


def write_rejections(report: ImportReport, out: Path) -> None:
    with out.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file", "row", "field", "reason"])
        for r in report.rejected:
            writer.writerow([r.file, r.row, r.field, r.reason])
