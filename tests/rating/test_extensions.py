"""Our extensions beyond OCPI: customer classes, volume tiers, idle fee with grace, named taxes,
adjustments in the documented order, currencies with 0 and 3 minor units, rounding policies."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from connector.models import Adjustment, Customer, Session, Tariff
from connector.money import RoundingPolicy, minor_units, quantum
from connector.rating import RatingError, RatingOptions, rate

D = Decimal


def energy_tariff(price: str = "0.30", vat: str | None = "20", currency: str = "EUR", **extra: object) -> Tariff:
    component: dict[str, object] = {"type": "ENERGY", "price": price, "step_size": 1}
    if vat is not None:
        component["vat"] = vat
    return Tariff.model_validate({"id": "E", "currency": currency, "elements": [{"price_components": [component]}],
                                  **extra})


def session(**kw: object) -> Session:
    data: dict[str, object] = {"id": "s1", "start": "2026-01-13T10:00:00Z", "end": "2026-01-13T11:00:00Z",
                               "energy_kwh": "20"}
    data.update(kw)
    return Session.model_validate(data)


def test_customer_class_selects_element() -> None:
    tariff = Tariff.model_validate({"id": "C", "currency": "EUR", "elements": [
        {"price_components": [{"type": "ENERGY", "price": "0.20", "step_size": 1}],
         "restrictions": {"x_customer_classes": ["member", "fleet"]}},
        {"price_components": [{"type": "ENERGY", "price": "0.30", "step_size": 1}]}]})
    assert rate(session(customer_class="member"), tariff).total_cost.excl_vat == D("4.0000")
    assert rate(session(), tariff).total_cost.excl_vat == D("6.0000")
    member = Customer(id="c", customer_class="fleet")
    assert rate(session(), tariff, member).total_cost.excl_vat == D("4.0000")


def test_customer_class_selects_tariff() -> None:
    public = energy_tariff("0.40")
    fleet = energy_tariff("0.25", x_customer_classes=["fleet"])
    assert rate(session(customer_class="fleet"), [public, fleet]).tariff_id == "E"
    assert rate(session(customer_class="fleet"), [public, fleet]).total_cost.excl_vat == D("5.0000")
    assert rate(session(customer_class="public"), [public, fleet]).total_cost.excl_vat == D("8.0000")
    with pytest.raises(RatingError, match="tariff"):
        rate(session(customer_class="public"), [fleet])


def test_volume_tiers_price_changes_after_n_kwh() -> None:
    tariff = Tariff.model_validate({"id": "V", "currency": "EUR",
                                    "x_volume_tiers": [{"from_kwh": 0, "price": "0.40"}, {"from_kwh": 10, "price": "0.30"}],
                                    "elements": [{"price_components": [{"type": "FLAT", "price": "0", "step_size": 1}]}]})
    r = rate(session(energy_kwh="25"), tariff)
    assert [(ln.volume, ln.unit_price) for ln in r.lines if ln.dimension == "ENERGY"] == [
        (D(10), D("0.40")), (D(15), D("0.30"))]
    assert r.total_cost.excl_vat == D("8.5000")


def test_idle_fee_with_grace_from_charging_end() -> None:
    tariff = Tariff.model_validate({"id": "I", "currency": "EUR", "elements": [
        {"price_components": [{"type": "PARKING_TIME", "price": "6.00", "vat": 20, "step_size": 60}],
         "restrictions": {"x_min_idle_duration": 900}},
        {"price_components": [{"type": "ENERGY", "price": "0.30", "vat": 20, "step_size": 1}]}]})
    s = session(end="2026-01-13T12:00:00Z", charging_ended_at="2026-01-13T11:00:00Z")
    r = rate(s, tariff)
    # 20 kWh × 0.30 + 45 idle minutes after a 15-minute grace × 6.00/h
    assert r.total_parking_cost.excl_vat == D("4.5000")
    assert r.total_parking_time == D("1.0000")
    assert r.total_cost.excl_vat == D("10.5000")
    assert r.invoice.amount_due == D("12.60")
    # Left within the grace period: no idle fee.
    s2 = session(end="2026-01-13T11:10:00Z", charging_ended_at="2026-01-13T11:00:00Z")
    assert rate(s2, tariff).total_parking_cost.excl_vat == D("0")


def test_named_taxes_state_city_and_compound() -> None:
    tariff = energy_tariff("0.35", vat=None, currency="USD", x_taxes=[
        {"name": "State sales tax", "rate": "6.25"}, {"name": "City tax", "rate": "2.25"},
        {"name": "Compound levy", "rate": "1", "compound": True}])
    r = rate(session(energy_kwh="23.4"), tariff)  # 8.19 net
    inv = r.invoice
    assert inv.net_total == D("8.19")
    taxes = {t.name: t.amount for t in inv.taxes}
    assert taxes == {"State sales tax": D("0.51"), "City tax": D("0.18"), "Compound levy": D("0.09")}
    assert inv.tax_total == D("0.78") and inv.amount_due == D("8.97")


def test_tax_exempt_customer() -> None:
    r = rate(session(), energy_tariff(), Customer(id="gov", customer_class="government", tax_exempt=True))
    assert (r.invoice.net_total, r.invoice.tax_total, r.invoice.amount_due) == (D("6.00"), D("0"), D("6.00"))


def test_adjustments_in_documented_order() -> None:
    adjustments = (
        Adjustment(kind="incentive_per_kwh", name="State EV credit", value="0.05", cap="0.80"),
        Adjustment(kind="surcharge_fixed", name="Card fee", value="0.35"),
        Adjustment(kind="discount_fixed", name="Welcome", value="1.00"),
        Adjustment(kind="discount_percent", name="Member", value="10", customer_classes=["member"]),
    )
    r = rate(session(customer_class="member"), energy_tariff(), options=RatingOptions(adjustments=adjustments))
    inv = r.invoice
    kinds = [(ln.kind, ln.net) for ln in inv.lines]
    # 6.00 charge → -10% (0.60) → -1.00 → +0.35 card fee → 20% VAT on 4.75 = 0.95 → incentive 20 × 0.05 capped at 0.80
    assert kinds == [("charge", D("6.00")), ("discount", D("-0.60")), ("discount", D("-1.00")),
                     ("surcharge", D("0.35")), ("incentive", D("-0.80"))]
    assert (inv.net_total, inv.tax_total, inv.gross_total) == (D("4.75"), D("0.95"), D("5.70"))
    assert (inv.incentive_total, inv.amount_due) == (D("0.80"), D("4.90"))
    # a public customer does not get the member discount
    r2 = rate(session(customer_class="public"), energy_tariff(), options=RatingOptions(adjustments=adjustments))
    assert r2.invoice.net_total == D("5.35")


def test_fixed_discount_never_below_zero() -> None:
    adj = (Adjustment(kind="discount_fixed", name="Voucher", value="50"),)
    r = rate(session(), energy_tariff(), options=RatingOptions(adjustments=adj))
    assert (r.invoice.net_total, r.invoice.amount_due) == (D("0.00"), D("0.00"))


def test_currency_minor_units() -> None:
    assert (minor_units("JPY"), minor_units("EUR"), minor_units("KWD"), minor_units("CLF")) == (0, 2, 3, 4)
    assert quantum("JPY") == D(1) and quantum("KWD") == D("0.001")
    with pytest.raises(ValueError, match="currency"):
        minor_units("EURO")


def test_jpy_invoice_has_no_decimals() -> None:
    r = rate(session(energy_kwh="12.345"), energy_tariff("35.5", vat="10", currency="JPY"))
    assert r.total_cost.excl_vat == D("438.2475")  # OCPI keeps 4 decimals
    inv = r.invoice
    assert (inv.net_total, inv.tax_total, inv.amount_due) == (D("438"), D("44"), D("482"))


def test_kwd_invoice_has_three_decimals() -> None:
    r = rate(session(energy_kwh="12.345"), energy_tariff("0.0875", vat="5", currency="KWD"))
    inv = r.invoice
    assert (inv.net_total, inv.tax_total, inv.amount_due) == (D("1.080"), D("0.054"), D("1.134"))


def _two_prices(second: str) -> Tariff:
    return Tariff.model_validate({"id": "R", "currency": "EUR", "elements": [
        {"price_components": [{"type": "ENERGY", "price": "0.125", "step_size": 1}],
         "restrictions": {"max_kwh": 1}},
        {"price_components": [{"type": "ENERGY", "price": second, "step_size": 1}]}]})


def test_rounding_policies_differ_only_where_named() -> None:
    def invoice(second: str, policy: RoundingPolicy) -> list[tuple[str, Decimal]]:
        inv = rate(session(energy_kwh="2"), _two_prices(second), options=RatingOptions(rounding=policy)).invoice
        assert inv.net_total == sum(ln.net for ln in inv.lines)
        return [(ln.kind, ln.net) for ln in inv.lines]

    # lines 0.125 and 0.14: exact total 0.265, rounded once by the policy's mode
    assert invoice("0.14", RoundingPolicy.LINE_HALF_UP) == [("charge", D("0.13")), ("charge", D("0.14"))]
    assert invoice("0.14", RoundingPolicy.LINE_HALF_EVEN) == [("charge", D("0.12")), ("charge", D("0.14"))]
    # lines 0.125 and 0.145: exact total 0.27. Line policies put the cent where the remainder is largest
    # (ties: the larger line); total_half_up shows each line rounded and an explicit rounding line.
    assert invoice("0.145", RoundingPolicy.LINE_HALF_UP) == [("charge", D("0.12")), ("charge", D("0.15"))]
    assert invoice("0.145", RoundingPolicy.TOTAL_HALF_UP) == [
        ("charge", D("0.13")), ("charge", D("0.15")), ("rounding", D("-0.01"))]


def test_interim_uses_the_same_function() -> None:
    ongoing = Session(id="s", start="2026-01-13T10:00:00Z", energy_kwh="5")
    interim = rate(ongoing, energy_tariff(), options=RatingOptions(as_of=datetime(2026, 1, 13, 10, 30, tzinfo=UTC)))
    assert interim.final is False and interim.total_cost.excl_vat == D("1.5000")
    with pytest.raises(RatingError, match="end"):
        rate(ongoing, energy_tariff())


def test_currency_mismatch_is_refused() -> None:
    with pytest.raises(RatingError, match="currency: session is in USD"):
        rate(session(currency="USD"), energy_tariff())


def test_a_tariff_copy_with_other_elements_prices_its_own_elements() -> None:
    original = energy_tariff("0.30")
    assert rate(session(), original).total_cost.excl_vat == D("6.0000")  # compiles and caches the 0.30 element
    cheaper = original.model_copy(update={"elements": energy_tariff("0.10").elements})
    assert rate(session(), cheaper).total_cost.excl_vat == D("2.0000")
    assert rate(session(), original).total_cost.excl_vat == D("6.0000")
