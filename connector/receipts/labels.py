"""Receipt wording per language (numbers, dates and currencies come from CLDR via Babel)."""

from __future__ import annotations

_EN = {
    "receipt": "Charging receipt", "credit_note": "Credit note", "number": "Number", "issued": "Issued",
    "period": "Period", "description": "Description", "quantity": "Qty", "unit_price": "Unit price",
    "net": "Net", "tax": "Tax", "gross": "Total", "taxes": "Taxes", "taxable_base": "on",
    "net_total": "Net total", "tax_total": "Tax total", "gross_total": "Total incl. tax",
    "incentive_total": "Incentives", "amount_due": "Amount due", "session": "Session",
    "subject": "{brand}: {title} {number} ({amount})", "thanks": "Thank you for charging with {brand}.",
}
_LABELS: dict[str, dict[str, str]] = {
    "en": _EN,
    "de": {**_EN, "receipt": "Ladebeleg", "credit_note": "Gutschrift", "number": "Nummer", "issued": "Ausgestellt",
           "period": "Zeitraum", "description": "Beschreibung", "quantity": "Menge", "unit_price": "Einzelpreis",
           "net": "Netto", "tax": "Steuer", "gross": "Gesamt", "taxes": "Steuern", "taxable_base": "auf",
           "net_total": "Summe netto", "tax_total": "Summe Steuern", "gross_total": "Gesamt inkl. Steuern",
           "incentive_total": "Förderung", "amount_due": "Zu zahlen", "session": "Ladevorgang",
           "thanks": "Vielen Dank, dass Sie bei {brand} geladen haben."},
    "fr": {**_EN, "receipt": "Reçu de recharge", "credit_note": "Avoir", "number": "Numéro", "issued": "Émis le",
           "period": "Période", "description": "Description", "quantity": "Qté", "unit_price": "Prix unitaire",
           "net": "HT", "tax": "Taxe", "gross": "TTC", "taxes": "Taxes", "taxable_base": "sur",
           "net_total": "Total HT", "tax_total": "Total taxes", "gross_total": "Total TTC",
           "incentive_total": "Aides", "amount_due": "Montant dû", "session": "Session",
           "thanks": "Merci d'avoir rechargé avec {brand}."},
    "ja": {**_EN, "receipt": "充電領収書", "credit_note": "クレジットノート", "number": "番号", "issued": "発行日",
           "period": "期間", "description": "内容", "quantity": "数量", "unit_price": "単価", "net": "税抜",
           "tax": "税", "gross": "合計", "taxes": "税金", "taxable_base": "対象", "net_total": "税抜合計",
           "tax_total": "税額合計", "gross_total": "税込合計", "incentive_total": "補助金",
           "amount_due": "お支払い金額", "session": "セッション", "thanks": "{brand}をご利用いただきありがとうございます。"},
}


def labels_for(locale: str) -> dict[str, str]:
    """Labels for ``de_DE`` -> German; unknown languages fall back to English."""
    return _LABELS.get(locale.split("_")[0], _EN)
