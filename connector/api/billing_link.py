"""Calls into the billing contributor's ``connector.billing.service`` and ``connector.events.subscriptions``.

Routes never compute money: they call these functions (``db`` first, then ``tenant_id``). A function that
has not landed yet answers 501 problem naming it, instead of a crash.
"""

from __future__ import annotations

import importlib
from typing import Any

from connector.api.context import db, tenant
from connector.api.errors import ApiError


def function(module: str, name: str) -> Any:
    try:
        mod = importlib.import_module(module)
    except ImportError:
        mod = None
    fn = getattr(mod, name, None) if mod is not None else None
    if fn is None:
        raise ApiError(501, "Not Implemented", f"{module}.{name} is not installed on this server")
    return fn


def available(module: str, name: str) -> bool:
    try:
        return hasattr(importlib.import_module(module), name)
    except ImportError:
        return False


def as_json(value: Any) -> Any:
    if hasattr(value, "to_dict"):
        return value.to_dict()
    return value


def call(module: str, name: str, *args: Any, **kwargs: Any) -> Any:
    """``module.name(db, tenant_id, *args)``; a ``LookupError`` is a 404, a ``ValueError`` a 422."""
    fn = function(module, name)
    session = db()
    try:
        result = fn(session, tenant(), *args, **kwargs)
        session.commit()
    except LookupError as exc:
        session.rollback()
        raise ApiError(404, "Not found", str(exc).strip("'\"") or "not found") from exc
    except ValueError as exc:
        session.rollback()
        field, reason = getattr(exc, "field", None), getattr(exc, "reason", None)
        if field and reason:
            raise ApiError.field(str(field), str(reason)) from exc
        raise ApiError(422, "Cannot process", str(exc)) from exc
    except PermissionError as exc:  # e.g. finalizing a voided invoice
        session.rollback()
        raise ApiError(409, "Conflict", str(exc)) from exc
    return as_json(result)


SERVICE = "connector.billing.service"
SUBSCRIPTIONS = "connector.events.subscriptions"
