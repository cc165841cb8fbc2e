"""Re-rating in a process pool gives the report of re-rating in this process, and small runs start no pool."""

from __future__ import annotations

import os

import pytest

from connector import config
from connector.billing.reconciliation import batch
from connector.billing.reconciliation.run import reconcile
from tests.billing.reconciliation.seed import TENANT


def _report(db, **kwargs):
    report = reconcile(db, TENANT, "daily", "2026-01-13", emit_events=False, **kwargs)
    return report["summary"], report["rows"], report["exceptions"]


@pytest.mark.skipif("fork" not in __import__("multiprocessing").get_all_start_methods(), reason="no fork here")
def test_pool_and_serial_reports_are_identical(seeded, monkeypatch):
    started = []
    real = batch.ProcessPoolExecutor

    def counting(*args, **kwargs):
        started.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(batch, "ProcessPoolExecutor", counting)
    serial = _report(seeded, workers=1)
    assert started == []
    pooled = _report(seeded, workers=2, chunk=2, pool_min=1)
    assert started == [(2,)]
    assert pooled == serial
    assert serial[0]["expected"] == "48.79" and serial[0]["billed"] == "44.65"


def test_a_run_below_the_threshold_rates_in_this_process(seeded, monkeypatch):
    def refuse(*_args, **_kwargs):
        raise AssertionError("no pool for a small run")

    monkeypatch.setattr(batch, "ProcessPoolExecutor", refuse)
    summary, _rows, _exceptions = _report(seeded, workers=2, pool_min=1000)
    assert summary["expected"] == "48.79"


def test_pool_size_setting():
    assert config.ReconcileSettings.from_environ({}).processes == (os.cpu_count() or 1)
    settings = config.ReconcileSettings.from_environ({"EVBILL_RECONCILE_PROCESSES": "3",
                                                      "EVBILL_RECONCILE_POOL_MIN_SESSIONS": "10"})
    assert (settings.processes, settings.pool_min_sessions) == (3, 10)
    with pytest.raises(config.ConfigError, match="EVBILL_RECONCILE_PROCESSES"):
        config.ReconcileSettings.from_environ({"EVBILL_RECONCILE_PROCESSES": "0"})
