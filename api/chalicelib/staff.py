"""Revoking staff tokens before they expire: a lost laptop, a phone left in a taxi, someone
leaving. A revocation refuses every token of the subject issued before it; tokens issued from
the next second on work again, so the person can be given a new one at once."""

from __future__ import annotations

import time
from typing import Any

from . import policy
from .audit import AuditLog
from .auth import STAFF_ROLES, Principal
from .errors import Invalid
from .ports import Record, Records

REVOCATION = "staff_revocation"


class StaffTokens:
    def __init__(self, records: Records, audit: AuditLog) -> None:
        self._records = records
        self._audit = audit

    @staticmethod
    def session(who: Principal) -> dict[str, str]:
        """A staff token's owner as the console shows them: name, role and scope."""
        policy.require(who, "session", roles=STAFF_ROLES)
        return {"subject": who.subject, "role": who.role, "provider": who.provider, "province": who.province}

    def revoke(self, by: Principal, subject: str, reason: str) -> dict[str, Any]:
        """Refuse every token ``subject`` holds now (audited first)."""
        policy.require(by, "users")
        subject, reason = subject.strip(), reason.strip()
        if not subject:
            raise Invalid("请给出要吊销令牌的工作人员", "Name the staff member whose tokens to revoke",
                          field="subject")
        if not reason:
            raise Invalid("请说明吊销原因", "Give the reason for revoking", field="reason")
        # Token times are whole seconds (JWT iat): a token issued in this second is refused too.
        body = {"subject": subject, "not_before": int(time.time()) + 1, "reason": reason[:500],
                "by": by.subject}
        self._audit.record(by, "staff.revoke", f"staff:{subject}", purpose=reason[:200])
        known = self._records.get(REVOCATION, subject)
        self._records.save(Record(REVOCATION, subject, body, known.version if known is not None else 0))
        return body

    def revoked(self, subject: str, issued_at: int) -> bool:
        """Whether a token of ``subject`` issued at ``issued_at`` (epoch seconds) is revoked."""
        record = self._records.get(REVOCATION, subject)
        return record is not None and issued_at < int(record.body["not_before"])
