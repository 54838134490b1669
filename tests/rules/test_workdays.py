"""Working days: official holidays, make-up days, estimates and the override file."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from chalicelib.rules import Rules, RulesError
from chalicelib.workdays import (
    WORKDAYS_FILE_ENV,
    WorkdayCalendar,
    add_months,
    add_working_days,
    add_years,
    due_date,
    is_working_day,
    load_calendar,
    working_days_between,
)
from hypothesis import given, settings
from hypothesis import strategies as st

# 2025: National Day and Mid-Autumn Festival together, 1-8 October, with the
# Sundays/Saturdays 28 September and 11 October worked instead.
GOLDEN_WEEK_2025 = [date(2025, 10, day) for day in range(1, 9)]


def test_the_2025_national_day_and_mid_autumn_holidays() -> None:
    for day in GOLDEN_WEEK_2025:
        status = is_working_day(day)
        assert (status.working, status.provisional) == (False, False), day
    for make_up in (date(2025, 9, 28), date(2025, 10, 11)):
        assert make_up.weekday() >= 5
        assert is_working_day(make_up).working
    assert is_working_day(date(2025, 10, 9)).working
    assert not is_working_day(date(2025, 10, 12)).working


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        (date(2025, 9, 30), 1, date(2025, 10, 9)),  # straight over the golden week
        (date(2025, 9, 26), 1, date(2025, 9, 28)),  # a Sunday make-up day counts
        (date(2025, 9, 28), 5, date(2025, 10, 11)),  # 29, 30 Sep, 9, 10, 11 Oct
        (date(2025, 9, 30), 20, date(2025, 11, 4)),  # provincial review across it
        (date(2025, 10, 4), 1, date(2025, 10, 9)),  # submitted on a holiday
        (date(2025, 10, 9), 0, date(2025, 10, 9)),
    ],
)
def test_add_working_days_across_the_holiday(start: date, days: int, expected: date) -> None:
    assert add_working_days(start, days).date == expected
    assert not add_working_days(start, days).provisional


def test_the_submission_day_is_not_counted() -> None:
    monday = date(2024, 6, 3)
    assert add_working_days(monday, 5).date == date(2024, 6, 11)  # not Friday 7 June
    saturday = date(2024, 6, 1)
    assert add_working_days(saturday, 1).date == monday


def test_working_days_between() -> None:
    count = working_days_between(date(2025, 9, 28), date(2025, 10, 11))
    assert (count.days, count.provisional) == (5, False)
    assert working_days_between(date(2025, 10, 11), date(2025, 9, 28)).days == -5
    assert working_days_between(date(2025, 10, 1), date(2025, 10, 1)).days == 0


@settings(database=None, max_examples=100, deadline=None)
@given(
    start=st.dates(min_value=date(2004, 1, 1), max_value=date(2030, 12, 31)),
    days=st.integers(min_value=0, max_value=60),
)
def test_adding_and_counting_agree(start: date, days: int) -> None:
    result = add_working_days(start, days)
    count = working_days_between(start, result.date)
    assert count.days == days
    assert count.provisional == result.provisional
    if days:
        assert working_days_between(start, result.date - timedelta(days=1)).days == days - 1


def test_2027_is_provisional_until_published() -> None:
    assert is_working_day(date(2027, 3, 1)).provisional
    assert not is_working_day(date(2026, 3, 2)).provisional
    # National Day is estimated as a day off even without the official schedule.
    assert not is_working_day(date(2027, 10, 1)).working
    result = add_working_days(date(2026, 12, 28), 5)
    assert (result.date, result.provisional) == (date(2027, 1, 5), True)
    assert not add_working_days(date(2026, 12, 1), 5).provisional


def test_the_truth_value_of_a_day_status_is_refused() -> None:
    with pytest.raises(TypeError):
        bool(is_working_day(date(2025, 10, 1)))


def test_negative_working_days_are_refused() -> None:
    with pytest.raises(ValueError):
        add_working_days(date(2025, 1, 1), -1)


OVERRIDE_2027 = """
[years.2027]
source = "test schedule"
holidays = [2027-03-01, 2027-03-02]
workdays = [2027-03-06]
"""


def test_the_override_file_makes_a_year_official(tmp_path: Path) -> None:
    path = tmp_path / "workdays.toml"
    path.write_text(OVERRIDE_2027, encoding="utf-8")
    calendar = load_calendar(path)
    monday = calendar.status(date(2027, 3, 1))
    saturday = calendar.status(date(2027, 3, 6))
    assert (monday.working, monday.provisional) == (False, False)
    assert (saturday.working, saturday.provisional) == (True, False)
    result = add_working_days(date(2027, 2, 26), 5, calendar)
    # Mon 1 and Tue 2 off; Wed 3, Thu 4, Fri 5, Sat 6 (make-up), Mon 8.
    assert (result.date, result.provisional) == (date(2027, 3, 8), False)
    assert schedule_source(calendar, 2027) == "test schedule"


def schedule_source(calendar: WorkdayCalendar, year: int) -> str:
    return calendar.schedule(year).source


def test_the_override_file_wins_over_the_published_calendar(tmp_path: Path) -> None:
    path = tmp_path / "workdays.toml"
    path.write_text('[years.2025]\nsource = "correction"\nholidays = []\nworkdays = []\n')
    calendar = load_calendar(path)
    assert calendar.status(date(2025, 10, 1)).working
    assert not calendar.status(date(2025, 9, 28)).working


def test_the_environment_variable_names_the_override_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "env-workdays.toml"
    path.write_text(OVERRIDE_2027, encoding="utf-8")
    monkeypatch.setenv(WORKDAYS_FILE_ENV, str(path))
    assert not is_working_day(date(2027, 3, 1)).provisional


def test_the_packaged_override_file_is_empty_but_valid() -> None:
    assert load_calendar().schedule(2027).provisional


@pytest.mark.parametrize(
    "content",
    [
        '[years.2027]\nsource = "x"\nholidays = [2028-01-01]\nworkdays = []\n',
        '[years.2027]\nsource = "x"\nholidays = []\nworkdays = [2027-03-01]\n',
        '[years.2027]\nsource = "x"\nholidays = [2027-03-06]\nworkdays = [2027-03-06]\n',
        "[years.2027]\nholidays = []\nworkdays = []\n",
        '[years.27]\nsource = "x"\nholidays = []\nworkdays = []\n',
        '[years.2027]\nsource = "x"\nholidays = []\nworkdays = []\nnote = "typo"\n',
        "[years]\n[other]\n",
        "not toml [",
    ],
)
def test_a_broken_override_file_is_refused(tmp_path: Path, content: str) -> None:
    path = tmp_path / "workdays.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(RulesError):
        load_calendar(path)


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2025, 1, 31), 1, date(2025, 2, 28)),
        (date(2024, 1, 31), 1, date(2024, 2, 29)),
        (date(2025, 3, 31), 1, date(2025, 4, 30)),
        (date(2025, 12, 15), 1, date(2026, 1, 15)),
        (date(2025, 10, 1), 1, date(2025, 11, 1)),
    ],
)
def test_add_months_clamps_to_the_end_of_the_month(start: date, months: int, expected: date) -> None:
    assert add_months(start, months) == expected


def test_add_years_handles_leap_days() -> None:
    assert add_years(date(2024, 2, 29), 5) == date(2029, 2, 28)
    assert add_years(date(2024, 2, 29), 4) == date(2028, 2, 29)


def test_due_dates_from_the_rules(rules: Rules) -> None:
    submitted = date(2025, 9, 30)
    assert due_date(submitted, rules.deadline("pre_verification")).date == date(2025, 10, 14)
    assert due_date(submitted, rules.deadline("on_site_verification")).date == date(2025, 10, 30)
    assert due_date(submitted, rules.deadline("provincial_review")).date == date(2025, 11, 4)
    assert due_date(submitted, rules.deadline("retention")).date == date(2030, 9, 30)
