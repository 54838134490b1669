"""Filings: submission, the workflow's transitions, deadlines and what each role sees.

The filing record is the unit of optimistic concurrency: every change saves the
version it read, so of two conflicting transitions exactly one wins and the other
gets a 409.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import secrets
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

from . import policy, workflow
from .audit import AuditLog, canonical
from .auth import APPLICANT, Principal, new_filing_token
from .config import Settings
from .consent import consent_errors, consent_record
from .deadlines import Deadlines, china_day
from .errors import Conflict, Invalid, Unavailable, not_found
from .oversight.idcheck import IdChecker, check_on_arrival
from .oversight.periods import month_entry
from .ports import IndexEntry, Notifier, Record, Records, StorageError, VersionConflict
from .rules import load_rules
from .sensitive import SensitiveFields
from .validation import Stage, validate_filing

FILING = "filing"
FOLLOW_UP_OUTCOMES = ("confirmed", "changed", "unreachable")
NEW_PAYLOAD_ACTIONS = ("resubmit", "request_change")
STEP_SAVED = "filing.saved"
log = logging.getLogger("beian.filings")
SENSITIVE_PATHS = (("subject", "id_number"), ("responsible_person", "id_number"))


def e164(mobile: str) -> str:
    """A validated mainland mobile number in the form SMS gateways take."""
    return mobile if mobile.startswith("+") else f"+86{mobile}"


def new_filing_id(today: date) -> str:
    return f"F{today:%Y%m%d}-{secrets.token_hex(4).upper()}"


class FilingService:
    def __init__(self, settings: Settings, records: Records, notifier: Notifier, audit: AuditLog,
                 sensitive: SensitiveFields, deadlines: Deadlines, id_checker: IdChecker,
                 clock: Callable[[], datetime]) -> None:
        self._settings = settings
        self._records = records
        self._notifier = notifier
        self._audit = audit
        self._sensitive = sensitive
        self._deadlines = deadlines
        self._clock = clock
        # 二.(二)3(1): every ID number is checked automatically when it arrives.
        self._id_checker = id_checker

    # -- reading -------------------------------------------------------------------------

    def load(self, filing_id: str) -> Record:
        record = self._records.get(FILING, filing_id)
        if record is None:
            raise not_found("备案", "Filing")
        return record

    def load_for(self, principal: Principal, filing_id: str, action: str = "view") -> Record:
        record = self.load(filing_id)
        policy.require(principal, action, record.body)
        return record

    def token_hash(self, filing_id: str) -> str | None:
        record = self._records.get(FILING, filing_id)
        return None if record is None else str(record.body["token_hash"])

    def view(self, principal: Principal, filing_id: str) -> dict[str, Any]:
        record = self.load_for(principal, filing_id)
        if principal.role != APPLICANT:  # staff reading someone's filing; applicants read their own
            self._audit.record(principal, "filing.view", f"filing:{filing_id}")
        return self.present(record)

    def present(self, record: Record) -> dict[str, Any]:
        """What a caller in scope sees: everything but the token hash and sealed numbers."""
        body = copy.deepcopy(dict(record.body))
        body.pop("token_hash", None)
        body.pop("id_hashes", None)
        body.pop("submission", None)
        body.pop("submission_binding", None)
        for section, name in SENSITIVE_PATHS:
            stored = body.get("payload", {}).get(section, {}).get(name)
            if isinstance(stored, dict):
                body["payload"][section][name] = stored["masked"]
        state = body["state"]
        body["state_name"] = dict(zip(("zh", "en"), workflow.STATE_NAMES[state], strict=True))
        body["deadlines"] = self._deadlines.annotate(body.get("deadlines", {}), self._clock())
        body["version"] = record.version
        return body

    def queue(self, principal: Principal, state: object, limit: int = 100) -> list[dict[str, Any]]:
        """Filings in ``state`` within the caller's scope, oldest first: a work queue."""
        policy.require(principal, "list")
        if state not in workflow.STATE_NAMES:
            raise Invalid("未知的状态", f"Unknown state; one of {', '.join(workflow.STATE_NAMES)}",
                          field="state")
        scope = policy.scope_filter(principal)
        if scope is None:
            raise Invalid("请按接入服务单位或省份查询", "This role lists filings through search",
                          field="state")
        page = self._records.query("state", f"{scope[0]}:{scope[1]}#{state}", limit=limit)
        return self._visible(principal, page.records)

    def _visible(self, principal: Principal, records: list[Record]) -> list[dict[str, Any]]:
        """The filings among ``records`` the caller may see. Index rows are not signed: one
        added by hand must not show a filing outside the caller's scope."""
        return [self.present(record) for record in records
                if record.kind == FILING and policy.in_scope(principal, record.body)]

    def due(self, principal: Principal, within_days: int) -> list[dict[str, Any]]:
        """Filings whose pending deadline falls within ``within_days`` or has passed."""
        policy.require(principal, "list")
        horizon = (china_day(self._clock()) + timedelta(days=within_days)).isoformat()
        found = []
        for name in workflow.DEADLINE_SCOPE:
            scope = self._deadline_scope(principal, name)
            if scope is None:
                continue
            page = self._records.query("due", f"{name}#{scope}", sort_to=horizon + "\uffff",
                                       limit=500)
            found += self._visible(principal, page.records)
        return sorted(found, key=lambda filing: min(
            deadline["due"] for deadline in filing["deadlines"].values() if not deadline["met_at"]))

    @staticmethod
    def _deadline_scope(principal: Principal, deadline: str) -> str | None:
        holder = workflow.DEADLINE_SCOPE[deadline]
        if holder == "province" and principal.role == "reviewer":
            return principal.province
        if holder == "provider" and principal.role in ("verifier", "compliance_officer", "admin"):
            return principal.provider
        return None

    # -- submission ----------------------------------------------------------------------

    def submit(self, payload: Mapping[str, Any], submission_key: str = "",
               caller: str = "") -> tuple[dict[str, Any], str]:
        """A new filing from an applicant: validated whole, all errors at once.

        ``submission_key`` (the client's Idempotency-Key) makes a retry safe: when the reply
        to the first attempt was lost after the filing was saved, the retry gets that filing
        back with a fresh token (the first token never reached anyone), not a duplicate.
        The key is bound to the caller (its client address) and to a digest of the body, and
        answers for ``idempotency_seconds``: a reuse with another body or from another caller
        is a conflict that shows nothing of the first filing and issues no token."""
        request = dict(payload)
        consent = request.pop("consent", None)
        normalised = validated(request, extra_errors=consent_errors(consent))
        now = self._clock()
        submission = hashlib.sha256(submission_key.encode()).hexdigest() if submission_key else ""
        binding = {"digest": hashlib.sha256(canonical(payload)).hexdigest(),
                   "caller": hashlib.sha256(caller.encode()).hexdigest()}
        earlier = self._unexpired_submission(submission, now) if submission else None
        if earlier is not None:
            if earlier.body.get("submission_binding") != binding:
                raise Conflict("该 Idempotency-Key 已用于另一份提交；请为新的提交使用新的键",
                               "This Idempotency-Key was used for another submission; use a new key "
                               "for a new submission", field="Idempotency-Key")
            return self._reissue(earlier)
        filing_id = new_filing_id(now.date())
        token, token_hash = new_filing_token(filing_id)
        body: dict[str, Any] = {
            "id": filing_id,
            "state": workflow.SUBMITTED,
            "provider": self._settings.provider,
            "province": self._settings.province,
            "rules_version": load_rules().version,
            "token_hash": token_hash,
            "created_at": now.isoformat(),
            "updated_at": now.isoformat(),
            "history": [],
            "deadlines": {},
            "consent": consent_record(consent or {}, now.isoformat()),
            "submission": submission,
            "submission_binding": binding,
        }
        self.apply_payload(body, normalised)
        self.move(body, workflow.SUBMITTED, now)
        body["history"].append({"at": now.isoformat(), "action": "submit", "to": workflow.SUBMITTED,
                                "actor": f"applicant:{filing_id}"})
        # Audited first: if the audit log fails, nothing is saved and the 503 is true; a filing
        # saved unaudited would be one whose token nobody received, and the retry a duplicate.
        self._audit.record(Principal(f"applicant:{filing_id}", "applicant", filing=filing_id),
                           "filing.submit", f"filing:{filing_id}")
        saved = self._records.save(Record(FILING, filing_id, body, indexes=filing_indexes(body)))
        self.confirm_saved(Principal(f"applicant:{filing_id}", "applicant", filing=filing_id), saved)
        check_on_arrival(self._id_checker, saved)
        return self.present(saved), token

    def _unexpired_submission(self, submission: str, now: datetime) -> Record | None:
        """The newest filing submitted under this key within the key's lifetime."""
        since = now - timedelta(seconds=self._settings.idempotency_seconds)
        found = [record for record in self._records.query("submission", submission, limit=20).records
                 if record.kind == FILING and datetime.fromisoformat(str(record.body["created_at"])) >= since]
        return max(found, key=lambda record: str(record.body["created_at"]), default=None)

    def _reissue(self, record: Record) -> tuple[dict[str, Any], str]:
        token, token_hash = new_filing_token(record.key)
        saved = self.save_step(Principal(f"applicant:{record.key}", "applicant", filing=record.key),
                               "filing.token_reissued", record, {**record.body, "token_hash": token_hash})
        return self.present(saved), token

    def apply_payload(self, body: dict[str, Any], normalised: Mapping[str, Any]) -> None:
        """Store a validated payload in ``body``, ID numbers sealed and indexed by keyed hash."""
        payload = copy.deepcopy(dict(normalised))
        id_hashes = []
        for section, name in SENSITIVE_PATHS:
            value = payload.get(section, {}).get(name)
            if isinstance(value, str) and value:
                id_hashes.append(self._sensitive.index_value(value))
                payload[section][name] = self._sensitive.seal(
                    value, filing_id=body["id"], path=f"{section}.{name}")
        body["payload"] = payload
        body["id_hashes"] = sorted(set(id_hashes))
        body["subject_type"] = payload.get("subject_type", "")

    # -- transitions ---------------------------------------------------------------------

    def act(self, principal: Principal, filing_id: str, action: str,
            params: Mapping[str, Any] | None = None, *, expected_version: int | None = None,
            on_apply: Callable[[dict[str, Any], Mapping[str, Any]], None] | None = None,
            ) -> dict[str, Any]:
        """Take one workflow transition. ``on_apply`` lets a step (on-site verification,
        approval) check its evidence and add to the record before it is saved."""
        record = self.load_for(principal, filing_id)
        if expected_version is not None and expected_version != record.version:
            raise stale(record.version)
        # The role is checked before the state, so a caller without the right learns nothing more.
        policy.require(principal, action, record.body, roles=workflow.roles_for(action))
        step = workflow.transition(action, str(record.body["state"]))
        now = self._clock()
        body = copy.deepcopy(dict(record.body))
        params = dict(params or {})
        if on_apply is not None:
            on_apply(body, params)
        self.move(body, step.target, now)
        body["history"].append({
            "at": now.isoformat(), "action": action, "from": record.body["state"],
            "to": step.target, "actor": principal.subject, "role": principal.role,
            "note": str(params.get("note", ""))[:500],
        })
        body["updated_at"] = now.isoformat()
        saved = self.save_step(principal, f"filing.{action}", record, body)
        if action in NEW_PAYLOAD_ACTIONS:
            check_on_arrival(self._id_checker, saved)
        if step.notice:
            self._notify(saved.body, step.notice)
        return self.present(saved)

    def save_step(self, principal: Principal, action: str, record: Record, body: dict[str, Any],
                  details: Mapping[str, Any] | None = None, *, purpose: str = "") -> Record:
        """Save a changed filing, audited first with the version it changes (no change without
        its entry), then confirmed with the version it saved (``confirm_saved``)."""
        self._audit.record(principal, action, f"filing:{record.key}", purpose=purpose,
                           details={**(details or {}), "from_version": record.version})
        try:
            saved = self._records.save(Record(FILING, record.key, body, record.version, filing_indexes(body)))
        except VersionConflict as error:
            raise stale(record.version) from error
        self.confirm_saved(principal, saved)
        return saved

    def confirm_saved(self, principal: Principal, saved: Record) -> None:
        """Audit that a filing was saved at this version. The reconciler compares records with
        these: a filing below a version confirmed here was put back (the last step rolled back
        too), a filing confirmed here and gone was deleted whole. A step that failed or died
        before its save has no confirmation, so it raises no false alarm. The step stands if
        only this entry fails: it is logged, and the next step confirms the filing again."""
        try:
            self._audit.record(principal, STEP_SAVED, f"filing:{saved.key}", details={"version": saved.version})
        except Unavailable:
            log.error("filing %s was saved at version %s, unconfirmed in the audit log", saved.key, saved.version)

    def record_follow_up(self, principal: Principal, filing_id: str, outcome: object,
                         note: object) -> dict[str, Any]:
        """The provider's routine follow-up (回访, 三.(一)5): record it, start the next one."""
        record = self.load_for(principal, filing_id)
        policy.require(principal, "follow_up", record.body)
        if record.body["state"] != workflow.APPROVED:
            raise Conflict("只有已审核通过的备案需要回访", "Only approved filings are followed up",
                           field="state")
        if outcome not in FOLLOW_UP_OUTCOMES:
            raise Invalid("回访结果须为 confirmed、changed 或 unreachable",
                          "outcome must be confirmed, changed or unreachable", field="outcome")
        now = self._clock()
        body = copy.deepcopy(dict(record.body))
        self.move(body, workflow.APPROVED, now)  # meets this follow-up's deadline, starts the next
        body.setdefault("follow_ups", []).append({
            "at": now.isoformat(), "by": principal.subject, "outcome": outcome,
            "note": str(note or "")[:500]})
        saved = self.save_step(principal, "filing.follow_up", record, body, {"outcome": outcome})
        return self.present(saved)

    def _notify(self, body: Mapping[str, Any], notice: str) -> None:
        """Send the notice's official text; the step stands even if the SMS gateway fails."""
        mobile = body.get("payload", {}).get("contact", {}).get("mobile")
        if not mobile:
            return
        try:
            self._notifier.send_sms(e164(str(mobile)), load_rules().notice_text(notice).text)
        except (StorageError, ValueError):
            log.exception("SMS %s for filing %s was not sent", notice, body["id"])

    def move(self, body: dict[str, Any], target: str, now: datetime) -> None:
        """Put ``body`` in state ``target`` at ``now``: the pending deadline of the state it is
        in is met, the one of ``target`` (if any) starts. The demo seeder walks its synthetic
        filings through this same bookkeeping."""
        pending = workflow.PENDING_DEADLINE.get(str(body["state"]))
        if pending and pending in body["deadlines"]:
            body["deadlines"][pending] = self._deadlines.meet(body["deadlines"][pending], now)
        body["state"] = target
        pending = workflow.PENDING_DEADLINE.get(target)
        if pending:
            body["deadlines"][pending] = self._deadlines.start(pending, now)



def filing_indexes(body: Mapping[str, Any]) -> tuple[IndexEntry, ...]:
    """Every way to find a filing: scope, state, month, domains, ID hashes, number, deadlines."""
    created = str(body["created_at"])
    entries = [
        month_entry(body),
        IndexEntry("provider", str(body["provider"]), created),
        IndexEntry("province", str(body["province"]), created),
        IndexEntry("state", f"provider:{body['provider']}#{body['state']}", created),
        IndexEntry("state", f"province:{body['province']}#{body['state']}", created),
    ]
    entries += [IndexEntry("domain", domain, created)
                for domain in body.get("payload", {}).get("website", {}).get("domains", [])]
    entries += [IndexEntry("id_hash", value, created) for value in body.get("id_hashes", [])]
    if body.get("filing_number"):
        entries.append(IndexEntry("filing_number", str(body["filing_number"]), created))
    if body.get("submission"):
        entries.append(IndexEntry("submission", str(body["submission"]), created))
    for name, deadline in body.get("deadlines", {}).items():
        if not deadline.get("met_at"):
            scope = body[workflow.DEADLINE_SCOPE[name]]
            entries.append(IndexEntry("due", f"{name}#{scope}", str(deadline["due"])))
    return tuple(entries)


def validated(payload: Mapping[str, Any], extra_errors: list[dict[str, str]] | None = None, *,
              stage: Stage = "submission") -> dict[str, Any]:
    """The normalised payload, or Invalid listing every field error at once."""
    result = validate_filing(payload, stage=stage)
    errors = [error.to_dict() for error in result.errors] + (extra_errors or [])
    if errors:
        raise Invalid("备案信息有误，请逐项修改后重新提交",
                      "The filing has errors; correct each one and submit again", details=errors)
    return dict(result.normalised)


def stale(version: int) -> Conflict:
    return Conflict("备案已被他人修改，请刷新后重试",
                    f"The filing was changed by someone else (now version {version}); "
                    "reload and try again", field="version")
