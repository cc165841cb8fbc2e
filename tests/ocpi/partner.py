"""Start the independent OCPI partner (tests/ocpi/partner_app.py, extrawest-ocpi) on 127.0.0.1 in its own
venv (built by scripts/ocpi_partner_venv.sh) and talk to its control routes."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
PYTHON = ROOT / ".venv-ocpi-partner" / "bin" / "python"


class Partner:
    def __init__(self, base: str) -> None:
        self.base = base

    def post(self, path: str, body: Any = None) -> Any:
        r = requests.post(self.base + path, json=body if body is not None else {}, timeout=30)
        r.raise_for_status()
        return r.json()

    def put(self, path: str, body: Any) -> Any:
        r = requests.put(self.base + path, json=body, timeout=30)
        r.raise_for_status()
        return r.json()

    def state(self) -> Any:
        return requests.get(self.base + "/control/state", timeout=30).json()


@pytest.fixture
def partner() -> Iterator[Partner]:
    if not PYTHON.exists():
        pytest.skip("the OCPI partner venv is missing: run scripts/ocpi_partner_venv.sh")
    proc = subprocess.Popen([str(PYTHON), str(Path(__file__).with_name("partner_app.py"))],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("PORT "):
            proc.kill()
            raise AssertionError(f"partner did not start: {line} {proc.stderr.read() if proc.stderr else ''}")
        base = f"http://127.0.0.1:{int(line.split()[1])}"
        for _ in range(100):
            try:
                requests.get(base + "/control/state", timeout=1)
                break
            except requests.ConnectionError:
                import time
                time.sleep(0.05)
        yield Partner(base)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
