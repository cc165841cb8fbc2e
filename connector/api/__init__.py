"""The API face: ``create_app(config)`` builds the Flask app; one blueprint per resource.

Every route lives in a module of this package (OCPI, ChargePoint and imports included) and reaches billing
through plain imports; errors become problem+json in one place (``errors.register``).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Flask
from flask_cors import CORS
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import sessionmaker
from werkzeug.middleware.proxy_fix import ProxyFix

from connector.api import (
    anomalies,
    auth,
    billing,
    chargepoint,
    customers,
    deliveries,
    docs,
    errors,
    events,
    health,
    imports,
    input_guard,
    invoices,
    ledger,
    ocpi,
    ocpi_modules,
    ocpi_partners,
    ocpi_versions,
    payments,
    platform_settings,
    promotions,
    rate,
    reconciliations,
    sessions,
    sheet_rate,
    subscriptions,
    tariffs,
)
from connector.api import config as api_config
from connector.api.context import ENGINE_KEY, SESSIONMAKER_KEY, close_db
from connector.api.fixed_point import FixedPointJson
from connector.security.auth import check_bearer_config

LOG = logging.getLogger("connector.api")

# Every blueprint, in registration order. A new resource: a module here with ``bp``, one entry below, and its
# paths in ``openapi/openapi.yaml`` (``tests/api/test_spec.py`` checks that routes and spec agree).
BLUEPRINTS: tuple[Blueprint, ...] = (
    health.bp, docs.bp, rate.bp, tariffs.bp, customers.bp, sessions.bp, invoices.bp, reconciliations.bp,
    subscriptions.bp, events.bp, deliveries.bp, platform_settings.bp, imports.bp, chargepoint.bp, ocpi.bp, ocpi_versions.bp, ocpi_modules.bp, ocpi_partners.bp,
    ledger.bp,
    sheet_rate.bp, billing.bp, promotions.bp, anomalies.bp, payments.bp,
)


def create_tables(engine: Any) -> None:
    """Create missing tables (development / SQLite convenience; production runs ``evbill db upgrade``)."""
    from connector.storage.tables import all_metadata

    try:
        all_metadata().create_all(engine, checkfirst=True)
    except OperationalError:  # another worker created them at the same moment
        all_metadata().create_all(engine, checkfirst=True)


class BodyJson(FixedPointJson):
    """Flask's JSON (Decimals in fixed point), where a body nested too deeply to parse is invalid JSON (a 400
    naming the body), not a ``RecursionError`` and a 500."""

    sort_keys = False

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return super().loads(s, **kwargs)
        except RecursionError as exc:
            raise ValueError("JSON nested too deeply") from exc


def create_app(config: Any = None) -> Flask:
    """The WSGI app. ``config``: a dict or object with upper-case keys overriding the env defaults."""
    from connector.storage.db import make_engine

    app = Flask(__name__)
    app.config.update(api_config.load(config))
    check_bearer_config(app.config)  # refuse to start on a setting that would accept foreign tokens
    app.json = BodyJson(app)  # Decimals in fixed point; too deep a body is invalid JSON
    engine = app.config.get("ENGINE") or make_engine(app.config["DATABASE_URL"],
                                                     float(app.config.get("DB_BUSY_TIMEOUT_SECONDS", 30)))
    app.extensions[ENGINE_KEY] = engine
    app.extensions[SESSIONMAKER_KEY] = sessionmaker(engine, expire_on_commit=False)
    if app.config.get("CREATE_TABLES"):
        create_tables(engine)
    origins = app.config.get("CORS_ORIGINS") or []
    if origins:
        CORS(app, origins=origins, expose_headers=["Location", "Idempotent-Replayed"],
             allow_headers=["Content-Type", "Authorization", "X-API-Key", "Idempotency-Key"])
    errors.register(app)
    input_guard.register(app)  # before authentication: a NUL in a key or path never reaches the database
    auth.register(app)
    app.teardown_appcontext(close_db)
    hops = int(app.config.get("TRUSTED_PROXIES") or 0)
    if hops > 0:  # behind N proxies: Location, url_for and the client address follow X-Forwarded-*
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops,  # type: ignore[method-assign]
                                x_port=hops, x_prefix=hops)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    return app
