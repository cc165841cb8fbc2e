"""Validate bodies against /work/shared/vendor-specs like check_extracted.py does: validator class from the
schema's ``$schema``, FormatChecker on, OpenAPI ``readOnly`` enforced for request bodies."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
from jsonschema import FormatChecker, validators
from jsonschema.exceptions import ValidationError

SPECS = Path(__file__).resolve().parents[3] / "shared" / "vendor-specs"


def _read_only(validator: Any, value: Any, instance: Any, schema: Any) -> Any:
    if value is True:
        yield ValidationError("readOnly in the vendor spec: must not be sent")


@lru_cache(maxsize=32)
def validator(rel: str) -> Any:
    path = SPECS / rel
    assert path.exists(), f"vendor schema missing: {path}"
    schema = json.loads(path.read_text(encoding="utf-8-sig"))
    base = validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    base.check_schema(schema)
    return validators.extend(base, {"readOnly": _read_only})(schema, format_checker=FormatChecker())


def errors(rel: str, body: Any) -> list[str]:
    return [f"/{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator(rel).iter_errors(body)]
