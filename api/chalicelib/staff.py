"""Revoking staff tokens before they expire: a lost laptop, a phone left in a taxi, someone
leaving. A revocation refuses every token of the subject issued before it; tokens issued from
the next second on work again, so the person can be given a new one at once.

A revocation is two things: a record (found with one read) and an entry in the audit log,
which is hash-chained and signed. Deleting the record does not re-enable a token: the check
also reads the audit log's revocations, through the log's index of them (so a new process
reads the revocations, never the whole log; then only those appended since it last looked),
and a revocation the log holds but the records lack is refused, logged, and flagged by
``beian reconcile``, which puts the record back from the log and reads the whole log to find
a revocation missing from the index."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from . import policy
from .audit import AuditLog
from .auth import STAFF_ROLES, Principal, staff_name
from .errors import Invalid
from .ports import Record, Records

REVOCATION = "staff_revocation"
REVOKE_ACTION = "staff.revoke"
log = logging.getLogger("beian.staff")


class StaffTokens:
    def __init__(self, records: Records, audit: AuditLog) -> None:
        self._records = records
        self._audit = audit
        self._lock = threading.Lock()
        self._audited: dict[str, int] = {}  # subject -> the latest not_before the audit log holds
        self._audit_read_through = 0

    @staticmethod
    def session(who: Principal) -> dict[str, str]:
        """A staff token's owner as the console shows them: name, role and scope."""
        policy.require(who, "session", roles=STAFF_ROLES)
        return {"subject": who.subject, "role": who.role, "provider": who.provider, "province": who.province}

    def revoke(self, by: Principal, subject: str, reason: str) -> dict[str, Any]:
        """Refuse every token ``subject`` holds now (audited first)."""
        policy.require(by, "users")
        subject, reason = staff_name(subject), reason.strip()
        if not subject:
            raise Invalid("请给出要吊销令牌的工作人员", "Name the staff member whose tokens to revoke",
                          field="subject")
        if not reason:
            raise Invalid("请说明吊销原因", "Give the reason for revoking", field="reason")
        # Token times are whole seconds (JWT iat): a token issued in this second is refused too.
        not_before = int(time.time()) + 1
        body = {"subject": subject, "not_before": not_before, "reason": reason[:500], "by": by.subject}
        self._audit.record(by, REVOKE_ACTION, f"staff:{subject}", purpose=reason[:200],
                           details={"subject": subject, "not_before": not_before}, by_action=True)
        known = self._records.get(REVOCATION, subject)
        self._records.save(Record(REVOCATION, subject, body, known.version if known is not None else 0))
        return body

    def revoked(self, subject: str, issued_at: int) -> bool:
        """Whether a token of ``subject`` issued at ``issued_at`` (epoch seconds) is revoked."""
        subject = staff_name(subject)
        record = self._records.get(REVOCATION, subject)
        stored = int(record.body["not_before"]) if record is not None else 0
        audited = self.audited_revocations().get(subject, 0)
        if audited > stored:
            log.error("the revocation record of a staff member is missing or older than the audit log's; "
                      "their earlier tokens stay refused (beian reconcile restores it)")
        return issued_at < max(stored, audited)

    def audited_revocations(self) -> dict[str, int]:
        """Every revocation the audit log's index of them lists (subject -> latest not_before),
        read on from where the last call stopped."""
        with self._lock:
            for entry in self._audit.entries_of(REVOKE_ACTION, self._audit_read_through + 1):
                details = entry.get("details") or {}
                if isinstance(details.get("not_before"), int):
                    name = staff_name(details.get("subject", ""))
                    self._audited[name] = max(self._audited.get(name, 0), details["not_before"])
                self._audit_read_through = int(entry["seq"])
            return dict(self._audited)

    def restore(self, subject: str, not_before: int) -> None:
        """Put back a revocation record the audit log holds (the reconciler's repair)."""
        known = self._records.get(REVOCATION, subject)
        body = {"subject": subject, "not_before": not_before, "reason": "restored from the audit log",
                "by": "system:reconciler"}
        self._records.save(Record(REVOCATION, subject, body, known.version if known is not None else 0))
