"""Where the tests find the repository and the reference material next to it (``../shared``).

One place, so no test hard-codes a machine path or counts ``parents[N]`` from its own file.
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
VENDOR_SPECS = SHARED / "vendor-specs"
