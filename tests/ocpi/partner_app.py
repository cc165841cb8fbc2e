"""The roaming partner of the OCPI tests: extrawest-ocpi (``py_ocpi``, an independent OCPI 2.2.1 FastAPI
implementation) run as an eMSP on 127.0.0.1, in its own venv (it pins pydantic 1).

Run as ``python partner_app.py`` by tests/ocpi/partner.py; prints ``PORT <n>`` once listening. py_ocpi's own
routes do the protocol (versions, version details, credentials POST/PUT/DELETE with the GET of our versions
it implies, CDR and tariff receivers, its push client). What py_ocpi leaves to its user, this file supplies:
an in-memory Crud and Authenticator, and a few ``/control`` routes the test drives: seed token A, start a
registration with us (py_ocpi has no registration client), seed objects and read what was received.
"""
# ruff: noqa
# mypy: ignore-errors

from __future__ import annotations

import base64
import os
import secrets
import socket
import sys
from typing import Any

import httpx

SOCK = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
SOCK.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
SOCK.bind(("127.0.0.1", 0))
PORT = SOCK.getsockname()[1]
# py_ocpi reads its settings from the environment at import time
os.environ.update({"PROTOCOL": "http", "OCPI_HOST": f"127.0.0.1:{PORT}", "COUNTRY_CODE": "NL",
                   "PARTY_ID": "PTN", "ENVIRONMENT": "production"})

import uvicorn  # noqa: E402
from fastapi import Body, FastAPI  # noqa: E402
from py_ocpi.core.authentication.authenticator import Authenticator  # noqa: E402
from py_ocpi.core.enums import ModuleID, RoleEnum  # noqa: E402
from py_ocpi.main import get_application  # noqa: E402
from py_ocpi.modules.credentials.v_2_2_1.schemas import Credentials  # noqa: E402
from py_ocpi.modules.versions.enums import VersionNumber  # noqa: E402

BASE = f"http://127.0.0.1:{PORT}"
VERSIONS_URL = f"{BASE}/ocpi/versions"
ROLE = {"role": "EMSP", "party_id": "PTN", "country_code": "NL",
        "business_details": {"name": "Partner eMSP"}}

STATE: dict[str, Any] = {
    "token_a": set(),  # tokens we (the partner) handed out for registration
    "token_c": set(),  # tokens the other side may call us with
    "clients": {},  # token the other side calls us with -> their credentials + endpoints
    "objects": {m.value: {} for m in ModuleID},  # what the other side pushed to us, by module and id
    "outgoing": {},  # objects of ours the push client sends, by module and id
    "calls": [],  # (method, path, headers we care about) of every OCPI request received
}


def b64(token: str) -> str:
    return base64.b64encode(token.encode()).decode()


class MemoryAuthenticator(Authenticator):
    @classmethod
    async def get_valid_token_c(cls) -> list[str]:
        return list(STATE["token_c"])

    @classmethod
    async def get_valid_token_a(cls) -> list[str]:
        return list(STATE["token_a"])


def _key(data: dict) -> str:
    return "/".join(str(data.get(k, "")) for k in ("country_code", "party_id", "id"))


class MemoryCrud:
    @classmethod
    async def get(cls, module: ModuleID, role: RoleEnum, id: str, *args, **kwargs):
        if module == ModuleID.credentials_and_registration:
            return STATE["clients"].get(id, {}).get("ours")
        return STATE["outgoing"].get(module.value, {}).get(id) or STATE["objects"][module.value].get(id)

    @classmethod
    async def list(cls, module, role, filters, *args, **kwargs):
        items = list(STATE["objects"][module.value].values())
        return items, len(items), True

    @classmethod
    async def create(cls, module: ModuleID, role: RoleEnum, data: dict, *args, **kwargs):
        if module == ModuleID.credentials_and_registration:
            # the other side registered with token A: keep its token and endpoints, answer with our token C
            theirs = data["credentials"]
            ours_token = secrets.token_urlsafe(24)
            STATE["token_a"].discard(kwargs.get("auth_token"))
            STATE["token_c"].add(ours_token)
            ours = {"token": ours_token, "url": VERSIONS_URL, "roles": [ROLE]}
            STATE["clients"][ours_token] = {"theirs": theirs, "endpoints": data["endpoints"], "ours": ours}
            return ours
        STATE["objects"][module.value][_key(data)] = data
        return data

    @classmethod
    async def update(cls, module: ModuleID, role: RoleEnum, data: dict, id: str, *args, **kwargs):
        if module == ModuleID.credentials_and_registration:
            old = kwargs.get("auth_token")
            client = STATE["clients"].pop(old)
            STATE["token_c"].discard(old)
            new = secrets.token_urlsafe(24)
            STATE["token_c"].add(new)
            client.update(theirs=data["credentials"], endpoints=data["endpoints"],
                          ours={"token": new, "url": VERSIONS_URL, "roles": [ROLE]})
            STATE["clients"][new] = client
            return client["ours"]
        STATE["objects"][module.value][_key(data)] = data
        return data

    @classmethod
    async def delete(cls, module: ModuleID, role: RoleEnum, id: str, *args, **kwargs):
        if module == ModuleID.credentials_and_registration:
            STATE["clients"].pop(id, None)
            STATE["token_c"].discard(id)
        else:
            STATE["objects"][module.value].pop(id, None)

    @classmethod
    async def do(cls, *args, **kwargs):
        return None


app: FastAPI = get_application(
    version_numbers=[VersionNumber.v_2_2_1], roles=[RoleEnum.emsp], crud=MemoryCrud,
    modules=[ModuleID.credentials_and_registration, ModuleID.cdrs, ModuleID.tariffs, ModuleID.sessions],
    authenticator=MemoryAuthenticator, http_push=True,
)


@app.middleware("http")
async def record(request, call_next):
    if request.url.path.startswith("/ocpi"):
        STATE["calls"].append({"method": request.method, "path": request.url.path,
                               "x_request_id": request.headers.get("x-request-id"),
                               "x_correlation_id": request.headers.get("x-correlation-id"),
                               "from": request.headers.get("ocpi-from-party-id"),
                               "to": request.headers.get("ocpi-to-party-id")})
    return await call_next(request)


@app.post("/control/token-a")
async def new_token_a() -> dict:
    token = secrets.token_urlsafe(24)
    STATE["token_a"].add(token)
    STATE["token_c"].add(token)  # py_ocpi's versions routes accept only tokens of its C list
    return {"token": token, "versions_url": VERSIONS_URL}


@app.post("/control/register")
async def register(body: dict = Body(...)) -> dict:
    """The partner registers with the other side (``versions_url`` + its token A), as OCPI 2.2.1 §7.1."""
    token_a = body["token"]
    auth = {"Authorization": f"Token {b64(token_a)}"}
    async with httpx.AsyncClient() as client:
        versions = (await client.get(body["versions_url"], headers=auth)).json()["data"]
        details_url = next(v["url"] for v in versions if v["version"] == "2.2.1")
        endpoints = (await client.get(details_url, headers=auth)).json()["data"]["endpoints"]
        credentials_url = next(e["url"] for e in endpoints if e["identifier"] == "credentials")
        token_b = secrets.token_urlsafe(24)
        STATE["token_c"].add(token_b)
        ours = Credentials(token=token_b, url=VERSIONS_URL, roles=[ROLE])
        answer = await client.post(credentials_url, headers=auth, json=ours.dict())
    body_out = answer.json()
    if answer.status_code == 200 and body_out.get("status_code") == 1000:
        theirs = Credentials(**body_out["data"])  # validated by py_ocpi's own schema
        STATE["clients"][token_b] = {"theirs": theirs.dict(), "endpoints": endpoints,
                                     "ours": ours.dict(), "details_url": details_url}
    return {"http": answer.status_code, "body": body_out, "token_b": token_b}


@app.put("/control/outgoing/{module}/{object_id}")
async def put_outgoing(module: str, object_id: str, body: dict = Body(...)) -> dict:
    STATE["outgoing"].setdefault(module, {})[object_id] = body
    return {"ok": True}


@app.get("/control/state")
async def state() -> dict:
    return {"objects": STATE["objects"], "calls": STATE["calls"],
            "clients": {k: {"theirs": v["theirs"], "endpoints": v["endpoints"]}
                        for k, v in STATE["clients"].items()},
            "token_c": sorted(STATE["token_c"])}


if __name__ == "__main__":
    print(f"PORT {PORT}", flush=True)
    config = uvicorn.Config(app, log_level="warning", lifespan="off")
    uvicorn.Server(config).run(sockets=[SOCK])
    sys.exit(0)
