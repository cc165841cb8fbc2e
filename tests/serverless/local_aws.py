"""A local AWS on 127.0.0.1 (moto's server, an independent implementation of the AWS APIs) for the
Lambda tests: Secrets Manager, SSM and SQS answer real boto3 calls; nothing reaches AWS."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from connector.serverless import dead_letter

# a dev dependency: a venv built before it was added skips (strict runs, CI, fail instead)
ThreadedMotoServer = pytest.importorskip("moto.server", reason="moto is a dev dependency").ThreadedMotoServer


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def local_aws(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """boto3 (and powertools, which uses it) pointed at the local server with throw-away credentials."""
    from aws_lambda_powertools.utilities.parameters import base

    for name, value in {"AWS_ENDPOINT_URL": moto_endpoint, "AWS_ACCESS_KEY_ID": "testing",
                        "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "eu-central-1"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    base.DEFAULT_PROVIDERS.clear()  # providers keep the boto3 client of the first call
    dead_letter.reset()
    yield moto_endpoint
    base.DEFAULT_PROVIDERS.clear()
    dead_letter.reset()
