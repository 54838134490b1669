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
from typing import Any, ClassVar, Self

from ..deadlines import CHINA_STANDARD_TIME, china_day
from ..errors import Invalid
from ..ports import IndexEntry

MONTH_INDEX = "month"
FIRST_SORT = ""
LAST_SORT = "\uffff"


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


@dataclass(frozen=True, order=True)
class _Period:
    """A year's ``number``-th period of ``_MONTHS`` calendar months, written as ``_LABEL``."""

    year: int
    number: int
    _MONTHS: ClassVar[int]
    _LABEL: ClassVar[str]  # str.format with the year and the number
    _PATTERN: ClassVar[re.Pattern[str]]  # what parse accepts: the year, then the number
    _MALFORMED: ClassVar[tuple[str, str, str]]  # field, Chinese and English messages for text that does not match

    @classmethod
    def parse(cls, text: str) -> Self:
        found = cls._PATTERN.fullmatch(text.strip().upper())
        if found is None:
            field, message_zh, message_en = cls._MALFORMED
            raise Invalid(message_zh, message_en, field=field)
        return cls(int(found[1]), int(found[2]))

    @classmethod
    def of(cls, day: date) -> Self:
        return cls(day.year, (day.month - 1) // cls._MONTHS + 1)

    @property
    def label(self) -> str:
        return self._LABEL.format(self.year, self.number)

    @property
    def first_day(self) -> date:
        return date(self.year, (self.number - 1) * self._MONTHS + 1, 1)

    def next(self) -> Self:
        per_year = 12 // self._MONTHS
        return type(self)(self.year + self.number // per_year, self.number % per_year + 1)

    @property
    def last_day(self) -> date:
        return self.next().first_day - timedelta(days=1)


class Month(_Period):
    _MONTHS = 1
    _LABEL = "{0:04d}-{1:02d}"
    _PATTERN = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")
    _MALFORMED = ("month", "月份格式应为 YYYY-MM，如 2024-01", "A month is written YYYY-MM, e.g. 2024-01")

    def slices(self, parts: int) -> list[tuple[str, str]]:
        """``parts`` consecutive (sort_from, sort_to) ranges covering the month's index values,
        cut at day boundaries so each holds about the same number of days."""
        days = (self.last_day - self.first_day).days + 1
        parts = max(1, min(parts, days))
        cuts = [sort_bound(self.first_day + timedelta(days=days * n // parts)) for n in range(1, parts)]
        return list(zip([FIRST_SORT, *cuts], [*cuts, LAST_SORT], strict=True))


class Quarter(_Period):
    _MONTHS = 3
    _LABEL = "{0:04d}Q{1}"
    _PATTERN = re.compile(r"(\d{4})Q([1-4])")
    _MALFORMED = ("quarter", "季度格式应为 YYYYQn，如 2024Q1", "A quarter is written YYYYQn, e.g. 2024Q1")

    @property
    def months(self) -> tuple[Month, Month, Month]:
        first = Month.of(self.first_day)
        return first, first.next(), first.next().next()

    @property
    def end(self) -> datetime:
        """The instant (UTC) the quarter ends: the next quarter's first moment."""
        return day_start(self.last_day + timedelta(days=1))

    def previous(self) -> Quarter:
        return Quarter(self.year - 1, 4) if self.number == 1 else Quarter(self.year, self.number - 1)
