"""Deadlines of the workflow, computed in working days from the rules (二.(二)1(2), 二.(二)2).

Each deadline is stored with the filing when its step starts: its due date, whether
that date rests on a provisional holiday calendar, and when it was met. Days are
China Standard Time days, whatever the server's clock zone. What is overdue is
derived when read, never stored, and so are the notes people read beside a due date:
a period in months is counted in calendar months (as the SMS text words it) and
its last day is named; a last day on a weekend or holiday says so and names the last
working day before it, when the filing desk is open. The due date itself does not move.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta, timezone
from typing import Any

from .rules import Deadline, load_rules
from .workdays import due_date, is_working_day, working_days_between

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
        """Adds whether each pending deadline is overdue, how many working days it has left
        (negative once past: the working days it is late by), and the notes that explain its
        due date (``due_day``)."""
        today = china_day(now)
        known = {rule.id: rule for rule in load_rules().deadlines}
        annotated = {}
        for name, deadline in deadlines.items():
            pending = not deadline.get("met_at")
            extra: dict[str, Any] = {"overdue": pending and today.isoformat() > deadline["due"]}
            if pending:
                left = working_days_between(today, date.fromisoformat(deadline["due"]))
                extra["working_days_left"] = left.days
            if name in known:
                extra.update(due_day(known[name], date.fromisoformat(str(deadline["due"]))))
            annotated[name] = {**deadline, **extra}
        return annotated


def due_day(rule: Deadline, due: date) -> dict[str, Any]:
    """Whether the due date is a working day, the last working day up to it, and the notes
    (Chinese and English) that explain the date to the person who must meet it."""
    last = due
    while not is_working_day(last).working:
        last -= timedelta(days=1)
    notes = []
    if rule.unit == "months":
        notes.append({"zh": f"按日历月计算（{rule.amount}个月）：最后一天为 {due.isoformat()}；"
                            "下月没有同一日的，为该月最后一天。",
                      "en": f"Counted in calendar months ({rule.amount}): the last day is {due.isoformat()}; "
                            "where the month has no such day, its last day."})
    if last != due:
        notes.append({"zh": f"{due.isoformat()} 是周末或节假日，备案现场可能不办公；请在此前最后一个工作日 "
                            f"{last.isoformat()} 前办理。",
                      "en": f"{due.isoformat()} is a weekend day or holiday when the filing desk may be closed: "
                            f"come by {last.isoformat()}, the last working day before it."})
    return {"due_working_day": last == due, "last_working_day": last.isoformat(), "notes": notes}
