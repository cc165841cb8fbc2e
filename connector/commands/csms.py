"""``evbill csms``: run the OCPP 1.6J / 2.0.1 central system (websockets) onto the ingestion pipeline.

Only stations registered with ``evbill stations add`` may connect, each by its security profile: ws on
``--port`` for profile 1, wss on ``--tls-port`` (``--tls-cert``/``--tls-key``; ``--tls-client-ca`` for
profile 3 client certificates) for profiles 2 and 3. ``--no-auth`` opens it to any station id (a lab only).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from pathlib import Path

from connector.commands import InputError
from connector.commands.inputs import load_json


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("csms", help="OCPP 1.6J/2.0.1 CSMS: stations connect to ws://HOST:PORT/<station id>")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=9000)
    p.add_argument("--tenant", default="default", help="tenant the sessions belong to")
    p.add_argument("--database-url", help="default $DATABASE_URL or sqlite:///evbill.db")
    p.add_argument("--stations", type=Path, help="JSON {station id: {time_zone, location_id, tariff_id, ...}}")
    p.add_argument("--cost-update-interval", type=float, default=60.0,
                   help="seconds between CostUpdated pushes per 2.0.1 transaction (0 = every update)")
    p.add_argument("--no-cost-updates", action="store_true", help="never send CostUpdated")
    p.add_argument("--workers", type=int, default=4, help="storage threads (1 for SQLite)")
    p.add_argument("--tariff", type=Path, help="price ended sessions with this tariff JSON (when billing is not set up)")
    p.add_argument("--dry-run-tariff", type=Path, help="no database: price with this tariff JSON in memory")
    p.add_argument("--no-auth", action="store_true",
                   help="accept any station id without a password (no security profile: a closed lab only)")
    p.add_argument("--tls-port", type=int, help="also serve wss on this port (security profiles 2 and 3)")
    p.add_argument("--tls-cert", type=Path, help="server certificate chain (PEM) for --tls-port")
    p.add_argument("--tls-key", type=Path, help="server private key (PEM) for --tls-port")
    p.add_argument("--tls-client-ca", type=Path, help="CA (PEM) that signs the stations' client certificates (profile 3)")
    p.add_argument("--rotation-poll", type=float, default=60.0,
                   help="seconds between checks for `evbill stations rotate-password` requests")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from connector.commands.sinks import make_sink
    from connector.ingest.ocpp.csms import CsmsSettings, run_csms
    from connector.ingest.ocpp.security import StationRegistry, server_tls_context

    stations = {}
    if args.stations:
        stations = load_json(args.stations, "stations")
        if not isinstance(stations, dict):
            raise InputError("stations: expected a JSON object keyed by station id")
    if not 0 < args.port < 65536:
        raise InputError(f"port: {args.port} is not a TCP port")
    tls = None
    if args.tls_port is not None:
        if not 0 < args.tls_port < 65536:
            raise InputError(f"tls-port: {args.tls_port} is not a TCP port")
        if args.tls_cert is None or args.tls_key is None:
            raise InputError("tls-cert: --tls-port needs --tls-cert and --tls-key")
        try:
            tls = server_tls_context(args.tls_cert, args.tls_key, args.tls_client_ca)
        except (OSError, ValueError) as exc:
            raise InputError(f"tls-cert: {exc}") from exc
    registry = None
    if not args.no_auth:
        from connector.billing.intake import ensure_schema
        from connector.commands import database_url
        from connector.storage.db import make_engine

        engine = make_engine(database_url(args.database_url))
        ensure_schema(engine)
        registry = StationRegistry(engine, args.tenant)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("ocpp").setLevel(logging.WARNING)  # the package logs every frame at INFO
    settings = CsmsSettings(tenant_id=args.tenant, stations=stations, cost_update_interval=args.cost_update_interval,
                            cost_updates=not args.no_cost_updates, workers=args.workers)
    sink = make_sink(args.database_url, args.dry_run_tariff, args.tariff)
    try:
        asyncio.run(run_csms(sink, args.host, args.port, settings, registry, tls, args.tls_port, args.rotation_poll))
    except KeyboardInterrupt:
        return 0
    return 0
