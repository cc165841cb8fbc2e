"""``evbill platforms list`` says for each platform whether it sends corrections and whether payments come back."""

from __future__ import annotations

import json

import pytest

from connector.cli import main
from connector.platforms import registry


def test_corrections_and_payments_columns(capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EVBILL_PLATFORMS_FILE", raising=False)
    assert main(["platforms", "list", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert {n: r["payments"] for n, r in rows.items() if r["payments"]} == {
        "stripe": "webhook+poll", "xero": "webhook+poll", "square": "webhook+poll", "paypal": "webhook+poll",
        "plaid": "poll"}
    for name, row in rows.items():  # corrections follow the events each adapter handles
        events = set(registry.get(name).events)
        assert row["corrections"] is bool(events & {"invoice.voided", "credit_note.issued"}), name
    assert rows["stripe"]["corrections"] is True and rows["jira"]["corrections"] is False

    assert main(["platforms", "list"]) == 0
    out = capsys.readouterr().out.splitlines()
    stripe_at = next(i for i, ln in enumerate(out) if ln.startswith("stripe "))
    assert "corrections: sent; payments back: webhook+poll" in out[stripe_at + 2]
    jira_at = next(i for i, ln in enumerate(out) if ln.startswith("jira "))
    assert "corrections: no; payments back: no" in out[jira_at + 2]
