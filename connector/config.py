"""Every environment variable the connector reads, with its default and parsing, in one module.

Why one place: operators find each variable once (docs/api.md, Configuration, lists them all), and the rest
of the code receives settings instead of reading the environment. A section is read when a process starts
(``create_app``, a command, the worker, a serverless container), never at import, and each process reads only
the sections it uses: a bad worker variable does not stop the API. Tests pass ``environ`` (any mapping).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import timedelta
from typing import Any, Self

DEFAULT_DATABASE_URL = "sqlite:///evbill.db"
ALLOW_PRIVATE_NETWORKS = "EVBILL_WEBHOOK_ALLOW_PRIVATE_NETWORKS"
PLATFORMS_FILE = "EVBILL_PLATFORMS_FILE"
TOKEN_KEY = "EVBILL_TOKEN_KEY"
DEFAULT_TIME_ZONE = "EVBILL_DEFAULT_TIME_ZONE"

Parser = Callable[[str, str], Any]


class ConfigError(ValueError):
    """A variable holds a value its setting cannot take; the message starts with the variable's name."""


def _text(_name: str, raw: str) -> str:
    return raw


def _optional(_name: str, raw: str) -> str | None:
    """An empty value counts as unset."""
    return raw or None


def _unless_off(_name: str, raw: str) -> bool:
    """On unless ``0``, ``false`` or ``no``."""
    return raw not in ("0", "false", "no")


def _only_if_on(_name: str, raw: str) -> bool:
    """Off unless ``1``, ``true``, ``yes`` or ``on`` (any case)."""
    return raw.strip().lower() in ("1", "true", "yes", "on")


def _integer(name: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name}: '{raw}' is not a whole number") from None


INVOICE_VAT_POLICIES = ("per_rate", "from_totals")


def _invoice_vat(name: str, raw: str) -> str:
    value = raw.strip().lower()
    if value not in INVOICE_VAT_POLICIES:
        raise ConfigError(f"{name}: '{raw}' is not one of {', '.join(INVOICE_VAT_POLICIES)}")
    return value


def _number(name: str, raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name}: '{raw}' is not a number") from None


def _positive(name: str, raw: str) -> float:
    number = _number(name, raw)
    if not number > 0:
        raise ConfigError(f"{name}: must be greater than 0")
    return number


def _at_least_one(name: str, raw: str) -> int:
    number = _integer(name, raw)
    if number < 1:
        raise ConfigError(f"{name}: must be at least 1")
    return number


def _cpus() -> int:
    return os.cpu_count() or 1


def _list(_name: str, raw: str) -> tuple[str, ...]:
    """``"a, b"`` → ``("a", "b")``."""
    return tuple(p.strip() for p in raw.split(",") if p.strip())


def _pairs(name: str, raw: str) -> dict[str, str]:
    """``"a=b,c=d"`` (or a JSON object) → dict."""
    text = raw.strip()
    if not text:
        return {}
    if text.startswith("{"):
        try:
            return {str(k): str(v) for k, v in json.loads(text).items()}
        except (ValueError, AttributeError):
            raise ConfigError(f"{name}: not a JSON object") from None
    out: dict[str, str] = {}
    for part in text.split(","):
        if "=" in part:
            key, value = part.split("=", 1)
            out[key.strip()] = value.strip()
    return out


def _var(name: str, default: Any = None, parse: Parser = _text, *, factory: Callable[[], Any] | None = None,
         secret: bool = False) -> Any:
    """A setting read from ``name``; ``default`` (or ``factory()``) when the variable is not set.

    ``secret``: kept out of ``repr`` so that a logged settings object never shows a key."""
    metadata = {"env": name, "parse": parse}
    if factory is not None:
        return field(default_factory=factory, metadata=metadata, repr=not secret)
    return field(default=default, metadata=metadata, repr=not secret)


class Section:
    """A group of settings one part of the connector needs, each field naming its variable."""

    __slots__ = ()

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Self:
        """Read the section's variables from ``environ`` (default: the process environment, now)."""
        env = os.environ if environ is None else environ
        values = {f.name: f.metadata["parse"](f.metadata["env"], env[f.metadata["env"]])
                  for f in fields(cls) if f.metadata["env"] in env}  # type: ignore[arg-type]
        return cls(**values)


@dataclass(frozen=True, slots=True)
class DatabaseSettings(Section):
    """Where the data lives; whether a process may create missing tables (production migrates instead)."""

    url: str = _var("DATABASE_URL", DEFAULT_DATABASE_URL)
    create_tables: bool = _var("EVBILL_CREATE_TABLES", True, _unless_off)
    # how long a write waits for another's lock (SQLite busy timeout, PostgreSQL lock_timeout); then the API
    # answers 503 with Retry-After
    busy_timeout_seconds: float = _var("EVBILL_DB_BUSY_TIMEOUT_SECONDS", 30.0, _number)


@dataclass(frozen=True, slots=True)
class ApiSettings(Section):
    """The HTTP API: body and batch limits, bearer tokens (Entra ID), CORS, development keys."""

    max_body_bytes: int = _var("EVBILL_MAX_BODY_BYTES", 16 * 1024 * 1024, _integer)
    batch_max_sessions: int = _var("EVBILL_BATCH_MAX_SESSIONS", 10000, _integer)
    # one CDR/session/tariff document (API bodies that carry one, CLI files): rating time grows with its size
    max_document_bytes: int = _var("EVBILL_MAX_DOCUMENT_BYTES", 4 * 1024 * 1024, _integer)
    idempotency_wait_seconds: float = _var("EVBILL_IDEMPOTENCY_WAIT_SECONDS", 10.0, _number)
    # Sheets gives a custom function 30 s in all: leave room for the network
    sheet_time_budget_seconds: float = _var("EVBILL_SHEET_TIME_BUDGET_SECONDS", 20.0, _number)
    jwt_issuer: str | None = _var("EVBILL_JWT_ISSUER", None, _optional)
    jwt_audience: str | None = _var("EVBILL_JWT_AUDIENCE", None, _optional)
    jwks_url: str | None = _var("EVBILL_JWKS_URL", None, _optional)
    jwt_tenant_claim: str = _var("EVBILL_JWT_TENANT_CLAIM", "tid")
    jwt_tenant_map: dict[str, str] = _var("EVBILL_JWT_TENANT_MAP", parse=_pairs, factory=dict)
    jwt_roles: tuple[str, ...] = _var("EVBILL_JWT_ROLES", (), _list)
    cors_origins: tuple[str, ...] = _var("EVBILL_CORS_ORIGINS", (), _list)
    api_keys: dict[str, str] = _var("EVBILL_API_KEYS", parse=_pairs, factory=dict, secret=True)
    # a claim unanswered this long (its request crashed) is taken over by the next retry
    idempotency_lease_seconds: float = _var("EVBILL_IDEMPOTENCY_LEASE_SECONDS", 60.0, _number)
    # the ChargePoint webhook's signing secret (its tenant: CHARGEPOINT_TENANT_ID), the OCPI tokens (token=tenant): under
    # ``evbill serve`` without code
    chargepoint_webhook_secret: str | None = _var("EVBILL_CHARGEPOINT_WEBHOOK_SECRET", None, _optional, secret=True)
    ocpi_tokens: dict[str, str] = _var("EVBILL_OCPI_TOKENS", parse=_pairs, factory=dict, secret=True)
    # how many reverse proxies in front of the API to trust for X-Forwarded-For/-Proto/-Host/-Port/-Prefix
    trusted_proxies: int = _var("EVBILL_TRUSTED_PROXIES", 0, _integer)


@dataclass(frozen=True, slots=True)
class ServeSettings(Section):
    """Defaults of ``evbill serve``; its options win."""

    workers: int = _var("EVBILL_WORKERS", 2, _integer)
    threads: int = _var("EVBILL_THREADS", 1, _integer)
    bind: str = _var("EVBILL_BIND", "127.0.0.1:8080")


@dataclass(frozen=True, slots=True)
class OutboxSettings(Section):
    """The worker's retry policy (unset: the policy's own default) and its dry-run file."""

    max_attempts: int | None = _var("EVBILL_OUTBOX_MAX_ATTEMPTS", None, _integer)
    base_delay: float | None = _var("EVBILL_OUTBOX_BASE_DELAY", None, _number)
    max_delay: float | None = _var("EVBILL_OUTBOX_MAX_DELAY", None, _number)
    lease_seconds: float | None = _var("EVBILL_OUTBOX_LEASE_SECONDS", None, _number)
    batch: int | None = _var("EVBILL_OUTBOX_BATCH", None, _integer)
    concurrency: int | None = _var("EVBILL_OUTBOX_CONCURRENCY", None, _integer)
    per_target: int | None = _var("EVBILL_OUTBOX_PER_TARGET", None, _integer)
    breaker_failures: int | None = _var("EVBILL_OUTBOX_BREAKER_FAILURES", None, _integer)
    breaker_cooldown: float | None = _var("EVBILL_OUTBOX_BREAKER_COOLDOWN", None, _number)
    deadline: float = _var("EVBILL_OUTBOX_DEADLINE", 30.0, _positive)
    dry_run_file: str | None = _var("EVBILL_DRY_RUN_FILE", None, _optional)

    def policy(self) -> dict[str, int | float]:
        """The policy fields the environment sets."""
        names = ("max_attempts", "base_delay", "max_delay", "lease_seconds", "batch", "concurrency", "per_target",
                 "breaker_failures", "breaker_cooldown")
        return {n: getattr(self, n) for n in names if getattr(self, n) is not None}


@dataclass(frozen=True, slots=True)
class WebhookSettings(Section):
    """Whether webhooks may call the operator's own network (``connector.security.egress``)."""

    allow_private_networks: bool = _var(ALLOW_PRIVATE_NETWORKS, False, _only_if_on)


@dataclass(frozen=True, slots=True)
class PlatformsSettings(Section):
    """Operator-wide settings of the platform adapters (per-tenant ones: ``connector.platforms.settings``): a
    file of per-tenant settings, and the key that encrypts rotated refresh tokens."""

    platforms_file: str | None = _var(PLATFORMS_FILE, None, _optional)
    token_key: str | None = _var(TOKEN_KEY, None, _optional, secret=True)


@dataclass(frozen=True, slots=True)
class SchedulerSettings(Section):
    """Opt-in jobs of ``evbill scheduler``."""

    outbox_prune_at: str | None = _var("EVBILL_OUTBOX_PRUNE_AT", None, _optional)
    # minutes between payments catch-up polls and Slack digest checks (0: neither job)
    payments_sync_minutes: int = _var("EVBILL_PAYMENTS_SYNC_MINUTES", 15, _integer)


@dataclass(frozen=True, slots=True)
class RetentionSettings(Section):
    """How long the outbox keeps fully sent events and the API keeps idempotency records."""

    outbox_days: float = _var("EVBILL_OUTBOX_RETENTION_DAYS", 90.0, _positive)
    idempotency_hours: float = _var("EVBILL_IDEMPOTENCY_RETENTION_HOURS", 24.0, _positive)

    @property
    def events_older_than(self) -> timedelta:
        return timedelta(days=self.outbox_days)

    @property
    def idempotency_older_than(self) -> timedelta:
        return timedelta(hours=self.idempotency_hours)


@dataclass(frozen=True, slots=True)
class SpreadsheetSettings(Section):
    """Spreadsheet rating: the zone of wall-clock starts; the desktop add-in's tariffs and tenant."""

    default_time_zone: str = _var(DEFAULT_TIME_ZONE, "UTC", lambda _n, raw: raw or "UTC")
    tariff_dir: str | None = _var("EVBILL_TARIFF_DIR", None, _optional)
    tenant: str = _var("EVBILL_TENANT", "default")


@dataclass(frozen=True, slots=True)
class RatingSettings(Section):
    """Bounds every face passes to the rating core (``RatingLimits``): sessions longer than this many days,
    or cut into more periods, are refused before rating (docs/rating.md, "Bounds")."""

    max_session_days: int = _var("EVBILL_MAX_SESSION_DAYS", 62, _integer)
    max_periods: int = _var("EVBILL_MAX_RATING_PERIODS", 50_000, _integer)
    # batch rating (/v1/rate/batch, ``evbill rate --sessions``): processes of the rating pool (1: always in the
    # calling process) and the smallest batch worth sending to it (below, the pool's overhead outweighs it)
    processes: int = _var("EVBILL_RATING_PROCESSES", parse=_at_least_one, factory=_cpus)
    pool_min_sessions: int = _var("EVBILL_RATING_POOL_MIN_SESSIONS", 200, _at_least_one)


@dataclass(frozen=True, slots=True)
class BillingSettings(Section):
    """How a finalized invoice states its VAT (docs/rating.md, "The invoice's VAT"): ``per_rate`` levies each
    rate once on the invoice's net at that rate, as EU invoicing and the vendors that recompute tax do;
    ``from_totals`` keeps the sum of the sessions' rated VAT (each its OCPI gross minus net)."""

    invoice_vat: str = _var("EVBILL_INVOICE_VAT", "per_rate", _invoice_vat)


@dataclass(frozen=True, slots=True)
class ReconcileSettings(Section):
    """Re-rating in reconciliation (``evbill reconcile``, the scheduler): processes of its pool (1: in the
    calling process) and the fewest sessions worth starting the pool for."""

    processes: int = _var("EVBILL_RECONCILE_PROCESSES", parse=_at_least_one, factory=_cpus)
    pool_min_sessions: int = _var("EVBILL_RECONCILE_POOL_MIN_SESSIONS", 2000, _at_least_one)


@dataclass(frozen=True, slots=True)
class ServerlessSettings(Section):
    """Serverless functions (``connector.serverless``): the tenant of a message that names none, where the
    database URL is kept (a Secrets Manager secret or SSM parameter ARN) and where bad messages go."""

    tenant_id: str = _var("EVBILL_TENANT_ID", "default")
    # a reference, never the URL itself: the function environment is readable by anyone who may view it
    database_url_secret: str | None = _var("EVBILL_DATABASE_URL_SECRET", None, _optional)
    dead_letter_queue_url: str | None = _var("EVBILL_DEAD_LETTER_QUEUE_URL", None, _optional)


@dataclass(frozen=True, slots=True)
class ChargePointApiSettings(Section):
    """ChargePoint's SOAP Web Services API, polled by ``evbill chargepoint import`` and ``evbill scheduler``
    (``connector.ingest.chargepoint_soap``). Unset user: no polling job."""

    wsdl: str = _var("CHARGEPOINT_WSDL", "https://webservices.chargepoint.com/cp_api_5.1.wsdl")
    endpoint: str | None = _var("CHARGEPOINT_ENDPOINT", None, _optional)
    user: str | None = _var("CHARGEPOINT_API_USER", None, _optional)
    password: str | None = _var("CHARGEPOINT_API_PASSWORD", None, _optional, secret=True)
    tenant_id: str = _var("CHARGEPOINT_TENANT_ID", "default")
    session_defaults: dict[str, str] = _var("CHARGEPOINT_SESSION_DEFAULTS", parse=_pairs, factory=dict)
    poll_minutes: float = _var("CHARGEPOINT_POLL_MINUTES", 15.0, _positive)
    first_window_hours: float = _var("CHARGEPOINT_FIRST_WINDOW_HOURS", 24.0, _positive)


@dataclass(frozen=True, slots=True)
class InvoiceDocumentSettings(Section):
    """The operator's legal details and payment terms printed on every PDF invoice and credit note
    (``connector.receipts.pdf``); invoices must name the seller, its address and VAT id."""

    operator_name: str = _var("EVBILL_OPERATOR_NAME", "EV Charge Billing")
    operator_address: tuple[str, ...] = _var("EVBILL_OPERATOR_ADDRESS", (), lambda _n, raw: tuple(
        part.strip() for part in raw.split("|") if part.strip()))  # lines separated by "|"
    operator_vat_id: str | None = _var("EVBILL_OPERATOR_VAT_ID", None, _optional)
    operator_registration: str | None = _var("EVBILL_OPERATOR_REGISTRATION", None, _optional)
    operator_email: str | None = _var("EVBILL_OPERATOR_EMAIL", None, _optional)
    operator_iban: str | None = _var("EVBILL_OPERATOR_IBAN", None, _optional)
    operator_bic: str | None = _var("EVBILL_OPERATOR_BIC", None, _optional)
    payment_terms_days: int = _var("EVBILL_PAYMENT_TERMS_DAYS", 14, _integer)


@dataclass(frozen=True, slots=True)
class OcpiSettings(Section):
    """Who we are to OCPI roaming partners (the ``OCPI-from-*`` headers, our Credentials roles)."""

    country_code: str = _var("EVBILL_OCPI_COUNTRY_CODE", "NL")
    party_id: str = _var("EVBILL_OCPI_PARTY_ID", "EVB")
    business_name: str = _var("EVBILL_OCPI_BUSINESS_NAME", "EV Charge Billing")


SECTIONS: tuple[type[Section], ...] = (
    DatabaseSettings, ApiSettings, ServeSettings, OutboxSettings, WebhookSettings, PlatformsSettings,
    SchedulerSettings, RetentionSettings, SpreadsheetSettings, ServerlessSettings, ChargePointApiSettings,
    InvoiceDocumentSettings, RatingSettings, BillingSettings, OcpiSettings, ReconcileSettings,
)


@dataclass(frozen=True, slots=True)
class Settings:
    """Every section at once (``evbill`` processes read only the sections they use)."""

    database: DatabaseSettings
    api: ApiSettings
    serve: ServeSettings
    outbox: OutboxSettings
    webhooks: WebhookSettings
    platforms: PlatformsSettings
    scheduler: SchedulerSettings
    retention: RetentionSettings
    spreadsheets: SpreadsheetSettings
    serverless: ServerlessSettings
    chargepoint: ChargePointApiSettings
    invoice_documents: InvoiceDocumentSettings
    rating: RatingSettings
    billing: BillingSettings
    ocpi: OcpiSettings
    reconcile: ReconcileSettings


def load(environ: Mapping[str, str] | None = None) -> Settings:
    """All sections from ``environ`` (default: the process environment, now); a bad value raises ConfigError."""
    env = os.environ if environ is None else environ
    return Settings(
        database=DatabaseSettings.from_environ(env), api=ApiSettings.from_environ(env),
        serve=ServeSettings.from_environ(env), outbox=OutboxSettings.from_environ(env),
        webhooks=WebhookSettings.from_environ(env), platforms=PlatformsSettings.from_environ(env),
        scheduler=SchedulerSettings.from_environ(env), retention=RetentionSettings.from_environ(env),
        spreadsheets=SpreadsheetSettings.from_environ(env), serverless=ServerlessSettings.from_environ(env),
        chargepoint=ChargePointApiSettings.from_environ(env),
        invoice_documents=InvoiceDocumentSettings.from_environ(env),
        rating=RatingSettings.from_environ(env),
        billing=BillingSettings.from_environ(env), reconcile=ReconcileSettings.from_environ(env),
        ocpi=OcpiSettings.from_environ(env),
    )


def variables() -> dict[str, type[Section]]:
    """Every variable name → the section that reads it, in section order."""
    return {f.metadata["env"]: section for section in SECTIONS for f in fields(section)}  # type: ignore[arg-type]


def env_secret(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The value of a secret reference ``env:NAME`` from a tenant's platform config, read when it is sent.

    Not a setting: the tenant's config names the variable, so it cannot be listed here, and it is read at
    each delivery so that an operator can rotate a vendor key without restarting the worker."""
    return (os.environ if environ is None else environ).get(name)
