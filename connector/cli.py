"""``evbill``: the command-line face. Each sub-command lives in ``connector/commands/<name>.py``.

A command module exposes ``register(subparsers) -> None`` and sets ``func`` on its parser via
``set_defaults(func=...)``; ``func(args) -> int`` returns the exit code. Exit code 2 = invalid input,
printed as one line naming the field.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from types import ModuleType

from connector.commands import (
    InputError,
    apikey,
    billing,
    chargepoint,
    csms,
    db,
    deliveries,
    demo,
    export_workbook,
    import_sessions,
    import_watch,
    payments,
    platforms,
    rate,
    reconcile,
    serve,
    stations,
    worker,
)

__all__ = ["COMMANDS", "InputError", "build_parser", "main"]

# Every command module, in the order ``evbill --help`` lists them. A new command: a module in
# ``connector/commands/`` with ``register(subparsers)``, and one entry below.
COMMANDS: tuple[ModuleType, ...] = (
    apikey, billing, chargepoint, csms, db, deliveries, demo, export_workbook, import_sessions, import_watch,
    payments, platforms, rate, reconcile, serve, stations, worker,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="evbill", description="EV charging billing connector")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return int(func(args) or 0)
    except InputError as exc:
        print(f"evbill: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
