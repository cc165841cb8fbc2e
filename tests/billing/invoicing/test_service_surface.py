"""The pinned service surface (docs/architecture.md) exists, including what other billing modules provide."""

from __future__ import annotations

import pytest

from connector.billing.invoicing import sessions as service
from tests.billing.invoicing.conftest import A, ingest, setup_tenant

PINNED = ("complete_session", "list_invoices", "get_invoice", "invoice_csv", "finalize_invoice", "void_invoice",
          "create_credit_note", "mark_invoice_paid", "correct_session", "on_tariff_published",
          "start_reconciliation", "get_reconciliation")


def test_pinned_functions_exist():
    assert [name for name in PINNED if not callable(getattr(service, name, None))] == []
    with pytest.raises(AttributeError):
        service.not_a_billing_function  # noqa: B018 - the module __getattr__ must refuse unknown names


def test_fully_credited_invoice_cannot_be_marked_paid(client):
    setup_tenant(client)
    inv_id = ingest(client, "S-F", customer="C-1")["billing"]["invoice_id"]
    client.post(f"/v1/invoices/{inv_id}/finalize", headers=A)
    full = client.post(f"/v1/invoices/{inv_id}/credit-notes", json={"reason": "goodwill"}, headers=A)
    assert full.status_code == 201 and full.get_json()["gross_total"] == "3.57"
    assert client.post(f"/v1/invoices/{inv_id}/credit-notes", headers=A).status_code == 409
    assert client.post(f"/v1/invoices/{inv_id}/mark-paid", headers=A).status_code == 409
