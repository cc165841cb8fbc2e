"""Run the sample operator through the real API app: the four billing triggers, end to end.

Everything goes through ``create_app`` with the Flask test client (the same routes, auth, validation
and billing code a deployed API runs), on an SQLite file, so ``evbill serve`` can show the results
afterwards.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient

from connector.demo import sample

TENANT = "demo-operator"


class DemoError(RuntimeError):
    """A step of the demo answered with an error: the API's problem document is in the message."""


@dataclass
class DemoReport:
    database_url: str
    api_key: str
    out_dir: Path
    billed: list[dict[str, Any]] = field(default_factory=list)
    invoices: list[dict[str, Any]] = field(default_factory=list)
    interim: list[dict[str, Any]] = field(default_factory=list)
    rerating: dict[str, Any] | None = None
    reconciliation: dict[str, Any] | None = None
    files: list[Path] = field(default_factory=list)


class Api:
    """The test client with the demo's API key; every non-2xx answer stops the demo with its problem."""

    def __init__(self, client: FlaskClient, key: str) -> None:
        self.client = client
        self.headers = {"X-API-Key": key}

    def call(self, method: str, path: str, body: Any = None, expect: tuple[int, ...] = (200, 201, 202)) -> Any:
        resp = self.client.open(path, method=method, json=body, headers=self.headers)
        if resp.status_code not in expect:
            raise DemoError(f"{method} {path} -> {resp.status_code}: {resp.get_data(as_text=True)[:500]}")
        if resp.mimetype == "application/json":
            return resp.get_json()
        return resp.get_data()


def _create_key(app: Any) -> str:
    from connector.api.context import SESSIONMAKER_KEY
    from connector.storage import repo

    with app.extensions[SESSIONMAKER_KEY]() as db:
        key = repo.create_api_key(db, TENANT, "demo")
        db.commit()
    return key


def run_demo(database_url: str, out_dir: Path) -> DemoReport:
    """Load the sample operator and run session-complete, interim, reconciliation and tariff re-rating."""
    from connector.api import create_app

    app = create_app({"DATABASE_URL": database_url, "CREATE_TABLES": True})
    key = _create_key(app)
    api = Api(app.test_client(), key)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = DemoReport(database_url=database_url, api_key=key, out_dir=out_dir)

    for tariff in (sample.ac_tariff(), sample.dc_tariff()):
        api.call("POST", "/v1/tariffs", tariff)
    for customer in sample.CUSTOMERS:
        api.call("POST", "/v1/customers", customer)

    # Trigger 1: session complete -> rated, on the customer's invoice, session.billed
    for event in sample.session_events():
        result = api.call("POST", "/v1/sessions/events", event)
        if event["type"] == "end":
            report.billed.append(result)
    for event in sample.open_session_events():
        api.call("POST", "/v1/sessions/events", event)

    # Trigger 2: interim cost of the sessions still charging (same rating function as the final bill)
    as_of = sample.local(sample.AS_OF_LOCAL).isoformat()
    interim = api.call("POST", "/v1/billing/interim", {"as_of": as_of, "force": True})
    report.interim = list(interim["results"])

    # Trigger 4: a new AC tariff version effective at 23:15, split into the open sessions
    new_version = {"effective_at": sample.local(sample.TARIFF_CHANGE_LOCAL).isoformat(),
                   "policy": "apply_from_effective_time",
                   "tariff": sample.ac_tariff(night_price="0.25")}
    published = api.call("POST", "/v1/tariffs/ac-standard/versions", new_version)
    report.rerating = published.get("rerating")

    # Finalize the draft invoices of the day (gapless numbers), then Trigger 3: daily reconciliation
    drafts = api.call("GET", "/v1/invoices?status=draft")["items"]
    for invoice in drafts:
        api.call("POST", f"/v1/invoices/{invoice['id']}/finalize")
    report.invoices = api.call("GET", "/v1/invoices")["items"]
    recon = api.call("POST", "/v1/reconciliations", {"kind": "daily", "period": sample.DAY})
    report.reconciliation = recon

    files = {
        "invoices.json": json.dumps(report.invoices, indent=2).encode(),
        "reconciliation.json": json.dumps(recon, indent=2).encode(),
    }
    rid = recon.get("id")
    if rid:
        files["reconciliation.csv"] = api.call("GET", f"/v1/reconciliations/{rid}?format=csv")
        files["reconciliation.xlsx"] = api.call("GET", f"/v1/reconciliations/{rid}?format=xlsx")
    for name, data in files.items():
        path = out_dir / name
        path.write_bytes(data if isinstance(data, bytes) else json.dumps(data, indent=2).encode())
        report.files.append(path)
    return report
