"""A NUL byte in an OCPI CDR (PostgreSQL text cannot hold it) is OCPI status 2001 in the OCPI envelope, never
a 500 from the database driver. SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import json

import pytest

from tests.api.conftest import make_app
from tests.paths import SHARED

CDR = json.loads((SHARED / "ocpi/spec-examples/2.2.1/cdr_example.json").read_text(encoding="utf-8"))
AUTH = {"Authorization": "Token " + base64.b64encode(b"ocpi-nul-token").decode()}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def ocpi_client(request, tmp_path):
    url = f"sqlite:///{tmp_path / 'api.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    return make_app(url, OCPI_TOKENS={"ocpi-nul-token": "T-NUL"}).test_client()


@pytest.mark.parametrize("member", ["id", "session_id"])
def test_a_nul_byte_in_a_cdr_is_an_ocpi_2001(ocpi_client, member) -> None:
    res = ocpi_client.post("/ocpi/2.2.1/cdrs", json={**CDR, member: "CDR\x00X"}, headers=AUTH)
    assert res.status_code == 400, res.get_data(as_text=True)
    assert res.json["status_code"] == 2001 and res.json["status_message"].startswith(f"{member}:")
    assert ocpi_client.get("/ocpi/2.2.1/cdrs/CDR%00X", headers=AUTH).status_code in (400, 404)
