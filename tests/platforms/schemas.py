"""Validate outgoing bodies against ``../shared/vendor-specs`` the way check_extracted.py does
(validator from ``$schema``, FormatChecker on, OpenAPI ``readOnly`` enforced on requests)."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import jsonschema
from jsonschema import FormatChecker, validators
from jsonschema.exceptions import ValidationError

from tests.paths import VENDOR_SPECS


def load_schema(rel: str) -> dict[str, Any]:
    path = VENDOR_SPECS / rel
    if not path.exists():
        raise AssertionError(f"vendor schema missing: {path} (../shared must sit beside the checkout)")
    return json.loads(path.read_text(encoding="utf-8-sig"))


def read_only(validator: Any, value: Any, instance: Any, schema: Any) -> Any:
    """The ``readOnly`` keyword as a request-body rule: a property the vendor sets must not be sent."""
    if value is True:
        yield ValidationError("property is readOnly in the vendor spec and must not be sent in a request")


@lru_cache(maxsize=32)
def validator(rel: str, request_body: bool = True) -> Any:
    schema = load_schema(rel)
    base = validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    base.check_schema(schema)
    cls = validators.extend(base, {"readOnly": read_only}) if request_body else base
    return cls(schema, format_checker=FormatChecker())


def is_valid(rel: str, instance: Any, request_body: bool = True) -> bool:
    """Fast yes/no (the ADF schema's anyOf makes full error lists slow on invalid documents)."""
    return bool(validator(rel, request_body).is_valid(instance))


def schema_errors(rel: str, instance: Any, request_body: bool = True) -> list[str]:
    v = validator(rel, request_body)
    return [f"/{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in v.iter_errors(instance)]
