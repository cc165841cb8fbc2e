"""Request bodies with Decimals written as exact JSON number literals (``json`` refuses Decimal; a float
could round a money amount), shared by the adapters whose vendors want numbers rather than strings."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

_MARK = re.compile(r'"\\u0000DEC(-?[0-9]+(?:\.[0-9]+)?)\\u0000"')


def _mark(value: Any) -> Any:
    if isinstance(value, Decimal):
        return f"\x00DEC{value:f}\x00"
    if isinstance(value, dict):
        return {k: _mark(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mark(v) for v in value]
    return value


def dumps_exact(body: Any) -> bytes:
    """UTF-8 JSON bytes (send as ``data=``): ``{"Amount": Decimal("12.05")}`` → ``{"Amount": 12.05}``."""
    return _MARK.sub(r"\1", json.dumps(_mark(body), ensure_ascii=False)).encode("utf-8")
