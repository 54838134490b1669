"""Working days in mainland China, for the notice's deadlines.

Which days are working days, per year, from the best source available:

1. ``rules/workdays.toml`` (or the file named by ``BEIAN_WORKDAYS_FILE``): a
   year listed there is official and overrides everything else. An operator
   adds a year when the State Council publishes its holiday arrangements.
2. ``chinesecalendar``: the published official holidays and make-up working
   days (调休) for 2004-2026.
3. Otherwise an estimate, marked **provisional**: weekends, plus the statutory
   holidays the ``holidays`` package computes by rule (and whatever make-up
   days it knows, usually none). Make-up days are decided each year, so the
   estimate can be off by a few days.

Counting convention (notice 二.(二)1(2): pre-verification "必须在主办者提交备案
信息后5个工作日内完成"): "within N working days after day D" ends on the N-th
working day after D. The day of submission is never counted, even when it is
a working day, and a submission on a rest day starts counting from the next
working day. The deadline is met by the end of that day, China Standard Time;
callers pass dates in China Standard Time.

Any result that depends on a provisional day is itself provisional, so the
interface can say "about" until the holidays are published. A malformed
workdays file raises ``chalicelib.rules.RulesError`` (a ``ValueError``).
"""

from __future__ import annotations

import functools
import os
from calendar import monthrange
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import chinese_calendar

from chalicelib.rules import Deadline
from chalicelib.rules._toml import Table, read_toml

__all__ = [
    "DEFAULT_WORKDAYS_FILE",
    "WORKDAYS_FILE_ENV",
    "DayStatus",
    "WorkdayCalendar",
    "WorkdayCount",
    "WorkdayResult",
    "YearSchedule",
    "add_months",
    "add_working_days",
    "add_years",
    "due_date",
    "is_working_day",
    "load_calendar",
    "working_days_between",
]

WORKDAYS_FILE_ENV = "BEIAN_WORKDAYS_FILE"
DEFAULT_WORKDAYS_FILE = Path(__file__).with_name("rules") / "workdays.toml"

_SATURDAY = 5


@dataclass(frozen=True)
class DayStatus:
    """Whether a day is a working day, and whether that is only an estimate."""

    working: bool
    provisional: bool

    def __bool__(self) -> bool:
        # `if is_working_day(d):` would always be true; make the mistake loud.
        raise TypeError("use .working (and .provisional) instead of the truth value")


@dataclass(frozen=True)
class WorkdayResult:
    """A computed date and whether it rests on a provisional calendar."""

    date: date
    provisional: bool


@dataclass(frozen=True)
class WorkdayCount:
    """A number of working days and whether it rests on a provisional calendar."""

    days: int
    provisional: bool


@dataclass(frozen=True)
class YearSchedule:
    """One year's days off on weekdays (holidays) and working weekend days."""

    year: int
    holidays: frozenset[date]
    workdays: frozenset[date]
    provisional: bool
    source: str

    def is_working(self, day: date) -> bool:
        if day in self.workdays:
            return True
        return day.weekday() < _SATURDAY and day not in self.holidays


def _official_years() -> range:
    years = [day.year for day in chinese_calendar.holidays]
    return range(min(years), max(years) + 1)


@functools.cache
def _published_schedule(year: int) -> YearSchedule | None:
    if year not in _official_years():
        return None
    return YearSchedule(
        year,
        frozenset(day for day in chinese_calendar.holidays if day.year == year),
        frozenset(day for day in chinese_calendar.workdays if day.year == year),
        provisional=False,
        source="chinesecalendar",
    )


@functools.cache
def _estimated_schedule(year: int) -> YearSchedule:
    import holidays  # only beyond the official calendar; it costs a CLI command's start-up

    estimate = holidays.country_holidays("CN", years=year)
    return YearSchedule(
        year,
        frozenset(day for day in estimate if day.year == year),
        frozenset(day for day in estimate.weekend_workdays if day.year == year),
        provisional=True,
        source="holidays (estimate)",
    )


class WorkdayCalendar:
    """Answers working-day questions, preferring the operator's schedules."""

    def __init__(self, schedules: tuple[YearSchedule, ...] = ()) -> None:
        self._overrides = {schedule.year: schedule for schedule in schedules}

    def schedule(self, year: int) -> YearSchedule:
        """The schedule used for ``year``."""
        return self._overrides.get(year) or _published_schedule(year) or _estimated_schedule(year)

    def status(self, day: date) -> DayStatus:
        """Whether ``day`` is a working day, and whether that is an estimate."""
        schedule = self.schedule(day.year)
        return DayStatus(schedule.is_working(day), schedule.provisional)


def load_calendar(path: str | os.PathLike[str] | None = None) -> WorkdayCalendar:
    """Return the calendar with the schedules of ``path``, ``$BEIAN_WORKDAYS_FILE`` or the
    packaged file; each path is read once per process."""
    chosen = path if path is not None else os.environ.get(WORKDAYS_FILE_ENV) or DEFAULT_WORKDAYS_FILE
    return _load_calendar(Path(chosen).resolve())


@functools.cache
def _load_calendar(path: Path) -> WorkdayCalendar:
    root = read_toml(path)
    years = root.table("years")
    schedules = tuple(_read_year(name, years.table(name)) for name in years.names())
    root.check_unused()
    return WorkdayCalendar(schedules)


def _read_year(name: str, table: Table) -> YearSchedule:
    if not (name.isdigit() and len(name) == 4):
        raise table.fail("年份应为四位数字", "the year must have four digits")
    year = int(name)
    days_off = _dates(table, "holidays", year)
    working = _dates(table, "workdays", year)
    if days_off & working:
        raise table.fail("同一天不能既放假又上班", "a day cannot be both a holiday and a workday")
    if any(day.weekday() < _SATURDAY for day in working):
        raise table.fail("调休上班日应为周六或周日", "make-up workdays must fall on a weekend", "workdays")
    return YearSchedule(year, days_off, working, provisional=False, source=table.get("source", str))


def _dates(table: Table, key: str, year: int) -> frozenset[date]:
    values = table.get(key, list)
    if not all(isinstance(value, date) and value.year == year for value in values):
        raise table.fail(f"应为{year}年内的日期列表", f"expected a list of dates in {year}", key)
    return frozenset(values)


def is_working_day(day: date, calendar: WorkdayCalendar | None = None) -> DayStatus:
    """Whether ``day`` is a working day in mainland China."""
    return (calendar or load_calendar()).status(day)


def add_working_days(start: date, days: int, calendar: WorkdayCalendar | None = None) -> WorkdayResult:
    """The ``days``-th working day after ``start`` (``start`` itself not counted)."""
    if days < 0:
        raise ValueError("days must not be negative")
    calendar = calendar or load_calendar()
    current, provisional, remaining = start, False, days
    while remaining:
        current += timedelta(days=1)
        status = calendar.status(current)
        provisional = provisional or status.provisional
        if status.working:
            remaining -= 1
    return WorkdayResult(current, provisional)


def working_days_between(start: date, end: date, calendar: WorkdayCalendar | None = None) -> WorkdayCount:
    """Working days after ``start`` up to and including ``end``; negative if ``end``
    is earlier. ``add_working_days(a, n)`` is the first day ``d`` with
    ``working_days_between(a, d).days == n``."""
    if end < start:
        count = working_days_between(end, start, calendar)
        return WorkdayCount(-count.days, count.provisional)
    calendar = calendar or load_calendar()
    statuses = [calendar.status(start + timedelta(days=n)) for n in range(1, (end - start).days + 1)]
    return WorkdayCount(
        sum(status.working for status in statuses),
        any(status.provisional for status in statuses),
    )


def add_months(start: date, months: int) -> date:
    """The same day ``months`` calendar months later, clamped to the month's last day
    (31 January + 1 month = 28 or 29 February)."""
    index = start.year * 12 + start.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(start.day, monthrange(year, month + 1)[1]))


def add_years(start: date, years: int) -> date:
    """The same day ``years`` later; 29 February becomes 28 February."""
    return add_months(start, 12 * years)


def due_date(start: date, deadline: Deadline, calendar: WorkdayCalendar | None = None) -> WorkdayResult:
    """The last day of a rules deadline (or the first day a minimum period is over)."""
    if deadline.unit == "working_days":
        return add_working_days(start, deadline.amount, calendar)
    if deadline.unit == "months":
        return WorkdayResult(add_months(start, deadline.amount), provisional=False)
    return WorkdayResult(add_years(start, deadline.amount), provisional=False)
