"""A total deadline for one HTTP request made with ``requests`` (connect, send, headers and body together).

Why: ``requests``/urllib3 timeouts are per socket operation, so a receiver that trickles one byte every
few seconds never trips a 30 s read timeout and holds the worker for as long as it likes. Here every
connection a request uses is registered with a watch; when the deadline passes, a timer shuts the socket
down, the blocked read returns at once and the caller sees ``expired``. Mount ``DeadlineAdapter`` on a
``requests.Session`` and wrap each call in ``with deadline(seconds) as watch``.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3 import PoolManager, ProxyManager
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

_ACTIVE = threading.local()


class Watch:
    """The connections one request uses; ``expire`` shuts them down (called by the timer)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.connections: list[HTTPConnection] = []
        self.expired = False
        self.done = False

    def add(self, conn: HTTPConnection) -> None:
        with self.lock:
            self.connections.append(conn)
            if self.expired:
                _shut(conn)

    def expire(self) -> None:
        with self.lock:
            if self.done:
                return
            self.expired = True
            for conn in self.connections:
                _shut(conn)

    def finish(self) -> None:
        with self.lock:
            self.done = True


def _shut(conn: HTTPConnection) -> None:
    sock = getattr(conn, "sock", None)
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)  # wakes a recv blocked in another thread; close() would not
        except OSError:
            pass


@contextmanager
def deadline(seconds: float) -> Iterator[Watch]:
    """Requests made by this thread inside the block are cut off ``seconds`` after it starts."""
    watch = Watch()
    timer = threading.Timer(seconds, watch.expire)
    timer.daemon = True
    previous = getattr(_ACTIVE, "watch", None)
    _ACTIVE.watch = watch
    timer.start()
    try:
        yield watch
    finally:
        watch.finish()
        timer.cancel()
        _ACTIVE.watch = previous


class _Watched:
    """Registers the connection with the thread's watch before each request and after each connect."""

    def request(self, *args: Any, **kwargs: Any) -> Any:
        watch = getattr(_ACTIVE, "watch", None)
        if watch is not None:
            watch.add(self)
        return super().request(*args, **kwargs)  # type: ignore[misc]

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        watch = getattr(_ACTIVE, "watch", None)
        if watch is not None and watch.expired:  # the deadline passed while connecting
            _shut(self)  # type: ignore[arg-type]


class WatchedHTTPConnection(_Watched, HTTPConnection):
    pass


class WatchedHTTPSConnection(_Watched, HTTPSConnection):
    pass


class WatchedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = WatchedHTTPConnection


class WatchedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = WatchedHTTPSConnection


def _watched(manager: PoolManager) -> PoolManager:
    if type(manager) not in (PoolManager, ProxyManager):  # a SOCKS manager has its own connection classes
        return manager
    manager.pool_classes_by_scheme = {"http": WatchedHTTPConnectionPool, "https": WatchedHTTPSConnectionPool}
    return manager


class DeadlineAdapter(HTTPAdapter):
    """An ``HTTPAdapter`` whose connections (direct and through a proxy) honour ``deadline``."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        _watched(self.poolmanager)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        return _watched(super().proxy_manager_for(proxy, **proxy_kwargs))
