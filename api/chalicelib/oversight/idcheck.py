"""The automatic full check of ID numbers and unit codes (notice 二.(二)3(1), 三.(三)1).

Every sealed number of a filing (the subject's, and the responsible person's for units) is
unsealed on the server and checked, when the filing arrives (``check_on_arrival``) and again
in bulk, a month at a time (``IdChecker.check_month``):

* the number standard of the declared document (the rules name it: resident ID, unified social
  credit code, organisation code, passport, ...): length, format, check character, and for a
  resident ID the region code and the birth date;
* the holder's age on the day of filing, for resident ID numbers, within the rules'
  ``[id_check]`` limits (a minor cannot sign the contract and agreement of 二.(二)1(6); a very
  great age is worth a call): the provider's rule, and its reasons say so;
* duplicates: the subject's number held by the subject of another filing that is not
  cancelled (one subject, one filing; a change goes through ``request_change``). The id_hash
  index finds them without unsealing the other filing: a hash match between two individuals'
  filings, or two units' filings, is the same subject; between an individual and a unit it
  is the unit's responsible person, which is allowed.

A failure becomes a ``finding`` record: the filing, the field, a stable code and the reason in
Chinese and English, never the number. An open finding is indexed for the filing's month (the
filing center's view), its provider (the provider's view) and the filing; when a later check
no longer finds it, it is kept as resolved (indexed by filing only). The reports count open
findings and never unseal anything.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from ..deadlines import china_day
from ..errors import Unavailable
from ..ports import IndexEntry, Record, Records, StorageError
from ..rules import Rules, load_rules
from ..sensitive import SensitiveFields
from ..validation import document_number
from ..validators import ValidationError
from ..workflow import CANCELLED
from .periods import MONTH_INDEX, Month, filing_month
from .store import put, scan

FINDING = "finding"
CHECK_RUN = "id_check_run"
FINDING_MONTH_INDEX = "finding_month"
FINDING_PROVIDER_INDEX = "finding_provider"
FINDING_FILING_INDEX = "finding_filing"
ID_HASH_INDEX = "id_hash"
OPEN = "open"
RESOLVED = "resolved"
PROVIDER_RULE = ("（本单位规则）", " (the provider's rule)")
ARRIVAL = "arrival"
BULK = "bulk"
DUPLICATE = "duplicate"
INDIVIDUAL = "individual"
log = logging.getLogger("beian.oversight")


@dataclass(frozen=True)
class Finding:
    """One failed check of one number of one filing."""

    filing_id: str
    field: str
    code: str
    reason_zh: str
    reason_en: str
    related: tuple[str, ...] = ()  # for duplicates: the other filings holding the number

    @property
    def key(self) -> str:
        return f"{self.filing_id}.{self.field}.{self.code}"


def sealed_fields(payload: Mapping[str, Any]) -> Iterator[tuple[str, str, Mapping[str, str]]]:
    """(section, name, sealed value) of every sealed number in a stored payload."""
    for section, values in payload.items():
        if isinstance(values, Mapping):
            for name, value in values.items():
                if isinstance(value, Mapping) and "sealed" in value:
                    yield section, name, value


def age_on(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def number_findings(rules: Rules, filing_id: str, path: str, id_type: object, number: str,
                    filed_on: date, subject_type: str | None = None) -> list[Finding]:
    """What is wrong with one number declared as a document of type ``id_type`` (for the
    subject's own number, ``subject_type`` decides which unified social credit codes fit)."""
    label = rules.field(path).label

    def finding(code: str, zh: str, en: str) -> Finding:
        return Finding(filing_id, path, code, f"{label.zh}：{zh}", f"{label.en}: {en}")

    try:
        identifier = rules.document(str(id_type)).identifier
    except KeyError:
        return [finding("unknown_document", "证件类型不在规则之列，无法核查。",
                        "the document type is not one the rules know, so it cannot be checked.")]
    try:
        compact = document_number(rules, str(id_type), number, subject_type)
    except ValidationError as error:
        return [finding(error.code, error.message_zh, error.message_en)]
    if identifier != "resident_id":
        return []
    age = age_on(date(int(compact[6:10]), int(compact[10:12]), int(compact[12:14])), filed_on)
    limits = rules.id_check
    note_zh, note_en = PROVIDER_RULE
    if age < limits.min_age:
        return [finding("underage", f"持有人在备案之日未满{limits.min_age}周岁{note_zh}。",
                        f"the holder was under {limits.min_age} on the day of filing{note_en}.")]
    if age > limits.max_age:
        return [finding("implausible_age", f"持有人在备案之日已逾{limits.max_age}周岁，请核实{note_zh}。",
                        f"the holder was over {limits.max_age} on the day of filing; please confirm{note_en}.")]
    return []


@dataclass
class CheckRun:
    """What a bulk check of one month found."""

    month: str
    started_at: str
    finished_at: str = ""
    filings: int = 0
    failed: int = 0  # filings with at least one finding
    opened: int = 0
    resolved: int = 0
    by_code: Counter[str] = field(default_factory=Counter)

    def to_body(self) -> dict[str, Any]:
        return {"month": self.month, "started_at": self.started_at, "finished_at": self.finished_at,
                "filings": self.filings, "failed": self.failed, "opened": self.opened,
                "resolved": self.resolved, "by_code": dict(sorted(self.by_code.items()))}


class IdChecker:
    def __init__(self, records: Records, sensitive: SensitiveFields,
                 clock: Callable[[], datetime], rules: Rules | None = None) -> None:
        self._records = records
        self._sensitive = sensitive
        self._clock = clock
        self._rules = rules or load_rules()

    # -- checking ------------------------------------------------------------------------

    def examine(self, body: Mapping[str, Any]) -> tuple[list[Finding], list[Record]]:
        """The findings of a filing now, and the other filings that duplicate its subject."""
        filing_id = str(body["id"])
        payload = body.get("payload", {})
        filed_on = china_day(datetime.fromisoformat(str(body["created_at"])))
        findings: list[Finding] = []
        subject_hash = None
        for section, name, stored in sealed_fields(payload):
            path = f"{section}.{name}"
            try:
                number = self._sensitive.reveal(dict(stored), filing_id=filing_id, path=path)
            except Unavailable:
                label = self._rules.field(path).label
                findings.append(Finding(filing_id, path, "unreadable", f"{label.zh}：无法解密，无法核查。",
                                        f"{label.en}: could not be decrypted, so it was not checked."))
                continue
            unit_type = str(payload.get("subject_type")) if section == "subject" else None
            findings += number_findings(self._rules, filing_id, path, payload[section].get("id_type"), number,
                                        filed_on, unit_type)
            if section == "subject":
                subject_hash = self._sensitive.index_value(number)
        partners = [] if subject_hash is None else self._duplicates(body, subject_hash)
        if partners:
            findings.append(duplicate_finding(self._rules, filing_id, sorted(p.key for p in partners)))
        return findings, partners

    def _duplicates(self, body: Mapping[str, Any], subject_hash: str) -> list[Record]:
        individual = body.get("subject_type") == INDIVIDUAL
        return [other for other in scan(self._records, ID_HASH_INDEX, subject_hash)
                if other.key != body["id"] and other.body.get("state") != CANCELLED
                and (other.body.get("subject_type") == INDIVIDUAL) == individual]

    def check(self, body: Mapping[str, Any], source: str) -> tuple[list[Finding], list[Record]]:
        """Examine a filing and bring its stored findings up to date."""
        findings, partners = self.examine(body)
        stored = {record.key: record
                  for record in scan(self._records, FINDING_FILING_INDEX, str(body["id"]))}
        self._reconcile(body, findings, stored, source)
        return findings, partners

    def _reconcile(self, body: Mapping[str, Any], findings: list[Finding],
                   stored: Mapping[str, Record], source: str) -> tuple[int, int]:
        """Save new or changed findings, resolve the ones no longer found; (opened, resolved)."""
        now = self._clock().isoformat()
        opened = resolved = 0
        current = {finding.key: finding for finding in findings}
        for key, finding in current.items():
            known = stored.get(key)
            if is_recorded(known, finding):
                continue
            opened += known is None or known.body["state"] != OPEN
            self.save_finding(body, finding, source, now, known)
        for key, known in stored.items():
            if key not in current and known.body["state"] == OPEN:
                resolved += 1
                put(self._records, FINDING, key, {**known.body, "state": RESOLVED, "resolved_at": now},
                    (IndexEntry(FINDING_FILING_INDEX, str(known.body["filing_id"])),), known)
        return opened, resolved

    def save_finding(self, filing: Mapping[str, Any], finding: Finding, source: str, now: str,
                     known: Record | None) -> Record:
        created = str(filing["created_at"])
        provider, month = str(filing["provider"]), filing_month(created)
        first = known.body.get("first_found_at", now) if known is not None else now
        body = {
            "filing_id": finding.filing_id, "field": finding.field, "code": finding.code,
            "reason_zh": finding.reason_zh, "reason_en": finding.reason_en,
            "related": list(finding.related), "state": OPEN, "source": source,
            "provider": provider, "province": str(filing["province"]),
            "month": month, "filing_created_at": created,
            "first_found_at": first, "found_at": now,
        }
        indexes = (IndexEntry(FINDING_MONTH_INDEX, month, created),
                   IndexEntry(FINDING_PROVIDER_INDEX, provider, now),
                   IndexEntry(FINDING_FILING_INDEX, finding.filing_id))
        return put(self._records, FINDING, finding.key, body, indexes, known)

    def check_month(self, month: Month, on_filing: Callable[[int], None] | None = None) -> CheckRun:
        """Re-check every filing of ``month`` and record the run (kind ``id_check_run``). The
        month's open findings are read at once instead of filing by filing."""
        run = CheckRun(month.label, self._clock().isoformat())
        open_by_filing: dict[str, dict[str, Record]] = {}
        for record in scan(self._records, FINDING_MONTH_INDEX, month.label):
            open_by_filing.setdefault(str(record.body["filing_id"]), {})[record.key] = record
        for filing in scan(self._records, MONTH_INDEX, month.label):
            findings, _ = self.examine(filing.body)
            opened, resolved = self._reconcile(filing.body, findings,
                                               open_by_filing.pop(filing.key, {}), BULK)
            run.filings += 1
            run.failed += bool(findings)
            run.opened += opened
            run.resolved += resolved
            run.by_code.update(finding.code for finding in findings)
            if on_filing is not None:
                on_filing(1)
        run.finished_at = self._clock().isoformat()
        put(self._records, CHECK_RUN, month.label, run.to_body(), ())
        return run

    def add_duplicate(self, filing: Record, other_id: str) -> None:
        """Name ``other_id`` in ``filing``'s duplicate finding (opening it if need be)."""
        key = duplicate_finding(self._rules, filing.key, []).key
        known = self._records.get(FINDING, key)
        others = {other_id}
        if known is not None and known.body["state"] == OPEN:
            others |= set(known.body.get("related", ()))
        finding = duplicate_finding(self._rules, filing.key, sorted(others))
        if not is_recorded(known, finding):
            self.save_finding(filing.body, finding, ARRIVAL, self._clock().isoformat(), known)

    # -- reading -------------------------------------------------------------------------

    def open_for_month(self, month: Month) -> Iterator[Mapping[str, Any]]:
        """The open findings of filings made in ``month`` (the filing center's view)."""
        return (record.body for record in scan(self._records, FINDING_MONTH_INDEX, month.label))

    def open_for_provider(self, provider: str) -> Iterator[Mapping[str, Any]]:
        """The open findings on a provider's filings, oldest first (the provider's view)."""
        return (record.body for record in scan(self._records, FINDING_PROVIDER_INDEX, provider))

    def for_filing(self, filing_id: str) -> list[Mapping[str, Any]]:
        """Every finding of a filing, open and resolved."""
        return [record.body for record in scan(self._records, FINDING_FILING_INDEX, filing_id)]


def last_run(records: Records, month: Month) -> Mapping[str, Any] | None:
    """What the last bulk check of ``month`` found, if it ran."""
    record = records.get(CHECK_RUN, month.label)
    return None if record is None else record.body


def is_recorded(known: Record | None, finding: Finding) -> bool:
    """Whether ``known`` already records ``finding`` as open, naming the same related filings."""
    return known is not None and known.body["state"] == OPEN and \
        tuple(known.body.get("related", ())) == finding.related


def duplicate_finding(rules: Rules, filing_id: str, related: list[str]) -> Finding:
    label = rules.field("subject.id_number").label
    return Finding(filing_id, "subject.id_number", DUPLICATE,
                   f"{label.zh}：另有{len(related)}件未注销的备案以同一证件作为主办者。",
                   f"{label.en}: {len(related)} other filing(s), not cancelled, have the same subject.",
                   tuple(related))


def check_on_arrival(checker: IdChecker, filing: Record) -> list[Finding]:
    """Check a filing just saved (submitted, resubmitted or changed) and mark the filings it
    duplicates too. A storage failure is logged and left to the monthly bulk check: the
    filing itself is already saved."""
    try:
        findings, partners = checker.check(filing.body, ARRIVAL)
        for partner in partners:
            checker.add_duplicate(partner, filing.key)
    except (StorageError, Unavailable):
        log.exception("ID check of filing %s deferred to the bulk check", filing.key)
        return []
    return findings
