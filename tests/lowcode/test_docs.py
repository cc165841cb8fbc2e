"""The business-analyst guides name exactly the actions and triggers the generated packages show."""

from __future__ import annotations

import json
import re

import pytest

from tests.lowcode.test_zapier import last_json, node
from tests.paths import REPO

DOCS = REPO / "docs" / "lowcode"


def names_in(doc: str) -> set[str]:
    return set(re.findall(r"\*\*`([^`]+)`\*\*", (DOCS / doc).read_text())) - {"this"}


def connector_names(swagger: dict) -> set[str]:
    names = {swagger["info"]["title"]}
    for item in swagger["paths"].values():
        for op in item.values():
            if isinstance(op, dict) and "summary" in op and op.get("x-ms-visibility") != "internal":
                names.add(op["summary"])
    return names


def workflow_names() -> set[str]:
    names = set()
    for path in (REPO / "logic_apps" / "workflows").glob("*/workflow.json"):
        definition = json.loads(path.read_text())["definition"]
        stack = [definition["actions"], definition["triggers"]]
        while stack:
            level = stack.pop()
            for name, step in level.items():
                names.add(name.replace("_", " "))
                stack.append(step.get("actions") or {})
    return names


def test_power_automate_guide(committed_swagger):
    used = names_in("power-automate.md")
    assert used <= connector_names(committed_swagger), used - connector_names(committed_swagger)
    # the first flow's trigger and actions, and every trigger, are documented
    triggers = {op["summary"] for item in committed_swagger["paths"].values() for op in item.values()
                if isinstance(op, dict) and op.get("x-ms-trigger")}
    assert {"When a session is billed", "Finalize an invoice", "Get a session", "Ingest a session event"} <= used
    assert triggers <= used


def test_logic_apps_guide(committed_swagger):
    used = names_in("logic-apps.md")
    known = connector_names(committed_swagger) | workflow_names()
    assert used <= known, used - known
    assert workflow_names() <= used  # every step of every shipped workflow is explained


def test_zapier_guide():
    labels = set(last_json(node("scripts/validate.js").stdout)["labels"].values())
    used = names_in("zapier.md")
    assert used <= labels, used - labels
    visible = labels - {"List Tariffs", "List Customers"}
    assert visible <= used


@pytest.mark.parametrize("doc", ["power-automate.md", "logic-apps.md", "zapier.md"])
def test_guides_point_at_the_test_that_runs_them(doc):
    assert "tests/lowcode/test_e2e_flows.py" in (DOCS / doc).read_text()
