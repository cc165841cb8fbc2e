"""The real billing API (tenant A, temp SQLite) with one platform configured, and the outbox worker run in
passes on a test clock: the shared harness of the adapters' corrections tests (void, credit note)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.events import worker
from connector.events.deliveries import Policy
from connector.storage.tables.outbox import DeliveryRow, EventRow
from connector.storage.tables.platforms import PlatformConfigRow
from tests.billing.invoicing.conftest import A, make_app, setup_tenant


class Books:
    def __init__(self, tmp_path: Path, platform: str, config: dict[str, Any], field_mapping: dict[str, Any],
                 policy: Policy) -> None:
        self.platform, self.policy = platform, policy
        self.app = make_app(f"sqlite:///{tmp_path / 'books.db'}")
        self.client = self.app.test_client()
        setup_tenant(self.client)
        self.engine = self.app.extensions["evbill.engine"]
        with Session(self.engine) as db:
            db.add(PlatformConfigRow(tenant_id="A", platform=platform, enabled=True, field_mapping=field_mapping,
                                     config=config))
            db.commit()
        self.now = datetime.now(UTC)

    def post(self, path: str, body: dict[str, Any] | None = None, status: int = 200) -> dict[str, Any]:
        r = self.client.post(path, json=body, headers=A)
        assert r.status_code == status, r.get_data(as_text=True)
        return dict(r.get_json())

    def run(self, passes: int = 1, step: timedelta = timedelta(minutes=2), policy: Policy | None = None) -> None:
        for _ in range(passes):
            worker.run_once(self.engine, self.now, policy=policy or self.policy)
            self.now += step

    def rows(self, event_type: str | None = None) -> list[DeliveryRow]:
        """This platform's delivery rows (of one event type when given)."""
        with Session(self.engine) as db:
            query = select(DeliveryRow, EventRow.type).join(EventRow, EventRow.id == DeliveryRow.event_id).where(
                DeliveryRow.target == f"platform:{self.platform}")
            return [row for row, kind in db.execute(query) if event_type in (None, kind)]

    def close(self) -> None:
        self.engine.dispose()
