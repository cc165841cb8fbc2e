"""Recalculate .xlsx files with LibreOffice headless, forcing a full recalculation on load.

Why the profile: LibreOffice keeps cached formula values by default; ``OOXMLRecalcMode=0`` (Always) in
a fresh ``-env:UserInstallation`` profile makes it recompute every formula (shared doc, section 4.1).
Several files are converted in one soffice run because start-up dominates the time.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

_XCU = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="ODFRecalcMode" oor:op="fuse"><value>0</value></prop></item>
</oor:items>
"""


def soffice() -> str:
    """Path of soffice, or skip: CI installs libreoffice-calc-nogui (scripts/setup_system.sh)."""
    found = shutil.which("soffice") or shutil.which("libreoffice")
    if found is None:
        pytest.skip("LibreOffice (soffice) is not installed; run scripts/setup_system.sh")
    return found


def recalc(files: list[Path], workdir: Path) -> list[Path]:
    """Convert each file to ``workdir/out/<name>.xlsx`` with every formula recomputed."""
    profile = workdir / "lo-profile"
    (profile / "user").mkdir(parents=True, exist_ok=True)
    (profile / "user" / "registrymodifications.xcu").write_text(_XCU, encoding="utf-8")
    out = workdir / "out"
    out.mkdir(exist_ok=True)
    cmd = [soffice(), f"-env:UserInstallation={profile.as_uri()}", "--headless", "--norestore",
           "--convert-to", "xlsx", "--outdir", str(out), *map(str, files)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False)
    results = [out / f.name for f in files]
    missing = [p for p in results if not p.exists()]
    assert not missing, f"soffice did not write {missing}: {done.stdout} {done.stderr}"
    return results
