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
import time
import weakref
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from connector.config import OutboxSettings
from connector.events import webhooks
from connector.events.breaker import Breakers
from connector.events.deliveries import Policy, aware, backoff, claim, finish, renew
from connector.events.deliveries import redeliver as redeliver  # re-exported: the pinned interface
from connector.events.fanout import fan_out
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


def lane(row: DeliveryRow) -> str:
    """Where the per-target bound and the breaker apply: one webhook subscription, or one tenant's platform."""
    return f"{row.tenant_id}/{row.target}"


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

    now = clock()
    policy = policy or default_policy()
    factory = senders or default_senders()
    breakers = breakers or breakers_for(engine, policy)
    made: dict[str, Sender] = {}
    made_lock = threading.Lock()

    def sender_for(target: str) -> Sender:
        """One sender per target and pass: keep-alive connections to the same vendor are reused."""
        with made_lock:
            if target not in made:
                made[target] = factory(target)
            return made[target]

    rng = rng or random.Random()
    platforms = registry.discover()
    counts = {"events": 0, "created": 0, "claimed": 0, "sent": 0, "retry": 0, "failed": 0, "dead": 0, "lost": 0,
              "deferred": 0}
    with sessionmaker(engine, expire_on_commit=False)() as db:
        counts["events"], counts["created"] = fan_out(db, now, platforms, policy.batch)
        rows = claim(db, now, policy)
        counts["claimed"] = len(rows)
        if not rows:
            return counts
        owner, until = rows[0].lease_owner or "", aware(rows[0].locked_until) or now
        held = {r.id for r in rows}
        queues: dict[str, deque[DeliveryRow]] = {}
        for row in rows:
            queues.setdefault(lane(row), deque()).append(row)
        running: dict[str, int] = {}
        futures: dict[Future[tuple[str, str | None]], str] = {}

        def bound(name: str) -> int:
            return policy.per_target if queues[name][0].target.startswith("webhook:") else 1

        with ThreadPoolExecutor(max_workers=min(policy.concurrency, len(rows)),
                                thread_name_prefix="evbill-delivery") as pool:
            while queues or futures:
                current = clock()
                if until - current < timedelta(seconds=policy.lease_seconds / 2):  # slow batch: keep the claims
                    held, until = renew(db, owner, current, policy), current + timedelta(seconds=policy.lease_seconds)
                for name in list(queues):
                    while queues.get(name) and running.get(name, 0) < bound(name) and len(futures) < policy.concurrency:
                        row = queues[name].popleft()
                        if not queues[name]:
                            del queues[name]
                        if row.id not in held:  # the lease ran out and another worker took the row
                            counts["lost"] += 1
                            continue
                        retry_at = breakers.allow(name, current)
                        if retry_at is not None:
                            counts[_defer(db, row, current, retry_at)] += 1
                            continue
                        running[name] = running.get(name, 0) + 1
                        futures[pool.submit(_attempt_alone, engine, row.id, owner, current, policy, sender_for,
                                            rng, platforms)] = name
                if not futures:
                    continue
                done, _ = wait(futures, timeout=max(policy.lease_seconds / 4, 0.05), return_when=FIRST_COMPLETED)
                for future in done:
                    name = futures.pop(future)
                    running[name] -= 1
                    outcome, verdict = future.result()
                    if verdict == "down":
                        if breakers.failure(name, clock()):
                            LOG.warning("circuit opened", extra={"evbill": {"lane": name,
                                                                            "cooldown": policy.breaker_cooldown}})
                    elif verdict == "up":
                        breakers.success(name)
                    else:
                        breakers.settle(name)
                    counts[outcome] += 1
    return counts


def _defer(db: Session, row: DeliveryRow, now: datetime, retry_at: datetime) -> str:
    """Give a claimed row back (attempt not spent) because its target's breaker is open."""
    ok = finish(db, row, status="pending", attempts=max((row.attempts or 1) - 1, 0), updated_at=now,
                next_attempt_at=retry_at, last_error=f"circuit open for {row.target}: not called until "
                                                      f"{retry_at.isoformat()}")
    return "deferred" if ok else "lost"


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
    """Loop ``run_once`` until SIGTERM/SIGINT; a busy pass runs again at once, an idle one sleeps."""
    stop = {"now": False}

    def _stop(*_: Any) -> None:
        stop["now"] = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    while not stop["now"]:
        try:
            counts = run_once(engine, policy=policy, senders=senders)
        except Exception:  # noqa: BLE001 - database hiccup: log, wait, try again
            LOG.exception("worker pass failed")
            counts = {"claimed": 0, "events": 0}
        if counts["claimed"] == 0 and counts["events"] == 0:
            time.sleep(interval)
