"""Turn pydantic validation errors into (field, reason) pairs every face can show."""

from __future__ import annotations

from pydantic import ValidationError


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
        out.append({"field": ".".join(parts) or (prefix or "body"), "reason": message})
    return out


def first_error_line(exc: ValidationError, prefix: str = "") -> str:
    errors = field_errors(exc, prefix)
    head = errors[0] if errors else {"field": prefix or "input", "reason": "invalid"}
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{head['field']}: {head['reason']}{more}"


class FieldError(ValueError):
    """Input refused for one field: ``field`` names it (a dotted path), ``reason`` says why. Every face turns
    it into its own message (API: a 422 problem naming the field; CLI: one line; add-ins: ``#ERROR``)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason
