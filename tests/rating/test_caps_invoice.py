"""The invoice bills what the rating says: caps on both VAT bases reach amount_due, caps without
incl_vat derive the incl-VAT limit from the session's own VAT, and lines always sum to the rounded totals."""

from __future__ import annotations

from decimal import Decimal

from connector.models import Session, Tariff
from connector.money import RoundingPolicy, round_money
from connector.rating import RatedSession, RatingOptions, rate

D = Decimal


def tariff(**extra: object) -> Tariff:
    """tariff_6 shape: FLAT 0.50 at 20 % VAT + ENERGY 0.25/kWh at 10 % VAT (two VAT rates)."""
    return Tariff.model_validate({"id": "T", "currency": "EUR", "elements": [{"price_components": [
        {"type": "FLAT", "price": "0.50", "vat": "20", "step_size": 1},
        {"type": "ENERGY", "price": "0.25", "vat": "10", "step_size": 1}]}], **extra})


def session(kwh: str) -> Session:
    return Session.model_validate({"id": "s", "start": "2026-01-13T10:00:00Z", "end": "2026-01-13T11:00:00Z",
                                   "energy_kwh": kwh})


def assert_invoice_agrees(r: RatedSession) -> None:
    inv = r.invoice
    policy = RoundingPolicy(inv.rounding_policy)
    assert inv.amount_due == round_money(r.total_cost.incl_vat, r.currency, policy)
    assert inv.net_total == round_money(r.total_cost.excl_vat, r.currency, policy)
    assert inv.net_total == sum((ln.net for ln in inv.lines), D(0))
    assert inv.tax_total == sum((ln.tax for ln in inv.lines), D(0)) == sum((t.amount for t in inv.taxes), D(0))
    assert inv.gross_total == inv.net_total + inv.tax_total


def test_max_price_with_two_vat_rates_is_what_the_invoice_bills() -> None:
    r = rate(session("50"), tariff(max_price={"excl_vat": "10.00", "incl_vat": "11.00"}))
    assert (r.total_cost.excl_vat, r.total_cost.incl_vat) == (D("10.0000"), D("11.0000"))
    inv = r.invoice
    assert (inv.net_total, inv.tax_total, inv.amount_due) == (D("10.00"), D("1.00"), D("11.00"))  # was 11.05
    caps = [ln for ln in inv.lines if ln.kind == "price_cap"]
    assert len(caps) == 2  # one per VAT rate, pro rata of the nets: 12.50 and 0.50 scaled by 10/13
    assert [ln.net for ln in caps] == [D("-0.12"), D("-2.88")]
    taxes = {t.rate: (t.taxable_base, t.amount) for t in inv.taxes}
    assert taxes == {D("20"): (D("0.38"), D("0.07")), D("10"): (D("9.62"), D("0.93"))}
    assert_invoice_agrees(r)


def test_min_price_binding_only_on_the_incl_vat_side_reaches_the_invoice() -> None:
    # 2 kWh + start fee: 1.00 excl / 1.15 incl; min_price 0.90 / 1.30 binds only incl.
    r = rate(session("2"), tariff(min_price={"excl_vat": "0.90", "incl_vat": "1.30"}))
    assert (r.total_cost.excl_vat, r.total_cost.incl_vat) == (D("1.0000"), D("1.3000"))
    inv = r.invoice
    assert (inv.net_total, inv.amount_due) == (D("1.00"), D("1.30"))  # was 1.15
    assert_invoice_agrees(r)


def test_caps_without_incl_vat_use_the_sessions_vat() -> None:
    energy = Tariff.model_validate({"id": "E", "currency": "EUR", "min_price": {"excl_vat": "0.50"},
                                    "max_price": {"excl_vat": "10.00"}, "elements": [{"price_components": [
                                        {"type": "ENERGY", "price": "0.25", "vat": "10", "step_size": 1}]}]})
    low = rate(session("1.2"), energy)  # 0.30 / 0.33 raised to 0.50 / 0.55 (was 0.50 / 0.33)
    assert (low.total_cost.excl_vat, low.total_cost.incl_vat) == (D("0.5000"), D("0.5500"))
    assert_invoice_agrees(low)
    high = rate(session("50"), energy)  # 12.50 / 13.75 capped to 10.00 / 11.00 (incl was uncapped)
    assert (high.total_cost.excl_vat, high.total_cost.incl_vat) == (D("10.0000"), D("11.0000"))
    assert_invoice_agrees(high)
    # Two VAT rates: the effective ratio of the uncapped totals (14.35 / 13.00) scales the limit.
    mixed = rate(session("50"), tariff(max_price={"excl_vat": "10.00"}))
    assert (mixed.total_cost.excl_vat, mixed.total_cost.incl_vat) == (D("10.0000"), D("11.0385"))
    assert_invoice_agrees(mixed)


def test_min_price_on_a_free_session_uses_the_tariffs_vat() -> None:
    energy = Tariff.model_validate({"id": "E", "currency": "EUR", "min_price": {"excl_vat": "0.50"},
                                    "elements": [{"price_components": [
                                        {"type": "ENERGY", "price": "0.25", "vat": "10", "step_size": 1}]}]})
    r = rate(session("0"), energy)
    assert (r.total_cost.excl_vat, r.total_cost.incl_vat) == (D("0.5000"), D("0.5500"))
    assert_invoice_agrees(r)
    assert [(t.rate, t.amount) for t in r.invoice.taxes] == [(D("10"), D("0.05"))]


def test_several_lines_sum_to_the_rounded_total() -> None:
    # Two energy prices with sub-cent line costs: 1.2345 + 2.3456 = 3.5801 excl, 19 % VAT.
    t = Tariff.model_validate({"id": "R", "currency": "EUR", "elements": [
        {"price_components": [{"type": "ENERGY", "price": "1.2345", "vat": "19", "step_size": 1}],
         "restrictions": {"max_kwh": 1}},
        {"price_components": [{"type": "ENERGY", "price": "2.3456", "vat": "19", "step_size": 1}]}]})
    for policy in RoundingPolicy:
        r = rate(session("2"), t, options=RatingOptions(rounding=policy))
        assert_invoice_agrees(r)
        assert r.invoice.amount_due == D("4.26")  # 4.260319 incl


def test_vat_is_the_rounded_gross_minus_the_rounded_net() -> None:
    # 57.344 kWh × 0.33 at 19 %: 18.92352 excl, 22.5189888 incl → 18.92 net, 22.52 due.
    t = Tariff.model_validate({"id": "H", "currency": "EUR", "elements": [{"price_components": [
        {"type": "ENERGY", "price": "0.33", "vat": "19", "step_size": 1}]}]})
    r = rate(session("57.344"), t)
    assert (r.invoice.net_total, r.invoice.tax_total, r.invoice.amount_due) == (D("18.92"), D("3.60"), D("22.52"))
    assert_invoice_agrees(r)


def test_no_vat_anywhere_shows_no_tax() -> None:
    t = Tariff.model_validate({"id": "N", "currency": "EUR", "elements": [{"price_components": [
        {"type": "ENERGY", "price": "0.33", "step_size": 1}]}]})
    inv = rate(session("10"), t).invoice
    assert inv.taxes == [] and all(ln.taxes == [] for ln in inv.lines) and inv.amount_due == D("3.30")
