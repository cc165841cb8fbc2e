"""The worker's dispatcher: claimed deliveries in lanes, run on a bounded thread pool, outcomes to breakers.

Why a dispatcher that outlives a pass: a pass that waited for its slowest request would hold every other
tenant's new events until that request's deadline. ``evbill worker`` keeps one dispatcher: while a
hanging lane's requests run out their deadline, it keeps claiming and delivering other lanes' rows
(``feed`` tops the queue up to ``policy.batch``, ``step`` starts what may start and records what
finished). ``run_once`` feeds once and steps until idle. Leases of every claim still in hand are renewed
while less than half is left, so rows waiting in a lane are not taken over by another worker.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from connector.events.breaker import Breakers
from connector.events.deliveries import Policy, aware, claim, finish, renew
from connector.events.fanout import fan_out
from connector.platforms import registry
from connector.storage.tables.outbox import DeliveryRow

LOG = logging.getLogger("connector.events.worker")
# (row id, lease owner, now) -> (outcome, what the target's answers said: "up", "down" or None)
Attempt = Callable[[str, str, datetime], tuple[str, str | None]]
OUTCOMES = ("sent", "retry", "failed", "dead", "lost", "deferred")


def lane(row: DeliveryRow) -> str:
    """Where the per-target bound and the breaker apply: one webhook subscription, or one tenant's platform."""
    return f"{row.tenant_id}/{row.target}"


def _defer(db: Session, row: DeliveryRow, now: datetime, retry_at: datetime) -> str:
    """Give a claimed row back (attempt not spent) because its target's breaker is open."""
    ok = finish(db, row, status="pending", attempts=max((row.attempts or 1) - 1, 0), updated_at=now,
                next_attempt_at=retry_at, last_error=f"circuit open for {row.target}: not called until "
                                                      f"{retry_at.isoformat()}")
    return "deferred" if ok else "lost"


class Dispatcher:
    """Lanes of claimed rows, a thread pool, the breakers; ``counts`` adds up outcomes as they happen."""

    def __init__(self, engine: Engine, policy: Policy, attempt: Attempt, breakers: Breakers,
                 clock: Callable[[], datetime], platforms: dict[str, registry.Platform]) -> None:
        self.engine, self.policy, self.attempt, self.breakers, self.clock = engine, policy, attempt, breakers, clock
        self.platforms = platforms
        self.pool = ThreadPoolExecutor(max_workers=policy.concurrency, thread_name_prefix="evbill-delivery")
        self.queues: dict[str, deque[DeliveryRow]] = {}
        self.running: dict[str, int] = {}
        self.futures: dict[Future[tuple[str, str | None]], tuple[str, str]] = {}  # -> (lane, claim owner)
        self.leases: dict[str, datetime] = {}  # claim owner -> lease end
        self.held: dict[str, set[str]] = {}  # claim owner -> rows still ours
        self.counts = {"events": 0, "created": 0, "claimed": 0, **dict.fromkeys(OUTCOMES, 0)}

    def in_hand(self) -> int:
        return sum(len(q) for q in self.queues.values()) + len(self.futures)

    def idle(self) -> bool:
        return not self.queues and not self.futures

    def feed(self, db: Session) -> int:
        """Fan out, then claim up to ``batch`` minus what is in hand; returns rows claimed."""
        now = self.clock()
        events, created = fan_out(db, now, self.platforms, self.policy.batch)
        self.counts["events"] += events
        self.counts["created"] += created
        room = self.policy.batch - self.in_hand()
        if room <= 0:
            return 0
        rows = claim(db, now, self.policy.model_copy(update={"batch": room}))
        if rows:
            owner = rows[0].lease_owner or ""
            self.leases[owner] = aware(rows[0].locked_until) or now
            self.held[owner] = {r.id for r in rows}
            for row in rows:
                self.queues.setdefault(lane(row), deque()).append(row)
        self.counts["claimed"] += len(rows)
        return len(rows)

    def _bound(self, name: str) -> int:
        return self.policy.per_target if self.queues[name][0].target.startswith("webhook:") else 1

    def _renew(self, db: Session, now: datetime) -> None:
        """Renew claims still in hand when half their lease is gone; forget finished claims."""
        owners_in_hand = {r.lease_owner for q in self.queues.values() for r in q} | {
            owner for _, owner in self.futures.values()}
        for owner in list(self.leases):
            if owner not in owners_in_hand:
                del self.leases[owner]
                self.held.pop(owner, None)
                continue
            if self.leases[owner] - now < timedelta(seconds=self.policy.lease_seconds / 2):
                self.held[owner] = renew(db, owner, now, self.policy)
                self.leases[owner] = now + timedelta(seconds=self.policy.lease_seconds)

    def step(self, db: Session, timeout: float) -> None:
        """Start every row that may start, wait up to ``timeout`` s for one to finish, record finished ones."""
        now = self.clock()
        self._renew(db, now)
        for name in list(self.queues):
            while (self.queues.get(name) and self.running.get(name, 0) < self._bound(name)
                   and len(self.futures) < self.policy.concurrency):
                row = self.queues[name].popleft()
                if not self.queues[name]:
                    del self.queues[name]
                owner = row.lease_owner or ""
                if row.id not in self.held.get(owner, set()):  # the lease ran out and another worker took it
                    self.counts["lost"] += 1
                    continue
                retry_at = self.breakers.allow(name, now)
                if retry_at is not None:
                    self.counts[_defer(db, row, now, retry_at)] += 1
                    continue
                self.running[name] = self.running.get(name, 0) + 1
                self.futures[self.pool.submit(self.attempt, row.id, owner, now)] = (name, owner)
        if not self.futures:
            return
        done, _ = wait(self.futures, timeout=timeout, return_when=FIRST_COMPLETED)
        for future in done:
            name, _ = self.futures.pop(future)
            self.running[name] -= 1
            if not self.running[name]:
                del self.running[name]
            outcome, verdict = future.result()
            if verdict == "down":
                if self.breakers.failure(name, self.clock()):
                    LOG.warning("circuit opened", extra={"evbill": {"lane": name,
                                                                    "cooldown": self.policy.breaker_cooldown}})
            elif verdict == "up":
                self.breakers.success(name)
            else:
                self.breakers.settle(name)
            self.counts[outcome] += 1

    def drain(self, db: Session) -> None:
        """Step until nothing is queued or running."""
        while not self.idle():
            self.step(db, max(self.policy.lease_seconds / 4, 0.05))

    def close(self) -> None:
        self.pool.shutdown(wait=True)
