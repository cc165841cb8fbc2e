"""Shared fixtures for the low-code packages: the spec in force, the schemas, the generated files."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest
import yaml

from tests.paths import REPO, SHARED

POWERPLATFORM = SHARED / "powerplatform"
FIXTURE_SPEC = Path(__file__).with_name("fixture_openapi.yaml")
REAL_SPEC = REPO / "openapi" / "openapi.yaml"


def load_gen():
    """scripts/gen_connectors.py as a module (scripts/ is not a package)."""
    if "gen_connectors" not in sys.modules:
        spec = importlib.util.spec_from_file_location("gen_connectors", REPO / "scripts" / "gen_connectors.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules["gen_connectors"] = module
        spec.loader.exec_module(module)
    return sys.modules["gen_connectors"]


def load_commented_json(path: Path) -> dict:
    """Microsoft's schemas carry // line comments."""
    return json.loads(re.sub(r'(?m)\s//[^\n"]*$', "", path.read_text()))


def spec_in_force() -> Path:
    return REAL_SPEC if REAL_SPEC.exists() else FIXTURE_SPEC


@pytest.fixture(scope="session")
def gen():
    return load_gen()


@pytest.fixture(scope="session")
def overlay() -> dict:
    return yaml.safe_load((REPO / "power_automate" / "overlay.yaml").read_text())


@pytest.fixture(scope="session")
def fixture_files(gen, overlay) -> dict[str, bytes]:
    return gen.generate(yaml.safe_load(FIXTURE_SPEC.read_text()), overlay)


@pytest.fixture(scope="session")
def swagger_schema() -> dict:
    return load_commented_json(POWERPLATFORM / "apiDefinition.swagger.schema.json")


@pytest.fixture(scope="session")
def api_properties_schema() -> dict:
    return load_commented_json(POWERPLATFORM / "paconn-apiProperties.schema.json")


@pytest.fixture(scope="session")
def settings_schema() -> dict:
    return load_commented_json(POWERPLATFORM / "paconn-settings.schema.json")


@pytest.fixture(scope="session")
def committed_swagger() -> dict:
    return json.loads((REPO / "power_automate" / "apiDefinition.swagger.json").read_text())


@pytest.fixture(scope="session")
def committed_api_properties() -> dict:
    return json.loads((REPO / "power_automate" / "apiProperties.json").read_text())
