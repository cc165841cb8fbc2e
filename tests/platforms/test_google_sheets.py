"""gspread sync against a local Sheets API: tabs, exact rows, summary, idempotency, bounded retry, contract."""

from __future__ import annotations

from typing import Any

import pytest

from connector.platforms.adapters import google_sheets
from connector.platforms.adapters.google_sheets.client import BoundedRetryClient, open_client
from connector.platforms.adapters.google_sheets.layout import (
    EXCEPTIONS_HEADER,
    SESSIONS_HEADER,
    SUMMARY_HEADER,
    TAX_HEADER,
)
from connector.platforms.adapters.google_sheets.sync import sync_billed_sessions
from connector.platforms.context import DeliveryContext
from connector.platforms.errors import PermanentError, RetryableError
from connector.platforms.sender import HttpSender
from tests.platforms import events
from tests.platforms.fakes.google_sheets import (
    SPREADSHEET_ID,
    Google,
    append_problems,
    new_key,
    service_account,
)
from tests.platforms.sheets_events import billed_event

EVENTS = [billed_event("S-1", "2026-01-13T13:00:00Z", "10"),                    # 14:00 Berlin: 4.00 + 0.76
          billed_event("S-2", "2026-01-13T06:30:00Z", "10"),                    # 07:30: 1.00 + 2.00 -> 3.57
          billed_event("S-3", "2026-01-13T23:30:00Z", "12.5", "ST-2", "fleet")]  # 00:30 on the 14th, fleet 0.25


def config(g: Google, **extra: Any) -> google_sheets.GoogleSheetsConfig:
    return google_sheets.GoogleSheetsConfig(spreadsheet_id=SPREADSHEET_ID, service_account_info=g.info,
                                            api_base=g.url, **extra)


def records(*events: dict[str, Any]) -> list[dict[str, Any]]:
    return [google_sheets.session_record(e) for e in events]


def sync(g: Google, recs: list[dict[str, Any]], waits: list[float] | None = None) -> Any:
    sleeps = waits if waits is not None else []
    return sync_billed_sessions(SPREADSHEET_ID, recs, service_account_info=g.info, api_base=g.url, sleep=sleeps.append)


def test_adapter_delivery_creates_tabs_rows_and_summary(google: Google) -> None:
    for event in EVENTS:
        assert google_sheets.deliver(event, config(google), DeliveryContext(HttpSender()))["status"] == "sent"
    tabs = google.fake.tabs
    assert list(tabs) == ["Sheet1", "Sessions", "Exceptions", "Summary"]
    assert tabs["Sessions"][0] == list(SESSIONS_HEADER)
    # amounts and kWh are numbers (SUM and pivot tables add them), shown in their currency's format
    assert [r[:2] + r[5:16] for r in tabs["Sessions"][1:]] == [
        ["S-1", "2026-01-13", "ST-1", "C-1", "public", 10, "EUR", 4, 0.76, 4.76, 4.76, "VAT 19%: 0.76", "INV-S-1"],
        ["S-2", "2026-01-13", "ST-1", "C-1", "public", 10, "EUR", 3, 0.57, 3.57, 3.57, "VAT 19%: 0.57", "INV-S-2"],
        ["S-3", "2026-01-14", "ST-2", "C-1", "fleet", 12.5, "EUR", 3.13, 0.59, 3.72, 3.72, "VAT 19%: 0.59",
         "INV-S-3"]]
    assert [r[8:14] for r in google.fake.shown("Sessions")[1:]] == [
        ["10.000", "EUR", "4.00 EUR", "0.76 EUR", "4.76 EUR", "4.76 EUR"],
        ["10.000", "EUR", "3.00 EUR", "0.57 EUR", "3.57 EUR", "3.57 EUR"],
        ["12.500", "EUR", "3.13 EUR", "0.59 EUR", "3.72 EUR", "3.72 EUR"]]
    gross = [r[SESSIONS_HEADER.index("gross")] for r in tabs["Sessions"][1:]]
    assert all(isinstance(v, int | float) for v in gross) and round(sum(gross), 2) == 12.05  # =SUM(M:M)
    assert tabs["Summary"] == [list(SUMMARY_HEADER),
                               ["2026-01-13", "ST-1", "public", "EUR", 2, 20, 7, 1.33, 8.33, 8.33],
                               ["2026-01-14", "ST-2", "fleet", "EUR", 1, 12.5, 3.13, 0.59, 3.72, 3.72],
                               [], list(TAX_HEADER),
                               ["2026-01-13", "EUR", "VAT", 19, 1.33], ["2026-01-14", "EUR", "VAT", 19, 0.59]]
    assert google.fake.shown("Summary")[1] == ["2026-01-13", "ST-1", "public", "EUR", "2", "20.000", "7.00 EUR",
                                               "1.33 EUR", "8.33 EUR", "8.33 EUR"]
    assert google.fake.shown("Summary")[5] == ["2026-01-13", "EUR", "VAT", "19", "1.33 EUR"]
    assert tabs["Exceptions"] == [list(EXCEPTIONS_HEADER)]
    appends = [e for e in google.fake.log if e["kind"] == "append"]
    assert len(appends) == 3 and google.fake.invalid == []
    assert all(append_problems(e["body"], e["params"]) == [] for e in appends)
    assert appends[0]["params"] == {"valueInputOption": "RAW", "insertDataOption": "INSERT_ROWS"}
    assert google.fake.tokens_issued >= 1


def test_rerunning_never_duplicates_and_only_reads(google: Google) -> None:
    first = sync(google, records(*EVENTS))
    assert (first.appended, first.duplicates) == (3, 0)
    before = [list(r) for r in google.fake.tabs["Sessions"]], [list(r) for r in google.fake.tabs["Summary"]]
    start = len(google.fake.log)
    again = sync(google, records(*EVENTS))
    assert (again.appended, again.duplicates, again.summary_rows) == (0, 3, 0)
    assert google.fake.kinds()[start:] == ["metadata", "metadata", "batchGet"]  # no write at all
    assert (google.fake.tabs["Sessions"], google.fake.tabs["Summary"]) == before
    google_sheets.deliver(EVENTS[0], config(google), DeliveryContext(HttpSender()))  # the worker delivering the same event again
    assert len(google.fake.tabs["Sessions"]) == 4


def test_append_that_landed_then_failed_is_not_repeated(google: Google) -> None:
    sync(google, records(EVENTS[0]))
    google.fake.inject("append", 503, apply=True)  # the rows are written, the answer is an error
    waits: list[float] = []
    report = sync(google, records(EVENTS[1]), waits)
    assert [r[0] for r in google.fake.tabs["Sessions"][1:]] == ["S-1", "S-2"]
    assert google.fake.kinds().count("append") == 2  # no blind retry of the append: a fresh read instead
    assert report.duplicates == 1 and waits == [2.0]
    assert google.fake.tabs["Summary"][1] == ["2026-01-13", "ST-1", "public", "EUR", 2, 20, 7, 1.33, 8.33, 8.33]
    assert google.fake.shown("Sessions")[2][10:14] == ["3.00 EUR", "0.57 EUR", "3.57 EUR", "3.57 EUR"]


def test_a_stale_summary_is_healed_by_the_next_run(google: Google) -> None:
    sync(google, records(*EVENTS))
    google.fake.tabs["Summary"] = [["someone typed here"]]
    report = sync(google, records(EVENTS[0]))
    assert report.appended == 0 and report.summary_rows == 7
    assert google.fake.tabs["Summary"][1][4:] == [2, 20, 7, 1.33, 8.33, 8.33]


def test_429_is_retried_with_retry_after_and_bounded(google: Google) -> None:
    google.fake.inject("batchGet", 429, retry_after="3")
    google.fake.inject("batchGet", 503)
    waits: list[float] = []
    assert sync(google, records(EVENTS[0]), waits).appended == 1
    assert len(waits) == 2 and waits[0] >= 3.0 and 0.5 <= waits[1] <= 2.0


def test_persistent_errors_stop_after_max_attempts(google: Google) -> None:
    for _ in range(10):
        google.fake.inject("metadata", 503)
    waits: list[float] = []
    with pytest.raises(RetryableError, match="HTTP 503"):
        sync(google, records(EVENTS[0]), waits)
    assert google.fake.kinds().count("metadata") == BoundedRetryClient.max_attempts == 4
    assert len(waits) == 3


def test_a_long_retry_after_goes_back_to_the_worker(google: Google) -> None:
    google.fake.inject("metadata", 429, retry_after="120")
    waits: list[float] = []
    with pytest.raises(RetryableError) as info:
        sync(google, records(EVENTS[0]), waits)
    assert info.value.retry_after == 120.0 and waits == []
    assert google.fake.kinds() == ["metadata"]


def test_bad_records_and_changed_amounts_go_to_exceptions_once(google: Google) -> None:
    sync(google, records(EVENTS[0]))
    broken = dict(records(EVENTS[1])[0], currency=None)
    changed = dict(records(EVENTS[0])[0], net="5.00", gross="5.76", amount_due="5.76")
    for _ in range(2):
        report = sync(google, [broken, changed])
    assert report.exceptions == 0  # the second run found both already listed
    assert google.fake.tabs["Exceptions"][1:] == [
        ["S-2:missing_field", "S-2", "evt_S-2", "missing_field", "currency is missing"],
        ["S-1:amount_differs", "S-1", "evt_S-1", "amount_differs",
         "the sheet already lists this session with other amounts; not overwritten"]]
    assert google.fake.tabs["Sessions"][1][10:14] == [4, 0.76, 4.76, 4.76]


def test_an_empty_existing_tab_gets_its_header(google: Google) -> None:
    google.fake.tabs["Sessions"] = []  # created by hand, or a run that stopped after creating it
    google.fake.sheet_ids["Sessions"] = 7
    assert sync(google, records(EVENTS[0])).appended == 1
    assert google.fake.tabs["Sessions"][0] == list(SESSIONS_HEADER)
    assert [r[0] for r in google.fake.tabs["Sessions"][1:]] == ["S-1"]
    assert google.fake.tabs["Exceptions"] == [list(EXCEPTIONS_HEADER)]


def test_a_foreign_tab_header_is_refused(google: Google) -> None:
    google.fake.tabs["Sessions"] = [["Name", "Phone"], ["Ann", "123"]]
    google.fake.sheet_ids["Sessions"] = 7
    with pytest.raises(PermanentError, match="another header"):
        sync(google, records(EVENTS[0]))
    assert google.fake.tabs["Sessions"] == [["Name", "Phone"], ["Ann", "123"]]


def test_a_service_account_with_the_wrong_key_is_permanent(google: Google) -> None:
    info = service_account(new_key(), f"{google.url}/token")
    with pytest.raises(PermanentError, match="refused"):
        sync_billed_sessions(SPREADSHEET_ID, records(EVENTS[0]), service_account_info=info, api_base=google.url,
                             sleep=lambda s: None)
    assert "Sessions" not in google.fake.tabs


def test_missing_config_and_unknown_spreadsheet(google: Google) -> None:
    with pytest.raises(PermanentError, match="no service_account_info"):
        sync_billed_sessions(SPREADSHEET_ID, records(EVENTS[0]))
    google.fake.inject("metadata", 403)
    with pytest.raises(PermanentError, match="HTTP 403: share the spreadsheet"):
        sync(google, records(EVENTS[0]))
    with pytest.raises(PermanentError, match="HTTP 404"):
        sync_billed_sessions("1NoSuchSheet000000", records(EVENTS[0]), service_account_info=google.info,
                             api_base=google.url)


def test_the_client_is_ours_and_the_contract_check_can_fail(google: Google) -> None:
    client = open_client(google.info, api_base=google.url)
    assert type(client.http_client) is BoundedRetryClient
    assert append_problems({"majorDimension": "ROWS", "values": [["a", "1"]], "range": None},
                           {"valueInputOption": "RAW", "insertDataOption": "INSERT_ROWS"}) == []
    assert append_problems({"values": "a"}, {}) and append_problems({"values": []}, {"valueInputOption": "SOMETIMES"})
    assert append_problems({"majorDimension": "DIAGONAL", "values": []}, {})


def test_the_worker_registry_delivers_through_the_adapter(google: Google) -> None:
    from connector.platforms.registry import discover

    platform = discover()["google_sheets"]
    assert platform.secret_fields() == {"service_account_info"}
    assert platform.idempotency_key(EVENTS[0], config(google)) == "google_sheets:t1:S-1"
    result = platform.deliver(EVENTS[0], config(google), DeliveryContext(HttpSender()))
    assert result["status"] == "sent" and result["ref"].startswith("appended=1 ")
    assert [r[0] for r in google.fake.tabs["Sessions"][1:]] == ["S-1"]


def test_google_sheets_hands_billed_sessions_to_the_sync() -> None:
    cfg = google_sheets.GoogleSheetsConfig(spreadsheet_id="1AbCdEfGhIjKlMnOp")
    seen: list[Any] = []

    def fake_sync(spreadsheet_id: str, records: list[dict[str, Any]], **kw: Any) -> int:
        seen.append((spreadsheet_id, records, kw))
        return len(records)

    ctx = DeliveryContext(HttpSender(), sheets_sync=fake_sync)
    assert google_sheets.deliver(events.billed_event(), cfg, ctx) == {"status": "sent", "ref": "1"}
    [(sid, [record], kw)] = seen
    assert sid == "1AbCdEfGhIjKlMnOp" and kw == {"worksheet": "Sessions"}
    assert (record["session_id"], record["amount_due"], record["currency"]) == ("S-100", "12.05", "EUR")
    assert google_sheets.deliver(events.anomaly_event(), cfg, ctx)["status"] == "skipped"


def test_reads_are_unformatted_so_formatted_amounts_still_compare(google: Google) -> None:
    """The sheet shows "4.76 EUR"; the sync reads the number back (UNFORMATTED_VALUE), so a redelivery is a
    duplicate with the same money, not an ``amount_differs`` exception."""
    sync(google, records(*EVENTS))
    again = sync(google, records(*EVENTS))
    assert (again.duplicates, again.exceptions) == (3, 0)
    reads = [e for e in google.fake.log if e["kind"] == "batchGet"]
    assert reads and all(e["params"].get("valueRenderOption") == "UNFORMATTED_VALUE" for e in reads)


def test_yen_amounts_are_whole_numbers_in_yen_format(google: Google) -> None:
    event = events.billed_event("JPY", "ja_JP")
    sync(google, records(event))
    row = google.fake.tabs["Sessions"][1]
    amount_due = row[SESSIONS_HEADER.index("amount_due")]
    assert isinstance(amount_due, int)
    assert google.fake.shown("Sessions")[1][SESSIONS_HEADER.index("amount_due")] == f"{amount_due:,} JPY"


def test_money_as_text_is_the_documented_exact_option(google: Google) -> None:
    sync_billed_sessions(SPREADSHEET_ID, records(EVENTS[0]), service_account_info=google.info, api_base=google.url,
                         sleep=lambda s: None, money_as_text=True)
    assert google.fake.tabs["Sessions"][1][8:13] == ["10.0000", "EUR", "4.00", "0.76", "4.76"]
    assert google.fake.formats.get("Sessions", {}) == {}
    assert google.fake.tabs["Summary"][1][4:] == ["1", "10.0000", "4.00", "0.76", "4.76", "4.76"]
