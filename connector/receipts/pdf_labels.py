"""Wording of the PDF invoice per language (numbers, dates and currencies come from CLDR via Babel).

Apart from the e-mail labels (``labels.py``) because an invoice says more than a receipt: the seller's
legal details, payment terms and due date, and a column per session time.
"""

from __future__ import annotations

_EN = {
    "invoice": "Invoice", "credit_note": "Credit note", "draft": "DRAFT: not valid for payment until finalized",
    "number": "Number", "issued": "Date", "due": "Due", "period": "Period", "bill_to": "Bill to",
    "credit_of": "Credits invoice", "description": "Description", "station": "Station", "start": "Start",
    "end": "End", "quantity": "Quantity", "unit_price": "Unit price", "net": "Net", "tax": "Tax",
    "gross": "Gross", "tax_breakdown": "Tax", "rate": "Rate", "taxable_base": "Taxable amount",
    "amount": "Amount", "net_total": "Net total", "tax_total": "Tax total", "gross_total": "Total incl. tax",
    "incentive_total": "Incentives", "amount_due": "Amount due", "vat_id": "VAT ID", "session": "Session",
    "terms": "Payable within {days} days, by {due}, quoting {number}.",
    "terms_draft": "Payable within {days} days of the invoice date.",
    "terms_bank": "Bank transfer to IBAN {iban}{bic}.", "bic": ", BIC {bic}",
    "terms_credit": "This credit note reduces what is owed on invoice {of}; the amount is refunded or set off.",
    "paid": "Paid on {date}. Thank you.", "page": "Page {page}",
}
_LABELS: dict[str, dict[str, str]] = {
    "en": _EN,
    "de": {**_EN, "invoice": "Rechnung", "credit_note": "Gutschrift",
           "draft": "ENTWURF: erst nach Festschreibung zahlbar", "number": "Nummer", "issued": "Datum",
           "due": "Fällig", "period": "Zeitraum", "bill_to": "Rechnung an", "credit_of": "Gutschrift zu Rechnung",
           "description": "Beschreibung", "station": "Station", "start": "Beginn", "end": "Ende",
           "quantity": "Menge", "unit_price": "Einzelpreis", "net": "Netto", "tax": "Steuer", "gross": "Brutto",
           "tax_breakdown": "Steuer", "rate": "Satz", "taxable_base": "Nettobetrag", "amount": "Betrag",
           "net_total": "Summe netto", "tax_total": "Summe Steuern", "gross_total": "Gesamt inkl. Steuern",
           "incentive_total": "Förderung", "amount_due": "Zu zahlen", "vat_id": "USt-IdNr.",
           "session": "Ladevorgang",
           "terms": "Zahlbar innerhalb von {days} Tagen bis {due} unter Angabe von {number}.",
           "terms_draft": "Zahlbar innerhalb von {days} Tagen ab Rechnungsdatum.",
           "terms_bank": "Überweisung auf IBAN {iban}{bic}.",
           "terms_credit": "Diese Gutschrift mindert die Forderung aus Rechnung {of}; der Betrag wird erstattet "
                           "oder verrechnet.",
           "paid": "Bezahlt am {date}. Vielen Dank.", "page": "Seite {page}"},
    "fr": {**_EN, "invoice": "Facture", "credit_note": "Avoir",
           "draft": "BROUILLON : non payable avant validation", "number": "Numéro", "issued": "Date",
           "due": "Échéance", "period": "Période", "bill_to": "Facturé à", "credit_of": "Avoir sur facture",
           "description": "Désignation", "station": "Borne", "start": "Début", "end": "Fin",
           "quantity": "Quantité", "unit_price": "Prix unitaire", "net": "HT", "tax": "TVA", "gross": "TTC",
           "tax_breakdown": "Taxe", "rate": "Taux", "taxable_base": "Base", "amount": "Montant",
           "net_total": "Total HT", "tax_total": "Total TVA", "gross_total": "Total TTC",
           "incentive_total": "Aides", "amount_due": "Net à payer", "vat_id": "N° TVA", "session": "Session",
           "terms": "Payable sous {days} jours, au plus tard le {due}, en rappelant {number}.",
           "terms_draft": "Payable sous {days} jours à compter de la date de facture.",
           "terms_bank": "Virement sur IBAN {iban}{bic}.",
           "terms_credit": "Cet avoir réduit la somme due sur la facture {of} ; le montant est remboursé "
                           "ou imputé.",
           "paid": "Payée le {date}. Merci.", "page": "Page {page}"},
}


def pdf_labels_for(locale: str) -> dict[str, str]:
    """Labels for ``de_DE`` -> German; languages without wording fall back to English."""
    return _LABELS.get(locale.split("_")[0], _EN)
