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
from .workdays import add_working_days

FILING = "filing"
# One website, one live filing: a claim per domain, created with the filing (a conditional
# insert, so of two racing submissions exactly one wins) and let go when it is refused or
# cancelled.
DOMAIN_CLAIM = "domain_claim"
CLAIM_IN_FLIGHT = timedelta(minutes=10)
FOLLOW_UP_OUTCOMES = ("confirmed", "changed", "unreachable")
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
        if principal.role == APPLICANT:  # applicants read their own
            return self.present(record)
        self._audit.record(principal, "filing.view", f"filing:{filing_id}")
        return self.present_to_staff(record)

    def present_to_staff(self, record: Record) -> dict[str, Any]:
        """What staff see: the filing, and the domains another live filing also holds
        (without that filing's subject: staff of this filing may not be in its scope)."""
        shown = self.present(record)
        domains = shown.get("payload", {}).get("website", {}).get("domains", [])
        shown["domain_conflicts"] = [domains[index] for index in self.domain_conflicts(record.body)]
        return shown

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
        return [self.present_to_staff(record) for record in records
                if record.kind == FILING and policy.in_scope(principal, record.body)]

    def due(self, principal: Principal, within_days: int) -> list[dict[str, Any]]:
        """Filings whose pending deadline falls within ``within_days`` working days (China
        time, the official calendar) or has passed."""
        policy.require(principal, "list")
        horizon = add_working_days(china_day(self._clock()), within_days).date.isoformat()
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
        self.move(body, workflow.SUBMIT, now)
        body["history"].append({"at": now.isoformat(), "action": "submit", "to": workflow.SUBMITTED,
                                "actor": f"applicant:{filing_id}"})
        claimed = self.claim_domains(body)
        try:
            # Audited first: if the audit log fails, nothing is saved and the 503 is true; a filing
            # saved unaudited would be one whose token nobody received, and the retry a duplicate.
            self._audit.record(Principal(f"applicant:{filing_id}", "applicant", filing=filing_id),
                               "filing.submit", f"filing:{filing_id}")
            saved = self._records.save(Record(FILING, filing_id, body, indexes=filing_indexes(body)))
        except BaseException:
            self.release_domains(filing_id, claimed)
            raise
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
        self.take(body, step, principal.subject, principal.role, now, str(params.get("note", "")))
        # A new payload or an on-site correction may add a domain: it is claimed before the save.
        added = set(_domains(body)) - set(_domains(record.body))
        claimed = self.claim_domains(body) if added and step.target in workflow.LIVE_STATES else []
        try:
            saved = self.save_step(principal, f"filing.{action}", record, body)
        except BaseException:
            self.release_domains(filing_id, claimed)
            raise
        kept = set(_domains(saved.body)) if step.target in workflow.LIVE_STATES else set()
        self.release_domains(filing_id, [domain for domain in _domains(record.body) if domain not in kept])
        if step.new_payload:
            check_on_arrival(self._id_checker, saved)
        if step.sms:
            self._notify(saved.body, step.sms)
        return self.present(saved)

    def take(self, body: dict[str, Any], step: workflow.Transition, actor: str, role: str,
             now: datetime, note: str = "") -> None:
        """The bookkeeping of every transition: deadlines, state, history. The demo seeder
        walks its synthetic filings through this same method."""
        source = body["state"]
        self.move(body, step, now)
        body["history"].append({"at": now.isoformat(), "action": step.action, "from": source,
                                "to": step.target, "actor": actor, "role": role, "note": note[:500]})
        body["updated_at"] = now.isoformat()

    # -- one website, one live filing -----------------------------------------------------

    def claim_domains(self, body: Mapping[str, Any]) -> list[str]:
        """Claim each domain of ``body`` for it; Conflict (409) naming the field if another
        live filing holds one. Returns the domains newly claimed (to let go if the save fails)."""
        filing_id = str(body["id"])
        subject = self._subject_hash(body)
        claimed: list[str] = []
        try:
            for index, domain in enumerate(_domains(body)):
                if self._claim(filing_id, subject, domain, index):
                    claimed.append(domain)
        except BaseException:
            # Every domain of the body, not only those claimed for sure: a claim whose write
            # landed but whose reply was lost is this filing's too, and must not block a retry.
            self.release_domains(filing_id, list(_domains(body)))
            raise
        return claimed

    def _claim(self, filing_id: str, subject: str, domain: str, index: int) -> bool:
        for _ in range(3):
            current = self._records.get(DOMAIN_CLAIM, domain)
            if current is not None:
                if current.body["filing"] == filing_id:
                    return False
                holder = self._records.get(FILING, str(current.body["filing"]))
                # A claim whose filing is not saved yet is a submission in flight; one left by a
                # submission that never finished lapses after a while (the reconciler lists it).
                in_flight = holder is None and self._clock() - datetime.fromisoformat(
                    str(current.body["at"])) < CLAIM_IN_FLIGHT
                if in_flight or (holder is not None and holder.body["state"] in workflow.LIVE_STATES):
                    raise domain_taken(index, same_subject=current.body.get("subject") == subject)
            try:
                self._records.save(Record(DOMAIN_CLAIM, domain, {"filing": filing_id, "subject": subject,
                                                                 "at": self._clock().isoformat()},
                                          current.version if current else 0))
                return True
            except VersionConflict:
                continue  # someone claimed it first, or let it go: look again
        raise domain_taken(index, same_subject=False)

    def release_domains(self, filing_id: str, domains: list[str]) -> None:
        """Let ``filing_id``'s claims on ``domains`` go (a claim of another filing is left)."""
        for domain in domains:
            current = self._records.get(DOMAIN_CLAIM, domain)
            if current is None or current.body["filing"] != filing_id:
                continue
            try:
                self._records.delete(current)
            except VersionConflict:
                log.warning("domain claim of filing %s changed while being released", filing_id)

    def _subject_hash(self, body: Mapping[str, Any]) -> str:
        subject = body.get("payload", {}).get("subject", {})
        stored = subject.get("id_number")
        if isinstance(stored, dict):
            return self._sensitive.index_value(self._sensitive.reveal(
                stored, filing_id=str(body["id"]), path="subject.id_number"))
        return self._sensitive.index_value(str(stored or ""))

    def domain_conflicts(self, body: Mapping[str, Any]) -> list[int]:
        return domain_conflicts(self._records, body)

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

    def _notify(self, body: Mapping[str, Any], notice: str) -> None:
        """Send the notice's official text; the step stands even if the SMS gateway fails."""
        mobile = body.get("payload", {}).get("contact", {}).get("mobile")
        if not mobile:
            return
        try:
            self._notifier.send_sms(e164(str(mobile)), load_rules().sms_text(notice))
        except (StorageError, ValueError):
            log.exception("SMS %s for filing %s was not sent", notice, body["id"])

    def move(self, body: dict[str, Any], step: workflow.Transition, now: datetime) -> None:
        """Put ``body`` in ``step``'s target state at ``now``: the deadlines the step stops are
        met (those still pending), the one it starts begins."""
        for name in step.stops:
            deadline = body["deadlines"].get(name)
            if deadline and not deadline.get("met_at"):
                body["deadlines"][name] = self._deadlines.meet(deadline, now)
        body["state"] = step.target
        if step.starts:
            body["deadlines"][step.starts] = self._deadlines.start(step.starts, now)



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
    if isinstance(body.get("submission"), str) and body["submission"]:
        entries.append(IndexEntry("submission", body["submission"], created))
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


def domain_conflicts(records: Records, body: Mapping[str, Any]) -> list[int]:
    """The indexes of ``body``'s domains that another live filing also lists: filings from
    before the claims, or a race the claims did not see. Staff see them on the filing and in
    the queues, approval waits for them to be resolved, and the reconciler lists them."""
    if body.get("state") not in workflow.LIVE_STATES:
        return []
    conflicts = []
    for index, domain in enumerate(_domains(body)):
        others = records.query("domain", domain, limit=50).records
        if any(other.kind == FILING and other.key != body["id"]
               and other.body.get("state") in workflow.LIVE_STATES
               and domain in _domains(other.body) for other in others):
            conflicts.append(index)
    return conflicts


def _domains(body: Mapping[str, Any]) -> list[str]:
    return [str(domain) for domain in body.get("payload", {}).get("website", {}).get("domains", [])]


def domain_taken(index: int, *, same_subject: bool) -> Conflict:
    """The domain is in a live filing; whose is not said (another subject's filing is theirs)."""
    field = f"website.domains[{index}]"
    text = load_rules().provider_text("domain_filed_by_same_subject" if same_subject else "domain_filed")
    zh, en = text.text.zh, text.text.en
    return Conflict(zh, en, field=field, details=[{"field": field, "code": "domain_taken",
                                                  "message_zh": zh, "message_en": en}])


def stale(version: int) -> Conflict:
    return Conflict("备案已被他人修改，请刷新后重试",
                    f"The filing was changed by someone else (now version {version}); "
                    "reload and try again", field="version")
