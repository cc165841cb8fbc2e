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


def test_corrections_of_netsuite_and_freshbooks_follow_the_mode(capsys: pytest.CaptureFixture, tmp_path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """NetSuite sends credit memos or reversing journal entries but nothing to Item Fulfillments; FreshBooks voids
    and credits only in invoice mode (its recurring template takes none): the column says what the tenant's
    settings send, and how."""
    path = tmp_path / "p.yaml"
    path.write_text("tenants:\n  t1:\n    netsuite: {config: {account_id: '1', record: itemFulfillment}}\n"
                    "    freshbooks: {config: {account_id: A, mode: recurring}}\n")
    monkeypatch.setenv("EVBILL_PLATFORMS_FILE", str(path))
    assert main(["platforms", "list", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert (rows["netsuite"]["corrections"], rows["freshbooks"]["corrections"]) == (False, False)
    path.write_text("tenants:\n  t1:\n    netsuite: {config: {account_id: '1', record: journalEntry}}\n"
                    "    freshbooks: {config: {account_id: A}}\n")
    assert main(["platforms", "list"]) == 0
    out = capsys.readouterr().out.splitlines()
    netsuite_at = next(i for i, ln in enumerate(out) if ln.startswith("netsuite "))
    assert ("corrections: sent (credit memos (record=invoice) or reversing journal entries; none to Item "
            "Fulfillments); payments back: no") in out[netsuite_at + 2]
    freshbooks_at = next(i for i, ln in enumerate(out) if ln.startswith("freshbooks "))
    assert ("corrections: sent (mode=invoice: a void deletes the FreshBooks invoice, a credit note becomes a "
            "FreshBooks credit note); payments back: no") in out[freshbooks_at + 2]
