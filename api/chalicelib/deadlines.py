"""Deadlines of the workflow, computed in working days from the rules (二.1(2), 二.2).

Each deadline is stored with the filing when its step starts: its due date, whether
that date rests on a provisional holiday calendar, and when it was met. What is
overdue is derived when read, never stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from .rules import load_rules
from .workdays import add_months, add_working_days


class Deadlines:
    def start(self, name: str, now: datetime) -> dict[str, Any]:
        rule = load_rules().deadline(name)
        if rule.unit == "working_days":
            result = add_working_days(now.date(), rule.amount)
            due, provisional = result.date, result.provisional
        else:
            due, provisional = add_months(now.date(), rule.amount), False
        return {"due": due.isoformat(), "provisional": provisional, "started_at": now.isoformat(),
                "met_at": None, "cite": rule.citation.cite}

    def meet(self, deadline: Mapping[str, Any], now: datetime) -> dict[str, Any]:
        return {**deadline, "met_at": now.isoformat(), "late": now.date().isoformat() > deadline["due"]}

    def annotate(self, deadlines: Mapping[str, Mapping[str, Any]],
                 now: datetime) -> dict[str, dict[str, Any]]:
        today = now.date().isoformat()
        return {name: {**deadline, "overdue": not deadline.get("met_at") and today > deadline["due"]}
                for name, deadline in deadlines.items()}
