"""Test-wide settings.

* Webhook receivers in the tests listen on 127.0.0.1, a loopback address that a production connector
  refuses as a callback target (connector.security.egress); tests of that guard set the variable themselves.
* ``EVBILL_TEST_STRICT=1`` (set by scripts/test.sh, so by CI): a test that would skip because PostgreSQL,
  LibreOffice, Node or a dev tool is missing fails instead — the test command installs all of them, so a
  skip there would hide a broken set-up behind a green run.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

os.environ.setdefault("EVBILL_WEBHOOK_ALLOW_PRIVATE_NETWORKS", "true")

MISSING_TOOL = ("not reachable", "not installed", "dev dependency")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Any:
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("EVBILL_TEST_STRICT") != "1" or not report.skipped:
        return
    reason = str(report.longrepr[2]) if isinstance(report.longrepr, tuple) else str(report.longrepr)
    if any(marker in reason for marker in MISSING_TOOL):
        report.outcome = "failed"
        report.longrepr = f"skipped for a missing tool, which the test command installs: {reason}"
