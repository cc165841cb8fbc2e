"""What an adapter's ``deliver(event, config, ctx)`` may touch besides the vendor: one typed ``DeliveryContext``.

Why: side effects are injected. The worker builds the context on its engine (``for_worker``); a test builds
one from its doubles (a fake sender, a store on a scratch database, a fixed clock). Every adapter takes the
same three arguments, so the registry calls them all the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache

from sqlalchemy import Engine

from connector.config import PlatformsSettings
from connector.platforms.oauth import RefreshTokenStore, TokenProvider
from connector.platforms.sender import Sender
from connector.platforms.sent_refs import SentRefs
from connector.platforms.stores.digests import DigestStore
from connector.platforms.stores.expenses import ExpenseStore
from connector.platforms.stores.tickets import TicketStore
from connector.storage.ocpi_partners import PushLog


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Stores:
    """The worker-database stores adapters keep state in, one typed attribute each (None: not available).

    Explicit attributes rather than "whatever the signature asks for": a reader sees which adapter uses
    which store, and a test passes only the ones it needs.
    """

    refresh_tokens: RefreshTokenStore | None = None  # Xero, QuickBooks, FreshBooks: rotated refresh tokens
    tickets: TicketStore | None = None  # Jira: anomaly fingerprint -> issue key
    digests: DigestStore | None = None  # Slack: daily digest items and posted days
    expenses: ExpenseStore | None = None  # SAP Concur: session -> filed Quick Expense
    ocpi_pushes: PushLog | None = None  # OCPI: registered partners, and which CDRs each already has


@dataclass(frozen=True)
class DeliveryContext:
    """The sender, the record of earlier deliveries, the stores, and the seams tests replace."""

    http: Sender
    refs: SentRefs | None = None  # the vendor ids earlier deliveries recorded (voids, credit notes)
    stores: Stores = field(default_factory=Stores)
    clock: Callable[[], datetime] = utcnow
    token_provider: TokenProvider | None = None  # an OAuth token source instead of the one the config builds
    on_refresh: Callable[[str], None] | None = None  # told each rotated refresh token (besides the store)
    sheets_sync: Callable[..., object] | None = None  # Google Sheets: instead of the gspread sync


@cache
def worker_stores(engine: Engine) -> Stores:
    """Every store on the worker's engine, built once per engine (each creates its tables if missing)."""
    return Stores(refresh_tokens=RefreshTokenStore(engine), tickets=TicketStore(engine),
                  digests=DigestStore(engine), expenses=ExpenseStore(engine),
                  ocpi_pushes=PushLog(engine, PlatformsSettings.from_environ().token_key))


def for_worker(http: Sender, engine: Engine) -> DeliveryContext:
    """The context the outbox worker delivers with: its sender (real or dry-run) and its database."""
    return DeliveryContext(http=http, refs=SentRefs(engine), stores=worker_stores(engine))
