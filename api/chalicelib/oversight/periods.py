"""Months and quarters as the filing center counts them: calendar periods in China Standard Time.

A filing belongs to the month (China Standard Time) of its ``created_at``; the ``month`` index
(``month_entry``) finds a month's filings, ordered by ``created_at``, without a scan. Sort
values are UTC ISO timestamps (what ``created_at`` holds), so a period's bounds are given as
UTC timestamps too: ``Month.slices`` cuts a month into day ranges that two processes can read
side by side.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from ..deadlines import CHINA_STANDARD_TIME, china_day
from ..errors import Invalid
from ..ports import IndexEntry

MONTH_INDEX = "month"
FIRST_SORT = ""
LAST_SORT = "\uffff"
_MONTH = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")
_QUARTER = re.compile(r"(\d{4})Q([1-4])")


def filing_month(created_at: str) -> str:
    """``YYYY-MM`` of a UTC ISO timestamp, in China Standard Time."""
    return f"{china_day(datetime.fromisoformat(created_at)):%Y-%m}"


def month_entry(body: Mapping[str, Any]) -> IndexEntry:
    """The index entry that finds a filing among its month's: ("month", "YYYY-MM", created_at)."""
    created = str(body["created_at"])
    return IndexEntry(MONTH_INDEX, filing_month(created), created)


def day_start(day: date) -> datetime:
    """The instant (UTC) a China Standard Time day begins."""
    return datetime.combine(day, time(), CHINA_STANDARD_TIME).astimezone(UTC)


def sort_bound(day: date) -> str:
    """A sort value just before every timestamp of ``day`` (China Standard Time) and after
    every timestamp of the day before: the UTC start without its offset suffix."""
    return f"{day_start(day):%Y-%m-%dT%H:%M:%S}"


def _parsed(pattern: re.Pattern[str], text: str, field: str, zh: str, en: str) -> re.Match[str]:
    """``pattern``'s full match of ``text``, or Invalid with the messages for ``field``."""
    found = pattern.fullmatch(text)
    if found is None:
        raise Invalid(zh, en, field=field)
    return found


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        found = _parsed(_MONTH, text.strip(), "month", "月份格式应为 YYYY-MM，如 2024-01",
                        "A month is written YYYY-MM, e.g. 2024-01")
        return cls(int(found[1]), int(found[2]))

    @classmethod
    def of(cls, day: date) -> Month:
        return cls(day.year, day.month)

    @property
    def label(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    def next(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    @property
    def last_day(self) -> date:
        return self.next().first_day - timedelta(days=1)

    def slices(self, parts: int) -> list[tuple[str, str]]:
        """``parts`` consecutive (sort_from, sort_to) ranges covering the month's index values,
        cut at day boundaries so each holds about the same number of days."""
        days = (self.last_day - self.first_day).days + 1
        parts = max(1, min(parts, days))
        cuts = [sort_bound(self.first_day + timedelta(days=days * n // parts)) for n in range(1, parts)]
        return list(zip([FIRST_SORT, *cuts], [*cuts, LAST_SORT], strict=True))


@dataclass(frozen=True, order=True)
class Quarter:
    year: int
    number: int

    @classmethod
    def parse(cls, text: str) -> Quarter:
        found = _parsed(_QUARTER, text.strip().upper(), "quarter", "季度格式应为 YYYYQn，如 2024Q1",
                        "A quarter is written YYYYQn, e.g. 2024Q1")
        return cls(int(found[1]), int(found[2]))

    @classmethod
    def of(cls, day: date) -> Quarter:
        return cls(day.year, (day.month - 1) // 3 + 1)

    @property
    def label(self) -> str:
        return f"{self.year:04d}Q{self.number}"

    @property
    def months(self) -> tuple[Month, Month, Month]:
        first = 3 * self.number - 2
        return Month(self.year, first), Month(self.year, first + 1), Month(self.year, first + 2)

    @property
    def first_day(self) -> date:
        return self.months[0].first_day

    @property
    def last_day(self) -> date:
        return self.months[-1].last_day

    @property
    def end(self) -> datetime:
        """The instant (UTC) the quarter ends: the next quarter's first moment."""
        return day_start(self.last_day + timedelta(days=1))

    def previous(self) -> Quarter:
        return Quarter(self.year - 1, 4) if self.number == 1 else Quarter(self.year, self.number - 1)
