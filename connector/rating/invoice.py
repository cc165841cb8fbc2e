"""The invoice view of a rated session: lines in minor units, taxes per named rate, adjustments.

Documented order (docs/rating.md):
1. charge lines: priced lines grouped by (category, dimension, unit price, VAT, element), net rounded
   per the rounding policy;
2. the min/max price cap difference as its own line (taxed like the largest charge line);
3. adjustments: percentage discounts, fixed discounts (never below zero), percentage surcharges,
   fixed surcharges — all before tax, each taxed like what it adjusts;
4. taxes per named rate on the sum of the rounded nets it applies to (compound taxes on net + the
   non-compound taxes), spread over the lines so line taxes add up exactly;
5. government incentives (per kWh, capped) after tax: they reduce the amount due, not the tax base,
   and are reported apart for the authority.
Totals are sums of the lines, so ``net_total``/``tax_total``/``amount_due`` always add up.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from functools import lru_cache

from connector.models.customer import Adjustment, AdjustmentKind, Customer
from connector.models.tariff import Tariff, TaxRate
from connector.money import ZERO, RoundingPolicy, round_money, round_ocpi
from connector.rating.options import RatingOptions
from connector.rating.result import Amount, InvoiceLine, InvoiceView, LineTax, PricedLine, TaxTotal

HUNDRED = Decimal(100)
_UNITS = {"ENERGY": "kWh", "TIME": "h", "PARKING_TIME": "h", "RESERVATION_TIME": "h", "FLAT": "session"}
_LABELS = {
    "ENERGY": "Energy",
    "TIME": "Charging time",
    "PARKING_TIME": "Idle / parking time",
    "RESERVATION_TIME": "Reservation time",
    "FLAT": "Session fee",
}


@lru_cache(maxsize=256)
def _vat_rate(vat: Decimal) -> TaxRate:
    return TaxRate(name="VAT", rate=vat)


def _tax_profile(
    category: str, vat: Decimal | None, tariff: Tariff, customer: Customer | None
) -> tuple[str, tuple[TaxRate, ...]]:
    if customer is not None and customer.tax_exempt:
        return "exempt", ()
    if tariff.x_taxes:
        rates = tuple(t for t in tariff.x_taxes if t.categories is None or category in t.categories)
    elif vat is not None:
        rates = (_vat_rate(vat),)
    else:
        rates = ()
    key = "+".join(f"{t.name}@{t.rate}{'c' if t.compound else ''}" for t in rates) or "none"
    return key, rates


class _Builder:
    def __init__(self, tariff: Tariff, customer: Customer | None, policy: RoundingPolicy) -> None:
        self.currency = tariff.currency
        self.policy = policy
        self.tariff = tariff
        self.customer = customer
        self.lines: list[InvoiceLine] = []
        self.exact: list[Decimal] = []  # full-precision net of each line (for total_half_up)
        self.profiles: dict[str, tuple[TaxRate, ...]] = {}

    def money(self, value: Decimal) -> Decimal:
        return round_money(value, self.currency, self.policy)

    def add(self, line: InvoiceLine, exact: Decimal, rates: tuple[TaxRate, ...]) -> None:
        self.profiles[line.tax_key] = rates
        self.lines.append(line)
        self.exact.append(exact)

    def dominant_key(self) -> str:
        charges = [ln for ln in self.lines if ln.kind == "charge"]
        if not charges:
            key, rates = _tax_profile("fixed", None, self.tariff, self.customer)
            self.profiles.setdefault(key, rates)
            return key
        return max(charges, key=lambda ln: ln.net).tax_key

    def nets_by_key(self, categories: Sequence[str] | None) -> dict[str, Decimal]:
        out: dict[str, Decimal] = {}
        for ln in self.lines:
            if ln.kind == "incentive" or (categories is not None and ln.category not in categories):
                continue
            out[ln.tax_key] = out.get(ln.tax_key, ZERO) + ln.net
        return out


def build_invoice(
    *,
    lines: list[PricedLine],
    tariff: Tariff,
    customer: Customer | None,
    customer_class: str | None,
    options: RatingOptions,
    uncapped: Amount,
    capped: Amount,
    cap_applied: str | None,
    total_energy: Decimal,
    at: datetime,
) -> InvoiceView:
    b = _Builder(tariff, customer, options.rounding)
    # 1. charge lines, grouped in order of first appearance
    groups: dict[tuple[str, str, Decimal, Decimal | None, int], list[PricedLine]] = {}
    for pl in lines:
        groups.setdefault((pl.category, pl.dimension, pl.unit_price, pl.vat, pl.element_index), []).append(pl)
    for (category, dimension, price, vat, _element), members in groups.items():
        exact = sum((m.cost_excl_vat for m in members), ZERO)
        quantity = Decimal(1)
        if dimension != "FLAT":  # shown with OCPI's 4 decimals, trailing zeros dropped
            quantity = round_ocpi(sum((m.billed_volume for m in members), ZERO)).normalize()
        key, rates = _tax_profile(category, vat, tariff, customer)
        label = _LABELS[dimension]
        unit = _UNITS[dimension]
        b.add(
            InvoiceLine("charge", category, f"{label} @ {price} {tariff.currency}/{unit}", quantity, unit,
                        price, b.money(exact), key),
            exact,
            rates,
        )
    # 2. cap
    if cap_applied is not None and capped.excl_vat != uncapped.excl_vat:
        delta = capped.excl_vat - uncapped.excl_vat
        key = b.dominant_key()
        label = "Minimum session price" if cap_applied == "min_price" else "Maximum session price"
        b.add(InvoiceLine("price_cap", "fixed", f"{label} adjustment", Decimal(1), "session", delta,
                          b.money(delta), key), delta, b.profiles[key])
    # 3. adjustments before tax, in the documented order
    chosen = [a for a in options.adjustments if a.applies(customer_class, at)]
    order = list(AdjustmentKind)
    chosen.sort(key=lambda a: order.index(a.kind))
    incentives: list[Adjustment] = []
    for adj in chosen:
        if adj.kind is AdjustmentKind.INCENTIVE_PER_KWH:
            incentives.append(adj)
        elif adj.kind in (AdjustmentKind.DISCOUNT_PERCENT, AdjustmentKind.SURCHARGE_PERCENT):
            sign = -1 if adj.kind is AdjustmentKind.DISCOUNT_PERCENT else 1
            kind = "discount" if sign < 0 else "surcharge"
            for key, base in b.nets_by_key(adj.categories).items():
                if base <= 0:
                    continue
                amount = base * adj.value / HUNDRED
                if adj.cap is not None:
                    amount = min(amount, adj.cap)
                net = b.money(amount) * sign
                b.add(InvoiceLine(kind, "adjustment", f"{adj.name} ({adj.value}%)", Decimal(1), "",
                                  net, net, key), net, b.profiles[key])
        else:
            sign = -1 if adj.kind is AdjustmentKind.DISCOUNT_FIXED else 1
            amount = adj.value if adj.cap is None else min(adj.value, adj.cap)
            if sign < 0:
                available = sum(b.nets_by_key(adj.categories).values(), ZERO)
                amount = min(amount, max(available, ZERO))
            net = b.money(amount) * sign
            key = b.dominant_key()
            kind = "discount" if sign < 0 else "surcharge"
            b.add(InvoiceLine(kind, "adjustment", adj.name, Decimal(1), "", net, net, key), net, b.profiles[key])
    # rounding line for the total policy: net total rounded once from full precision
    if options.rounding is RoundingPolicy.TOTAL_HALF_UP:
        diff = b.money(sum(b.exact, ZERO)) - sum((ln.net for ln in b.lines), ZERO)
        if diff != 0:
            b.add(InvoiceLine("rounding", "adjustment", "Rounding", Decimal(1), "", diff, diff, "none"), diff, ())
    # 4. taxes: per rate on the sum of the rounded nets it applies to (what an auditor recomputes),
    #    then spread over the lines so that line taxes add up to the rate's total exactly.
    totals: dict[tuple[str, Decimal, bool], list[Decimal]] = {}
    for compound_pass in (False, True):
        by_rate: dict[tuple[str, Decimal, bool], list[tuple[InvoiceLine, Decimal]]] = {}
        for ln in b.lines:
            for rate in b.profiles.get(ln.tax_key, ()):
                if rate.compound is compound_pass:
                    base = ln.net + ln.tax if compound_pass else ln.net
                    by_rate.setdefault((rate.name, rate.rate, rate.compound), []).append((ln, base))
        for rate_key, items in by_rate.items():
            _name, pct, _compound = rate_key
            base_total = sum((base for _, base in items), ZERO)
            amount_total = b.money(base_total * pct / HUNDRED)
            shares = [b.money(base * pct / HUNDRED) for _, base in items]
            drift = amount_total - sum(shares, ZERO)
            if drift:
                biggest = max(range(len(items)), key=lambda i: abs(items[i][1]))
                shares[biggest] += drift
            for (ln, _base), share in zip(items, shares, strict=True):
                ln.taxes.append(LineTax(rate_key[0], pct, share))
            totals[rate_key] = [base_total, amount_total]
    net_total = sum((ln.net for ln in b.lines), ZERO)
    tax_total = sum((ln.tax for ln in b.lines), ZERO)
    gross_total = net_total + tax_total
    # 5. incentives after tax
    incentive_total = ZERO
    for adj in incentives:
        amount = adj.value * total_energy
        if adj.cap is not None:
            amount = min(amount, adj.cap)
        amount = min(b.money(amount), gross_total - incentive_total)
        if amount <= 0:
            continue
        incentive_total += amount
        b.lines.append(InvoiceLine("incentive", "incentive", f"{adj.name} ({adj.value} {b.currency}/kWh)",
                                   total_energy, "kWh", -adj.value, -amount, "none"))
    return InvoiceView(
        currency=b.currency,
        rounding_policy=str(options.rounding),
        lines=b.lines,
        net_total=net_total,
        taxes=[TaxTotal(n, r, c, v[0], v[1]) for (n, r, c), v in totals.items()],
        tax_total=tax_total,
        gross_total=gross_total,
        incentive_total=incentive_total,
        amount_due=gross_total - incentive_total,
    )
