"""The connector's processes as an operator runs them, for fault tests and benches: ``evbill serve``
(gunicorn) and ``evbill worker`` as subprocesses in their own process group, so ``kill9`` can SIGKILL
the master and every worker at once, the way a crashed machine or the OOM killer would.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import requests

from tests.api.conftest import KEY_A, free_port
from tests.paths import REPO

HEADERS = {"X-API-Key": KEY_A}


class Proc:
    """A subprocess in its own session (process group) with a kill -9 for the whole group."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(argv, cwd=REPO, env={**os.environ, **env}, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, start_new_session=True)

    def kill9(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(15)

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                self.kill9()
        if self.proc.stderr is not None:
            self.proc.stderr.close()


class Api(Proc):
    """``evbill serve`` (gunicorn, preloaded app) on a free port of 127.0.0.1; ``base`` once ready."""

    def __init__(self, db_url: str, workers: int = 2, threads: int = 4, extra: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        super().__init__([sys.executable, "-m", "connector.cli", "serve", "--workers", str(workers), "--threads",
                          str(threads), "--bind", f"127.0.0.1:{self.port}"],
                         {"DATABASE_URL": db_url, "EVBILL_API_KEYS": f"{KEY_A}=A", **(extra or {})})
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(self.base + "/v1/ready", timeout=1).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                err = self.proc.stderr.read().decode() if self.proc.stderr and self.proc.poll() is not None else ""
                self.stop()
                raise RuntimeError(f"evbill serve did not start: {err[-2000:]}")
            time.sleep(0.1)


class Worker(Proc):
    """``evbill worker`` looping with a short lease, so a killed worker's rows come back quickly."""

    def __init__(self, db_url: str, lease: float = 3.0, extra: dict[str, str] | None = None) -> None:
        super().__init__([sys.executable, "-m", "connector.cli", "worker", "--interval", "0.2", "--lease",
                          str(lease), "--batch", "50"], {"DATABASE_URL": db_url, **(extra or {})})


@contextmanager
def api(db_url: str, **kwargs: object) -> Iterator[Api]:
    proc = Api(db_url, **kwargs)  # type: ignore[arg-type]
    try:
        yield proc
    finally:
        proc.stop()
