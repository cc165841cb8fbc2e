"""``evbill rate``: price one CDR or session (JSON to stdout), or a CSV batch of sessions."""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

from pydantic import ValidationError

from connector.commands import InputError
from connector.commands.inputs import batch_limit, load_json, read_text
from connector.config import ConfigError, RatingSettings
from connector.models import Cdr, Session, Tariff
from connector.money import RoundingPolicy
from connector.rating import RatingError, RatingLimits, RatingOptions, StepSizePolicy, rate
from connector.spreadsheets import batch_pool
from connector.spreadsheets.batch_csv import rate_csv
from connector.validation import first_error_line


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("rate", help="price a CDR or session with a tariff (prints JSON)")
    p.add_argument("--tariff", type=Path, help="OCPI tariff JSON (an object or a list of versions)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--cdr", type=Path, help="OCPI 2.2.1 CDR JSON (may embed its tariffs)")
    src.add_argument("--session", type=Path, help="raw session JSON")
    src.add_argument("--sessions", type=Path, help="CSV of sessions to rate as a batch")
    p.add_argument("--out", type=Path, help="output CSV for --sessions (default stdout)")
    p.add_argument("--time-zone", help="IANA zone for local-time restrictions (overrides the input's)")
    p.add_argument("--customer-class", help="public, member, fleet, government, ...")
    p.add_argument("--rounding", choices=[r.value for r in RoundingPolicy], default=RoundingPolicy.LINE_HALF_UP.value)
    p.add_argument("--step-size", choices=[s.value for s in StepSizePolicy], default=StepSizePolicy.OCPI_2_3_0.value)
    p.set_defaults(func=run)


def _tariffs(path: Path | None) -> list[Tariff]:
    if path is None:
        return []
    data = load_json(path, "tariff")
    items = data if isinstance(data, list) else [data]
    try:
        return [Tariff.model_validate(item) for item in items]
    except ValidationError as exc:
        raise InputError(first_error_line(exc, "tariff")) from exc


def _settings() -> RatingSettings:
    """The rating bounds (EVBILL_MAX_SESSION_DAYS, EVBILL_MAX_RATING_PERIODS) and the batch pool's size."""
    try:
        return RatingSettings.from_environ()
    except ConfigError as exc:
        raise InputError(str(exc)) from exc


def run(args: argparse.Namespace) -> int:
    tariffs = _tariffs(args.tariff)
    settings = _settings()
    options = RatingOptions(
        time_zone=args.time_zone,
        customer_class=args.customer_class,
        rounding=RoundingPolicy(args.rounding),
        step_size=StepSizePolicy(args.step_size),
        limits=RatingLimits(settings.max_session_days, settings.max_periods),
    )
    try:
        if args.sessions is not None:
            if not tariffs:
                raise InputError("tariff: --tariff is required with --sessions")
            source = io.StringIO(read_text(args.sessions, "sessions", batch_limit()), newline="")
            pool = {"processes": settings.processes, "min_sessions": settings.pool_min_sessions}
            try:
                if args.out is None:
                    ok, bad = rate_csv(source, sys.stdout, tariffs, options, **pool)
                else:
                    try:
                        with args.out.open("w", newline="", encoding="utf-8") as target:
                            ok, bad = rate_csv(source, target, tariffs, options, **pool)
                    except OSError as exc:
                        raise InputError(f"out: cannot write {args.out}: {exc.strerror or exc}") from exc
            finally:
                batch_pool.shutdown()
            print(f"rated {ok} sessions, rejected {bad}", file=sys.stderr)
            return 0
        subject: Cdr | Session
        if args.cdr is not None:
            try:
                subject = Cdr.model_validate(load_json(args.cdr, "cdr"))
            except ValidationError as exc:
                raise InputError(first_error_line(exc, "cdr")) from exc
        else:
            try:
                subject = Session.model_validate(load_json(args.session, "session"))
            except ValidationError as exc:
                raise InputError(first_error_line(exc, "session")) from exc
        result = rate(subject, tariffs or None, None, options)
    except RatingError as exc:
        raise InputError(str(exc)) from exc
    json.dump(result.to_dict(), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0
