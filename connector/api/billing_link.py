"""How routes call ``connector.billing.invoicing.sessions`` and ``connector.events.subscriptions``: one place that maps
their exceptions to problems (``LookupError`` 404, ``ValueError`` with field/reason 422, ``PermissionError``
409) and commits or rolls back the request's session.

Routes never compute money: they call these functions (``db`` first, then ``tenant_id``). The modules are
imported when first called, which keeps the API's import free of the billing package's import graph.
"""

from __future__ import annotations

import importlib
from typing import Any

from connector.api.context import db, tenant
from connector.api.errors import ApiError


def function(module: str, name: str) -> Any:
    return getattr(importlib.import_module(module), name)


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


SERVICE = "connector.billing.invoicing.sessions"
SUBSCRIPTIONS = "connector.events.subscriptions"
