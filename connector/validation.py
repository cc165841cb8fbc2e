"""Turn pydantic validation errors into (field, reason) pairs every face can show."""

from __future__ import annotations

import re

from pydantic import BaseModel, ValidationError

# "energy_kwh: ..." / "charging_periods[1].tariff_id: ...": a model-level check names its field first.
_NAMED = re.compile(r"^([A-Za-z_]\w*(?:\[\d+\])*(?:\.[A-Za-z_]\w*(?:\[\d+\])*)*): (.+)$", re.DOTALL)


def field_errors(exc: ValidationError, prefix: str = "") -> list[dict[str, str]]:
    """``[{"field": "session.end", "reason": "..."}]`` — dotted paths, list indexes in brackets."""
    out: list[dict[str, str]] = []
    for err in exc.errors(include_url=False):
        parts: list[str] = [prefix] if prefix else []
        for loc in err.get("loc", ()):
            if isinstance(loc, int):
                if parts:
                    parts[-1] = f"{parts[-1]}[{loc}]"
                else:
                    parts.append(f"[{loc}]")
            else:
                parts.append(str(loc))
        message = str(err.get("msg", "invalid"))
        message = message.removeprefix("Value error, ")
        # only a model-level check (its input is the whole object) names a field in its message
        named = _NAMED.match(message) if isinstance(err.get("input"), dict | BaseModel) else None
        if named and (not parts or parts[-1].split("[")[0] != named.group(1).split("[")[0].split(".")[0]):
            parts.append(named.group(1))
            message = named.group(2)
        elif named:
            message = named.group(2)
        out.append({"field": ".".join(parts) or (prefix or "body"), "reason": message})
    return out


def first_error_line(exc: ValidationError, prefix: str = "") -> str:
    errors = field_errors(exc, prefix)
    head = errors[0] if errors else {"field": prefix or "input", "reason": "invalid"}
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{head['field']}: {head['reason']}{more}"


class ProblemError(Exception):
    """A refusal that knows its wire meaning: the HTTP ``status`` and problem ``title`` on the class, the
    ``reason`` and, when the refusal is about one input, the ``field`` it names. The API turns any of them
    into a problem+json answer in one handler; the CLI prints one line."""

    status: int = 400
    title: str = "Bad Request"

    def __init__(self, reason: str, field: str | None = None) -> None:
        super().__init__(f"{field}: {reason}" if field else reason)
        self.reason = reason
        self.field = field


class FieldError(ProblemError, ValueError):
    """Input refused for one field: ``field`` names it (a dotted path), ``reason`` says why. Every face turns
    it into its own message (API: a 422 problem naming the field; CLI: one line; add-ins: ``#ERROR``)."""

    status = 422
    title = "Invalid request"
    field: str

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason, field)


class NotFound(ProblemError):
    """The tenant has no such resource (404)."""

    status = 404
    title = "Not found"


class Conflict(ProblemError):
    """The resource's state refuses the request, e.g. finalizing a voided invoice (409)."""

    status = 409
    title = "Conflict"
