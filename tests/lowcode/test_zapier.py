"""The Zapier app validates offline with zapier-platform-schema (as `zapier validate` does locally)."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from tests.paths import REPO

ZAPIER = REPO / "zapier"


def node(*args: str, stdin: str | None = None, timeout: int = 120) -> subprocess.CompletedProcess:
    if shutil.which("node") is None:
        pytest.fail("node is not installed (scripts/test.sh expects Node.js for zapier/)")
    if not (ZAPIER / "node_modules" / "zapier-platform-core").is_dir():
        pytest.fail("zapier/node_modules missing: run `npm install` in zapier/ (scripts/test.sh does)")
    return subprocess.run(["node", *args], cwd=ZAPIER, input=stdin, capture_output=True, text=True,
                          timeout=timeout, check=False)


def last_json(stdout: str):
    return json.loads(stdout.strip().splitlines()[-1])


def test_app_definition_validates_with_zapier_platform_schema():
    done = node("scripts/validate.js")
    report = last_json(done.stdout)
    assert report["errors"] == [], report["errors"]
    assert done.returncode == 0
    assert report["triggers"] == ["session_billed", "billing_anomaly", "invoice_finalized", "invoice_paid",
                                  "invoice_voided", "reconciliation_completed", "credit_note_issued",
                                  "session_interim", "session_rerated", "tariff_list", "customer_list"]
    assert report["creates"] == ["rate_session", "ingest_session_event", "start_reconciliation"]
    assert report["searches"] == ["find_invoice"]
    assert report["labels"]["triggers.session_billed"] == "Session Billed"


def test_validator_reports_a_broken_definition(tmp_path):
    broken = tmp_path / "broken.js"
    broken.write_text(
        f"const app = require({json.dumps(str(ZAPIER / 'index.js'))});\n"
        "module.exports = {...app, creates: {...app.creates, rate_session: {...app.creates.rate_session,"
        " display: {label: 'x'}}}};\n")
    done = node("scripts/validate.js", str(broken))
    assert done.returncode == 1
    assert any("rate_session.display" in e for e in last_json(done.stdout)["errors"])


def test_validator_reports_what_a_reviewer_would(tmp_path):
    broken = tmp_path / "unreviewed.js"
    broken.write_text(
        f"const app = require({json.dumps(str(ZAPIER / 'index.js'))});\n"
        "const rate = app.creates.rate_session;\n"
        "module.exports = {...app, creates: {...app.creates, rate_session: {...rate,"
        " display: {...rate.display, description: 'prices a session'},"
        " operation: {...rate.operation, outputFields: [], inputFields: [...rate.operation.inputFields,"
        " {key: 'plan', label: 'Plan', dynamic: 'plan_list.id.name'}]}}}};\n")
    done = node("scripts/validate.js", str(broken))
    assert done.returncode == 1
    assert last_json(done.stdout)["errors"] == [
        "creates.rate_session: description is not a sentence",
        "creates.rate_session: output fields without labels",
        "creates.rate_session: input plan names a missing dropdown plan_list.id.name",
    ]


def test_rest_hook_triggers_have_all_four_functions():
    script = ("const app = require('./index.js'); const out = {};"
              "for (const t of Object.values(app.triggers)) out[t.key] = Object.keys(t.operation)"
              ".filter((k) => typeof t.operation[k] === 'function').sort();"
              "console.log(JSON.stringify(out));")
    found = last_json(node("-e", script).stdout)
    hooks = [key for key in found if key not in ("tariff_list", "customer_list")]
    assert len(hooks) == 9
    for key in hooks:
        assert found[key] == ["perform", "performList", "performSubscribe", "performUnsubscribe"], key


# The Node.js each zapier-platform-cli release declares in its package.json `engines` (the CLI and the core it
# pushes share version numbers); Zapier runs the pushed app on Node.js 22, which these ranges include.
CLI_NODE = {"19.1.0": ">=18.20", "19.0.0": ">=18.20"}


def test_package_pins_the_platform_and_the_node_the_cli_requires():
    package = json.loads((ZAPIER / "package.json").read_text())
    lock = json.loads((ZAPIER / "package-lock.json").read_text())
    core = lock["packages"]["node_modules/zapier-platform-core"]["version"]
    assert package["dependencies"]["zapier-platform-core"] == core == "19.1.0"
    assert package["devDependencies"]["zapier-platform-schema"] == core
    cli = lock["packages"].get("node_modules/zapier-platform-cli")
    wanted = cli["engines"]["node"] if cli else CLI_NODE[core]
    assert package["engines"]["node"] == wanted


def test_signature_check_accepts_the_right_key_and_rejects_a_forged_body():
    script = r"""
const crypto = require('crypto');
const { verifySignature } = require('./lib/hook');
const body = '{"id":"evt_1","type":"session.billed"}';
const ts = String(Math.floor(Date.now() / 1000));
const sig = crypto.createHmac('sha256', 'whsec_1').update(`${ts}.${body}`).digest('hex');
const headers = JSON.stringify({'X-Evbill-Timestamp': ts, 'X-Evbill-Signature': `v1=00ff, v1=${sig}`});
const out = {good: verifySignature({content: body, headers}, 'whsec_1')};
try { verifySignature({content: body, headers}, 'whsec_1', Number(ts) + 301); out.replay = 'accepted'; }
catch (e) { out.replay = 'rejected'; }
try { verifySignature({content: body.replace('evt_1', 'evt_2'), headers}, 'whsec_1'); out.forged = 'accepted'; }
catch (e) { out.forged = 'rejected'; }
try { verifySignature({content: body, headers: '{}'}, 'whsec_1'); out.unsigned = 'accepted'; }
catch (e) { out.unsigned = 'rejected'; }
out.no_secret = verifySignature({content: body, headers: '{}'}, undefined);
console.log(JSON.stringify(out));
"""
    assert last_json(node("-e", script).stdout) == {"good": True, "replay": "rejected", "forged": "rejected", "unsigned": "rejected",
                                                   "no_secret": False}


def test_every_http_call_of_the_app_is_an_api_operation():
    """Each request the generated operations make (and the connection test) exists in the spec with that method."""
    import re

    import yaml

    from tests.lowcode.conftest import spec_in_force

    spec = yaml.safe_load(spec_in_force().read_text())
    patterns = {(m.upper(), re.sub(r"\{[^}]+\}", "[^/]+", p)) for p, item in spec["paths"].items()
                for m in item if m in ("get", "post", "put", "patch", "delete")}
    script = ("const app = require('./index.js'); const { descriptionOf } = require('./lib/operation'); const out = [];"
              "for (const kind of ['triggers', 'creates', 'searches']) for (const item of Object.values(app[kind])) {"
              " const d = descriptionOf(item);"
              " if (d.request) out.push([d.request.method, d.request.path]);"
              " if (d.list) out.push(['GET', d.list.path]);"
              " if (d.get) out.push(['GET', d.get.path]);"
              " if (d.subscribe) out.push(['POST', d.subscribe.path], ['DELETE', d.unsubscribe.path]); }"
              "console.log(JSON.stringify(out));")
    calls = {tuple(call) for call in last_json(node("-e", script).stdout)}
    auth = re.findall(r"url: `\$\{baseUrl\(bundle\)\}(/[^`]*)`", (ZAPIER / "authentication.js").read_text())
    calls |= {("GET", path) for path in auth}
    assert len(calls) >= 10, calls
    for method, url in sorted(calls):
        url = re.sub(r"\{[^}]+\}", "x", url)
        assert any(m == method and re.fullmatch(p, url) for m, p in patterns), f"{method} {url}"


def test_npm_test_runs_the_apps_tests_against_the_api(tmp_path):
    """`npm test` is `node --test test/`: the offline tests (schema, generated modules, decimal samples,
    signatures, requests to a local server) and, with the API started here, a Zap against the real API."""
    import os

    from tests.lowcode import harness

    package = json.loads((ZAPIER / "package.json").read_text())
    assert package["scripts"]["test"] == "node --test test/"
    if shutil.which("npm") is None:
        pytest.fail("npm is not installed (scripts/test.sh expects Node.js and npm for zapier/)")
    with harness.api_server(tmp_path) as api:
        env = {**os.environ, "EVBILL_API_URL": api["base_url"], "EVBILL_API_KEY": api["api_key"]}
        done = subprocess.run(["npm", "test"], cwd=ZAPIER, env=env, capture_output=True, text=True, timeout=300,
                              check=False)
    summary = done.stdout[-3000:] + done.stderr[-2000:]
    assert done.returncode == 0, summary
    assert "# fail 0" in done.stdout and "# skipped 0" in done.stdout, summary
    passed = int(done.stdout.rsplit("# pass ", 1)[1].split()[0])
    assert passed >= 20, summary  # 11 offline + the Zap against the API and its 8 steps


def test_output_fields_are_generated_from_the_spec():
    script = ("const app = require('./index.js'); const out = {};"
              "for (const kind of ['triggers', 'creates', 'searches']) for (const item of Object.values(app[kind]))"
              " out[item.key] = Object.fromEntries((item.operation.outputFields || []).map((f) => [f.key, f.label]));"
              "console.log(JSON.stringify(out));")
    fields = last_json(node("-e", script).stdout)
    billed = fields["session_billed"]
    assert billed["data__invoice__customer__email"] == "Invoice Customer Email"
    assert billed["data__rating__total_cost__incl_vat"] == "Rating Total cost Incl. VAT"
    assert billed["data__invoice__amount_due"] == "Invoice Amount due"
    assert {"data__anomaly__rule", "data__anomaly__session_id"} <= set(fields["billing_anomaly"])
    assert fields["rate_session"]["total_cost__incl_vat"] == "Total cost Incl. VAT"
    assert fields["find_invoice"]["gross_total"] == "Gross total"


# ------------------------------------------------------------------------------ generated from the spec


def test_the_app_modules_are_the_generated_ones(gen, overlay):
    """Every trigger, create and search module and index.js is what the generator writes (the content check for
    all generated files is tests/lowcode/test_power_automate.py::test_committed_files_are_the_generated_ones);
    none is hand-written next to them."""
    import yaml

    from tests.lowcode.conftest import spec_in_force

    files = gen.generate(yaml.safe_load(spec_in_force().read_text()), overlay)
    generated = {rel for rel in files if rel.startswith("zapier/")}
    on_disk = {f"zapier/{p.relative_to(ZAPIER)}" for kind in ("triggers", "creates", "searches")
               for p in (ZAPIER / kind).glob("*.js")}
    assert on_disk | {"zapier/index.js"} == generated
    stale = [rel for rel in sorted(generated) if (REPO / rel).read_bytes() != files[rel]]
    assert not stale, f"regenerate with python3 scripts/gen_connectors.py: {stale}"
    for rel in generated:
        assert files[rel].decode().startswith("// generated by scripts/gen_connectors.py — do not edit"), rel


@pytest.fixture()
def zoverlay() -> dict:
    import yaml

    return yaml.safe_load((ZAPIER / "overlay.yaml").read_text())


def _fails(gen, overlay, zoverlay, match: str) -> None:
    import yaml

    from tests.lowcode.conftest import spec_in_force

    with pytest.raises(gen.GenerationError, match=match):
        gen.generate(yaml.safe_load(spec_in_force().read_text()), overlay, zapier_overlay=zoverlay)


def test_generator_refuses_a_sample_in_cents(gen, overlay, zoverlay):
    zoverlay["searches"]["find_invoice"]["sample"]["gross_total"] = 357
    _fails(gen, overlay, zoverlay, r"find_invoice: sample gross_total = 357 is not a string")


def test_generator_refuses_a_sample_field_the_spec_does_not_answer(gen, overlay, zoverlay):
    zoverlay["creates"]["rate_session"]["sample"]["total_cents"] = "357"
    _fails(gen, overlay, zoverlay, r"rate_session: sample field 'total_cents' is not an output field")


def test_generator_refuses_an_input_the_request_body_lacks(gen, overlay, zoverlay):
    zoverlay["creates"]["rate_session"]["inputs"]["meter"] = "session.meter"
    _fails(gen, overlay, zoverlay, r"input meter goes to 'session.meter'")


def test_generator_refuses_an_unknown_operation_or_event(gen, overlay, zoverlay):
    zoverlay["creates"]["rate_session"]["operationId"] = "rateEverything"
    _fails(gen, overlay, zoverlay, r"creates.rate_session: the spec has no operation 'rateEverything'")
    zoverlay["creates"]["rate_session"]["operationId"] = "rateSession"
    zoverlay["triggers"]["billing_anomaly"]["event"] = "billing.oddity"
    _fails(gen, overlay, zoverlay, r"no API event 'billing.oddity'")


def test_event_list_triggers_take_the_whole_event_of_their_type_only(gen, overlay, zoverlay):
    """``as: $event`` (the item is the whole event) needs a list of event envelopes with ``type`` fixed to the
    trigger's event; any other ``as`` must name a field of the event's data."""
    interim = zoverlay["triggers"]["session_interim"]
    assert interim["list"] == {"operationId": "listEvents", "params": {"type": "session.interim"}, "as": "$event"}
    interim["list"]["params"] = {"type": "session.rerated"}
    _fails(gen, overlay, zoverlay, r"session_interim: list.as \$event needs params.type: session.interim")
    interim["list"]["params"] = {}
    _fails(gen, overlay, zoverlay, r"session_interim: list.as \$event needs params.type: session.interim")
    interim["list"] = {"operationId": "listAnomalies", "as": "$event"}
    _fails(gen, overlay, zoverlay, r"session_interim: list.as \$event needs items that are event envelopes; "
                                   r"listAnomalies's items lack type, tenant_id, created_at, data")
    interim["list"] = {"operationId": "listEvents", "params": {"type": "session.interim"}, "as": "event"}
    _fails(gen, overlay, zoverlay, r"session_interim: list.as must be one of the event's data fields "
                                   r"\['as_of', 'rating', 'session'\], or \$event")
    interim["list"] = {"operationId": "listEvents", "params": {"type": "session.oddity"}, "as": "$event"}
    _fails(gen, overlay, zoverlay, r"listEvents has no query parameter type='session.oddity'")


def test_inputs_take_types_choices_and_required_from_the_spec():
    script = ("const app = require('./index.js'); const out = {};"
              "for (const kind of ['creates', 'searches']) for (const item of Object.values(app[kind]))"
              " out[item.key] = Object.fromEntries(item.operation.inputFields.map((f) => [f.key, f]));"
              "console.log(JSON.stringify(out));")
    inputs = last_json(node("-e", script).stdout)
    ingest = inputs["ingest_session_event"]
    assert ingest["event_type"]["choices"] == ["start", "update", "end"] and ingest["event_type"]["required"]
    assert ingest["start"]["type"] == "datetime" and ingest["start"]["required"]
    assert ingest["event_id"]["required"] is False  # defaults to <session id>:<event type>
    assert ingest["tariff_id"]["dynamic"] == "tariff_list.id.name"
    assert ingest["customer_id"]["dynamic"] == "customer_list.id.name"
    assert ingest["energy_kwh"]["type"] == "string"  # decimals stay strings
    assert inputs["start_reconciliation"]["kind"]["choices"] == ["daily", "monthly"]
    assert inputs["start_reconciliation"]["stations"]["list"] is True
    assert inputs["find_invoice"]["status"]["choices"] == ["draft", "finalized", "paid", "void"]
