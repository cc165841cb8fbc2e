"""The invoice view of a rated session: lines in minor units, taxes per named rate, adjustments.

Documented order (docs/rating.md):
1. charge lines: priced lines grouped by (category, dimension, unit price, VAT, element);
2. the min/max price cap difference: one line per tax profile, pro rata of the nets, so the tax
   breakdown still sums;
3. the rating lines' nets add up to ``total_cost.excl_vat`` rounded by the policy (line policies: the
   lines are rounded by largest remainder; ``total_half_up``: an explicit rounding line);
4. with the components' VAT, the rating lines' tax is ``round(total_cost.incl_vat) - net``, split per
   rate by largest remainder of the exact (capped) tax: the invoice bills what the rating says;
   with named taxes (``x_taxes``) each tax is levied on the sum of the rounded nets it applies to;
5. adjustments: percentage discounts, fixed discounts (never below zero), percentage surcharges,
   fixed surcharges — all before tax, each taxed like what it adjusts;
6. government incentives (per kWh, capped) after tax: they reduce the amount due, not the tax base,
   and are reported apart for the authority.
Totals are sums of the lines, so ``net_total``/``tax_total``/``amount_due`` always add up.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal
from functools import lru_cache

from connector.models.customer import Adjustment, AdjustmentKind, Customer
from connector.models.tariff import Tariff, TaxRate
from connector.money import ZERO, RoundingPolicy, quantum, round_money, round_ocpi
from connector.rating.caps import fallback_vat
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


def _vat_rate(vat: Decimal) -> TaxRate:
    # keyed by the text: Decimal("10") == Decimal("10.0") would hand one tariff the other's rate, and the
    # invoice would print whichever was rated first in the process
    return _vat_rate_of(str(vat))


@lru_cache(maxsize=256)
def _vat_rate_of(text: str) -> TaxRate:
    return TaxRate(name="VAT", rate=Decimal(text))


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
        self.exact: list[Decimal] = []  # full-precision net of each line
        self.exact_tax: list[Decimal] = []  # full-precision components' VAT of each rating line
        self.profiles: dict[str, tuple[TaxRate, ...]] = {}

    def money(self, value: Decimal) -> Decimal:
        return round_money(value, self.currency, self.policy)

    def add(self, line: InvoiceLine, exact: Decimal, rates: tuple[TaxRate, ...], exact_tax: Decimal = ZERO) -> None:
        self.profiles[line.tax_key] = rates
        self.lines.append(line)
        self.exact.append(exact)
        self.exact_tax.append(exact_tax)

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


def allocate(total: Decimal, exacts: Sequence[Decimal], step: Decimal) -> list[Decimal]:
    """Round ``exacts`` to multiples of ``step`` so that they sum to ``total`` (largest remainder): each
    share is floored, and the units left go to the largest remainders (then the largest amounts)."""
    if not exacts:
        return []
    floors = [(x / step).to_integral_value(rounding=ROUND_FLOOR) * step for x in exacts]
    units = int((total - sum(floors, ZERO)) / step)
    n = len(exacts)
    order = sorted(range(n), key=lambda i: (floors[i] - exacts[i], -abs(exacts[i]), i))
    out = list(floors)
    for j in range(abs(units)):
        if units > 0:
            out[order[j % n]] += step
        else:
            out[order[n - 1 - j % n]] -= step
    return out


def _cap_lines(b: _Builder, uncapped: Amount, capped: Amount, cap_applied: str, vat_mode: bool) -> None:
    """The cap as one line per tax profile: the capped net (and VAT) of each profile is its uncapped
    share scaled to the capped total, so every rate keeps its share of both bases."""
    nets: dict[str, Decimal] = {}
    taxes: dict[str, Decimal] = {}
    for ln, net, tax in zip(b.lines, b.exact, b.exact_tax, strict=True):
        nets[ln.tax_key] = nets.get(ln.tax_key, ZERO) + net
        taxes[ln.tax_key] = taxes.get(ln.tax_key, ZERO) + tax
    if vat_mode:
        spare, rates = _tax_profile("fixed", fallback_vat(b.tariff), b.tariff, b.customer)
        b.profiles.setdefault(spare, rates)
    else:
        spare = b.dominant_key()
    nets.setdefault(spare, ZERO)
    taxes.setdefault(spare, ZERO)
    n_total, t_total = sum(nets.values(), ZERO), sum(taxes.values(), ZERO)
    e_total, x_total = capped.excl_vat, capped.incl_vat - capped.excl_vat
    label = "Minimum session price" if cap_applied == "min_price" else "Maximum session price"
    for key in nets:
        new_net = nets[key] * e_total / n_total if n_total != 0 else (e_total if key == spare else ZERO)
        if t_total != 0:
            new_tax = taxes[key] * x_total / t_total
        else:
            new_tax = x_total if key == spare else ZERO
        d_net, d_tax = new_net - nets[key], (new_tax - taxes[key]) if vat_mode else ZERO
        if d_net == 0 and d_tax == 0:
            continue
        rates = b.profiles[key]
        suffix = f" ({', '.join(f'{r.name} {r.rate}%' for r in rates)})" if len(nets) > 1 and rates else ""
        b.add(InvoiceLine("price_cap", "fixed", f"{label} adjustment{suffix}", Decimal(1), "session", d_net,
                          d_net, key), d_net, rates, d_tax)


def _round_nets(b: _Builder, target: Decimal) -> None:
    """Rating lines' nets: they add up to ``target`` (``total_cost.excl_vat`` rounded by the policy)."""
    if b.policy is RoundingPolicy.TOTAL_HALF_UP:
        for ln, exact in zip(b.lines, b.exact, strict=True):
            ln.net = b.money(exact)
        diff = target - sum((ln.net for ln in b.lines), ZERO)
        if diff != 0:
            b.add(InvoiceLine("rounding", "adjustment", "Rounding", Decimal(1), "", diff, diff, "none"), diff, ())
    else:
        for ln, net in zip(b.lines, allocate(target, b.exact, quantum(b.currency)), strict=True):
            ln.net = net
    for ln in b.lines:
        if ln.kind == "price_cap":
            ln.unit_price = ln.net


def _vat_of_rating_lines(b: _Builder, count: int, tax: Decimal) -> None:
    """Split the rating lines' VAT (gross - net, both rounded from the OCPI totals) per rate by largest
    remainder of the exact VAT, then over each rate's lines the same way."""
    step = quantum(b.currency)
    keys: dict[str, list[int]] = {}
    for i in range(count):
        keys.setdefault(b.lines[i].tax_key, []).append(i)
    taxed = [k for k in keys if b.profiles.get(k)]
    if not taxed:  # no component carries a VAT: only a cap's explicit incl_vat can leave a tax to show
        if tax == 0:
            return
        taxed = list(keys)
    per_key = allocate(tax, [sum((b.exact_tax[i] for i in keys[k]), ZERO) for k in taxed], step)
    for key, amount in zip(taxed, per_key, strict=True):
        members = keys[key]
        rates = b.profiles.get(key) or (_vat_rate(ZERO),)
        shares = allocate(amount, [b.exact_tax[i] for i in members], step)
        for i, share in zip(members, shares, strict=True):
            b.lines[i].taxes.append(LineTax(rates[0].name, rates[0].rate, share))


def _vat_of_adjustments(b: _Builder, first: int) -> None:
    """Adjustments are taxed like what they adjust: the rate on their rounded nets, per rate."""
    keys: dict[str, list[int]] = {}
    for i in range(first, len(b.lines)):
        if b.profiles.get(b.lines[i].tax_key):
            keys.setdefault(b.lines[i].tax_key, []).append(i)
    for key, members in keys.items():
        rate = b.profiles[key][0]
        exacts = [b.lines[i].net * rate.rate / HUNDRED for i in members]
        amount = b.money(sum(exacts, ZERO))
        for i, share in zip(members, allocate(amount, exacts, quantum(b.currency)), strict=True):
            b.lines[i].taxes.append(LineTax(rate.name, rate.rate, share))


def _named_taxes(b: _Builder) -> None:
    """Per named rate on the sum of the rounded nets it applies to (what an auditor recomputes), spread
    over the lines so that line taxes add up to the rate's total exactly; compound rates last."""
    for compound_pass in (False, True):
        by_rate: dict[tuple[str, Decimal, bool], list[tuple[InvoiceLine, Decimal]]] = {}
        for ln in b.lines:
            for rate in b.profiles.get(ln.tax_key, ()):
                if rate.compound is compound_pass:
                    base = ln.net + ln.tax if compound_pass else ln.net
                    by_rate.setdefault((rate.name, rate.rate, rate.compound), []).append((ln, base))
        for (name, pct, _compound), items in by_rate.items():
            base_total = sum((base for _, base in items), ZERO)
            amount_total = b.money(base_total * pct / HUNDRED)
            shares = [b.money(base * pct / HUNDRED) for _, base in items]
            drift = amount_total - sum(shares, ZERO)
            if drift:
                biggest = max(range(len(items)), key=lambda i: abs(items[i][1]))
                shares[biggest] += drift
            for (ln, _base), share in zip(items, shares, strict=True):
                ln.taxes.append(LineTax(name, pct, share))


def _tax_totals(b: _Builder) -> list[TaxTotal]:
    """One total per (name, rate, compound): the nets it was levied on and the amounts of its lines."""
    totals: dict[tuple[str, Decimal, bool], list[Decimal]] = {}
    for ln in b.lines:
        rates = b.profiles.get(ln.tax_key, ())
        for tax in ln.taxes:
            compound = any(r.compound for r in rates if r.name == tax.name and r.rate == tax.rate)
            acc = totals.setdefault((tax.name, tax.rate, compound), [ZERO, ZERO])
            acc[0] += ln.net + (ln.tax - tax.amount if compound else ZERO)
            acc[1] += tax.amount
    return [TaxTotal(n, r, c, v[0], v[1]) for (n, r, c), v in totals.items()]


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
    vat_mode = not tariff.x_taxes and not (customer is not None and customer.tax_exempt)
    # 1. charge lines, grouped in order of first appearance
    groups: dict[tuple[str, str, Decimal, Decimal | None, int], list[PricedLine]] = {}
    for pl in lines:
        groups.setdefault((pl.category, pl.dimension, pl.unit_price, pl.vat, pl.element_index), []).append(pl)
    for (category, dimension, price, vat, _element), members in groups.items():
        exact = sum((m.cost_excl_vat for m in members), ZERO)
        exact_tax = sum((m.cost_incl_vat for m in members), ZERO) - exact
        quantity = Decimal(1)
        if dimension != "FLAT":  # shown with OCPI's 4 decimals, trailing zeros dropped
            quantity = round_ocpi(sum((m.billed_volume for m in members), ZERO)).normalize()
        key, rates = _tax_profile(category, vat, tariff, customer)
        label = _LABELS[dimension]
        unit = _UNITS[dimension]
        b.add(
            InvoiceLine("charge", category, f"{label} @ {price} {tariff.currency}/{unit}", quantity, unit,
                        price, exact, key),
            exact,
            rates,
            exact_tax,
        )
    # 2. cap, one line per tax profile
    if cap_applied is not None and (capped.excl_vat != uncapped.excl_vat or capped.incl_vat != uncapped.incl_vat):
        _cap_lines(b, uncapped, capped, cap_applied, vat_mode)
    # 3. the rating lines' nets add up to the OCPI total, rounded by the policy
    net_target = b.money(round_ocpi(capped.excl_vat))
    _round_nets(b, net_target)
    rating_count = len(b.lines)
    # 4. VAT of the rating lines: the rounded OCPI gross minus the rounded net
    if vat_mode:
        _vat_of_rating_lines(b, rating_count, b.money(round_ocpi(capped.incl_vat)) - net_target)
    # 5. adjustments before tax, in the documented order
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
    if vat_mode:
        _vat_of_adjustments(b, rating_count)
    else:
        _named_taxes(b)
    net_total = sum((ln.net for ln in b.lines), ZERO)
    tax_total = sum((ln.tax for ln in b.lines), ZERO)
    gross_total = net_total + tax_total
    # 6. incentives after tax
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
        taxes=_tax_totals(b),
        tax_total=tax_total,
        gross_total=gross_total,
        incentive_total=incentive_total,
        amount_due=gross_total - incentive_total,
    )
