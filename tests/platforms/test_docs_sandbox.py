"""Every vendor's docs page says what to check in the vendor's own sandbox: the calls without a published schema
in ../shared/vendor-specs are only as right as the doubles that stand for them."""

from __future__ import annotations

import re

from connector.platforms import registry
from tests.paths import REPO

NOT_A_VENDOR = {"ocpi"}  # a protocol: its partners' test endpoints, docs/ocpi.md


def test_each_vendor_page_has_a_sandbox_checklist() -> None:
    missing = []
    for name in registry.discover():
        if name in NOT_A_VENDOR:
            continue
        page = (REPO / "docs" / "platforms" / f"{name}.md").read_text(encoding="utf-8")
        section = re.search(r"^## Testing (in|with|against)[^\n]*\n(.*?)(?=^## |\Z)", page, re.S | re.M)
        if section is None or len(section.group(2).split()) < 40:
            missing.append(name)
    assert missing == []
