"""PDF invoices: the text extracted from the rendered PDF (pypdf) holds every line, tax and total of the
invoice, in the customer's language and currency format; page 1 renders in a real renderer (poppler)."""

from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from pypdf import PdfReader

from connector.platforms.adapters import sendgrid
from connector.receipts import Operator, format_money, render_invoice_pdf
from tests.billing.invoicing.conftest import A, ingest, setup_tenant
from tests.platforms.events import billed_event
from tests.platforms.schemas import schema_errors

OPERATOR = Operator(name="Ladepark GmbH", address=("Musterstraße 1", "10115 Berlin"), vat_id="DE123456789",
                    registration="HRB 12345, Amtsgericht Berlin", email="billing@ladepark.example",
                    iban="DE89370400440532013000", bic="COBADEFFXXX", payment_terms_days=14)


def pdf_text(data: bytes) -> str:
    """Every page's text in reading order, any run of blanks, line breaks and no-break spaces as one
    space (table cells come out one per line; the comparison is layout-free)."""
    assert data[:5] == b"%PDF-"
    text = "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages)
    return re.sub(r"[\s\u00a0\u202f]+", " ", text)


def shown(value: str) -> str:
    return re.sub(r"[\u00a0\u202f]", " ", value)


def _two_rate_invoice() -> dict[str, Any]:
    """A finalized French invoice with two VAT rates, a credit-note-free amount due and long session lines."""
    lines = []
    for i, (kwh, price, net, rate, tax) in enumerate([("12.5", "0.4500", "5.63", "20", "1.13"),
                                                      ("7.25", "0.2975", "2.16", "20", "0.43"),
                                                      ("1", "1.00", "1.00", "5.5", "0.06")], start=1):
        gross = str(Decimal(net) + Decimal(tax))
        lines.append({"id": f"ln_{i}", "session_id": f"S-{i}", "station_id": f"FR*EVB*E{i}",
                      "session_start": f"2026-03-0{i}T23:30:00+01:00", "session_end": f"2026-03-0{i + 1}T01:15:00+01:00",
                      "time_zone": "Europe/Paris", "kind": "charge", "category": "energy" if i < 3 else "fixed",
                      "description": "Énergie" if i < 3 else "Frais de session", "quantity": kwh,
                      "unit": "kWh" if i < 3 else "", "unit_price": price, "net": net,
                      "taxes": [{"name": "TVA", "rate": rate, "amount": tax}], "tax": tax, "gross": gross})
    return {"id": "inv_fr", "tenant_id": "A", "number": "INV-000042", "status": "finalized", "kind": "invoice",
            "credit_note_of": None, "customer": {"id": "C-9", "name": "Élise Martin", "email": "elise@example.fr",
                                                 "locale": "fr_FR"},
            "currency": "EUR", "issued_at": "2026-03-31T09:00:00+00:00", "period_start": "2026-03-01T22:30:00+00:00",
            "period_end": "2026-03-04T00:15:00+00:00", "paid_at": None, "reason": None, "lines": lines,
            "taxes": [{"name": "TVA", "rate": "20", "compound": False, "taxable_base": "7.79", "amount": "1.56"},
                      {"name": "TVA", "rate": "5.5", "compound": False, "taxable_base": "1.00", "amount": "0.06"}],
            "net_total": "8.79", "tax_total": "1.62", "gross_total": "10.41", "incentive_total": "0.00",
            "amount_due": "10.41"}


def test_pdf_text_holds_every_line_tax_and_total_in_french() -> None:
    text = pdf_text(render_invoice_pdf(_two_rate_invoice(), OPERATOR))  # type: ignore[arg-type]
    assert "Facture" in text and "INV-000042" in text and "Élise Martin" in text
    # lines: station, local start/end (Paris wall clock, across midnight), quantity, unit price, net/tax/gross
    for expected in ("FR*EVB*E1 01/03/2026 23:30 02/03/2026 01:15 12,5 kWh 0,45 5,63 € 1,13 € 6,76 €",
                     "FR*EVB*E2 02/03/2026 23:30 03/03/2026 01:15 7,25 kWh 0,2975 2,16 € 0,43 € 2,59 €",
                     "FR*EVB*E3 03/03/2026 23:30 04/03/2026 01:15 1 1,00 1,00 € 0,06 € 1,06 €"):
        assert expected in text, text
    # tax breakdown per rate: name, rate, base, amount
    assert "TVA 20 % 7,79 € 1,56 €" in text and "TVA 5,5 % 1,00 € 0,06 €" in text
    for label, amount in (("Total HT", "8,79 €"), ("Total TVA", "1,62 €"), ("Total TTC", "10,41 €"),
                          ("Net à payer", "10,41 €")):
        assert f"{label} {amount}" in text
    # payment terms and the operator's legal details
    assert "Payable sous 14 jours, au plus tard le 14 avr. 2026, en rappelant INV-000042." in text
    assert "IBAN DE89370400440532013000" in text and "N° TVA DE123456789" in text
    assert "HRB 12345, Amtsgericht Berlin" in text


def test_invoice_pdf_over_the_api_matches_the_invoice_json(client: Any) -> None:
    setup_tenant(client)
    assert client.post("/v1/customers", json={"id": "C-DE", "name": "Jana Schulz", "email": "jana@example.de",
                                              "locale": "de_DE"}, headers=A).status_code == 201
    first = ingest(client, "S-1", customer="C-DE", station="DE*EVB*E1")["billing"]
    ingest(client, "S-2", customer="C-DE", kwh="7.35", station="DE*EVB*E2", start="2026-01-14T22:40:00Z",
           end="2026-01-15T00:05:00Z")
    invoice_id = first["invoice_id"]
    r = client.post(f"/v1/invoices/{invoice_id}/finalize", headers=A)
    assert r.status_code == 200, r.get_data(as_text=True)
    invoice = client.get(f"/v1/invoices/{invoice_id}", headers=A).get_json()

    r = client.get(f"/v1/invoices/{invoice_id}.pdf", headers=A)
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    assert r.headers["Content-Disposition"] == f'inline; filename="{invoice["number"]}.pdf"'
    text = pdf_text(r.data)
    assert "Rechnung" in text and invoice["number"] in text and "Jana Schulz" in text
    def eur(value: str) -> str:
        return shown(format_money(Decimal(value), "EUR", "de_DE"))

    assert (invoice["lines"][0]["net"], invoice["lines"][0]["gross"]) == ("3.00", "3.57")
    # every line of the JSON, formatted for de_DE; S-2 crosses midnight on the Berlin wall clock
    when = [("DE*EVB*E1", "13.01.26, 15:00 13.01.26, 16:00 10 kWh"), ("DE*EVB*E2", "14.01.26, 23:40 15.01.26, 01:05 7,35 kWh")]
    assert [ln["station_id"] for ln in invoice["lines"]] == [station for station, _ in when]
    for (station, times), ln in zip(when, invoice["lines"], strict=True):
        row = f"{station} {times} 0,30 {eur(ln['net'])} {eur(ln['tax'])} {eur(ln['gross'])}"
        assert row in text, (row, text)
    assert "3,00 € 0,57 € 3,57 €" in text
    # the tax breakdown per rate and the totals, as the JSON has them
    [tax] = invoice["taxes"]
    assert f"VAT 19 % {eur(tax['taxable_base'])} {eur(tax['amount'])}" in text
    for label, key in (("Summe netto", "net_total"), ("Summe Steuern", "tax_total"),
                       ("Gesamt inkl. Steuern", "gross_total"), ("Zu zahlen", "amount_due")):
        assert f"{label} {eur(invoice[key])}" in text

    # the same document by content negotiation and by format=pdf; JSON stays the default
    assert client.get(f"/v1/invoices/{invoice_id}", headers={**A, "Accept": "application/pdf"}).data == r.data
    assert client.get(f"/v1/invoices/{invoice_id}?format=pdf", headers=A).data == r.data
    assert client.get(f"/v1/invoices/{invoice_id}", headers=A).mimetype == "application/json"
    missing = client.get("/v1/invoices/inv_nope.pdf", headers=A)
    assert missing.status_code == 404 and missing.mimetype == "application/problem+json"

    # a credit note of the invoice renders as one, naming the invoice it credits
    cn = client.post(f"/v1/invoices/{invoice_id}/credit-notes", json={"reason": "meter fault"}, headers=A).get_json()
    cn_text = pdf_text(client.get(f"/v1/invoices/{cn['id']}.pdf", headers=A).data)
    assert "Gutschrift" in cn_text and cn["number"] in cn_text and f"Zu zahlen {eur(cn['amount_due'])}" in cn_text
    assert cn["amount_due"] == invoice["amount_due"]
    assert f"Gutschrift zu Rechnung {invoice['number']}" in cn_text and "13.01.26, 15:00" in cn_text


def test_draft_pdf_says_it_is_a_draft_and_names_no_due_date(client: Any) -> None:
    setup_tenant(client)
    draft = ingest(client, "S-1", customer="C-1")["billing"]["invoice"]
    text = pdf_text(client.get(f"/v1/invoices/{draft['id']}.pdf", headers=A).data)
    assert "DRAFT: not valid for payment until finalized" in text
    assert "Payable within 14 days of the invoice date." in text and "Due" not in text
    assert f"Number {draft['id']}" in text and "Amount due €3.57" in text  # en_US customer, EUR


def test_sendgrid_attaches_the_pdf_and_stays_inside_the_vendor_schema() -> None:
    event = billed_event("EUR", "de_DE")
    cfg = sendgrid.SendGridConfig(api_key="SG.x", from_email="billing@evcharge.example", attach_pdf=True)
    body = sendgrid.build_mail(event, cfg, OPERATOR)
    assert schema_errors("sendgrid/mail_send.schema.json", body) == []
    [attachment] = body["attachments"]
    assert (attachment["type"], attachment["disposition"]) == ("application/pdf", "attachment")
    invoice = event["data"]["invoice"]
    assert attachment["filename"] == f"{invoice['number'] or invoice['id']}.pdf"
    text = pdf_text(base64.b64decode(attachment["content"]))
    assert shown(format_money(invoice["amount_due"], "EUR", "de_DE")) in text and "Ladepark GmbH" in text
    without = sendgrid.build_mail(event, sendgrid.SendGridConfig(api_key="SG.x", from_email="b@evcharge.example"))
    assert "attachments" not in without


def test_page_one_renders_in_poppler(tmp_path: Path) -> None:
    """pdftoppm (poppler) draws page 1; the picture is an A4 page with ink in the header, the line table
    and the totals (the PNG is left in tmp_path to look at)."""
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed; scripts/setup_system.sh installs it")
    pdf = tmp_path / "invoice.pdf"
    pdf.write_bytes(render_invoice_pdf(_two_rate_invoice(), OPERATOR))  # type: ignore[arg-type]
    subprocess.run(["pdftoppm", "-r", "60", "-png", "-f", "1", "-l", "1", "-singlefile", str(pdf),
                    str(tmp_path / "page1")], check=True, timeout=60)
    image = Image.open(tmp_path / "page1.png").convert("L")
    width, height = image.size
    assert (width, height) == (497, 702)  # A4 (210 x 297 mm) at 60 dpi
    bands = [image.crop((0, top, width, top + height // 6)) for top in range(0, height, height // 6)][:6]
    inked = [sum(band.histogram()[:128]) for band in bands]
    assert inked[0] > 500 and inked[1] > 500, inked  # seller/title block and the session lines
    assert sum(image.histogram()[:128]) < width * height // 10  # a page, not a black box
