"""The sender's total deadline: a trickling or hanging receiver is cut off, not waited on per read."""

from __future__ import annotations

import time

import pytest

from connector.platforms.errors import RetryableError
from connector.platforms.sender import HttpSender
from tests.faults.receivers import BadReceiver


@pytest.mark.parametrize("mode", ["trickle", "hang"])
def test_whole_request_is_cut_off_at_the_deadline(mode: str) -> None:
    # one byte every 0.2 s never trips the 1 s read timeout; only a total deadline stops it
    with BadReceiver(mode, interval=0.2) as rec:
        sender = HttpSender(read_timeout=1.0 if mode == "trickle" else 30.0, deadline=1.5)
        started = time.monotonic()
        with pytest.raises(RetryableError, match=r"no complete answer within 1.5 s"):
            sender.send("POST", rec.url, data=b"{}")
        took = time.monotonic() - started
    assert 1.4 <= took < 3.0, took


def test_fast_answers_are_untouched_and_the_connection_is_reused() -> None:
    with BadReceiver("good") as rec:
        sender = HttpSender(deadline=0.5)
        for _ in range(3):
            assert sender.send("POST", rec.url, data=b"{}").status_code == 200
        time.sleep(0.7)  # a timer of an answered request must not cut anything later
        assert sender.send("POST", rec.url, data=b"{}").json() == {}
    assert len(rec.keys()) == 4


def test_500_stays_retryable_with_the_status() -> None:
    with BadReceiver("500") as rec:
        with pytest.raises(RetryableError, match="HTTP 500") as err:
            HttpSender(deadline=5).send("POST", rec.url, data=b"{}")
    assert err.value.status_code == 500
