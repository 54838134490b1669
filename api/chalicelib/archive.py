"""The confidential archive: search, legal holds, retention and disposal (notice 三.(一)4).

Retention: every document is locked from receipt until its retain-until date (at least
the rules' retention period); events such as approval or a change extend it, nothing shortens
it. A legal hold, set and cleared only by compliance officers, blocks disposal. The
sweep disposes only what is due and not held, deleting every version of the blob (and
with it the wrapped keys in its header), and writes a signed disposal certificate into
the audit log. It reads the retention index up to now, so its cost grows with what is
due, not with the size of the archive.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from . import policy
from .audit import AuditLog
from .auth import Principal
from .documents import DOCUMENT, RECEIVED, retain_until, retention_entry
from .errors import Conflict, Invalid, RetentionLocked, invalid_cursor, not_found
from .filings import FILING, FilingService
from .ports import BadCursor, BlobLocked, BlobMissing, Blobs, IndexEntry, Record, Records
from .purposes import stated_purpose
from .sensitive import SensitiveFields
from .validators import ValidationError, resident_id

DISPOSED = "disposed"
RETENTION_INDEX = "retain_until"
SYSTEM = Principal(subject="system:retention-sweep", role="system")
SEARCH_KEYS = ("filing_number", "domain", "provider", "province", "id_number")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
WEBSITE_SUFFIX = re.compile(r"号-\d+$")
MAX_RESULTS = 200
# One sweep's share: its certificate stays well inside DynamoDB's 400 KB item and the run
# inside a Lambda's time; the hourly schedule keeps up with ~27,000 documents due a day.
SWEEP_BATCH = 2000
HELD_LISTED = 500  # held documents named in a sweep's one refusal entry (all are counted)
CASE_ID = re.compile(r"^[\w\-./]{1,64}$")


@dataclass
class SweepResult:
    dry_run: bool
    disposed: list[dict[str, str]] = field(default_factory=list)
    held: list[dict[str, str]] = field(default_factory=list)
    certificate_seq: int | None = None
    examined: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"dry_run": self.dry_run, "disposed": self.disposed, "held": self.held,
                "certificate_seq": self.certificate_seq, "examined": self.examined}


class ArchiveService:
    def __init__(self, records: Records, blobs: Blobs, audit: AuditLog, filings: FilingService,
                 sensitive: SensitiveFields, clock: Callable[[], datetime]) -> None:
        self._records = records
        self._blobs = blobs
        self._audit = audit
        self._filings = filings
        self._sensitive = sensitive
        self._clock = clock

    # -- search ----------------------------------------------------------------------

    def search(self, principal: Principal, criteria: Mapping[str, str]) -> dict[str, Any]:
        """Filings by one key (and optionally a creation date range), audited."""
        policy.require(principal, "search")
        given = [key for key in SEARCH_KEYS if criteria.get(key)]
        if len(given) != 1:
            raise Invalid("请按一个条件查询：备案号、域名、接入服务单位、省份或证件号码",
                          "Search by exactly one of: " + ", ".join(SEARCH_KEYS), field="query")
        key = given[0]
        value = str(criteria[key]).strip()
        index, index_value = self._index_for(key, value)
        since, until = (_date(criteria, name) for name in ("from", "to"))
        if since and until and since > until:
            raise Invalid("起始日期晚于截止日期", "from is after to", field="from")
        stated = stated_purpose(criteria)
        # The audit names the kind of search, never an ID number.
        self._audit.record(principal, "archive.search", f"index:{index}", purpose=stated.purpose,
                           details={"by": key, "from": since, "to": until, **stated.audited()})
        try:
            page = self._records.query(index, index_value, sort_from=since,
                                       sort_to=(until + "\uffff") if until else "\uffff",
                                       limit=MAX_RESULTS, after=criteria.get("cursor") or None)
        except BadCursor as error:
            raise invalid_cursor() from error
        visible = [record for record in page.records
                   if record.kind == FILING and policy.in_scope(principal, record.body)]
        return {"filings": [self._summary(record) for record in visible], "cursor": page.cursor,
                "examined": page.examined}

    def _index_for(self, key: str, value: str) -> tuple[str, str]:
        if key == "domain":
            return key, value.lower().rstrip(".")  # "example.cn." is the same name
        if key == "filing_number":
            return key, WEBSITE_SUFFIX.sub("号", value)  # 京ICP备…号-1 names a website of the filing
        if key != "id_number":
            return key, value
        try:
            number = resident_id.validate(value)
        except ValidationError:
            number = value.upper()  # passports and other documents: searched as typed
        return "id_hash", self._sensitive.index_value(number)

    @staticmethod
    def _summary(record: Record) -> dict[str, Any]:
        body = record.body
        return {"id": body["id"], "state": body["state"], "provider": body["provider"],
                "province": body["province"], "created_at": body["created_at"],
                "filing_number": body.get("filing_number"),
                "domains": body.get("payload", {}).get("website", {}).get("domains", []),
                "holds": [hold["case_id"] for hold in body.get("holds", [])]}

    # -- legal holds ------------------------------------------------------------------

    def hold(self, principal: Principal, filing_id: str, case_id: object, reason: object) -> dict[str, Any]:
        filing = self._filings.load(filing_id)
        policy.require(principal, "hold", filing.body)
        if not isinstance(case_id, str) or not CASE_ID.match(case_id):
            raise Invalid("请填写案件编号（字母、数字、-./_，64 字以内）",
                          "case_id is required (letters, digits, -./_, up to 64)", field="case_id")
        if not isinstance(reason, str) or len(reason.strip()) < 4:
            raise Invalid("请说明保全原因", "State the reason for the hold", field="reason")
        if any(hold["case_id"] == case_id for hold in filing.body.get("holds", [])):
            raise Conflict(f"该备案已有案件 {case_id} 的保全", f"The filing is already held for case {case_id}",
                           field="case_id")
        body = dict(filing.body)
        body["holds"] = [*body.get("holds", []), {"case_id": case_id, "reason": reason[:500],
                                                  "by": principal.subject,
                                                  "at": self._clock().isoformat()}]
        self._filings.save_step(principal, "archive.hold", filing, body, {"case_id": case_id},
                                purpose=reason[:500])
        for document in self._documents(filing_id):
            if document.body.get("state") == RECEIVED:
                self._blobs.set_legal_hold(document.body["archive_key"], True)
        return {"filing": filing_id, "holds": body["holds"]}

    def release_hold(self, principal: Principal, filing_id: str, case_id: str) -> dict[str, Any]:
        filing = self._filings.load(filing_id)
        policy.require(principal, "hold", filing.body)
        holds = [hold for hold in filing.body.get("holds", []) if hold["case_id"] != case_id]
        if len(holds) == len(filing.body.get("holds", [])):
            raise not_found("保全", "Legal hold")
        self._filings.save_step(principal, "archive.release_hold", filing, {**filing.body, "holds": holds},
                                {"case_id": case_id})
        if not holds:
            for document in self._documents(filing_id):
                if document.body.get("state") == RECEIVED:
                    self._blobs.set_legal_hold(document.body["archive_key"], False)
        return {"filing": filing_id, "holds": holds}

    # -- retention ----------------------------------------------------------------------

    def extend(self, filing_id: str, start: datetime) -> None:
        """Keep the filing's documents at least the retention period from ``start``."""
        keep_until = retain_until(start)
        for document in self._documents(filing_id):
            body = document.body
            if body.get("state") != RECEIVED or body["retain_until"] >= keep_until.isoformat():
                continue
            self._blobs.extend_retention(body["archive_key"], keep_until)
            self._records.save(Record(DOCUMENT, document.key,
                                      {**body, "retain_until": keep_until.isoformat()},
                                      document.version,
                                      _with_retention(document.indexes, keep_until)))

    def delete_document(self, principal: Principal, filing_id: str, document_id: str) -> None:
        """An early delete, for anyone (admin included): refused while retained or held, and audited."""
        filing = self._filings.load(filing_id).body
        policy.require(principal, "delete_document", filing)
        record = self._records.get(DOCUMENT, f"{filing_id}/{document_id}")
        if record is None:
            raise not_found("材料", "Document")
        if record.body.get("state") != RECEIVED:  # awaiting its upload, or already disposed of
            raise Conflict("只有已归档的材料才能删除", "Only an archived document can be deleted",
                           field="state")
        if filing.get("holds"):
            self._audit.record(principal, "archive.delete_refused", f"document:{filing_id}/{document_id}",
                               details={"reason": "legal hold"})
            cases = "、".join(str(hold["case_id"]) for hold in filing["holds"])
            raise RetentionLocked(f"备案处于保全中（{cases}），其材料不得删除",
                                  f"The filing is under legal hold ({cases}): its documents cannot be deleted",
                                  field="holds")
        # Audited first, as a key release is: a deletion that goes through is never unrecorded.
        self._audit.record(principal, "archive.delete", f"document:{filing_id}/{document_id}")
        try:
            self._blobs.delete(record.body["archive_key"])
        except BlobLocked as locked:
            self._audit.record(principal, "archive.delete_refused",
                               f"document:{filing_id}/{document_id}")
            raise RetentionLocked(
                f"留存期内不得删除（留存至 {record.body['retain_until'][:10]}）",
                f"Retained until {record.body['retain_until'][:10]}: it cannot be deleted",
                field="retain_until") from locked
        self._dispose_record(record, principal)
        self._certify(principal, [{"document": document_id, "filing": filing_id,
                                   "retain_until": str(record.body["retain_until"])}])

    def due(self, now: datetime | None = None) -> Iterator[Record]:
        """Documents whose retain-until has passed and that are still kept, oldest first."""
        moment = (now or self._clock()).isoformat()
        cursor: str | None = None
        while True:
            page = self._records.query(RETENTION_INDEX, DOCUMENT, sort_to=moment, limit=500,
                                       after=cursor)
            yield from (record for record in page.records if record.body.get("state") == RECEIVED)
            if page.cursor is None:
                return
            cursor = page.cursor

    def sweep_for(self, principal: Principal, *, dry_run: bool) -> SweepResult:
        policy.require(principal, "sweep")
        return self.sweep(principal, dry_run=dry_run)

    def sweep(self, principal: Principal = SYSTEM, *, dry_run: bool = False) -> SweepResult:
        """Dispose of up to SWEEP_BATCH documents that are due and not held.

        Held documents stay due, at the head of the queue: the sweep reads past them, so
        however many are held, the others are disposed of on time. The refusals of one run
        are audited in one entry, not one per held document every hour.
        """
        result = SweepResult(dry_run=dry_run)
        for record in self.due():
            if len(result.disposed) == SWEEP_BATCH:
                break
            result.examined += 1
            item = {"document": record.body["id"], "filing": record.body["filing"],
                    "retain_until": record.body["retain_until"]}
            filing = self._records.get(FILING, str(record.body["filing"]))
            held = bool(filing and filing.body.get("holds"))
            if held or ((info := self._blobs.info(record.body["archive_key"])) and info.legal_hold):
                result.held.append(item)
                continue
            if not dry_run:
                with suppress(BlobMissing):  # a crash after the delete: finish the record below
                    self._blobs.delete(record.body["archive_key"])
                self._dispose_record(record, principal)
            result.disposed.append(item)
        if not dry_run and result.held:
            self._audit.record(principal, "archive.dispose_refused", "archive",
                               details={"reason": "legal hold", "count": len(result.held),
                                        "documents": result.held[:HELD_LISTED]})
        if not dry_run and result.disposed:
            result.certificate_seq = self._certify(principal, result.disposed)
        return result

    def _certify(self, principal: Principal, disposed: list[dict[str, str]]) -> int:
        """A signed disposal certificate in the audit log; returns its sequence number."""
        certificate = {"disposed_at": self._clock().isoformat(), "documents": disposed}
        entry = self._audit.record(principal, "archive.disposal_certificate", "archive",
                                   details={"certificate": certificate, "signature": self._audit.sign(certificate)})
        return int(entry["seq"])

    def _dispose_record(self, record: Record, principal: Principal) -> None:
        body = {key: value for key, value in record.body.items() if key != "envelope"}
        body.update(state=DISPOSED, disposed_at=self._clock().isoformat(), disposed_by=principal.subject)
        indexes = tuple(entry for entry in record.indexes if entry.index != RETENTION_INDEX)
        self._records.save(Record(DOCUMENT, record.key, body, record.version, indexes))

    def _documents(self, filing_id: str) -> list[Record]:
        return self._records.query("documents", filing_id, limit=1000).records



def _date(criteria: Mapping[str, str], name: str) -> str:
    """``criteria[name]`` if it is a real date (YYYY-MM-DD), "" if not given."""
    value = str(criteria.get(name, "")).strip()
    if not value:
        return ""
    try:
        if DATE.match(value):
            return date.fromisoformat(value).isoformat()
    except ValueError:
        pass
    raise Invalid("日期应为有效的 YYYY-MM-DD", "Dates are valid YYYY-MM-DD dates", field=name)


def _with_retention(indexes: tuple[IndexEntry, ...], until: datetime) -> tuple[IndexEntry, ...]:
    return (*(entry for entry in indexes if entry.index != RETENTION_INDEX), retention_entry(until))
