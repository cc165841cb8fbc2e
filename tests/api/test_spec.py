"""The OpenAPI document is valid, complete (routes == paths, methods too) and served."""

from __future__ import annotations

import re

import yaml
from openapi_spec_validator import validate

from connector.api import create_app
from tests.paths import REPO

SPEC = yaml.safe_load((REPO / "openapi" / "openapi.yaml").read_text())
METHODS = {"get", "post", "put", "patch", "delete"}


def test_spec_is_valid_openapi_3_0_3():
    assert SPEC["openapi"] == "3.0.3"
    validate(SPEC)


def test_routes_equal_spec_paths():
    app = create_app({"DATABASE_URL": "sqlite://"})
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        routes |= {(path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"}}
    documented = {(p, m) for p, item in SPEC["paths"].items() for m in item if m in METHODS}
    assert routes == documented, {"undocumented": routes - documented, "not served": documented - routes}


def test_every_operation_is_described():
    ids = []
    for path, item in SPEC["paths"].items():
        for method, op in item.items():
            if method not in METHODS:
                continue
            where = f"{method.upper()} {path}"
            assert re.fullmatch(r"[a-z][a-zA-Z0-9]+", op["operationId"]), where
            assert op["summary"] and not op["summary"].endswith("."), where
            assert len(op["summary"]) <= 80, where
            assert op["description"], where
            assert op["tags"] and set(op["tags"]) <= {t["name"] for t in SPEC["tags"]}, where
            ids.append(op["operationId"])
            for code, response in op["responses"].items():
                if code.startswith(("4", "5")):
                    ref = response.get("$ref", "")
                    assert ref.startswith("#/components/responses/"), where
    assert len(ids) == len(set(ids))
    problem = SPEC["components"]["responses"]["Unprocessable"]["content"]
    assert list(problem) == ["application/problem+json"]
    schemes = SPEC["components"]["securitySchemes"]
    assert schemes["ApiKey"] == {**schemes["ApiKey"], "type": "apiKey", "in": "header", "name": "X-API-Key"}
    assert schemes["EntraId"]["type"] == "oauth2" and schemes["Bearer"]["scheme"] == "bearer"


def test_spec_and_docs_are_served(client):
    r = client.get("/openapi.json")
    assert r.status_code == 200 and r.get_json()["paths"].keys() == SPEC["paths"].keys()
    page = client.get("/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert 'fetch("openapi.json")' in html and "<script src" not in html and "cdn" not in html.lower()
