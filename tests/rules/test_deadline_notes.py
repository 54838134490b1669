"""The due date explained: a calendar month's last day named, a last day on a weekend or
holiday said so with the last working day before it, on the API's deadlines and in the CLI."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from chalicelib.deadlines import Deadlines, due_day
from chalicelib.rules import load_rules
from rich.console import Console

from beian.remote import roles


def test_a_month_ending_on_a_holiday_names_its_last_day_and_the_working_day_before() -> None:
    on_site = load_rules().deadline("on_site_verification")
    # Passed pre-verification on 1 September 2025: one calendar month ends on 1 October,
    # the National Day holiday; the last working day before it is 30 September.
    day = due_day(on_site, date(2025, 10, 1))
    assert day["due_working_day"] is False and day["last_working_day"] == "2025-09-30"
    calendar, holiday = day["notes"]
    assert "日历月" in calendar["zh"] and "最后一天为 2025-10-01" in calendar["zh"]
    assert "the last day is 2025-10-01" in calendar["en"]
    assert "周末或节假日" in holiday["zh"] and "2025-09-30" in holiday["zh"]
    assert "weekend day or holiday" in holiday["en"] and "come by 2025-09-30" in holiday["en"]


def test_a_working_day_due_date_needs_no_holiday_note() -> None:
    review = load_rules().deadline("provincial_review")
    assert due_day(review, date(2025, 10, 13)) == {"due_working_day": True, "last_working_day": "2025-10-13",
                                                   "notes": []}
    saturday = due_day(review, date(2025, 11, 1))
    assert saturday["last_working_day"] == "2025-10-31" and len(saturday["notes"]) == 1


def test_the_api_and_the_cli_show_the_notes_until_the_step_is_met(monkeypatch: pytest.MonkeyPatch) -> None:
    now = datetime(2025, 9, 1, 3, 0, tzinfo=UTC)
    deadlines = Deadlines()
    started = deadlines.start("on_site_verification", now)
    assert started["due"] == "2025-10-01"
    shown = deadlines.annotate({"on_site_verification": started}, now)["on_site_verification"]
    assert [note["zh"][:4] for note in shown["notes"]] == ["按日历月", "2025"]
    console = Console(record=True, width=300)
    monkeypatch.setattr(roles, "console", console)
    roles.show_filing({"id": "F1", "state": "pre_verified", "state_name": {"zh": "已预核验", "en": "pre-verified"},
                       "deadlines": {"on_site_verification": shown}})
    printed = console.export_text()
    assert "最后一天为 2025-10-01" in printed and "come by 2025-09-30" in printed
    met = deadlines.annotate({"on_site_verification": deadlines.meet(started, now)}, now)
    roles.show_filing({"id": "F1", "state": "verified_on_site", "state_name": {"zh": "x", "en": "x"},
                       "deadlines": met})
    assert "come by" not in console.export_text()
