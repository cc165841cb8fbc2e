"""Re-rating reads the amount due without building the invoice where it is known in advance: on every
case of the fixed rating corpus it equals the built invoice's amount due (and a case that needs the
invoice still gets it)."""

from __future__ import annotations

from decimal import Decimal

from connector.billing.reconciliation.rerating import amount_due
from connector.models import Customer, Session, Tariff
from connector.models.customer import Adjustment
from connector.money import RoundingPolicy
from connector.rating import RatingOptions, rate
from connector.validation import FieldError
from tests.rating.corpus.cases import cases


def test_the_shortcut_equals_the_invoice_on_the_corpus() -> None:
    checked = shortcut = 0
    for _name, run in cases():
        try:
            result = run()
        except FieldError:
            continue
        # the corpus closures hold their inputs: read them back to call amount_due as re-rating does
        tariffs, customer, options = _inputs(run)
        got = amount_due(result, tariffs, customer, options)
        assert got == result.invoice.amount_due and str(got) == str(result.invoice.amount_due), _name
        checked += 1
        shortcut += not options.adjustments and not (customer is not None and customer.tax_exempt)
    assert checked > 3900 and shortcut > 3000


def _inputs(run: object) -> tuple[list[Tariff], Customer | None, RatingOptions]:
    defaults = run.__defaults__ or ()  # type: ignore[attr-defined]
    tariffs: list[Tariff] = []
    customer: Customer | None = None
    options = RatingOptions()
    for value in defaults:
        if isinstance(value, Tariff):
            tariffs = [value]
        elif isinstance(value, list):
            tariffs = value
        elif isinstance(value, Customer):
            customer = value
        elif isinstance(value, RatingOptions):
            options = value
    return tariffs, customer, options


def test_adjustments_tax_exemption_and_named_taxes_build_the_invoice() -> None:
    tariff = Tariff.model_validate({"id": "T", "currency": "EUR", "elements": [
        {"price_components": [{"type": "ENERGY", "price": "0.333", "vat": "19", "step_size": 1}]}]})
    session = Session(id="s", start="2026-01-05T10:00:00Z", end="2026-01-05T11:00:00Z", energy_kwh="10.5")
    discount = (Adjustment(kind="discount_percent", name="d", value=Decimal(10)),)
    exempt = Customer(id="c", tax_exempt=True)
    for customer, options in ((None, RatingOptions(adjustments=discount)), (exempt, RatingOptions()),
                              (None, RatingOptions(rounding=RoundingPolicy.TOTAL_HALF_UP))):
        result = rate(session, tariff, customer, options)
        assert amount_due(result, [tariff], customer, options) == result.invoice.amount_due
    assert amount_due(rate(session, tariff, exempt), [tariff], exempt, RatingOptions()) == Decimal("3.50")
