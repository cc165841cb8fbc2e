"""Look into a sink the same way whether it is the in-process one or the database pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from connector.billing.intake import DatabaseSink, RatingOnly
from connector.ingest.memory import MemorySink
from connector.models import Tariff
from connector.storage import repo as store
from connector.storage.db import make_engine

SINKS = ["memory", "database"]


def build_sink(kind: str, tariffs: list[Tariff], tmp_path: Path) -> Any:
    if kind == "memory":
        return MemorySink(tariffs)
    return DatabaseSink(make_engine(f"sqlite:///{tmp_path}/ingest.db"), RatingOnly(tariffs))


def stored(sink: Any, tenant: str, session_id: str) -> dict[str, Any]:
    doc = sink.load_session(tenant, session_id)
    assert doc is not None, f"no session {tenant}/{session_id}"
    return doc


def billed(sink: Any, tenant: str, session_id: str) -> dict[str, str]:
    """The priced result's totals as strings: net_total, tax_total, amount_due, total_excl_vat."""
    if isinstance(sink, MemorySink):
        rating = sink.rated[(tenant, session_id)].to_dict()
    else:
        with sink.sessions() as db:
            found = store.get_rating(db, tenant, session_id)
        assert found is not None, f"session {tenant}/{session_id} was not priced"
        rating = found
    invoice = rating["invoice"]
    return {"net_total": invoice["net_total"], "tax_total": invoice["tax_total"],
            "amount_due": invoice["amount_due"], "total_excl_vat": rating["total_cost"]["excl_vat"]}
