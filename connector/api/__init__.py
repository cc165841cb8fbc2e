"""The API face: ``create_app(config)`` builds the Flask app; one blueprint per resource.

Adding a resource: write ``connector/api/<name>.py`` (or a module elsewhere) exposing ``bp``, add it to
``BLUEPRINTS`` below, and add its paths to ``openapi/openapi.yaml`` — ``tests/api/test_spec.py`` checks
that the registered routes and the spec's paths are the same set.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from flask import Flask
from flask_cors import CORS
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import sessionmaker

from connector.api import auth, errors
from connector.api import config as api_config
from connector.api.context import ENGINE_KEY, SESSIONMAKER_KEY, close_db

LOG = logging.getLogger("connector.api")

# "module:attribute" of every blueprint, in registration order. Other contributors append theirs here.
BLUEPRINTS: list[str] = [
    "connector.api.health:bp",
    "connector.api.docs:bp",
    "connector.api.rate:bp",
    "connector.api.tariffs:bp",
    "connector.api.customers:bp",
    "connector.api.sessions:bp",
    "connector.api.invoices:bp",
    "connector.api.reconciliations:bp",
    "connector.api.subscriptions:bp",
    "connector.api.deliveries:bp",
    "connector.api.platform_settings:bp",
    "connector.ingest.imports_api:bp",
    "connector.ingest.chargepoint:bp",
    "connector.ingest.ocpi:bp",
    "connector.api.ledger:bp",
    "connector.api.sheet_rate:bp",
    "connector.api.billing_jobs:bp",
    "connector.api.promotions:bp",
    "connector.api.anomalies:bp",
]


def create_tables(engine: Any) -> None:
    """Create missing tables (development / SQLite convenience; production runs ``evbill db upgrade``)."""
    from connector.storage.migrations_support import all_metadata

    try:
        all_metadata().create_all(engine, checkfirst=True)
    except OperationalError:  # another worker created them at the same moment
        all_metadata().create_all(engine, checkfirst=True)


def create_app(config: Any = None) -> Flask:
    """The WSGI app. ``config``: a dict or object with upper-case keys overriding the env defaults."""
    from connector.storage.db import make_engine

    app = Flask(__name__)
    app.config.update(api_config.load(config))
    app.json.sort_keys = False  # type: ignore[attr-defined]
    engine = app.config.get("ENGINE") or make_engine(app.config["DATABASE_URL"])
    app.extensions[ENGINE_KEY] = engine
    app.extensions[SESSIONMAKER_KEY] = sessionmaker(engine, expire_on_commit=False)
    if app.config.get("CREATE_TABLES"):
        create_tables(engine)
    origins = app.config.get("CORS_ORIGINS") or []
    if origins:
        CORS(app, origins=origins, expose_headers=["Location", "Idempotent-Replayed"],
             allow_headers=["Content-Type", "Authorization", "X-API-Key", "Idempotency-Key"])
    errors.register(app)
    auth.register(app)
    app.teardown_appcontext(close_db)
    for target in BLUEPRINTS:
        module, attribute = target.split(":")
        app.register_blueprint(getattr(importlib.import_module(module), attribute))
    return app
