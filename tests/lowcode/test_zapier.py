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
    assert report["triggers"] == ["session_billed", "billing_anomaly", "tariff_list", "customer_list"]
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


def test_rest_hook_triggers_have_all_four_functions():
    script = ("const app = require('./index.js'); const out = {};"
              "for (const t of Object.values(app.triggers)) out[t.key] = Object.keys(t.operation)"
              ".filter((k) => typeof t.operation[k] === 'function').sort();"
              "console.log(JSON.stringify(out));")
    found = last_json(node("-e", script).stdout)
    for key in ("session_billed", "billing_anomaly"):
        assert found[key] == ["perform", "performList", "performSubscribe", "performUnsubscribe"]


def test_package_pins_the_platform_and_lockfile_is_committed():
    package = json.loads((ZAPIER / "package.json").read_text())
    lock = json.loads((ZAPIER / "package-lock.json").read_text())
    assert package["dependencies"]["zapier-platform-core"] == "19.1.0"
    assert package["devDependencies"]["zapier-platform-schema"] == "19.1.0"
    assert lock["packages"]["node_modules/zapier-platform-core"]["version"] == "19.1.0"


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
    """Each `${baseUrl(bundle)}/v1/...` the app requests exists in the spec with that method."""
    import re

    import yaml

    from tests.lowcode.conftest import spec_in_force

    spec = yaml.safe_load(spec_in_force().read_text())
    patterns = {(m.upper(), re.sub(r"\{[^}]+\}", "[^/]+", p)) for p, item in spec["paths"].items()
                for m in item if m in ("get", "post", "put", "patch", "delete")}
    calls = []
    for path in [*sorted(ZAPIER.glob("*/*.js")), ZAPIER / "authentication.js"]:
        if "node_modules" in path.parts or path.parent.name == "scripts":
            continue
        for match in re.finditer(r"url: `\$\{baseUrl\(bundle\)\}(/[^`]*)`(?P<rest>[^}]*)", path.read_text()):
            url = re.sub(r"\$\{[^}]+\}", "x", match.group(1))
            method = re.search(r"method: '([A-Z]+)'", match.group("rest"))
            calls.append((method.group(1) if method else "GET", url, path.name))
    assert len(calls) >= 8
    for method, url, where in calls:
        assert any(m == method and re.fullmatch(p, url) for m, p in patterns), f"{where}: {method} {url}"


def test_npm_test_runs_the_apps_own_tests():
    """`npm test` is `node --test test/`: real tests of the app (schema, spec output fields, decimal samples,
    signatures, the anomaly sample list), not an empty folder."""
    package = json.loads((ZAPIER / "package.json").read_text())
    assert package["scripts"]["test"] == "node --test test/"
    assert package["engines"]["node"] == ">=22"  # Zapier runs CLI apps on Node.js 22 (platform 18+)
    done = node("--test", "test/")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "# pass 5" in done.stdout and "# fail 0" in done.stdout


def test_output_fields_are_generated_from_the_spec():
    fields = json.loads((ZAPIER / "lib" / "fields.json").read_text())
    assert fields["_generated"].startswith("Generated by scripts/gen_connectors.py")
    billed = {f["key"]: f["label"] for f in fields["session_billed"]}
    assert billed["data__invoice__customer__email"] == "Invoice Customer Email"
    assert billed["data__rating__total_cost__incl_vat"] == "Rating Total cost Incl. VAT"
    assert billed["data__invoice__amount_due"] == "Invoice Amount due"
    anomaly = {f["key"] for f in fields["billing_anomaly"]}
    assert {"data__anomaly__rule", "data__anomaly__session_id"} <= anomaly
