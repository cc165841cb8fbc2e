"""``evbill serve``: the API under gunicorn (production) or the Flask dev server (``--dev`` only)."""

from __future__ import annotations

import argparse
from typing import Any

from connector.commands import InputError


def _bind(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise InputError(f"--bind: '{value}' is not HOST:PORT")
    return host, int(port)


def gunicorn_app(app: Any, options: dict[str, Any]) -> Any:
    from gunicorn.app.base import BaseApplication

    class _App(BaseApplication):
        def load_config(self) -> None:
            for key, value in options.items():
                if key in self.cfg.settings and value is not None:
                    self.cfg.set(key.lower(), value)

        def load(self) -> Any:
            return app

    return _App()


def run(args: argparse.Namespace) -> int:
    from connector.config import ServeSettings

    serve = ServeSettings.from_environ()
    bind = args.bind if args.bind is not None else serve.bind
    workers = args.workers if args.workers is not None else serve.workers
    threads = args.threads if args.threads is not None else serve.threads
    host, port = _bind(bind)
    if workers < 1:
        raise InputError("--workers: must be at least 1")
    from connector.api import create_app
    from connector.config import ConfigError

    try:
        app = create_app()  # tables are created once here, before workers fork
    except ConfigError as exc:  # a setting the API cannot run with: one line, exit 2
        raise InputError(str(exc)) from None
    from connector.api.context import ENGINE_KEY
    from connector.commands.worker import warn_invoice_vat

    warn_invoice_vat(app.extensions[ENGINE_KEY])
    if args.dev:
        app.run(host=host, port=port, debug=False, threaded=True)
        return 0
    engine = app.extensions[ENGINE_KEY]
    engine.dispose()  # no pooled connection may cross the fork into the workers

    def post_fork(_server: Any, _worker: Any) -> None:
        engine.dispose(close=False)

    gunicorn_app(app, {
        "post_fork": post_fork,
        "bind": f"{host}:{port}", "workers": workers, "threads": threads,
        "worker_class": args.worker_class or ("gthread" if threads > 1 else "sync"), "timeout": args.timeout,
        "keepalive": args.keepalive,
        "accesslog": "-" if args.access_log else None, "preload_app": True,
    }).run()
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("serve", help="run the HTTP API (gunicorn; --dev for the Flask dev server)")
    p.add_argument("--workers", type=int, default=None, help="gunicorn workers (default $EVBILL_WORKERS or 2)")
    p.add_argument("--threads", type=int, default=None, help="threads per worker (default $EVBILL_THREADS or 1)")
    p.add_argument("--bind", default=None, help="HOST:PORT (default $EVBILL_BIND or 127.0.0.1:8080)")
    p.add_argument("--timeout", type=int, default=60, help="gunicorn worker timeout (seconds)")
    p.add_argument("--worker-class", choices=["sync", "gthread"], default=None,
                   help="gunicorn worker class (default: gthread with --threads > 1, else sync); gthread keeps "
                        "client connections open between requests (--keepalive), sync closes each one")
    p.add_argument("--keepalive", type=int, default=5,
                   help="seconds a gthread worker keeps an idle client connection open (default 5)")
    p.add_argument("--access-log", action="store_true", help="log every request to stdout")
    p.add_argument("--dev", action="store_true", help="Flask development server (never in production)")
    p.set_defaults(func=run)
