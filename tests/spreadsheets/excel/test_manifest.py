"""The add-in manifest resolves (ids, resids, https URLs, files) and functions.json matches functions.js."""

from __future__ import annotations

import json
import re

import pytest

from tests.paths import REPO
from tests.spreadsheets.excel.manifest_check import manifest_problems

ADDIN = REPO / "excel_addin"
BASE = "https://addin.example.com/evbill/"


def _manifest() -> str:
    return (ADDIN / "manifest.xml").read_text(encoding="utf-8")


def test_manifest_is_complete_and_every_reference_resolves():
    assert manifest_problems(_manifest(), ADDIN / "src", BASE) == []


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ("<Id>ad81858c-6804-45f3-8a75-2291b58fb32c</Id>", "<Id>not-a-guid</Id>", "Id: 'not-a-guid' is not a GUID"),
        ('<bt:Url id="Functions.Metadata.Url"', '<bt:Url id="Functions.Meta.Url"',
         "<SourceLocation resid='Functions.Metadata.Url'> does not resolve"),
        ("https://addin.example.com/evbill/functions.js", "http://addin.example.com/evbill/functions.js", "is not https"),
        ("evbill/assets/icon-80.png", "evbill/assets/icon-99.png", "has no file assets/icon-99.png"),
        ('DefaultValue="EVBILL"', 'DefaultValue="CONTOSO"', "the namespace must be EVBILL"),
        ("<Label resid=\"Settings.Label\"/>", "<Label resid=\"Settings.Tooltip\"/>", "does not resolve to a bt:ShortStrings"),
        ("<AppDomain>https://addin.example.com</AppDomain>", "", "outside the AppDomains"),
    ],
)
def test_broken_manifests_are_caught(old, new, problem):
    text = _manifest()
    assert old in text
    problems = manifest_problems(text.replace(old, new, 1), ADDIN / "src", BASE)
    assert any(problem in p for p in problems), problems


def test_functions_json_matches_the_associate_calls():
    meta = json.loads((ADDIN / "src" / "functions.json").read_text(encoding="utf-8"))
    source = (ADDIN / "src" / "functions.js").read_text(encoding="utf-8")
    associated = re.findall(r"CustomFunctions\.associate\('([A-Z_.]+)',", source)
    assert sorted(f["id"] for f in meta["functions"]) == sorted(associated) == ["COST", "LINES", "TAX"]
    for f in meta["functions"]:
        assert f["name"] == f["id"] and f["result"]["dimensionality"] == "matrix"
        assert [p["name"] for p in f["parameters"]] == ["kwh", "minutes", "start", "tariff_id", "customer_class"]
        assert [p.get("optional", False) for p in f["parameters"]] == [False, False, False, False, True]
        # the JSDoc tag of each function names the same id (keeps the file regenerable by custom-functions-metadata)
        assert f"@customfunction {f['id']}" in source
