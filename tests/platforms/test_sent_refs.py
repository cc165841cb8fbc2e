"""SentRefs: the vendor id an earlier delivery recorded, found by the idempotency key it carried."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from connector.platforms.sent_refs import SentRefs
from connector.storage.tables.outbox import DeliveryRow


def _row(db: Session, rid: str, *, status: str, key: str, result: dict | None, tenant: str = "t1",
         target: str = "platform:stripe") -> None:
    db.add(DeliveryRow(id=rid, event_id=f"evt_{rid}", tenant_id=tenant, target=target, status=status,
                       idempotency_key=key, result=result))


def test_ref_of_follows_duplicates_and_ignores_skips(engine: Engine, db: Session) -> None:
    _row(db, "d1", status="sent", key="evbill:t1:inv_1", result={"status": "sent", "ref": "in_111"})
    _row(db, "d2", status="sent", key="evbill:t1:inv_2", result={"status": "duplicate", "of": "d3"})
    _row(db, "d3", status="sent", key="evbill:t1:inv_2", result={"status": "sent", "ref": "in_222"})
    _row(db, "d4", status="sent", key="evbill:t1:inv_3", result={"status": "skipped", "reason": "draft"})
    _row(db, "d5", status="pending", key="evbill:t1:inv_4", result=None)
    _row(db, "d6", status="sent", key="evbill:t1:inv_1", result={"status": "sent", "ref": "in_other_tenant"},
         tenant="t2")
    _row(db, "d7", status="sent", key="evbill:t1:inv_5", result={"status": "sent", "ref": "INV2-X"},
         target="platform:paypal")
    db.commit()
    refs = SentRefs(engine)
    assert refs.ref_of("t1", "stripe", "evbill:t1:inv_1") == "in_111"
    assert refs.ref_of("t2", "stripe", "evbill:t1:inv_1") == "in_other_tenant"
    assert refs.ref_of("t1", "stripe", "evbill:t1:inv_2") == "in_222"
    assert refs.ref_of("t1", "stripe", "evbill:t1:inv_3") is None  # skipped: nothing was created
    assert refs.ref_of("t1", "stripe", "evbill:t1:inv_4") is None  # not sent yet
    assert refs.ref_of("t1", "stripe", "evbill:t1:inv_5") is None  # another platform's row
    assert refs.ref_of("t1", "paypal", "evbill:t1:inv_5") == "INV2-X"
    assert refs.result_of("t1", "stripe", "evbill:t1:inv_1") == {"status": "sent", "ref": "in_111"}
