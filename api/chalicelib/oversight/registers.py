"""Registers the notice asks for beyond the filings themselves (三.(一)1, 三.(二)2, 三.(三)4-5, 四).

* The provider's filing department (三.(一)1): the department that verifies filings, the unit
  leader responsible for it, and the staff who verify, with the date of each one's yearly
  assessment. One ``filing_department`` record per provider; setting it again replaces it and
  keeps the earlier version in ``history``.
* Province inspections (三.(二)2, 三.(三)4, 四): what a provincial communications
  administration found when it inspected a provider's face-to-face verification, and the
  penalty or order to correct, if any, with the article it rests on. ``province_inspection``
  records, found by quarter; ``inspection_summary`` counts them per province and per provider.
* Training (三.(三)5): each session the filing centre held, its subject and who attended.
  ``training_session`` records, found by quarter.

These record what people decided; the software decides nothing here. Dates are China
Standard Time days; times recorded are UTC with their offset.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from ..deadlines import china_day
from ..errors import Invalid
from ..ports import IndexEntry, Record, Records
from ..rules import load_rules
from ..validators.filing_number import PROVINCES
from ..workdays import add_years
from .periods import Quarter
from .store import put, scan

DEPARTMENT = "filing_department"
INSPECTION = "province_inspection"
INSPECTION_INDEX = "inspection_quarter"
TRAINING = "training_session"
TRAINING_INDEX = "training_quarter"
MAX_NAME = 50
MAX_TEXT = 1000
MAX_PEOPLE = 500
NO_ISSUE, ORDER, PENALTY = "no_issue", "order_to_correct", "penalty"
OUTCOMES: dict[str, tuple[str, str]] = {
    NO_ISSUE: ("未发现问题", "no issue found"),
    ORDER: ("责令限期改正", "ordered to correct by a date"),
    PENALTY: ("行政处罚", "administrative penalty"),
}
PROVINCE_CHARACTERS = frozenset(province.character for province in PROVINCES)


def _text(value: object, field: str, limit: int = MAX_NAME) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not text or len(text) > limit:
        raise Invalid(f"{field} 须为1至{limit}个字符的文字", f"{field} must be text of 1 to {limit} characters",
                      field=field)
    return text


def _day(value: object, field: str, today: date | None = None) -> date:
    """A date, not after ``today`` when given."""
    try:
        day = date.fromisoformat(str(value))
    except ValueError:
        raise Invalid(f"{field} 须为日期 YYYY-MM-DD", f"{field} must be a date, YYYY-MM-DD", field=field) from None
    if today is not None and day > today:
        raise Invalid(f"{field} 不能晚于今天", f"{field} cannot be in the future", field=field)
    return day


def _people(values: Sequence[str], field: str) -> list[str]:
    if not 1 <= len(values) <= MAX_PEOPLE:
        raise Invalid(f"{field} 须列出1至{MAX_PEOPLE}人", f"{field} must list 1 to {MAX_PEOPLE} people", field=field)
    people = [_text(value, field) for value in values]
    if len(set(people)) != len(people):
        raise Invalid(f"{field} 有重复的人", f"{field} lists someone twice", field=field)
    return people


@dataclass(frozen=True)
class Verifier:
    """A member of staff who verifies filings, and when their yearly assessment was last done."""

    name: str
    assessed_on: str | None  # ISO date, or None if not yet assessed

    @classmethod
    def parse(cls, text: str, today: date) -> Verifier:
        """``name`` or ``name@YYYY-MM-DD`` (the date of the last yearly assessment)."""
        name, _, assessed = text.partition("@")
        return cls(_text(name, "verifiers"), _day(assessed, "verifiers", today).isoformat() if assessed else None)


def set_department(records: Records, provider: str, department: str, leader: str, leader_title: str,
                   verifiers: Iterable[Verifier], now: datetime, by: str) -> Record:
    """Record (or replace) the provider's filing department, its responsible leader and verifiers."""
    staff = list(verifiers)
    names = _people([verifier.name for verifier in staff], "verifiers")
    body = {"provider": _text(provider, "provider"), "department": _text(department, "department"),
            "leader": {"name": _text(leader, "leader"), "title": _text(leader_title, "leader_title")},
            "verifiers": [{"name": name, "assessed_on": verifier.assessed_on}
                          for name, verifier in zip(names, staff, strict=True)],
            "updated_at": now.isoformat(), "updated_by": by}
    known = records.get(DEPARTMENT, provider)
    history = list(known.body.get("history", [])) if known is not None else []
    if known is not None:
        history.append({key: value for key, value in known.body.items() if key != "history"})
    return put(records, DEPARTMENT, provider, {**body, "history": history}, (), known)


def department(records: Records, provider: str) -> Mapping[str, Any] | None:
    known = records.get(DEPARTMENT, provider)
    return None if known is None else known.body


def overdue_assessments(body: Mapping[str, Any], today: date) -> list[str]:
    """Verifiers whose yearly assessment (三.(一)1) is missing or more than a year old."""
    last_due = add_years(today, -1)
    return [v["name"] for v in body.get("verifiers", [])
            if not v.get("assessed_on") or date.fromisoformat(v["assessed_on"]) < last_due]


def penalty_articles() -> tuple[str, ...]:
    """The articles of Order 33 a penalty under 四 rests on, as the rules file quotes them."""
    return load_rules().accountability.articles


def record_inspection(records: Records, *, province: str, provider: str, inspected_on: str, findings: str,
                      outcome: str, article: str | None, decision: str | None, correct_by: str | None,
                      now: datetime, by: str) -> Record:
    """Record a province's inspection of a provider and what came of it."""
    today = china_day(now)
    if province not in PROVINCE_CHARACTERS:
        raise Invalid("省份须为备案号中的省级简称，如“京”", "province must be a filing-number character such as 京",
                      field="province")
    if outcome not in OUTCOMES:
        raise Invalid(f"结果应为 {', '.join(OUTCOMES)} 之一", f"outcome must be one of {', '.join(OUTCOMES)}",
                      field="outcome")
    day = _day(inspected_on, "inspected_on", today)
    action: dict[str, Any] = {}
    if outcome != NO_ISSUE:
        articles = penalty_articles()
        if article not in articles:
            raise Invalid(f"处罚或责令改正须注明依据：{'、'.join(articles)}",
                          f"a penalty or an order to correct names its article: {', '.join(articles)}",
                          field="article")
        action = {"article": article, "decision": _text(decision, "decision", MAX_TEXT)}
        if outcome == ORDER or correct_by:
            deadline = _day(correct_by, "correct_by") if correct_by else None
            if deadline is None or deadline < day:
                raise Invalid("责令限期改正须给出不早于检查日的改正期限",
                              "an order to correct needs a date to correct by, not before the inspection",
                              field="correct_by")
            action["correct_by"] = deadline.isoformat()
    body = {"province": province, "provider": _text(provider, "provider"), "inspected_on": day.isoformat(),
            "findings": _text(findings, "findings", MAX_TEXT), "outcome": outcome, **action,
            "recorded_at": now.isoformat(), "recorded_by": by}
    key = hashlib.sha256(f"{province}|{provider}|{day}|{body['findings']}".encode()).hexdigest()[:16]
    quarter = Quarter.of(day).label
    return put(records, INSPECTION, key, body, (IndexEntry(INSPECTION_INDEX, quarter, day.isoformat()),),
               records.get(INSPECTION, key))


@dataclass
class InspectionCounts:
    inspections: int = 0
    with_issues: int = 0
    orders: int = 0
    penalties: int = 0

    def add(self, body: Mapping[str, Any]) -> None:
        self.inspections += 1
        self.with_issues += body["outcome"] != NO_ISSUE
        self.orders += body["outcome"] == ORDER
        self.penalties += body["outcome"] == PENALTY


@dataclass(frozen=True)
class InspectionSummary:
    quarter: str
    inspections: tuple[Mapping[str, Any], ...]
    by_province: dict[str, InspectionCounts]
    by_provider: dict[str, InspectionCounts]
    by_article: dict[str, int]


def inspection_summary(records: Records, quarter: Quarter) -> InspectionSummary:
    """The quarter's inspections, counted per province, per provider and per article (三.(三)4)."""
    found = [record.body for record in scan(records, INSPECTION_INDEX, quarter.label)]
    by_province: dict[str, InspectionCounts] = {}
    by_provider: dict[str, InspectionCounts] = {}
    for body in found:
        by_province.setdefault(body["province"], InspectionCounts()).add(body)
        by_provider.setdefault(body["provider"], InspectionCounts()).add(body)
    articles = Counter(str(body["article"]) for body in found if body.get("article"))
    return InspectionSummary(quarter.label, tuple(found), dict(sorted(by_province.items())),
                             dict(sorted(by_provider.items())), dict(sorted(articles.items())))


@dataclass(frozen=True)
class Attendee:
    name: str
    provider: str

    @classmethod
    def parse(cls, text: str) -> Attendee:
        """``name@provider``."""
        name, _, provider = text.partition("@")
        return cls(_text(name, "attendees"), _text(provider, "attendees"))


def record_training(records: Records, *, held_on: str, title: str, organiser: str,
                    attendees: Sequence[Attendee], now: datetime, by: str) -> Record:
    """Record a training session (三.(三)5) and who attended it."""
    day = _day(held_on, "held_on", china_day(now))
    _people([f"{a.name}@{a.provider}" for a in attendees], "attendees")  # each person once
    body = {"held_on": day.isoformat(), "title": _text(title, "title", MAX_TEXT),
            "organiser": _text(organiser, "organiser"),
            "attendees": [{"name": a.name, "provider": a.provider} for a in attendees],
            "recorded_at": now.isoformat(), "recorded_by": by}
    key = hashlib.sha256(f"{day}|{body['title']}".encode()).hexdigest()[:16]
    return put(records, TRAINING, key, body,
               (IndexEntry(TRAINING_INDEX, Quarter.of(day).label, day.isoformat()),), records.get(TRAINING, key))


def trainings(records: Records, quarter: Quarter) -> list[Mapping[str, Any]]:
    """The quarter's training sessions, oldest first."""
    return [record.body for record in scan(records, TRAINING_INDEX, quarter.label)]


def attendance_by_provider(sessions: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """How many people of each provider attended the sessions."""
    counted = Counter(attendee["provider"] for session in sessions for attendee in session["attendees"])
    return dict(sorted(counted.items()))
