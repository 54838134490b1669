"""What each workflow step checks and records before the filing moves on (notice 二).

``FilingService.act`` moves the state; the step that ``workflow.TRANSITIONS`` names for the
action first checks its evidence (every problem at once) and writes it into the filing. A
step that finds a problem raises Invalid (or Conflict, for evidence still missing) and
nothing is saved. The records each step writes are built by the module's functions, which
the demo seeder uses too.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

import crypto

from . import workflow
from .archive import ArchiveService
from .audit import AuditLog
from .auth import Principal
from .checklist import checklist_errors, declared_documents
from .checklist import field_error as _error
from .consent import consent_errors, consent_record
from .deadlines import china_time
from .documents import FACE_PHOTO, RECEIVED, VERIFICATION_FORM, DocumentService
from .errors import Conflict, Invalid
from .filings import FOLLOW_UP_OUTCOMES, SENSITIVE_PATHS, FilingService, validated
from .forms import render_form
from .keyring import ArchiveKeys
from .ports import Record, Records, VersionConflict
from .rules import Rules, load_rules
from .sensitive import SensitiveFields, mask
from .validators import filing_number as filing_numbers

Step = Callable[[Principal, dict[str, Any], Mapping[str, Any]], None]
StepMethod = TypeVar("StepMethod", bound=Callable[..., None])
COUNTER = "counter"
CONTACT_CHECK_METHODS = ("phone", "email", "sms")
MAX_TEXT = 500
SENSITIVE_SECTIONS = tuple(section for section, _ in SENSITIVE_PATHS)
SENSITIVE_FIELDS = {f"{section}.{name}" for section, name in SENSITIVE_PATHS}
STEP_MARK = "_evidence_step"


def evidence_step(method: StepMethod) -> StepMethod:
    """Marks a method of ``Steps`` as the evidence step of one or more transitions."""
    setattr(method, STEP_MARK, True)
    return method


def step_methods() -> set[str]:
    """The names of every evidence step ``Steps`` defines."""
    return {name for name, value in vars(Steps).items() if getattr(value, STEP_MARK, False)}


def _raise_if(errors: list[dict[str, str]]) -> None:
    if errors:
        raise Invalid("提交的核验信息有误，请逐项修改", "The step's evidence has errors; correct each one",
                      details=errors)


def _reasons(params: Mapping[str, Any]) -> list[str]:
    reasons = params.get("reasons")
    if not isinstance(reasons, list) or not reasons or not all(
            isinstance(reason, str) and reason.strip() for reason in reasons):
        raise Invalid("请逐条写明原因", "List the reasons, one by one", field="params.reasons")
    return [reason.strip()[:MAX_TEXT] for reason in reasons]


# -- the records the steps write (the demo seeder writes the same) -----------------------

def pre_verification_record(by: str, at: datetime, method: str) -> dict[str, Any]:
    return {"by": by, "at": at.isoformat(), "contact_verified_by": method}


def return_record(stage: str, by: str, at: datetime, reasons: list[str]) -> dict[str, Any]:
    return {"stage": stage, "by": by, "at": at.isoformat(), "reasons": reasons}


def closing_record(by: str, at: datetime, reasons: list[str], state: str) -> dict[str, Any]:
    """A refusal or a cancellation: who, when, why, and the state it was taken from."""
    return {"by": by, "at": at.isoformat(), "reasons": reasons, "from": state}


def province_submission_record(by: str, at: datetime, form: str,
                               papers: Mapping[str, str]) -> dict[str, Any]:
    return {"by": by, "at": at.isoformat(), "form_document_id": form, "papers": dict(papers)}


def review_record(by: str, at: datetime, trail: Mapping[str, Any]) -> dict[str, Any]:
    return {"by": by, "at": at.isoformat(), "decision": "approved", **trail}


def website_numbers(filing_number: str, domains: list[str],
                    earlier: Mapping[str, str]) -> dict[str, str]:
    """2.2: each website of a filing gets the filing number with a -n suffix, kept for life."""
    numbers = dict(earlier)
    for domain in domains:
        numbers.setdefault(domain, f"{filing_number}-{len(numbers) + 1}")
    return numbers


def spot_check_due(filing_id: str, rate: float) -> bool:
    """Whether the spot-check picks this filing: reproducible from its id, at ``rate``."""
    draw = int.from_bytes(hashlib.sha256(f"spot-check|{filing_id}".encode()).digest()[:4], "big")
    return draw < rate * 2**32


class Steps:
    def __init__(self, filings: FilingService, documents: DocumentService, archive: ArchiveService,
                 keys: ArchiveKeys, sensitive: SensitiveFields, records: Records, audit: AuditLog,
                 clock: Callable[[], datetime]) -> None:
        self._filings = filings
        self._documents = documents
        self._archive = archive
        self._keys = keys
        self._sensitive = sensitive
        self._records = records
        self._audit = audit
        self._clock = clock
        missing = {t.step for t in workflow.TRANSITIONS.values()} - step_methods()
        if missing:  # a transition without its evidence step would skip its checks
            raise TypeError(f"transitions name steps that do not exist: {sorted(missing)}")
        self.by_action: dict[str, Step] = {
            action: getattr(self, t.step) for action, t in workflow.TRANSITIONS.items()}

    def act(self, principal: Principal, filing_id: str, action: object, params: object,
            expected_version: object = None) -> dict[str, Any]:
        if not isinstance(action, str) or not action:
            raise Invalid("请指定操作", "action is required", field="action")
        if not isinstance(params, Mapping):
            raise Invalid("params 须为 JSON 对象", "params must be a JSON object", field="params")
        if expected_version is not None and (
                not isinstance(expected_version, int) or isinstance(expected_version, bool)):
            raise Invalid("expected_version 须为整数", "expected_version must be an integer",
                          field="expected_version")
        step = self.by_action.get(action)
        return self._filings.act(
            principal, filing_id, action, params, expected_version=expected_version,
            on_apply=None if step is None else lambda body, p: step(principal, body, p))

    # 二.(二)1(2): the provider checks the subject and the contact details by phone, e-mail ...
    @evidence_step
    def pre_verify_pass(self, who: Principal, body: dict[str, Any],
                        params: Mapping[str, Any]) -> None:
        method = params.get("contact_verified_by")
        if method not in CONTACT_CHECK_METHODS:
            raise Invalid("请注明联系方式的核验途径（电话、邮件或短信）",
                          "State how the contact details were verified: phone, email or sms",
                          field="params.contact_verified_by")
        body["pre_verification"] = pre_verification_record(who.subject, self._clock(), str(method))

    def _returned(self, stage: str, who: Principal, body: dict[str, Any],
                  params: Mapping[str, Any]) -> None:
        body.setdefault("returns", []).append(
            return_record(stage, who.subject, self._clock(), _reasons(params)))

    @evidence_step
    def pre_verify_return(self, who: Principal, body: dict[str, Any],
                          params: Mapping[str, Any]) -> None:
        self._returned("pre_verification", who, body, params)

    # 二.(二)2: the province returns a filing to the provider, which verifies it again.
    @evidence_step
    def province_return(self, who: Principal, body: dict[str, Any],
                        params: Mapping[str, Any]) -> None:
        self._returned("review", who, body, params)

    @evidence_step
    def send_back_to_applicant(self, who: Principal, body: dict[str, Any],
                               params: Mapping[str, Any]) -> None:
        self._returned("reverification", who, body, params)

    # 二.(二)1(5): documents or domain holder that do not match are not accepted (不予受理).
    @evidence_step
    def refuse(self, who: Principal, body: dict[str, Any], params: Mapping[str, Any]) -> None:
        body["refusal"] = closing_record(who.subject, self._clock(), _reasons(params), str(body["state"]))

    @evidence_step
    def cancel(self, who: Principal, body: dict[str, Any], params: Mapping[str, Any]) -> None:
        body["cancellation"] = closing_record(who.subject, self._clock(), _reasons(params),
                                              str(body["state"]))

    # 三.(一)5: the provider's routine follow-up (回访).
    @evidence_step
    def follow_up(self, who: Principal, body: dict[str, Any], params: Mapping[str, Any]) -> None:
        outcome = params.get("outcome")
        if outcome not in FOLLOW_UP_OUTCOMES:
            raise Invalid("回访结果须为 confirmed、changed 或 unreachable",
                          "outcome must be confirmed, changed or unreachable", field="outcome")
        body.setdefault("follow_ups", []).append({
            "at": self._clock().isoformat(), "by": who.subject, "outcome": outcome,
            "note": str(params.get("note") or "")[:MAX_TEXT]})

    @evidence_step
    def new_payload(self, who: Principal, body: dict[str, Any],
                    params: Mapping[str, Any]) -> None:
        filing = params.get("filing")
        if not isinstance(filing, Mapping):
            raise Invalid("请提交修改后的完整备案信息", "Send the corrected filing as params.filing",
                          field="params.filing")
        # The consent was recorded at submission; a corrected file that still carries it (the
        # same JSON, edited) gives it again, and it is checked and recorded as given now.
        filing = dict(filing)
        consent = filing.pop("consent", None)
        self._filings.apply_payload(body, validated(filing, extra_errors=consent_errors(consent)
                                                    if consent is not None else None))
        if consent is not None:
            body["consent"] = consent_record(consent, self._clock().isoformat())
        if body["state"] != workflow.RETURNED_TO_APPLICANT:  # a change (变更) restarts retention
            self._archive.extend(str(body["id"]), self._clock())

    # 二.(二)1(3)-(6): in person, with the originals, a photo, the form and the agreement.
    @evidence_step
    def record_on_site(self, who: Principal, body: dict[str, Any],
                       params: Mapping[str, Any]) -> None:
        rules = load_rules()
        errors: list[dict[str, str]] = []
        payload = body["payload"]
        subject_type = rules.subject_type(str(payload["subject_type"]))
        declared = declared_documents(payload)
        checked = params.get("originals")
        checked = checked if isinstance(checked, Mapping) else {}
        for holder, stored_type in declared.items():
            if checked.get(holder) != stored_type:
                errors.append(_error(
                    f"params.originals.{holder}",
                    "须核验与备案信息中所填证件一致的原件",
                    "Check the original of the document named in the filing", "mismatch"))
        checks = params.get("checks")
        checks = checks if isinstance(checks, Mapping) else {}
        received = {str(document.get("document_type")) for document in self._documents.received(str(body["id"]))}
        errors += checklist_errors(rules, declared, received, checks)
        for name, zh, en in (
                ("agreement_accepted", "须签订信息安全管理协议书",
                 "The information security agreement must be signed"),
                ("contract_clause_accepted", "须确认业务合同中的备案信息真实性条款",
                 "The contract clause on truthful filing information must be accepted")):
            if params.get(name) is not True:
                errors.append(_error(f"params.{name}", zh, en, "required"))
        photo = self._photo(body, params.get("photo_document_id"), errors)
        # 二.(二)1(5): the provider enters the access information from its own records; from
        # here on every required field must be there, the access section included.
        access = params.get("access", payload.get("access", {}))
        current = {**{k: v for k, v in payload.items() if k not in SENSITIVE_SECTIONS},
                   **self._revealed(body), "access": access}
        corrected, corrections = self._corrections(rules, current, params.get("corrections"), errors)
        complete: dict[str, Any] = {}
        try:
            complete = validated(corrected, stage="verification")
        except Invalid as invalid:
            errors.extend({**detail, "field": f"params.{detail['field']}"} if detail["field"].startswith("access")
                          else detail for detail in invalid.details)
        _raise_if(errors)
        if any("old" in item for item in corrections):
            # 二.(二)1(6): corrected on site and recorded; ID numbers only masked in the log.
            self._audit.record(who, "filing.correction", f"filing:{body['id']}",
                               details={"corrections": corrections})
        self._filings.apply_payload(body, complete)
        now = self._clock()
        on_site = {
            "verifier": who.subject, "verified_at": china_time(now, "microseconds"),
            "originals": dict(checked), "checks": {key: True for key, value in checks.items() if value is True},
            "photo_document_id": photo, "subject_type": subject_type.id,
            "corrections": corrections,
            "agreement_accepted_at": china_time(now), "contract_clause_accepted_at": china_time(now),
        }
        on_site["form_document_id"] = self._store_form(body, on_site)
        body.setdefault("earlier_on_site", []).extend([body["on_site"]] if body.get("on_site") else [])
        body["on_site"] = on_site

    def _corrections(self, rules: Rules, current: Mapping[str, Any], given: object,
                     errors: list[dict[str, str]]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Apply the verifier's on-site corrections: ``{field, value?, note}``, ``field`` a
        field of the rules for this subject type. What changed is returned with the old and new
        values (ID numbers masked) for the log and the form."""
        corrected = {section: dict(value) if isinstance(value, Mapping) else value
                     for section, value in current.items()}
        if given is None:
            return corrected, []
        if not isinstance(given, list) or not all(
                isinstance(item, Mapping) and isinstance(item.get("field"), str) for item in given):
            errors.append(_error("params.corrections", "修改记录格式有误",
                                 "corrections must be a list of {field, value, note}"))
            return corrected, []
        kind = rules.subject_type(str(current.get("subject_type"))).kind
        known = {field.id: field for field in rules.fields if field.applies(kind)}
        recorded: list[dict[str, Any]] = []
        for index, item in enumerate(given):
            field_id = str(item["field"])[:100]
            entry: dict[str, Any] = {"field": field_id, "note": str(item.get("note", ""))[:MAX_TEXT]}
            if field_id not in known:
                errors.append(_error(f"params.corrections[{index}].field",
                                     f"没有这个字段：{field_id}", f"No such field: {field_id}", "unknown_field"))
                continue
            entry["label"] = known[field_id].label.zh
            if "value" in item:
                section, key = known[field_id].section, known[field_id].key
                old = (corrected.get(section) or {}).get(key)
                corrected.setdefault(section, {})[key] = item["value"]
                shown = mask if field_id in SENSITIVE_FIELDS else (lambda value: value)
                entry.update(old=shown(str(old)) if old is not None else None, new=shown(str(item["value"])))
            recorded.append(entry)
        return corrected, recorded

    def _photo(self, body: Mapping[str, Any], document_id: object,
               errors: list[dict[str, str]]) -> str:
        spec = load_rules().photo
        size = f"{spec.long_side_px}×{spec.short_side_px}"
        problem = (f"须上传现场采集的网站负责人照片（{size} 彩色，含拍照时间和幕布标识）",
                   "Upload the on-site photo of the responsible person first "
                   f"({size} colour, with capture time and curtain marker)")
        document = self._documents.find(str(body["id"]), str(document_id or ""))
        photo = (document or {}).get("photo") or {}
        spec = load_rules().photo
        acceptable = (
            document is not None and document.get("document_type") == FACE_PHOTO
            and document.get("state") == RECEIVED
            and {photo.get("width"), photo.get("height")} == {spec.long_side_px, spec.short_side_px}
            and photo.get("colour") is True and photo.get("captured_at")
            and photo.get("curtain_marker"))
        if not acceptable:
            errors.append(_error("params.photo_document_id", *problem, "missing"))
        return str(document_id or "")

    def _revealed(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """The payload's people with their ID numbers unsealed (for the form and re-checks)."""
        payload = body["payload"]
        out: dict[str, Any] = {}
        for section in SENSITIVE_SECTIONS:
            if isinstance(payload.get(section), Mapping):
                out[section] = dict(payload[section])
        for section, name in SENSITIVE_PATHS:
            stored = out.get(section, {}).get(name)
            if isinstance(stored, Mapping):
                out[section][name] = self._sensitive.reveal(
                    dict(stored), filing_id=str(body["id"]), path=f"{section}.{name}")
        return out

    def _store_form(self, body: Mapping[str, Any], on_site: Mapping[str, Any]) -> str:
        """Render the form in duplicate, encrypt it to the archive key, archive it."""
        payload = {**body["payload"], **self._revealed(body)}
        pdf = render_form(load_rules(), body, payload, on_site)
        context = {"provider": str(body["provider"]), "filing": str(body["id"]),
                   "document_type": VERIFICATION_FORM}
        sealed = io.BytesIO()

        def encrypt(document_id: str) -> bytes:
            crypto.encrypt_stream(io.BytesIO(pdf), sealed, recipients=self._keys.system_recipients(),
                                  context=crypto.Context(document_id=document_id, **context))
            return sealed.getvalue()

        return self._documents.store_generated(body, VERIFICATION_FORM, "application/pdf", encrypt)

    # 二.(二)1(7): the filing goes to the province with the form (paper, fax or scan); the
    # signed papers are archived first (三.(一)4).
    @evidence_step
    def submit_to_province(self, who: Principal, body: dict[str, Any],
                           params: Mapping[str, Any]) -> None:
        rules = load_rules()
        filing_id = str(body["id"])
        form = (body.get("on_site") or {}).get("form_document_id")
        missing = []
        if not form or self._documents.find(filing_id, str(form)) is None:
            missing.append(_error("on_site.form_document_id", "缺少网站备案信息真实性核验单",
                                  "The verification form is missing", "missing"))
        papers = self._received_since(filing_id, str((body.get("on_site") or {}).get("verified_at", "")))
        for paper in rules.required_evidence("submit_to_province"):
            if paper.id not in papers:
                missing.append(_error(f"documents.{paper.id}", f"尚未上传：{paper.name.zh}",
                                      f"Not uploaded yet: {paper.name.en}", "missing"))
        if missing:
            raise Conflict("签字盖章的材料未全部归档，不能提交通信管理局",
                           "The signed papers are not all archived; the filing cannot go to the province",
                           field="documents", details=missing)
        body["province_submission"] = province_submission_record(
            who.subject, self._clock(), str(form),
            {kind: papers[kind] for kind in (p.id for p in rules.required_evidence("submit_to_province"))})

    def _received_since(self, filing_id: str, verified_at: str) -> dict[str, str]:
        """The received documents by type (the latest of each) uploaded after the on-site step:
        papers signed at an earlier verification do not count for a new one."""
        since = datetime.fromisoformat(verified_at) if verified_at else None
        found: dict[str, str] = {}
        for document in sorted(self._documents.received(filing_id), key=lambda d: str(d["received_at"])):
            if since is None or datetime.fromisoformat(str(document["received_at"])) >= since:
                found[str(document["document_type"])] = str(document["id"])
        return found

    # 二.(二)2 and 三.(二)1: the province reviews the key items one by one, checks the form and
    # spot-checks the scans, then issues the filing number; each website gets a -n suffix.
    @evidence_step
    def approve(self, who: Principal, body: dict[str, Any], params: Mapping[str, Any]) -> None:
        conflicts = self._filings.domain_conflicts(body)
        if conflicts:
            raise Conflict("网站域名与其他有效备案冲突，冲突解决前不能审核通过",
                           "A domain of this filing is in another live filing; it cannot be approved "
                           "until the conflict is resolved", field="website.domains",
                           details=[_error(f"website.domains[{index}]", "该域名已在其他有效备案中",
                                           "This domain is in another live filing", "domain_conflict")
                                    for index in conflicts])
        trail = self._review_trail(who, body, params)
        body["filing_number"] = body.get("filing_number") or self._next_filing_number(str(body["province"]))
        body["website_numbers"] = website_numbers(str(body["filing_number"]),
                                                  body["payload"].get("website", {}).get("domains", []),
                                                  body.get("website_numbers", {}))
        body["review"] = review_record(who.subject, self._clock(), trail)
        # Archived on approval: its records are kept at least the retention period from now.
        self._archive.extend(str(body["id"]), self._clock())

    def _review_trail(self, who: Principal, body: Mapping[str, Any],
                      params: Mapping[str, Any]) -> dict[str, Any]:
        rules = load_rules()
        filing_id = str(body["id"])
        missing: list[dict[str, str]] = []
        checked = params.get("checked")
        checked = checked if isinstance(checked, Mapping) else {}
        kind = rules.subject_type(str(body["payload"]["subject_type"])).kind
        items = {}
        for item in rules.review.items_for(kind):
            note = checked.get(item.id)
            if not isinstance(note, str) or not note.strip():
                missing.append(_error(f"params.checked.{item.id}", f"请记录审核了什么：{item.name.zh}",
                                      f"Record what was checked: {item.name.en}", "unchecked"))
            else:
                items[item.id] = note.strip()[:MAX_TEXT]
        form = str((body.get("province_submission") or {}).get("form_document_id") or "")
        opened = self._opened_by(who, filing_id, form)
        if opened is None:
            missing.append(_error("review.form_opened", "审核人尚未调阅接入服务单位提交的核验单",
                                  "The reviewer has not opened the verification form the provider "
                                  "submitted", "form_not_opened"))
        due = spot_check_due(filing_id, rules.review.spot_check.rate)
        spot: dict[str, Any] = {"due": due, "rate": rules.review.spot_check.rate, "documents": {}}
        if due:
            wanted = self._spot_check_documents(body)
            for document_type, document_id in wanted.items():
                seq = self._opened_by(who, filing_id, document_id)
                if seq is None:
                    missing.append(_error(f"review.spot_check.{document_type}",
                                          "本备案被抽中抽查：请调阅照片和证件扫描件",
                                          "This filing was picked for the spot-check: open the photo "
                                          "and the identity scans", "spot_check"))
                spot["documents"][document_type] = {"document_id": document_id, "audit_seq": seq}
        if missing:
            raise Conflict("审核记录不完整，不能审核通过", "The review trail is incomplete; the filing "
                           "cannot be approved", field="review", details=missing)
        return {"checked": items, "form_document_id": form, "form_audit_seq": opened, "spot_check": spot}

    def _spot_check_documents(self, body: Mapping[str, Any]) -> dict[str, str]:
        """The face photo and the latest received scan of each declared identity document."""
        declared = set(declared_documents(body["payload"]).values())
        wanted = {FACE_PHOTO: str((body.get("on_site") or {}).get("photo_document_id") or "")}
        for document in sorted(self._documents.received(str(body["id"])), key=lambda d: str(d["received_at"])):
            if document["document_type"] in declared:
                wanted[str(document["document_type"])] = str(document["id"])
        for kind in declared - set(wanted):
            wanted[kind] = ""
        return wanted

    def _opened_by(self, who: Principal, filing_id: str, document_id: str) -> int | None:
        """The audit sequence number of ``who``'s key release for the document, if the log
        shows one: the document records where to look, the log is what proves it."""
        document = self._documents.find(filing_id, document_id) if document_id else None
        for release in reversed((document or {}).get("releases", [])):
            if release.get("by") != who.subject:
                continue
            seq = int(release["audit_seq"])
            entries = self._audit.entries(seq, seq)
            if entries and entries[0]["action"] == "document.key_release" and (
                    entries[0]["object"] == f"document:{filing_id}/{document_id}"
                    and entries[0]["actor"]["subject"] == who.subject):
                return seq
        return None

    def _next_filing_number(self, province: str) -> str:
        year = self._clock().year
        key = f"filing-number#{province}#{year}"
        for _ in range(50):
            current = self._records.get(COUNTER, key)
            value = (int(current.body["value"]) if current else 0) + 1
            try:
                self._records.save(Record(COUNTER, key, {"value": value},
                                          current.version if current else 0))
            except VersionConflict:
                continue  # another reviewer took this number: take the next
            return filing_numbers.generate(province, year, value)
        raise Conflict("备案号分配繁忙，请重试", "Filing numbers are busy; try again")
