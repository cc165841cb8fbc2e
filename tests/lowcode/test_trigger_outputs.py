"""Every Power Automate / Logic Apps trigger's output is typed: a flow author can pick the session id, the
totals, the customer's e-mail and each line from the dynamic-content panel (docs/lowcode/power-automate.md)."""

from __future__ import annotations

import copy
import re

import pytest
import yaml

from tests.lowcode.conftest import FIXTURE_SPEC
from tests.lowcode.outputs import bare_objects, outputs, trigger
from tests.paths import REPO

SESSION = [("Data", "Session", "ID")]
RATING = [("Data", "Rating", "Total cost", "Excl. VAT"), ("Data", "Rating", "Total cost", "Incl. VAT"),
          ("Data", "Rating", "Currency"), ("Data", "Rating", "Lines", "Cost incl. VAT"),
          ("Data", "Rating", "Invoice", "Amount due")]
INVOICE = [("Data", "Invoice", "ID"), ("Data", "Invoice", "Number"), ("Data", "Invoice", "Gross total"),
           ("Data", "Invoice", "Amount due"), ("Data", "Invoice", "Currency"),
           ("Data", "Invoice", "Customer", "Email"), ("Data", "Invoice", "Lines", "Session ID"),
           ("Data", "Invoice", "Lines", "Gross")]
# session.billed carries the invoice's summary and the session's own lines (not the whole draft)
BILLED = [("Data", "Invoice", "ID"), ("Data", "Invoice", "Number"), ("Data", "Invoice", "Gross total"),
          ("Data", "Invoice", "Amount due"), ("Data", "Invoice", "Currency"),
          ("Data", "Invoice", "Customer", "Email"), ("Data", "Lines", "Session ID"), ("Data", "Lines", "Gross")]
# what each trigger must offer: the session, the totals, the customer's e-mail and each line where it has them
NEEDED = {
    "onSessionBilled": SESSION + RATING + BILLED,
    "onInterimCost": SESSION + RATING + [("Data", "As of")],
    "onSessionsRerated": [*SESSION, ("Data", "Before", "Total cost", "Incl. VAT"), ("Data", "After", "Total cost", "Incl. VAT"), ("Data", "After", "Lines", "Cost incl. VAT"), ("Data", "Difference", "Gross"), ("Data", "Policy")],
    "onReconciliationCompleted": [("Data", "Reconciliation", "Summary", "Billed"),
                                  ("Data", "Reconciliation", "Summary", "Difference"),
                                  ("Data", "Reconciliation", "Rows", "Station")],
    "onBillingAnomaly": [("Data", "Anomaly", "Rule"), ("Data", "Anomaly", "Session ID"),
                         ("Data", "Anomaly", "Message"), ("Data", "Anomaly", "Severity")],
    "onInvoiceFinalized": INVOICE,
    "onInvoicePaid": [*INVOICE, ("Data", "Payment", "Paid at")],
    "onInvoiceVoided": INVOICE,
    "onCreditNoteIssued": [*INVOICE, ("Data", "Invoice", "Credit note of")],
}
ENVELOPE = [("Event ID",), ("Event type",), ("Created at",)]


def triggers(swagger: dict) -> list[str]:
    return [op["operationId"] for item in swagger["paths"].values() for op in item.values()
            if isinstance(op, dict) and op.get("x-ms-trigger")]


def test_every_trigger_is_checked(committed_swagger):
    assert sorted(triggers(committed_swagger)) == sorted(NEEDED)


@pytest.mark.parametrize("op_id", sorted(NEEDED))
def test_trigger_output_reaches_the_fields_a_flow_needs(committed_swagger, op_id):
    _, schema = trigger(committed_swagger, op_id)
    offered = outputs(committed_swagger, schema)
    missing = [" / ".join(labels) for labels in NEEDED[op_id] + ENVELOPE if labels not in offered]
    assert not missing, f"{op_id}: the dynamic-content panel lacks {missing}"
    data = schema["properties"]["data"]["properties"]
    # each payload field is a schema of the spec, never a bare object
    assert all("$ref" in prop or prop.get("type") == "string" or "$ref" in prop.get("items", {})
               for prop in data.values()), data
    assert not [w for w in bare_objects(committed_swagger, schema) if w.count(".") <= 2], \
        bare_objects(committed_swagger, schema)


def test_first_flow_of_the_guide_picks_only_offered_fields(committed_swagger):
    """The dynamic content the guide's first flow names (*Label* or *Parent* (*Child*, ...)) exists."""
    text = (REPO / "docs" / "lowcode" / "power-automate.md").read_text()
    step = text[text.index("The trigger's dynamic content includes"):text.index("Picking a field of")]
    offered = outputs(committed_swagger, trigger(committed_swagger, "onSessionBilled")[1])
    labels = {label for path in offered for label in path}
    named = set(re.findall(r"\*([A-Z][^*]+)\*", step)) - {"Data"}
    assert named, "the guide's step 3 names no dynamic content"
    assert named <= labels, named - labels
    assert ("Data", "Invoice", "Customer", "Email") in offered


def test_field_titles_are_friendly(committed_swagger):
    line = committed_swagger["definitions"]["PricedLine"]["properties"]
    assert line["cost_excl_vat"]["x-ms-summary"] == "Cost excl. VAT"
    assert "vat" not in line["cost_excl_vat"]["description"]
    assert committed_swagger["definitions"]["Invoice"]["properties"]["id"]["x-ms-summary"] == "ID"
    titles = {p["x-ms-summary"] for d in committed_swagger["definitions"].values()
              for p in (d.get("properties") or {}).values()}
    assert not [t for t in titles if re.search(r"\b(Id|Vat|Kwh|Url|Excl|Incl)\b(?!\.)", t)], titles


def test_generator_fails_on_an_unknown_definition(gen, overlay):
    spec = yaml.safe_load(FIXTURE_SPEC.read_text())
    broken = copy.deepcopy(overlay)
    broken["triggers"]["events"][0]["data"]["rating"] = "Rating"  # the name the old overlay used
    with pytest.raises(gen.GenerationError, match=r"onSessionBilled: data.rating names 'Rating'"):
        gen.to_swagger(spec, broken)
    broken["triggers"]["events"][0]["data"]["rating"] = "object"
    with pytest.raises(gen.GenerationError, match="data.rating"):
        gen.to_swagger(spec, broken)


def test_generator_needs_the_trigger_path_served_by_the_api(gen, overlay):
    spec = yaml.safe_load(FIXTURE_SPEC.read_text())
    del spec["paths"]["/v1/subscriptions/triggers/{event}"]
    with pytest.raises(gen.GenerationError, match=r"/v1/subscriptions/triggers/\{event\}"):
        gen.to_swagger(spec, overlay)


@pytest.mark.parametrize("field, value", [("website", "https://evbill.example.com"),
                                          ("support_email", "help@contoso.com"),
                                          ("privacy_policy", "http://evbill.dev/privacy"),
                                          ("host", "localhost")])
def test_generator_refuses_placeholder_publisher_fields(gen, tmp_path, field, value):
    settings = yaml.safe_load((REPO / "power_automate" / "publisher.yaml").read_text())
    gen.publisher_settings(REPO / "power_automate" / "publisher.yaml")  # the committed settings pass
    path = tmp_path / "publisher.yaml"
    path.write_text(yaml.safe_dump({**settings, field: value}))
    with pytest.raises(gen.GenerationError, match=field):
        gen.publisher_settings(path)


def test_no_placeholder_in_the_publisher_fields(committed_swagger, committed_api_properties):
    info = committed_swagger["info"]["contact"]
    meta = {m["propertyName"]: m["propertyValue"] for m in committed_swagger["x-ms-connector-metadata"]}
    for value in (info["url"], info["email"], meta["Website"], meta["Privacy policy"], committed_swagger["host"]):
        assert "example." not in value and "localhost" not in value, value
