"""The receipt HTML opened in headless Chromium: the DOM it renders shows exactly the invoice's lines
and totals (read back from data-* attributes and the visible text, no screenshots)."""

from __future__ import annotations

import shutil
import subprocess
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from connector.receipts import format_money, render_receipt
from tests.platforms.events import billed_event

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]


class DomReader(HTMLParser):
    """Collect elements carrying data-* attributes with their rendered text."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[dict[str, Any]] = []
        self.found: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("br", "meta", "img", "hr", "link"):
            return
        node = {"tag": tag, "attrs": dict(attrs), "text": "", "children": []}
        if self.stack:
            self.stack[-1]["children"].append(node)
        self.stack.append(node)
        if any(k.startswith("data-") for k in node["attrs"]):
            self.found.append(node)

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            node = self.stack.pop()
            if node["tag"] == tag:
                break

    def handle_data(self, data: str) -> None:
        for node in self.stack:
            node["text"] += data


def dump_dom(html_file: Path, profile: Path) -> str:
    assert CHROMIUM, "chromium is not installed (scripts/setup_system.sh installs it)"
    proc = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--dump-dom", html_file.as_uri()],
                          capture_output=True, text=True, timeout=90, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "data-total" in proc.stdout, f"no DOM dumped: {proc.stderr[-2000:]}"
    return proc.stdout


@pytest.mark.parametrize(("currency", "locale", "kw"), [
    ("EUR", "de_DE", {}),
    ("JPY", "ja_JP", {"energy_price": "45", "flat": "100", "parking": "120"}),
    ("KWD", "ar_KW", {"energy_price": "0.115", "flat": "0.250"}),
])
def test_rendered_receipt_dom_equals_invoice(tmp_path: Path, currency: str, locale: str, kw: dict[str, Any]) -> None:
    invoice = billed_event(currency, locale, **kw)["data"]["invoice"]
    receipt = render_receipt(invoice)
    page = tmp_path / "receipt.html"
    page.write_text(receipt.html, encoding="utf-8")
    dom = DomReader()
    dom.feed(dump_dom(page, tmp_path / "profile"))

    lines = [n for n in dom.found if "data-line-id" in n["attrs"]]
    assert [n["attrs"]["data-line-id"] for n in lines] == [ln["id"] for ln in invoice["lines"]]
    for node, line in zip(lines, invoice["lines"], strict=True):
        cells = {c["attrs"].get("data-field"): c for c in node["children"]}
        assert line["description"] in cells["description"]["text"]
        for field in ("net", "tax", "gross"):
            assert cells[field]["attrs"]["data-amount"] == line[field]
            assert cells[field]["text"].strip() == format_money(Decimal(line[field]), currency, locale)
        assert Decimal(cells["quantity"]["attrs"]["data-value"]) == Decimal(line["quantity"])

    totals = {n["attrs"]["data-total"]: n for n in dom.found if "data-total" in n["attrs"]}
    for key in ("net_total", "tax_total", "gross_total", "amount_due"):
        assert totals[key]["attrs"]["data-amount"] == invoice[key]
        shown = totals[key]["children"][-1]["text"].strip()
        assert shown == format_money(Decimal(invoice[key]), currency, locale)
    taxes = [n for n in dom.found if "data-tax" in n["attrs"]]
    assert [(n["attrs"]["data-tax-name"], n["attrs"]["data-amount"]) for n in taxes] == [
        (t["name"], t["amount"]) for t in invoice["taxes"]]
    # the DOM adds up: sum of line nets = net total, net + tax = amount due (no incentives here)
    assert sum(Decimal(n["children"][3]["attrs"]["data-amount"]) for n in lines) == Decimal(invoice["net_total"])
    assert Decimal(totals["net_total"]["attrs"]["data-amount"]) + Decimal(totals["tax_total"]["attrs"]["data-amount"]) \
        == Decimal(totals["amount_due"]["attrs"]["data-amount"])
