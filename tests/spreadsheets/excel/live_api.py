"""The real API on 127.0.0.1 (port 0, temp SQLite) for the Node and cross-face tests, with an API key
and an Entra ID-style JWT (local RSA key, JWKS injected) for the same tenant."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from connector.api import create_app
from tests.platforms.fakes.server import serve

API_KEY = "excel-addin-key"
ISSUER = "https://login.microsoftonline.com/tid-excel/v2.0"
AUDIENCE = "api://addin.example.com/e4f2c549-5e37-4479-8b23-13879587a009"


@contextmanager
def serve_api(tmp_path: Path, tariffs: list[dict[str, Any]]) -> Iterator[tuple[str, str]]:
    """Yield (base URL, bearer token) while the API answers; ``tariffs`` are stored for the tenant."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    jwk.update({"kid": "excel", "use": "sig", "alg": "RS256"})
    app = create_app({
        "DATABASE_URL": f"sqlite:///{tmp_path / 'api.db'}", "API_KEYS": {API_KEY: "XL"}, "TESTING": True,
        "JWKS": {"keys": [jwk]}, "JWT_ISSUER": ISSUER, "JWT_AUDIENCE": AUDIENCE,
        "JWT_TENANT_MAP": {"tid-excel": "XL"}, "JWT_REQUIRED_ROLES": ["Billing.ReadWrite"],
    })
    client = app.test_client()
    for tariff in tariffs:
        created = client.post("/v1/tariffs", json=tariff, headers={"X-API-Key": API_KEY})
        assert created.status_code == 201, created.get_data(as_text=True)
    now = int(time.time())
    token = jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 1800, "tid": "tid-excel",
                        "scp": "Billing.ReadWrite"}, private, algorithm="RS256", headers={"kid": "excel"})
    with serve(app) as url:
        yield url, token
