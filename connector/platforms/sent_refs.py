"""What a platform answered for an earlier delivery: the vendor's id of an invoice we sent before.

Why: a void or credit note of ours must name the vendor's object (Stripe ``in_…``, PayPal ``INV2-…``), and
the only reliable record of that id is the result the worker stored on the outbox row that created it.
Vendor search APIs are eventually consistent (Stripe's search lags up to a minute) or absent.

Adapters find the earlier row by the idempotency key they gave it (``idempotency_key`` of the event that
created the object), through ``ctx.refs``: the worker's delivery context carries a :class:`SentRefs` on its
engine. A row the worker marked ``duplicate`` points at the row that really sent; that one is followed.
Skipped rows never count.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from connector.storage.tables.outbox import DeliveryRow


def holds_vendor_object(result: dict[str, Any] | None) -> bool:
    """A sent delivery's result that created or changed something at the vendor (not ``skipped``, not a
    ``duplicate`` pointing at the row that did): what SentRefs reads and retention must keep. A result that
    does not say counts as one, so retention errs on keeping."""
    return (result or {}).get("status") not in ("skipped", "duplicate")


class SentRefs:
    """Read-only view of a platform's sent deliveries, keyed by (tenant, idempotency key)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def result_of(self, tenant_id: str, platform: str, key: str) -> dict[str, Any] | None:
        """The result recorded for the delivery that sent ``key`` to ``platform`` (None: not sent yet)."""
        with Session(self.engine) as db:
            rows = db.scalars(select(DeliveryRow).where(
                DeliveryRow.tenant_id == tenant_id, DeliveryRow.target == f"platform:{platform}",
                DeliveryRow.idempotency_key == key, DeliveryRow.status == "sent",
            ).order_by(DeliveryRow.created_at)).all()
            for row in rows:
                result = dict(row.result or {})
                if result.get("status") == "duplicate" and result.get("of"):
                    original = db.get(DeliveryRow, str(result["of"]))
                    result = dict(original.result or {}) if original is not None else {}
                if holds_vendor_object(result):
                    return result
        return None

    def ref_of(self, tenant_id: str, platform: str, key: str) -> str | None:
        """The vendor id (``result["ref"]``) of that delivery."""
        found = self.result_of(tenant_id, platform, key)
        ref = None if found is None else found.get("ref")
        return None if ref in (None, "") else str(ref)
