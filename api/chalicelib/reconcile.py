"""The reconciler: finds what a crash or a failed storage call left half done, repairs what
can be repaired safely, and flags the rest for a person.

A blob and its record cannot be written in one transaction on either backend, so every
paired write is ordered to leave something findable: promote, then save the record
(``DocumentService.complete_upload``); delete the blob, then save the record (the
retention sweep). This module looks for each half-done pair from the records' side:

* a document awaiting upload whose envelope is already archived: the receipt is finished;
* a staged copy a day old whose document still awaits it: removed (what the S3 staging
  bucket's lifecycle does), and a staged object no record awaits once its slot expired;
* an archived envelope no document record holds: flagged, never deleted (retention);
* a received document whose envelope is missing: if its retention has passed and no hold
  stands, the sweep died between its two writes and the disposal is finished; otherwise
  it is flagged, because that is a loss;
* a disposed document whose envelope still exists: deleted once its retention has passed;
* a disposal no signed certificate names (a sweep that died before its certificate):
  certified late;
* a filing or document whose index entries disagree with its body: saved again, which
  rewrites the entries in the record's own transaction;
* a record whose signature does not match it (changed outside the archive): flagged and
  left as it is, never re-signed;
* a live filing that shares a domain with another live filing (filed before one website,
  one live filing was enforced, or a race): flagged for a person, who cancels or refuses one;
* a filing older than a version the audit log records, stepped from or confirmed saved (an
  earlier signed copy put back, the last step's included: versions only grow): flagged and
  left as it is, never repaired, which would sign the old copy anew;
* a filing the audit log confirmed saved whose record is gone (deleted whole): flagged;
* a staff revocation the audit log holds whose record is gone or older: put back from the log;
* a staff revocation the audit log holds that its index of revocations no longer lists, or
  lists changed (what the token check reads): listed again from the log.

It never deletes an archived envelope that is still retained or held, and every repair
is written to the audit log first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .archive import DISPOSED, RETENTION_INDEX
from .audit import CERTIFICATE, AuditLog
from .auth import Principal
from .config import Settings
from .documents import AWAITING_UPLOAD, DOCUMENT, RECEIVED, DocumentService, retain_until, retention_entry
from .filings import FILING, STEP_SAVED, domain_conflicts, filing_indexes
from .integrity import RecordTampered, SignedRecords
from .keyring import HEADER_READ_BYTES, ArchiveKeys, EnvelopeRejected
from .ports import BlobLocked, BlobMissing, Blobs, IndexEntry, Record, VersionConflict
from .staff import REVOCATION, REVOKE_ACTION, StaffTokens
from .workflow import STATE_NAMES

RECONCILER = Principal(subject="system:reconciler", role="system")
PAGE = 500
AUDIT_PAGE = 10_000  # audit entries read at a time, so the check's memory does not grow with the log
STAGING_KEPT = timedelta(days=1)  # as the S3 staging bucket's lifecycle rule
DOCUMENTS = "documents/"

# What each kind of finding means (the outcome says whether it was repaired).
KINDS: dict[str, str] = {
    "unfinished_receipt": "awaiting upload, but its envelope is already archived",
    "stale_upload": "awaiting upload for a day, its staged copy left behind",
    "stray_upload": "a staged object that no document record awaits",
    "stray_envelope": "an archived envelope that no document record holds",
    "missing_envelope": "received, but its archived envelope is missing",
    "damaged_envelope": "received, but its archived envelope is not the size the record gives",
    "unfinished_disposal": "received, its envelope gone after its retention: the sweep died midway",
    "disposed_envelope_present": "disposed, but its archived envelope still exists",
    "uncertified_disposal": "disposed, but no signed disposal certificate names it",
    "index_mismatch": "its index entries disagree with its body",
    "tampered_record": "its signature does not match it: it was changed outside the archive",
    "rolled_back_record": "older than a version the audit log records: an earlier copy was put back",
    "domain_conflict": "a live filing that shares a domain with another live filing",
    "deleted_record": "the audit log records it saved, but the record is gone",
    "missing_revocation": "the audit log records a revocation its record no longer shows",
    "unindexed_revocation": "the audit log records a revocation its index of revocations no longer lists as it is",
}
REPAIRED, FLAGGED, FOUND = "repaired", "flagged", "found"


@dataclass
class AuditHistory:
    least_version: dict[str, int] = field(default_factory=dict)  # filing -> the version it has at least
    saved: set[str] = field(default_factory=set)  # filings the log saw saved
    revoked: dict[str, int] = field(default_factory=dict)  # staff name -> latest not_before
    revocations: dict[int, tuple[str, str]] = field(default_factory=dict)  # seq -> (staff name, entry hash)


@dataclass(frozen=True)
class Finding:
    kind: str
    subject: str  # "filing:<id>" or "document:<filing>/<document>"
    outcome: str  # repaired, flagged (needs a person), or found (repairable; run with repair)
    detail: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "subject": self.subject, "outcome": self.outcome,
                "meaning": KINDS[self.kind], "detail": self.detail}


@dataclass
class Report:
    repair: bool
    records: int = 0  # every record, of every kind, whose signature was checked
    filings: int = 0
    documents: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """Nothing is left for anyone to do."""
        return all(finding.outcome == REPAIRED for finding in self.findings)

    def of(self, kind: str) -> list[Finding]:
        return [finding for finding in self.findings if finding.kind == kind]

    def tampered(self, error: RecordTampered) -> None:
        subject = f"{error.kind}:{error.key}"
        if all(finding.subject != subject for finding in self.of("tampered_record")):
            self.findings.append(Finding("tampered_record", subject, FLAGGED,
                                         "left as it is: the audit log shows its history; a person decides"))

    def to_dict(self) -> dict[str, Any]:
        return {"repair": self.repair, "records": self.records, "filings": self.filings, "documents": self.documents,
                "clean": self.clean, "findings": [finding.to_dict() for finding in self.findings]}


class Reconciler:
    def __init__(self, settings: Settings, records: SignedRecords, blobs: Blobs, keys: ArchiveKeys,
                 audit: AuditLog, clock: Callable[[], datetime], staff: StaffTokens) -> None:
        self._staff = staff
        self._settings = settings
        self._records = records
        self._blobs = blobs
        self._keys = keys
        self._audit = audit
        self._clock = clock

    def run(self, *, repair: bool = False) -> Report:
        report = Report(repair=repair)
        self._check_signatures(report)
        filings = list(self._all("provider", self._settings.provider, report))
        stale = self._stale_state_entries(report)
        certified = self._certified()
        history = self._audit_history()
        uncertified: list[Record] = []
        for filing in filings:
            report.filings += 1
            if filing.version < history.least_version.get(filing.key, 0):
                report.findings.append(Finding(
                    "rolled_back_record", _subject(filing), FLAGGED,
                    f"version {filing.version}, but the audit log records version "
                    f"{history.least_version[filing.key]}; left as it is for a person"))
                continue
            self._check_filing(filing, stale, report)
            for document in list(self._all("documents", filing.key, report)):
                report.documents += 1
                document = self._check_document(filing, document, report)
                if document.body.get("state") == DISPOSED and self._document_ref(document) not in certified:
                    uncertified.append(document)
        self._certify(uncertified, report)
        self._check_deleted(history, {filing.key for filing in filings}, report)
        self._check_revocations(history, report)
        self._check_staging(report)
        self._check_archive(report)
        return report

    # -- what only a listing finds ----------------------------------------------------------

    def _check_staging(self, report: Report) -> None:
        now = self._clock()
        for staged in self._blobs.list_staged(DOCUMENTS):
            name = staged.key.removeprefix(DOCUMENTS)
            try:
                document = self._records.get(DOCUMENT, name)
            except RecordTampered as error:
                report.tampered(error)
                continue
            awaited = document is not None and document.body.get("state") == AWAITING_UPLOAD
            # An awaited upload can be completed until staging is cleaned; nothing completes a stray.
            kept = STAGING_KEPT if awaited else timedelta(seconds=self._settings.upload_slot_seconds)
            if now - staged.modified < kept:
                continue
            kind, subject = (("stale_upload", f"document:{name}") if awaited
                             else ("stray_upload", f"staged:{staged.key}"))
            if report.repair:
                self._blobs.delete_staged(staged.key)
            report.findings.append(Finding(kind, subject, REPAIRED if report.repair else FOUND,
                                           "the staged copy is removed"))

    def _check_archive(self, report: Report) -> None:
        for archived in self._blobs.list_archived(DOCUMENTS):
            try:
                document = self._records.get(DOCUMENT, archived.key.removeprefix(DOCUMENTS))
            except RecordTampered as error:
                report.tampered(error)
                continue
            if document is None or archived.key not in (document.body.get("archive_key"),
                                                         document.body.get("staged_key")):
                report.findings.append(Finding("stray_envelope", f"envelope:{archived.key}", FLAGGED,
                                               "kept: it may be retained; a person decides"))

    # -- filings -------------------------------------------------------------------------

    def _check_filing(self, filing: Record, stale: set[str], report: Report) -> None:
        expected = filing_indexes(filing.body)
        problems = []
        if set(filing.indexes) != set(expected):
            problems.append("the stored entries are not the ones its body gives")
        if filing.key in stale:
            problems.append("a state queue lists it under another state")
        if any(not self._found_by(entry, filing) for entry in expected):
            problems.append("a query on one of its entries does not find it")
        if problems:
            self._resave(filing, expected, "; ".join(problems), report)
        shared = domain_conflicts(self._records, filing.body)
        if shared:
            domains = filing.body["payload"]["website"]["domains"]
            report.findings.append(Finding("domain_conflict", _subject(filing), FLAGGED, "also in another live "
                                           "filing: " + ", ".join(domains[index] for index in shared)))

    def _check_signatures(self, report: Report) -> None:
        """Every record of every kind, whoever it belongs to: the checks below walk only this
        provider's filings and documents, and a finding or a revocation matters as much."""
        cursor: str | None = None
        while True:
            page = self._records.unverified.scan(limit=PAGE, after=cursor)
            for record in page.records:
                report.records += 1
                try:
                    self._records.verified(record)
                except RecordTampered as error:
                    report.tampered(error)
            if page.cursor is None:
                return
            cursor = page.cursor

    def _audit_history(self) -> AuditHistory:
        """What the audit log says records should show, read a page at a time.

        A step is audited (with the version it changes) before it is saved, so a filing older
        than that version was put back; a save is confirmed (with the version saved) after it,
        so a filing older than a confirmed version was put back too, its last step included,
        and one confirmed and gone was deleted whole. A step that failed or died before its
        save is never confirmed; a lost race leaves the other writer's newer version."""
        history = AuditHistory()
        start = 1
        while batch := self._audit.entries(start, start + AUDIT_PAGE - 1):
            for entry in batch:
                details, subject, action = entry.get("details") or {}, str(entry.get("object", "")), entry.get("action")
                if subject.startswith("filing:"):
                    key = subject[len("filing:"):]
                    # Stepped from v: the record is at least v. Saved at v: the record is at least v.
                    least = details.get("version") if action == STEP_SAVED else details.get("from_version")
                    if isinstance(least, int):
                        history.least_version[key] = max(history.least_version.get(key, 0), least)
                    if action == STEP_SAVED:
                        history.saved.add(key)
                if action == REVOKE_ACTION and isinstance(details.get("not_before"), int):
                    name = str(details.get("subject", ""))
                    history.revoked[name] = max(history.revoked.get(name, 0), details["not_before"])
                    history.revocations[int(entry["seq"])] = (name, str(entry.get("hash")))
            start += len(batch)
        return history

    def _check_deleted(self, history: AuditHistory, present: set[str], report: Report) -> None:
        """A filing the audit log saw saved must exist: one deleted whole is flagged."""
        for filing_id in sorted(history.saved - present):
            try:
                if self._records.get(FILING, filing_id) is not None:
                    continue  # another provider's, or listed under another scope
            except RecordTampered as error:
                report.tampered(error)
                continue
            report.findings.append(Finding("deleted_record", f"filing:{filing_id}", FLAGGED,
                                           "the audit log records it saved; a person decides"))

    def _check_revocations(self, history: AuditHistory, report: Report) -> None:
        """Every revocation the audit log holds must have its record: a deleted one is put back
        (restoring a revocation only refuses tokens that were refused already). Each must be
        listed in the index the token check reads too, as the log holds it."""
        listed = {int(entry["seq"]): str(entry["hash"]) for entry in self._audit.entries_of(REVOKE_ACTION)}
        for seq, (name, entry_hash) in sorted(history.revocations.items()):
            if listed.get(seq) == entry_hash:
                continue
            if report.repair:
                self._audit.record(RECONCILER, "archive.reconcile", f"staff:{name}",
                                   details={"repair": "unindexed_revocation", "seq": seq})
                self._audit.list_by_action(seq)
            report.findings.append(Finding("unindexed_revocation", f"staff:{name}",
                                           REPAIRED if report.repair else FOUND,
                                           f"audit entry {seq} is listed again from the log"))
        for subject, not_before in sorted(history.revoked.items()):
            try:
                record = self._records.get(REVOCATION, subject)
            except RecordTampered as error:
                report.tampered(error)
                continue
            if record is not None and int(record.body.get("not_before", 0)) >= not_before:
                continue
            if report.repair:
                self._audit.record(RECONCILER, "archive.reconcile", f"staff:{subject}",
                                   details={"repair": "missing_revocation"})
                self._staff.restore(subject, not_before)
            report.findings.append(Finding("missing_revocation", f"staff:{subject}",
                                           REPAIRED if report.repair else FOUND,
                                           "put back from the audit log's signed entry"))

    def _stale_state_entries(self, report: Report) -> set[str]:
        """Filings that a state queue of this provider or province lists under another state."""
        stale = set()
        scopes = (f"provider:{self._settings.provider}", f"province:{self._settings.province}")
        for scope in scopes:
            for state in STATE_NAMES:
                stale |= {record.key for record in self._all("state", f"{scope}#{state}", report)
                          if record.kind == FILING and record.body.get("state") != state}
        return stale

    def _found_by(self, entry: IndexEntry, record: Record) -> bool:
        return self._records.lists(entry, record.kind, record.key)

    # -- documents -----------------------------------------------------------------------

    def _check_document(self, filing: Record, document: Record, report: Report) -> Record:
        """Check one document; returns it as it stands after any repair."""
        body = document.body
        state = body.get("state")
        if state == AWAITING_UPLOAD:
            return self._check_awaiting(filing, document, report)
        if state == RECEIVED:
            info = self._blobs.info(str(body["archive_key"]))
            if info is None:
                return self._check_missing(filing, document, report)
            if info.size != body.get("size"):
                report.findings.append(Finding("damaged_envelope", _subject(document), FLAGGED,
                                               f"{info.size} bytes archived, {body.get('size')} recorded"))
        if state == DISPOSED and body.get("archive_key") and self._blobs.info(str(body["archive_key"])):
            self._finish_deletion(document, report)
        expected = self._document_indexes(body)
        if set(document.indexes) != set(expected) or any(
                not self._found_by(entry, document) for entry in expected):
            return self._resave(document, expected, "its documents or retention entry is wrong", report)
        return document

    def _check_awaiting(self, filing: Record, document: Record, report: Report) -> Record:
        body = document.body
        subject = _subject(document)
        archived = self._blobs.info(str(body["staged_key"]))
        if archived is not None:
            if not report.repair:
                report.findings.append(Finding("unfinished_receipt", subject, FOUND))
                return document
            return self._finish_receipt(filing, document, report)
        return document

    def _finish_receipt(self, filing: Record, document: Record, report: Report) -> Record:
        """Promote succeeded, the record save did not: check the archived envelope as
        complete_upload would have, and record the receipt with the lock promote set."""
        body = dict(document.body)
        key = str(body["staged_key"])
        info = self._blobs.info(key)
        assert info is not None and info.retain_until is not None
        with self._blobs.open(key) as stream:
            head = stream.read(HEADER_READ_BYTES)
        try:
            header = self._keys.check_upload(head, info.size, DocumentService.context(filing.body, body),
                                             int(body["declared_size"]))
        except EnvelopeRejected as rejected:
            report.findings.append(Finding("unfinished_receipt", _subject(document), FLAGGED,
                                           f"the archived envelope fails its check: {rejected.message_en}"))
            return document
        self._audit.record(RECONCILER, "archive.reconcile", _subject(document),
                           details={"repair": "unfinished_receipt"})
        now = self._clock()
        received_at = info.retain_until - (retain_until(now) - now)  # promote locked it from receipt
        body.update(state=RECEIVED, size=info.size, received_at=received_at.isoformat(), archive_key=key,
                    retain_until=info.retain_until.isoformat(), envelope=header)
        return self._save(document, body, self._document_indexes(body), "unfinished_receipt", report)

    def _check_missing(self, filing: Record, document: Record, report: Report) -> Record:
        body = document.body
        subject = _subject(document)
        due = datetime.fromisoformat(str(body["retain_until"])) <= self._clock()
        if not due or filing.body.get("holds"):
            report.findings.append(Finding("missing_envelope", subject, FLAGGED,
                                           "lost within its retention period or under a hold"))
            return document
        if not report.repair:
            report.findings.append(Finding("unfinished_disposal", subject, FOUND))
            return document
        self._audit.record(RECONCILER, "archive.reconcile", subject, details={"repair": "unfinished_disposal"})
        disposed = {key: value for key, value in body.items() if key != "envelope"}
        disposed.update(state=DISPOSED, disposed_at=self._clock().isoformat(), disposed_by=RECONCILER.subject)
        indexes = tuple(entry for entry in document.indexes if entry.index != RETENTION_INDEX)
        return self._save(document, disposed, indexes, "unfinished_disposal", report)

    def _finish_deletion(self, document: Record, report: Report) -> None:
        subject = _subject(document)
        if not report.repair:
            report.findings.append(Finding("disposed_envelope_present", subject, FOUND))
            return
        try:
            self._blobs.delete(str(document.body["archive_key"]))
        except BlobLocked:
            report.findings.append(Finding("disposed_envelope_present", subject, FLAGGED,
                                           "the envelope is still retained or held: it stays"))
            return
        except BlobMissing:
            pass  # gone meanwhile: nothing left to do
        self._audit.record(RECONCILER, "archive.reconcile", subject,
                           details={"repair": "disposed_envelope_present"})
        report.findings.append(Finding("disposed_envelope_present", subject, REPAIRED))

    @staticmethod
    def _document_indexes(body: Mapping[str, Any]) -> tuple[IndexEntry, ...]:
        entries = [IndexEntry("documents", str(body["filing"]), str(body["created_at"]))]
        if body.get("state") == RECEIVED:
            entries.append(retention_entry(datetime.fromisoformat(str(body["retain_until"]))))
        return tuple(entries)

    # -- disposal certificates -------------------------------------------------------------

    def _certified(self) -> set[tuple[str, str]]:
        """(filing, document) of every disposal a signed certificate in the audit log names."""
        named = set()
        for entry in self._audit.entries():
            if entry.get("action") == CERTIFICATE:
                for item in entry["details"]["certificate"]["documents"]:
                    named.add((str(item["filing"]), str(item["document"])))
        return named

    def _certify(self, documents: list[Record], report: Report) -> None:
        if not documents:
            return
        outcome = REPAIRED if report.repair else FOUND
        for document in documents:
            report.findings.append(Finding("uncertified_disposal", _subject(document), outcome))
        if not report.repair:
            return
        certificate = {"disposed_at": self._clock().isoformat(), "late": True,
                       "documents": [{"document": str(document.body["id"]), "filing": str(document.body["filing"]),
                                      "retain_until": str(document.body.get("retain_until", ""))}
                                     for document in documents]}
        self._audit.record(RECONCILER, CERTIFICATE, "archive",
                           details={"certificate": certificate, "signature": self._audit.sign(certificate)})

    # -- saving ------------------------------------------------------------------------------

    def _resave(self, record: Record, indexes: tuple[IndexEntry, ...], detail: str, report: Report) -> Record:
        if not report.repair:
            report.findings.append(Finding("index_mismatch", _subject(record), FOUND, detail))
            return record
        self._audit.record(RECONCILER, "archive.reconcile", _subject(record), details={"repair": "index_mismatch"})
        return self._save(record, dict(record.body), indexes, "index_mismatch", report, detail)

    def _save(self, record: Record, body: dict[str, Any], indexes: tuple[IndexEntry, ...], kind: str,
              report: Report, detail: str = "") -> Record:
        try:
            saved = self._records.save(Record(record.kind, record.key, body, record.version, indexes))
        except VersionConflict:
            report.findings.append(Finding(kind, _subject(record), FLAGGED, "changed meanwhile: run again"))
            return record
        report.findings.append(Finding(kind, _subject(record), REPAIRED, detail))
        return saved

    def _all(self, index: str, value: str, report: Report) -> Iterator[Record]:
        """Every record the entry lists whose signature holds; the others go into ``report``."""
        cursor: str | None = None
        while True:
            page = self._records.unverified.query(index, value, limit=PAGE, after=cursor)
            for record in page.records:
                try:
                    yield self._records.verified(record)
                except RecordTampered as error:
                    report.tampered(error)
            if page.cursor is None:
                return
            cursor = page.cursor

    @staticmethod
    def _document_ref(document: Record) -> tuple[str, str]:
        return str(document.body["filing"]), str(document.body["id"])


def _subject(record: Record) -> str:
    return f"{'filing' if record.kind == FILING else DOCUMENT}:{record.key}"
