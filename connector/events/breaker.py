"""Per-target circuit breakers of the delivery worker (state per worker process, not in the database).

Why: a target that keeps timing out or answering 5xx would otherwise take a delivery slot and a full
request deadline for every one of its rows in every pass. After ``failures`` consecutive retryable
failures the breaker opens: the worker stops calling the target and puts its rows back to ``pending``
until ``cooldown`` seconds have passed, without spending an attempt. Then one trial delivery goes out
(half-open): success closes the breaker, failure opens it for another ``cooldown``.

Per process on purpose: each worker learns a target is down within ``failures`` requests of its own, and
a restart simply starts closed; nothing has to be cleaned up in the database.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass
class _State:
    failures: int = 0
    open_until: datetime | None = None
    trial: bool = False  # a half-open trial delivery is out


class Breakers:
    """Thread-safe breaker per target name (``webhook:<id>``, ``platform:<name>``)."""

    def __init__(self, failures: int = 5, cooldown: float = 60.0) -> None:
        self.failures = failures
        self.cooldown = timedelta(seconds=cooldown)
        self.lock = threading.Lock()
        self.states: dict[str, _State] = {}

    def allow(self, target: str, now: datetime) -> datetime | None:
        """None when a delivery to ``target`` may go out now; else when to try again."""
        with self.lock:
            state = self.states.get(target)
            if state is None or state.open_until is None:
                return None
            if now < state.open_until:
                return state.open_until
            if state.trial:  # half-open: one trial at a time
                return now + self.cooldown
            state.trial = True
            return None

    def success(self, target: str) -> None:
        with self.lock:
            self.states.pop(target, None)

    def settle(self, target: str) -> None:
        """A delivery that neither reached nor failed the target (nothing sent): a half-open trial is over."""
        with self.lock:
            state = self.states.get(target)
            if state is not None:
                state.trial = False

    def failure(self, target: str, now: datetime) -> bool:
        """Record a retryable failure; True when this opened (or re-opened) the breaker."""
        with self.lock:
            state = self.states.setdefault(target, _State())
            state.failures += 1
            if state.trial or state.failures >= self.failures:
                state.open_until, state.trial = now + self.cooldown, False
                return True
            return False

    def is_open(self, target: str, now: datetime) -> bool:
        with self.lock:
            state = self.states.get(target)
            return bool(state and state.open_until and now < state.open_until)
