"""The process pool of batch rating: a large batch of sessions is rated on every core.

Why processes: rating is CPU-bound Python, so threads would share one core. Why started lazily and kept: a
pool costs an interpreter start per process, far more than rating a small batch, so a process (an API worker,
a command) starts its pool at its first large batch and reuses it; nothing forks per request. Why
``forkserver``: the pool's processes are forked from a clean single-threaded server, never from a threaded
API worker (a fork copies the locks other threads hold).

A batch is cut into a few chunks per process (a slow chunk then does not leave the other cores idle);
results come back in input order; a batch smaller than ``min_sessions``, or a pool of one process, is rated
in the calling process. What every chunk shares travels as a ``RatingJob``: tariffs and customer as their
JSON documents, parsed once per pool process and kept, so the compiled tariffs serve chunk after chunk.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import lru_cache
from typing import Any, TypeVar

from connector.models import Customer, Tariff
from connector.rating import RatingOptions

Item = TypeVar("Item")
Result = TypeVar("Result")
CHUNKS_PER_PROCESS = 4
MAX_CHUNK = 2000  # bounds one chunk's result held in a pool process and in the pipe


class RatingJob:
    """The tariff versions, the customer and the options every session of one batch is rated with.

    In this process it holds the objects themselves; sent to a pool process it travels as JSON documents
    (``model_dump_json(round_trip=True)``), turned back into models there once per distinct document."""

    __slots__ = ("tariffs", "customer", "options", "_wire")

    def __init__(self, tariffs: Sequence[Tariff], customer: Customer | None, options: RatingOptions) -> None:
        self.tariffs = list(tariffs)
        self.customer = customer
        self.options = options
        self._wire: tuple[tuple[str, ...], str | None] | None = None

    def __reduce__(self) -> tuple[Any, ...]:
        if self._wire is None:  # once per batch, however many chunks carry it
            self._wire = (tuple(t.model_dump_json(round_trip=True) for t in self.tariffs),
                          None if self.customer is None else self.customer.model_dump_json(round_trip=True))
        return _restore_job, (*self._wire, self.options)


@lru_cache(maxsize=64)
def _documents(tariffs: tuple[str, ...], customer: str | None) -> tuple[list[Tariff], Customer | None]:
    """Parsed once per pool process and document; read-only afterwards (rating keeps its compiled form on
    the tariff, so later chunks skip both parsing and compiling)."""
    return ([Tariff.model_validate_json(t) for t in tariffs],
            None if customer is None else Customer.model_validate_json(customer))


def _restore_job(tariffs: tuple[str, ...], customer: str | None, options: RatingOptions) -> RatingJob:
    parsed, who = _documents(tariffs, customer)
    return RatingJob(parsed, who, options)


def chunk_size(count: int, processes: int) -> int:
    return max(1, min(MAX_CHUNK, -(-count // (processes * CHUNKS_PER_PROCESS))))


_lock = threading.Lock()
_executors: dict[int, tuple[int, ProcessPoolExecutor]] = {}  # processes -> (owner pid, executor)


def _context() -> Any:
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])  # the rating core, imported once in the server
        return context
    return multiprocessing.get_context("spawn")


def _executor(processes: int) -> ProcessPoolExecutor:
    with _lock:
        found = _executors.get(processes)
        if found is not None and found[0] == os.getpid():
            return found[1]
        # none yet, or one inherited through a fork (its processes belong to the parent): start this process's own
        executor = ProcessPoolExecutor(processes, mp_context=_context())
        _executors[processes] = (os.getpid(), executor)
        return executor


def _discard(processes: int, executor: ProcessPoolExecutor) -> None:
    with _lock:
        if _executors.get(processes, (0, None))[1] is executor:
            del _executors[processes]
    executor.shutdown(wait=False, cancel_futures=True)


def shutdown() -> None:
    """Stop this process's pools (tests, the end of a command); the next large batch starts one again."""
    with _lock:
        mine = [executor for pid, executor in _executors.values() if pid == os.getpid()]
        _executors.clear()
    for executor in mine:
        executor.shutdown(wait=True, cancel_futures=True)


def rate_batch(fn: Callable[[RatingJob, Sequence[Item]], list[Result]], job: RatingJob, items: Sequence[Item], *,
               processes: int, min_sessions: int) -> list[Result]:
    """``fn(job, items)``, in chunks on ``processes`` processes when the batch is large enough; the same list
    in the same order either way. ``fn`` is a module-level function (pool processes import it by name)."""
    if processes <= 1 or len(items) < max(2, min_sessions):
        return fn(job, items)
    size = chunk_size(len(items), processes)
    executor = _executor(processes)
    try:
        futures = [executor.submit(fn, job, items[i:i + size]) for i in range(0, len(items), size)]
        out: list[Result] = []
        for future in futures:
            out.extend(future.result())
        return out
    except BrokenProcessPool:
        # a pool process died (killed from outside): rating is pure, so the batch is rated here instead and the
        # next large batch starts a fresh pool
        _discard(processes, executor)
        return fn(job, items)
