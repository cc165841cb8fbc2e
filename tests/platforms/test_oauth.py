"""connector.platforms.oauth against a token endpoint on 127.0.0.1."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from connector.platforms.errors import PermanentError, RetryableError
from connector.platforms.oauth import TokenProvider, is_unauthorized, send_authorized
from tests.platforms.fakes.http import OneShotHttp
from tests.platforms.fakes.server import OAuthServer


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def idp() -> Iterator[OAuthServer]:
    d = OAuthServer().start()
    yield d
    d.stop()


def provider(idp: OAuthServer, **kw: object) -> TokenProvider:
    args: dict[str, object] = {"token_url": idp.url + "/oauth2/token", "client_id": "cid", "client_secret": "csecret"}
    args.update(kw)
    return TokenProvider(**args)  # type: ignore[arg-type]


@pytest.mark.parametrize("style", ["basic", "body"])
def test_client_credentials_token_is_cached_until_shortly_before_expiry(idp: OAuthServer, style: str) -> None:
    clock = Clock()
    tp = provider(idp, auth_style=style, scope="invoicing", clock=clock)
    http = OneShotHttp()
    assert tp.authorization(http) == {"Authorization": "Bearer at-1"}
    [call] = idp.calls("/oauth2/token")
    assert call["body"]["grant_type"] == "client_credentials" and call["body"]["scope"] == "invoicing"
    if style == "basic":
        assert call["headers"]["Authorization"].startswith("Basic ") and "client_secret" not in call["body"]
    else:
        assert call["body"]["client_secret"] == "csecret" and "Authorization" not in call["headers"]
    clock.now += 3600 - 61  # still 61 s before expiry: cached
    assert tp.authorization(http) == {"Authorization": "Bearer at-1"} and idp.token_requests == 1
    clock.now += 2  # inside the 60 s margin: refetched
    assert tp.authorization(http) == {"Authorization": "Bearer at-2"} and idp.token_requests == 2


def test_short_lived_token_margin_is_half_its_lifetime_and_missing_expiry_means_an_hour(idp: OAuthServer) -> None:
    clock = Clock()
    idp.expires_in = 30
    tp = provider(idp, clock=clock)
    http = OneShotHttp()
    tp.authorization(http)
    clock.now += 14
    tp.authorization(http)
    assert idp.token_requests == 1
    clock.now += 2
    tp.authorization(http)
    assert idp.token_requests == 2
    idp.expires_in = None
    tp.invalidate()
    tp.authorization(http)
    clock.now += 3539
    tp.authorization(http)
    assert idp.token_requests == 3


def test_concurrent_callers_share_one_token_request(idp: OAuthServer) -> None:
    tp = provider(idp)
    seen: list[dict[str, str]] = []
    threads = [threading.Thread(target=lambda: seen.append(tp.authorization(OneShotHttp()))) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert idp.token_requests == 1 and seen == [{"Authorization": "Bearer at-1"}] * 12


def test_refresh_token_rotation_is_handed_to_on_refresh_and_used_next(idp: OAuthServer) -> None:
    idp.rotate = True
    saved: list[str] = []
    clock = Clock()
    tp = provider(idp, grant="refresh_token", refresh_token="rt-0", on_refresh=saved.append, clock=clock)
    http = OneShotHttp()
    assert tp.authorization(http) == {"Authorization": "Bearer at-1"}
    assert saved == ["rt-1"] and tp.refresh_token == "rt-1"
    assert idp.calls("/oauth2/token")[0]["body"]["refresh_token"] == "rt-0"
    tp.invalidate()
    assert tp.authorization(http) == {"Authorization": "Bearer at-2"}
    assert saved == ["rt-1", "rt-2"] and idp.calls("/oauth2/token")[1]["body"]["refresh_token"] == "rt-1"
    # a provider still holding a rotated-away refresh token is refused for good (no retry helps)
    stale = provider(idp, grant="refresh_token", refresh_token="rt-0")
    with pytest.raises(PermanentError, match="invalid_grant"):
        stale.authorization(http)


def test_no_rotation_means_no_callback(idp: OAuthServer) -> None:
    saved: list[str] = []
    tp = provider(idp, grant="refresh_token", refresh_token="rt-0", on_refresh=saved.append)
    tp.authorization(OneShotHttp())
    assert saved == [] and tp.refresh_token == "rt-0"


def test_errors_are_classified_and_secrets_stay_out_of_repr(idp: OAuthServer) -> None:
    http = OneShotHttp()
    with pytest.raises(PermanentError, match="invalid_client"):
        provider(idp, client_secret="wrong").authorization(http)
    idp.fail("/oauth2/token", 503)
    tp = provider(idp, grant="refresh_token", refresh_token="rt-0")
    with pytest.raises(RetryableError):
        tp.authorization(http)
    assert tp.authorization(http) == {"Authorization": "Bearer at-1"}
    text = repr(tp)
    assert "csecret" not in text and "rt-0" not in text and "cid" in text
    with pytest.raises(ValueError, match="refresh_token: required"):
        provider(idp, grant="refresh_token")
    with pytest.raises(ValueError, match="grant: 'password'"):
        provider(idp, grant="password")


def test_send_authorized_refetches_once_after_a_401(idp: OAuthServer) -> None:
    tp = provider(idp)
    http = OneShotHttp()
    assert send_authorized(tp, http, "GET", idp.url + "/protected").json() == {"ok": True}
    idp.tokens.clear()  # the vendor revoked the cached token
    assert send_authorized(tp, http, "GET", idp.url + "/protected").json() == {"ok": True}
    assert idp.token_requests == 2
    assert [c["headers"]["Authorization"] for c in idp.calls("/protected")] == [
        "Bearer at-1", "Bearer at-1", "Bearer at-2"]
    idp.client = ("cid", "rotated")  # credentials revoked: the second 401 is permanent
    idp.tokens.clear()
    with pytest.raises(PermanentError):
        send_authorized(tp, http, "GET", idp.url + "/protected")
    assert is_unauthorized(PermanentError("HTTP 401: nope")) and not is_unauthorized(PermanentError("HTTP 403"))
    # the real sender sets status_code: it wins over the message text
    assert is_unauthorized(PermanentError("rejected", status_code=401))
    assert not is_unauthorized(PermanentError("HTTP 401 mentioned, but a 400", status_code=400))


def test_shared_provider_is_reused_per_client_and_secret(idp: OAuthServer) -> None:
    from connector.platforms.oauth import shared_provider

    url = idp.url + "/oauth2/token"
    a = shared_provider(url, "cid", "csecret")
    assert shared_provider(url, "cid", "csecret") is a
    assert shared_provider(url, "cid", "other") is not a
    assert shared_provider(url, "cid", "csecret", scope="x") is not a
    http = OneShotHttp()
    a.authorization(http)
    shared_provider(url, "cid", "csecret").authorization(http)
    assert idp.token_requests == 1


def test_refresh_token_store_encrypts_and_survives_a_restart(idp: OAuthServer, tmp_path, monkeypatch, caplog) -> None:
    from cryptography.fernet import Fernet
    from sqlalchemy import create_engine, text

    from connector.platforms import oauth

    monkeypatch.setenv(oauth.TOKEN_KEY_ENV, Fernet.generate_key().decode())
    url = f"sqlite:///{tmp_path / 'tokens.db'}"
    idp.rotate = True
    token_url = idp.url + "/oauth2/token"
    store = oauth.RefreshTokenStore(create_engine(url))
    seen: list[str] = []
    tp = oauth.rotating_provider(token_url, "cid", "csecret", "rt-0", store=store, on_refresh=seen.append)
    assert tp.authorization(OneShotHttp()) == {"Authorization": "Bearer at-1"} and seen == ["rt-1"]
    with create_engine(url).connect() as conn:
        [(cipher,)] = conn.execute(text("select ciphertext from platform_oauth_refresh_tokens")).all()
    assert "rt-1" not in cipher
    # a restart: no provider in memory; the configured rt-0 is dead, the stored rt-1 is used
    oauth._PROVIDERS.clear()
    fresh = oauth.rotating_provider(token_url, "cid", "csecret", "rt-0", store=oauth.RefreshTokenStore(create_engine(url)))
    assert fresh.authorization(OneShotHttp()) == {"Authorization": "Bearer at-2"}
    assert idp.calls("/oauth2/token")[-1]["body"]["refresh_token"] == "rt-1"
    # without the store the restart would present rt-0, which the vendor refuses for good
    oauth._PROVIDERS.clear()
    with pytest.raises(PermanentError, match="invalid_grant"):
        oauth.rotating_provider(token_url, "cid", "csecret", "rt-0").authorization(OneShotHttp())
    # no key: nothing is written in clear, the operator is told
    monkeypatch.delenv(oauth.TOKEN_KEY_ENV)
    keyless = oauth.RefreshTokenStore(create_engine(f"sqlite:///{tmp_path / 'keyless.db'}"))
    keyless.save("c", "rt-secret")
    assert keyless.load("c") is None and "EVBILL_TOKEN_KEY is not set" in caplog.text and "rt-secret" not in caplog.text


def test_two_consents_on_one_app_never_share_a_provider(idp: OAuthServer) -> None:
    from connector.platforms.oauth import shared_provider

    url = idp.url + "/oauth2/token"
    a = shared_provider(url, "cid", "csecret", grant="refresh_token", refresh_token="rt-0")
    b = shared_provider(url, "cid", "csecret", grant="refresh_token", refresh_token="rt-other")
    assert a is not b
    assert shared_provider(url, "cid", "csecret", grant="refresh_token", refresh_token="rt-9", identity="rt-0") is a


def test_two_worker_processes_share_rotations_through_the_store(idp: OAuthServer, tmp_path, monkeypatch) -> None:
    from cryptography.fernet import Fernet
    from sqlalchemy import create_engine

    from connector.platforms import oauth

    monkeypatch.setenv(oauth.TOKEN_KEY_ENV, Fernet.generate_key().decode())
    url = f"sqlite:///{tmp_path / 'tokens.db'}"
    idp.rotate = True
    token_url = idp.url + "/oauth2/token"
    oauth._PROVIDERS.clear()
    a = oauth.rotating_provider(token_url, "cid", "csecret", "rt-0", store=oauth.RefreshTokenStore(create_engine(url)))
    oauth._PROVIDERS.clear()  # process B: its own memory, same database
    b = oauth.rotating_provider(token_url, "cid", "csecret", "rt-0", store=oauth.RefreshTokenStore(create_engine(url)))
    assert a is not b
    a.authorization(OneShotHttp())  # A rotates rt-0 -> rt-1 and stores it
    b.authorization(OneShotHttp())  # B would present the dead rt-0; it takes rt-1 from the store instead
    a.invalidate()
    a.authorization(OneShotHttp())  # and A continues from B's rotation
    assert [c["body"]["refresh_token"] for c in idp.calls("/oauth2/token")] == ["rt-0", "rt-1", "rt-2"]


@pytest.mark.postgres
def test_refresh_token_store_on_postgresql(monkeypatch) -> None:
    from cryptography.fernet import Fernet
    from sqlalchemy import create_engine

    from connector.platforms import oauth
    from tests.api.pg import fresh_database, pg_available

    if not pg_available():
        pytest.skip("PostgreSQL not reachable (EVBILL_TEST_PG_URL)")
    monkeypatch.setenv(oauth.TOKEN_KEY_ENV, Fernet.generate_key().decode())
    with fresh_database() as url:
        engine = create_engine(url)
        store, other = oauth.RefreshTokenStore(engine), oauth.RefreshTokenStore(engine)
        assert store.load("c1") is None
        store.save("c1", "rt-1")
        other.save("c1", "rt-2")  # the second writer updates the row
        store.save("c2", "rt-x")
        assert (store.load("c1"), other.load("c2")) == ("rt-2", "rt-x")
        engine.dispose()
