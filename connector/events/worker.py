"""The outbox worker: fan out committed events, claim due deliveries, deliver, record, retry.

``run_once(engine, now=None)`` does one pass and returns counts; ``run_forever`` loops it for
``evbill worker``. Every outcome lands on the delivery row (``result``, ``last_error``, ``attempts``):
RetryableError (and any unexpected exception: we cannot prove it permanent) -> ``pending`` again after
backoff, or ``dead`` after ``max_attempts``; PermanentError -> ``failed``. Both can be redelivered by
hand (``connector.events.deliveries.redeliver``).

Exactly-once toward an idempotent receiver: each delivery has a stable idempotency key (webhooks:
``<event id>:webhook:<subscription id>`` in ``Idempotency-Key``; adapters: their own
``idempotency_key(event, config)`` passed to the vendor). A worker killed after the receiver accepted
but before the row was marked ``sent`` redelivers with the same key, which the receiver discards.
For platforms the worker also skips a delivery whose adapter key was already sent by another event
(one receipt per invoice even when ``session.billed`` and ``invoice.finalized`` both carry it).
"""

from __future__ import annotations

import logging
import random
import signal
import threading
import weakref
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from connector.config import OutboxSettings
from connector.events import webhooks
from connector.events.breaker import Breakers
from connector.events.deliveries import Policy, backoff, finish
from connector.events.deliveries import redeliver as redeliver  # re-exported: the pinned interface
from connector.events.dispatch import Dispatcher
from connector.events.outbox import row_to_envelope
from connector.models.documents import EventJson
from connector.platforms import context, registry, settings
from connector.platforms.errors import PermanentError, RetryableError
from connector.platforms.sender import HttpSender, Sender
from connector.security import egress
from connector.storage.tables.outbox import DeliveryRow, EventRow, WebhookSubscriptionRow

LOG = logging.getLogger("connector.events.worker")
SenderFactory = Callable[[str], Sender]


def default_policy(outbox: OutboxSettings | None = None) -> Policy:
    """The policy with the fields ``EVBILL_OUTBOX_*`` sets (default: the environment, read now)."""
    return Policy.model_validate((outbox or OutboxSettings.from_environ()).policy())


def default_senders(outbox: OutboxSettings | None = None) -> SenderFactory:
    """HTTP for real, or ``DryRunSender`` into ``$EVBILL_DRY_RUN_FILE`` when that is set."""
    dry = (outbox or OutboxSettings.from_environ()).dry_run_file
    if dry:
        from connector.platforms.dryrun import DryRunSender

        return lambda target: DryRunSender(dry, target=target)
    deadline = (outbox or OutboxSettings.from_environ()).deadline
    return lambda target: HttpSender(target=target, deadline=deadline)


def _already_sent(db: Session, row: DeliveryRow, key: str) -> DeliveryRow | None:
    """A different delivery to the same platform with the same adapter key that really sent something."""
    # populate_existing: rows of this pass sit in the identity map with the values they had when claimed
    # (``finish`` records results with a Core UPDATE), so a skipped draft would look like a real send.
    query = select(DeliveryRow).where(DeliveryRow.tenant_id == row.tenant_id, DeliveryRow.target == row.target,
                                      DeliveryRow.idempotency_key == key, DeliveryRow.id != row.id,
                                      DeliveryRow.status == "sent").execution_options(populate_existing=True)
    for other in db.scalars(query):
        if (other.result or {}).get("status") not in ("skipped",):
            return other
    return None


def deliver_one(db: Session, engine: Engine, row: DeliveryRow, event: EventJson, http: Sender,
                platforms: dict[str, registry.Platform]) -> dict[str, Any]:
    """Deliver one claimed row; returns the result to record or raises Retryable/PermanentError."""
    kind, _, name = row.target.partition(":")
    if kind == "webhook":
        sub = db.get(WebhookSubscriptionRow, name)
        if sub is None or sub.tenant_id != row.tenant_id:
            raise PermanentError(f"subscription {name} was deleted")
        try:
            egress.check_url(sub.url)
        except egress.EgressRefused as exc:
            raise PermanentError(f"callback URL refused: {exc}") from exc
        return webhooks.deliver(event, sub.url, sub.secret, http, row.idempotency_key or row.id, row.id)
    if kind != "platform" or name not in platforms:
        raise PermanentError(f"unknown target {row.target!r} (platform not installed?)")
    platform = platforms[name]
    current = settings.effective(db, row.tenant_id, name)
    if not current.enabled:
        raise PermanentError(f"platform {name} is disabled for tenant {row.tenant_id}")
    try:
        config = settings.build_config(platform, current)
    except settings.SettingsError as exc:
        raise PermanentError(str(exc)) from exc
    key = platform.idempotency_key(event, config)
    if row.idempotency_key != key:  # known once the config is: recorded for the API and the dedupe below
        row.idempotency_key = key
        db.commit()
    earlier = _already_sent(db, row, key)
    if earlier is not None:
        return {"status": "duplicate", "of": earlier.id, "ref": (earlier.result or {}).get("ref")}
    return platform.deliver(event, config, context.for_worker(http, engine))


_BREAKERS: weakref.WeakKeyDictionary[Engine, Breakers] = weakref.WeakKeyDictionary()
_BREAKERS_LOCK = threading.Lock()


def breakers_for(engine: Engine, policy: Policy) -> Breakers:
    """This process's breakers for one database (a test's fresh engine starts with all of them closed)."""
    with _BREAKERS_LOCK:
        found = _BREAKERS.get(engine)
        if found is None or (found.failures, found.cooldown.total_seconds()) != (policy.breaker_failures,
                                                                                policy.breaker_cooldown):
            found = _BREAKERS[engine] = Breakers(policy.breaker_failures, policy.breaker_cooldown)
        return found


class Observed:
    """A lane's sender that notes whether the target answered or failed: what the breaker judges. An
    adapter that retries for its own reasons (waiting for an earlier event) neither opens nor closes it."""

    def __init__(self, inner: Sender) -> None:
        self.inner = inner
        self.answered = False
        self.failed = False

    def send(self, method: str, url: str, **kwargs: Any) -> Any:
        try:
            resp = self.inner.send(method, url, **kwargs)
        except RetryableError:
            self.failed = True
            raise
        except PermanentError:
            self.answered = True
            raise
        self.answered = True
        return resp

    def verdict(self) -> str | None:
        """``up`` when the target answered at least once, ``down`` when it only failed, else None."""
        return "up" if self.answered else "down" if self.failed else None


def run_once(engine: Engine, now: datetime | None = None, *, policy: Policy | None = None,
             senders: SenderFactory | None = None, rng: random.Random | None = None,
             breakers: Breakers | None = None) -> dict[str, int]:
    """One pass: fan out, claim, deliver concurrently (bounded per target), record. Returns counts by outcome.

    Up to ``policy.concurrency`` deliveries run at once, at most ``policy.per_target`` to one webhook
    subscription and one at a time to one tenant's platform (so the adapter-key dedupe below sees the
    earlier send). A lane whose breaker is open is not called: its rows go back to ``pending`` (count
    ``deferred``) without spending an attempt; the breaker judges the target's answers only (``Observed``)."""
    fixed = now

    def clock() -> datetime:
        """The pass's time: fixed when the caller gave one (tests), else the real clock per delivery."""
        return fixed or datetime.now(UTC)

    policy = policy or default_policy()
    dispatcher = dispatcher_for(engine, policy, senders, rng, breakers, clock)
    try:
        with sessionmaker(engine, expire_on_commit=False)() as db:
            dispatcher.feed(db)
            dispatcher.drain(db)
    finally:
        dispatcher.close()
    return dispatcher.counts


def dispatcher_for(engine: Engine, policy: Policy, senders: SenderFactory | None, rng: random.Random | None,
                   breakers: Breakers | None, clock: Callable[[], datetime]) -> Dispatcher:
    """A dispatcher whose attempts deliver through ``senders`` (one sender per target, kept: keep-alive)."""
    factory = senders or default_senders()
    made: dict[str, Sender] = {}
    made_lock = threading.Lock()

    def sender_for(target: str) -> Sender:
        with made_lock:
            if target not in made:
                made[target] = factory(target)
            return made[target]

    chance = rng or random.Random()
    platforms = registry.discover()

    def attempt(row_id: str, owner: str, now: datetime) -> tuple[str, str | None]:
        return _attempt_alone(engine, row_id, owner, now, policy, sender_for, chance, platforms)

    return Dispatcher(engine, policy, attempt, breakers or breakers_for(engine, policy), clock, platforms)


def _attempt_alone(engine: Engine, row_id: str, owner: str, now: datetime, policy: Policy,
                   senders: SenderFactory, rng: random.Random,
                   platforms: dict[str, registry.Platform]) -> tuple[str, str | None]:
    """One delivery in a pool thread, with a database session of its own (sessions are not thread-safe).
    Returns the outcome and what the target's answers said (``Observed.verdict``)."""
    observed: list[Observed] = []

    def observing(target: str) -> Sender:
        observed.append(Observed(senders(target)))
        return observed[-1]

    with sessionmaker(engine, expire_on_commit=False)() as db:
        row = db.get(DeliveryRow, row_id)
        if row is None or row.lease_owner != owner or row.status != "sending":
            return "lost", None
        try:
            outcome = _attempt(db, engine, row, now, policy, observing, rng, platforms)
        except Exception:  # noqa: BLE001 - recording the outcome failed (database hiccup): the lease expires
            LOG.exception("delivery outcome not recorded", extra={"evbill": {"delivery": row_id}})
            outcome = "lost"
    return outcome, observed[0].verdict() if observed else None


def _attempt(db: Session, engine: Engine, row: DeliveryRow, now: datetime, policy: Policy,
             senders: SenderFactory, rng: random.Random, platforms: dict[str, registry.Platform]) -> str:
    event_row = db.get(EventRow, row.event_id)
    try:
        if event_row is None:
            raise PermanentError(f"event {row.event_id} no longer exists")
        result = deliver_one(db, engine, row, row_to_envelope(event_row), senders(row.target), platforms)
    except PermanentError as exc:
        db.rollback()
        LOG.warning("delivery failed permanently", extra={"evbill": {"delivery": row.id, "target": row.target,
                                                                     "error": str(exc)[:300]}})
        return "failed" if finish(db, row, status="failed", last_error=str(exc), updated_at=now) else "lost"
    except Exception as exc:  # noqa: BLE001 - RetryableError, or a bug we cannot prove permanent
        db.rollback()
        message = str(exc) if isinstance(exc, RetryableError) else f"{type(exc).__name__}: {exc}"
        if row.attempts >= policy.max_attempts:
            ok = finish(db, row, status="dead", last_error=message, updated_at=now)
            return "dead" if ok else "lost"
        delay = backoff(row.attempts, policy, getattr(exc, "retry_after", None), rng)
        ok = finish(db, row, status="pending", last_error=message, updated_at=now,
                    next_attempt_at=now + timedelta(seconds=delay))
        return "retry" if ok else "lost"
    ok = finish(db, row, status="sent", result=result, last_error=None, updated_at=now)
    return "sent" if ok else "lost"


def run_forever(engine: Engine, interval: float = 2.0, policy: Policy | None = None,
                senders: SenderFactory | None = None) -> None:
    """Deliver until SIGTERM/SIGINT (``serve``, with the process's signals)."""
    stop = threading.Event()

    def _stop(*_: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    serve(engine, stop, interval, policy, senders)


def serve(engine: Engine, stop: threading.Event, interval: float = 2.0, policy: Policy | None = None,
          senders: SenderFactory | None = None) -> None:
    """Keep one dispatcher until ``stop`` is set: claim more whenever there is room, so a lane waiting on
    a slow target never holds the others (its requests run out their deadline on their own threads).
    Sleeps ``interval`` when nothing is due; on stop, finishes what is running (each within its deadline)."""
    policy = policy or default_policy()
    dispatcher = dispatcher_for(engine, policy, senders, None, None, lambda: datetime.now(UTC))
    try:
        with sessionmaker(engine, expire_on_commit=False)() as db:
            while not stop.is_set():
                try:
                    claimed = dispatcher.feed(db) if dispatcher.in_hand() < policy.batch else 0
                    db.commit()  # no transaction (and snapshot) held open while waiting
                    if dispatcher.idle():
                        stop.wait(interval)
                    else:
                        dispatcher.step(db, 0.05 if claimed or dispatcher.queues else min(interval, 0.5))
                except Exception:  # noqa: BLE001 - database hiccup: log, wait, try again
                    LOG.exception("worker pass failed")
                    db.rollback()
                    stop.wait(interval)
            dispatcher.queues.clear()  # unstarted rows: their lease expires and another worker takes them
            dispatcher.drain(db)
    finally:
        dispatcher.close()
