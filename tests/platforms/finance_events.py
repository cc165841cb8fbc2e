"""Events for the finance adapters, with money from the rating core only (``connector.rating.rate``).

The Invoice JSON follows docs/architecture.md and ``connector.billing.invoicing.rows.line_json``: money as decimal
strings with exactly the currency's minor-unit digits ("9.13" EUR, "0.00", "1372" JPY, "0.049" KWD), as
billing prints it. Nothing here computes a price.
"""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from typing import Any

from connector.models import Customer, Session, Tariff
from connector.models.customer import Adjustment
from connector.money import major_str, to_minor
from connector.rating import RatedSession, RatingOptions, rate


def tariff(currency: str = "EUR", vat: str | None = "19", energy_price: str = "0.39", flat: str | None = "1.00",
           x_taxes: list[dict[str, Any]] | None = None) -> Tariff:
    elements: list[dict[str, Any]] = [{"price_components": [{"type": "ENERGY", "price": energy_price, "step_size": 1}]}]
    if flat is not None:
        elements.insert(0, {"price_components": [{"type": "FLAT", "price": flat, "step_size": 1}]})
    if vat is not None and not x_taxes:
        for el in elements:
            for c in el["price_components"]:
                c["vat"] = vat
    data: dict[str, Any] = {"id": f"T-{currency}", "currency": currency, "elements": elements}
    if x_taxes:
        data["x_taxes"] = x_taxes
    return Tariff.model_validate(data)


def invoice_json(rated: RatedSession, sess: Session, customer: Customer, status: str, number: str | None,
                 kind: str = "invoice") -> dict[str, Any]:
    inv = rated.invoice
    cur = inv.currency
    body = inv.to_dict()

    def fmt(value: Any) -> str:
        return major_str(to_minor(value, cur), cur)

    lines = []
    for i, ln in enumerate(inv.lines):
        d = ln.to_dict()
        lines.append({"id": f"L{i + 1}", "session_id": sess.id, "station_id": sess.station_id,
                      **{k: d[k] for k in ("kind", "category", "description", "quantity", "unit")},
                      "unit_price": format(Decimal(str(d["unit_price"])).normalize(), "f"),
                      **{k: fmt(d[k]) for k in ("net", "tax", "gross")},
                      "taxes": [{"name": t["name"], "rate": str(t["rate"]), "amount": fmt(t["amount"])}
                                for t in d["taxes"]]})
    taxes = [{"name": t["name"], "rate": str(t["rate"]), "compound": t["compound"],
              "taxable_base": fmt(t["taxable_base"]), "amount": fmt(t["amount"])} for t in body["taxes"]]
    return {"id": f"inv_{sess.id}", "tenant_id": sess.tenant_id, "number": number, "status": status, "kind": kind,
            "credit_note_of": None,
            "customer": {"id": customer.id, "name": customer.name, "email": customer.email,
                         "customer_class": customer.customer_class, "locale": customer.locale,
                         "tax_region": customer.tax_region},
            "currency": inv.currency, "issued_at": "2026-01-13T11:31:00Z",
            "period_start": "2026-01-13T10:00:00Z", "period_end": "2026-01-13T11:30:00Z", "lines": lines,
            "taxes": taxes, **{k: fmt(body[k]) for k in ("net_total", "tax_total", "gross_total", "incentive_total",
                                                          "amount_due")}}


def billed_event(currency: str = "EUR", sid: str = "S-100", energy: str = "23.4", status: str = "finalized",
                 number: str | None = "INV-0001", customer_id: str = "C-1",
                 adjustments: tuple[Adjustment, ...] = (), **tariff_kw: Any) -> dict[str, Any]:
    """``session.billed`` whose rating and invoice come from ``rate(...)``."""
    sess = Session.model_validate({"id": sid, "tenant_id": "t1", "station_id": "ST-7", "customer_id": customer_id,
                                   "start": "2026-01-13T10:00:00Z", "end": "2026-01-13T11:30:00Z",
                                   "energy_kwh": energy, "currency": currency})
    cust = Customer(id=customer_id, name="Jane Driver", email="jane@example.com")
    rated = rate(sess, tariff(currency=currency, **tariff_kw), cust, RatingOptions(adjustments=adjustments))
    return {"id": f"evt_{sid}", "type": "session.billed", "tenant_id": "t1", "created_at": "2026-01-13T11:31:00Z",
            "data": {"session": json.loads(sess.model_dump_json()), "rating": rated.to_dict(),
                     "invoice": invoice_json(rated, sess, cust, status, number)}}


def invoice_event(event_type: str = "invoice.finalized", **kw: Any) -> dict[str, Any]:
    billed = billed_event(**kw)
    return {"id": f"evt_fin_{billed['data']['invoice']['id']}", "type": event_type, "tenant_id": "t1",
            "created_at": "2026-01-13T12:00:00Z", "data": {"invoice": billed["data"]["invoice"]}}


def incentive() -> tuple[Adjustment, ...]:
    """A 10 % discount and a per-kWh government incentive: negative lines, amount_due below gross."""
    return (Adjustment(kind="discount_percent", name="Fleet 10%", value="10"),
            Adjustment(kind="incentive_per_kwh", name="State incentive", value="0.05"))


def vat_restated_event(delta: str = "0.01", **kw: Any) -> dict[str, Any]:
    """``invoice.vat_restated`` of the one-session invoice: its energy line's VAT moved by ``delta`` at finalize
    (the invoice as finalized carries it; the session was billed as rated)."""
    invoice = copy.deepcopy(billed_event(**kw)["data"]["invoice"])
    line = invoice["lines"][-1]
    step = Decimal(delta)
    for field in ("tax", "gross"):
        line[field] = str(Decimal(line[field]) + step)
    line["taxes"][0]["amount"] = str(Decimal(line["taxes"][0]["amount"]) + step)
    invoice["taxes"][0]["amount"] = str(Decimal(invoice["taxes"][0]["amount"]) + step)
    for field in ("tax_total", "gross_total", "amount_due"):
        invoice[field] = str(Decimal(invoice[field]) + step)
    return {"id": f"evt_vat_{invoice['id']}", "type": "invoice.vat_restated", "tenant_id": "t1",
            "created_at": "2026-01-13T12:00:00Z",
            "data": {"invoice": invoice, "restatement": {"receivable": delta, "taxes": [
                {"name": "VAT", "rate": "19", "amount": delta}]}}}


def credit_note_of(event: dict[str, Any]) -> dict[str, Any]:
    """``credit_note.issued`` crediting the whole invoice of ``event`` (its lines copied, as billing does)."""
    invoice = copy.deepcopy(event["data"]["invoice"]) | {"id": "cn_1", "kind": "credit_note", "number": "CN-000001",
                                                          "credit_note_of": event["data"]["invoice"]["id"]}
    return {"id": "evt_cn_1", "type": "credit_note.issued", "tenant_id": "t1", "created_at": "2026-01-20T09:00:00Z",
            "data": {"invoice": invoice}}
