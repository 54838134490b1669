"""What each workflow step checks and records before the filing moves on (notice 二).

``FilingService.act`` moves the state; the step named by the action first checks its
evidence (every problem at once) and writes it into the filing. A step that finds a
problem raises Invalid and nothing is saved.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import crypto

from . import workflow
from .archive import ArchiveService
from .auth import Principal
from .consent import consent_errors, consent_record
from .documents import FACE_PHOTO, RECEIVED, VERIFICATION_FORM, DocumentService
from .errors import Conflict, Invalid
from .filings import SENSITIVE_PATHS, FilingService, validated
from .forms import render_form
from .keyring import ArchiveKeys
from .ports import Record, Records, VersionConflict
from .rules import load_rules
from .sensitive import SensitiveFields
from .validators import filing_number as filing_numbers

Step = Callable[[Principal, dict[str, Any], Mapping[str, Any]], None]
COUNTER = "counter"
CONTACT_CHECK_METHODS = ("phone", "email", "sms")
MAX_TEXT = 500
SENSITIVE_SECTIONS = tuple(section for section, _ in SENSITIVE_PATHS)


def _error(field: str, zh: str, en: str, code: str = "invalid") -> dict[str, str]:
    return {"field": field, "code": code, "message_zh": zh, "message_en": en}


def _raise_if(errors: list[dict[str, str]]) -> None:
    if errors:
        raise Invalid("提交的核验信息有误，请逐项修改", "The step's evidence has errors; correct each one",
                      details=errors)


def _reasons(params: Mapping[str, Any]) -> list[str]:
    reasons = params.get("reasons")
    if not isinstance(reasons, list) or not reasons or not all(
            isinstance(reason, str) and reason.strip() for reason in reasons):
        raise Invalid("请逐条写明退回原因", "List the reasons for returning the filing",
                      field="params.reasons")
    return [reason.strip()[:MAX_TEXT] for reason in reasons]


class Steps:
    def __init__(self, filings: FilingService, documents: DocumentService, archive: ArchiveService,
                 keys: ArchiveKeys, sensitive: SensitiveFields, records: Records,
                 clock: Callable[[], datetime]) -> None:
        self._filings = filings
        self._documents = documents
        self._archive = archive
        self._keys = keys
        self._sensitive = sensitive
        self._records = records
        self._clock = clock
        self.by_action: dict[str, Step] = {
            "pre_verify_pass": self.pre_verify_pass,
            "pre_verify_return": self.returned("pre_verification"),
            "resubmit": self.new_payload,
            "record_on_site": self.record_on_site,
            "submit_to_province": self.submit_to_province,
            "approve": self.approve,
            "return_to_provider": self.returned("review"),
            "request_change": self.new_payload,
            "cancel": self.cancel,
        }

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

    # 二.1(2): the provider checks the subject and the contact details by phone, e-mail ...
    def pre_verify_pass(self, who: Principal, body: dict[str, Any],
                        params: Mapping[str, Any]) -> None:
        method = params.get("contact_verified_by")
        if method not in CONTACT_CHECK_METHODS:
            raise Invalid("请注明联系方式的核验途径（电话、邮件或短信）",
                          "State how the contact details were verified: phone, email or sms",
                          field="params.contact_verified_by")
        body["pre_verification"] = {"by": who.subject, "at": self._clock().isoformat(),
                                    "contact_verified_by": method}

    def returned(self, stage: str) -> Step:
        def record(who: Principal, body: dict[str, Any], params: Mapping[str, Any]) -> None:
            body.setdefault("returns", []).append({
                "stage": stage, "by": who.subject, "at": self._clock().isoformat(),
                "reasons": _reasons(params)})
        return record

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

    def cancel(self, who: Principal, body: dict[str, Any], params: Mapping[str, Any]) -> None:
        body["cancellation"] = {"by": who.subject, "at": self._clock().isoformat(),
                                "reasons": _reasons(params)}

    # 二.1(3)-(6): in person, with the originals, a photo, the form and the agreement.
    def record_on_site(self, who: Principal, body: dict[str, Any],
                       params: Mapping[str, Any]) -> None:
        rules = load_rules()
        errors: list[dict[str, str]] = []
        payload = body["payload"]
        subject_type = rules.subject_type(str(payload["subject_type"]))
        checked = params.get("originals")
        checked = checked if isinstance(checked, Mapping) else {}
        for holder, stored_type in self._declared_documents(payload).items():
            if checked.get(holder) != stored_type:
                errors.append(_error(
                    f"params.originals.{holder}",
                    "须核验与备案信息中所填证件一致的原件",
                    "Check the original of the document named in the filing", "mismatch"))
        checks = params.get("checks")
        checks = checks if isinstance(checks, Mapping) else {}
        for section in rules.verification_form.sections:
            for check in section.checks:
                if checks.get(check.id) is not True:
                    errors.append(_error(f"params.checks.{check.id}",
                                         f"未确认：{check.name.zh}", f"Not confirmed: {check.name.en}",
                                         "unconfirmed"))
        for name, zh, en in (
                ("agreement_accepted", "须签订信息安全管理协议书",
                 "The information security agreement must be signed"),
                ("contract_clause_accepted", "须确认业务合同中的备案信息真实性条款",
                 "The contract clause on truthful filing information must be accepted")):
            if params.get(name) is not True:
                errors.append(_error(f"params.{name}", zh, en, "required"))
        photo = self._photo(body, params.get("photo_document_id"), errors)
        corrections = params.get("corrections") or []
        if not isinstance(corrections, list) or not all(
                isinstance(item, Mapping) and isinstance(item.get("field"), str)
                for item in corrections):
            errors.append(_error("params.corrections", "修改记录格式有误",
                                 "corrections must be a list of {field, note}"))
            corrections = []
        # 二.(二)1(5): the provider enters the access information from its own records; from
        # here on every required field must be there, the access section included.
        access = params.get("access", payload.get("access", {}))
        try:
            complete = validated({**{k: v for k, v in payload.items() if k not in SENSITIVE_SECTIONS},
                                  **self._revealed(body), "access": access}, stage="verification")
        except Invalid as invalid:
            errors.extend({**detail, "field": f"params.{detail['field']}"} if detail["field"].startswith("access")
                          else detail for detail in invalid.details)
        _raise_if(errors)
        self._filings.apply_payload(body, complete)
        now = self._clock()
        on_site = {
            "verifier": who.subject, "verified_at": now.isoformat(timespec="seconds"),
            "originals": dict(checked), "checks": {key: True for key in checks},
            "photo_document_id": photo, "subject_type": subject_type.id,
            "corrections": [{"field": str(item["field"])[:100],
                             "note": str(item.get("note", ""))[:MAX_TEXT]} for item in corrections],
            "agreement_accepted_at": now.isoformat(), "contract_clause_accepted_at": now.isoformat(),
        }
        on_site["form_document_id"] = self._store_form(body, on_site)
        body["on_site"] = on_site

    def _declared_documents(self, payload: Mapping[str, Any]) -> dict[str, str]:
        return {holder: str(payload[holder]["id_type"])
                for holder in ("subject", "responsible_person")
                if isinstance(payload.get(holder), Mapping) and payload[holder].get("id_type")}

    def _photo(self, body: Mapping[str, Any], document_id: object,
               errors: list[dict[str, str]]) -> str:
        problem = ("须上传现场采集的网站负责人照片（800×600 彩色，含拍照时间和幕布标识）",
                   "Upload the on-site photo of the responsible person first "
                   "(800x600 colour, with capture time and curtain marker)")
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

    def submit_to_province(self, who: Principal, body: dict[str, Any],
                           params: Mapping[str, Any]) -> None:
        form = (body.get("on_site") or {}).get("form_document_id")
        if not form or self._documents.find(str(body["id"]), str(form)) is None:
            raise Conflict("缺少网站备案信息真实性核验单", "The verification form is missing",
                           field="on_site")
        body["submission"] = {"by": who.subject, "at": self._clock().isoformat(),
                              "form_document_id": form}

    # 二.2: the province issues the filing number; each website gets a -n suffix.
    def approve(self, who: Principal, body: dict[str, Any], params: Mapping[str, Any]) -> None:
        if not body.get("filing_number"):
            body["filing_number"] = self._next_filing_number(str(body["province"]))
        numbers = dict(body.get("website_numbers", {}))
        for domain in body["payload"].get("website", {}).get("domains", []):
            numbers.setdefault(domain, f"{body['filing_number']}-{len(numbers) + 1}")
        body["website_numbers"] = numbers
        body["review"] = {"by": who.subject, "at": self._clock().isoformat(), "decision": "approved"}
        # Archived on approval: its records are kept at least the retention period from now.
        self._archive.extend(str(body["id"]), self._clock())

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
