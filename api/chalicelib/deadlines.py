"""Deadlines of the workflow, computed in working days from the rules (二.(二)1(2), 二.(二)2).

Each deadline is stored with the filing when its step starts: its due date, whether
that date rests on a provisional holiday calendar, and when it was met. Days are
China Standard Time days, whatever the server's clock zone. What is overdue is
derived when read, never stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta, timezone
from typing import Any

from .rules import load_rules
from .workdays import due_date, working_days_between

CHINA_STANDARD_TIME = timezone(timedelta(hours=8), "CST")


def china_day(moment: datetime) -> date:
    return moment.astimezone(CHINA_STANDARD_TIME).date()


def china_time(moment: datetime, timespec: str = "seconds") -> str:
    """A time as people read it here: China time to the second, with its zone (+08:00),
    whatever the machine's zone. A time without a zone is refused: it could be any."""
    if moment.tzinfo is None:
        raise ValueError("a time without a zone")
    return moment.astimezone(CHINA_STANDARD_TIME).isoformat(sep=" ", timespec=timespec)


class Deadlines:
    def start(self, name: str, now: datetime) -> dict[str, Any]:
        rule = load_rules().deadline(name)
        due = due_date(china_day(now), rule)
        return {"due": due.date.isoformat(), "provisional": due.provisional,
                "started_at": now.isoformat(), "met_at": None, "cite": rule.citation.cite}

    def meet(self, deadline: Mapping[str, Any], now: datetime) -> dict[str, Any]:
        return {**deadline, "met_at": now.isoformat(),
                "late": china_day(now).isoformat() > deadline["due"]}

    def annotate(self, deadlines: Mapping[str, Mapping[str, Any]], now: datetime) -> dict[str, dict[str, Any]]:
        """Adds whether each pending deadline is overdue and how many working days it has
        left (negative once past: the working days it is late by)."""
        today = china_day(now)
        annotated = {}
        for name, deadline in deadlines.items():
            pending = not deadline.get("met_at")
            extra: dict[str, Any] = {"overdue": pending and today.isoformat() > deadline["due"]}
            if pending:
                left = working_days_between(today, date.fromisoformat(deadline["due"]))
                extra["working_days_left"] = left.days
            annotated[name] = {**deadline, **extra}
        return annotated
