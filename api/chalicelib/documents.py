"""Documents: upload slots, the envelope check on arrival, and key release.

Document bytes never pass through the API. The client encrypts to the archive's
public key, uploads ciphertext to a presigned slot, and asks the API to check it:
the API reads only the envelope header. To read a document, staff state a purpose;
the release is audited first (no audit, no key), then that one document's data key
is unwrapped and returned wrapped to the caller's own public key.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from . import policy, workflow
from .audit import AuditLog
from .auth import Principal
from .config import Settings
from .deadlines import china_time
from .errors import Conflict, Forbidden, Invalid, TooLarge, not_found
from .filetypes import ACCEPTED
from .filings import FilingService
from .keyring import (
    HEADER_READ_BYTES,
    ArchiveKeys,
    EnvelopeRejected,
    ciphertext_bound,
    requester_key,
)
from .ports import BadUpload, BlobInfo, BlobMissing, Blobs, IndexEntry, Record, Records, VersionConflict
from .purposes import stated_purpose
from .rules import load_rules

log = logging.getLogger("beian.documents")
DOCUMENT = "document"
AWAITING_UPLOAD = "awaiting_upload"
RECEIVED = "received"
UNACCEPTED_TYPE = ("仅接受 PDF、JPEG、PNG 文件（按文件内容判断）",
                   "Only PDF, JPEG and PNG files are accepted (judged by content)")
EMPTY_FILE = ("文件是空的，请选择原件的扫描件或照片", "The file is empty; choose the scan or photo of the original")
# The on-site photo (evidence in the rules, 二.(二)1(4)) carries what the verifier's client
# checked; the verification form is made by the system, never uploaded.
FACE_PHOTO = "face_photo"
VERIFICATION_FORM = "verification_form"


def uploadable_types() -> set[str]:
    """Identity documents and evidence, both from the rules file."""
    rules = load_rules()
    return {document.id for document in rules.documents} | {evidence.id for evidence in rules.evidence}


def uploadable_for(subject_type: str) -> set[str]:
    """What a filing of ``subject_type`` takes: the identity documents the rules list for it
    (either nationality: the holder's is in the filing, and may be corrected) and evidence."""
    rules = load_rules()
    documents = {document for nationality in ("cn", "foreign")
                 for options in rules.documents_for(subject_type, nationality) for document in options.ids()}
    return documents | {evidence.id for evidence in rules.evidence}


def retain_until(start: datetime) -> datetime:
    """At least the rules' retention period (三.(一)4), with a margin for leap days."""
    years = load_rules().deadline("retention").amount
    return start + timedelta(days=365 * years + years // 4 + 1)
DOWNLOAD_SECONDS = 300
# A browser uploads in parts of this size (S3's smallest part but the last), so that it never
# holds more than a few parts of ciphertext: constant memory whatever the file's size.
UPLOAD_PART_BYTES = 5 * 1024 * 1024
SLOTS_EXAMINED = 1000  # a filing's documents read to count them: the cap, and slots that expired


def retention_entry(until: datetime) -> IndexEntry:
    """Where the retention sweep finds a document: by its retain-until, oldest first."""
    return IndexEntry("retain_until", DOCUMENT, until.isoformat())


def _zoned(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def new_document_id() -> str:
    return f"D{secrets.token_hex(6).upper()}"


def document_key(filing_id: str, document_id: str) -> str:
    return f"{filing_id}/{document_id}"


class DocumentService:
    def __init__(self, settings: Settings, records: Records, blobs: Blobs, keys: ArchiveKeys,
                 filings: FilingService, audit: AuditLog, clock: Callable[[], datetime]) -> None:
        self._settings = settings
        self._records = records
        self._blobs = blobs
        self._keys = keys
        self._filings = filings
        self._audit = audit
        self._clock = clock

    def request_upload(self, principal: Principal, filing_id: str,
                       request: Mapping[str, Any]) -> dict[str, Any]:
        """Register a document and return a slot to upload its ciphertext to."""
        filing = self._filings.load_for(principal, filing_id, "upload")
        if not filing.body.get("consent", {}).get("sensitive_processing"):
            raise Conflict("上传证件前须同意处理敏感个人信息",
                           "Consent to processing sensitive personal information is required "
                           "before any document is accepted", field="consent")
        document_type = request.get("document_type")
        if document_type not in uploadable_types():
            raise Invalid("不支持的材料类型", "Unknown document type", field="document_type")
        subject_type = str(filing.body.get("subject_type") or filing.body["payload"]["subject_type"])
        if document_type not in uploadable_for(subject_type):
            kind = load_rules().subject_type(subject_type).name
            raise Invalid(f"规则未列出{kind.zh}可用此证件，请按清单选择证件类型",
                          f"The rules do not list this document for a subject of type {kind.en}; "
                          "choose one from the checklist", field="document_type")
        evidence = {item.id: item for item in load_rules().evidence}.get(str(document_type))
        if evidence is not None and principal.role not in evidence.uploaded_by:
            raise Forbidden(f"当前角色不能上传{evidence.name.zh}",
                            f"The role {principal.role} may not upload this: {evidence.name.en}")
        if evidence is not None and evidence.required_at and (
                filing.body["state"] not in workflow.TRANSITIONS[evidence.required_at].sources):
            raise Conflict(f"{evidence.name.zh}须在当面核验之后、提交通信管理局之前上传",
                           f"{evidence.name.en}: uploaded after the on-site verification, before the "
                           "filing goes to the province", field="document_type")
        size = request.get("size")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise Invalid("文件大小须为非负整数（字节）", "size must be a whole number of bytes",
                          field="size")
        if size == 0:  # said before its type, which an empty file cannot show
            raise Invalid(*EMPTY_FILE, field="size")
        if size > self._settings.max_document_bytes:
            limit_mb = self._settings.max_document_bytes // (1024 * 1024)
            raise TooLarge(f"文件过大，单个文件不得超过 {limit_mb} MB",
                           f"The file is too large; the limit is {limit_mb} MB", field="size")
        media_type = request.get("media_type")
        if media_type not in ACCEPTED:
            raise Invalid(*UNACCEPTED_TYPE, field="media_type")
        if self._counted(filing_id) >= self._settings.max_documents_per_filing:
            raise TooLarge(f"每个备案最多上传 {self._settings.max_documents_per_filing} 份材料",
                           f"A filing takes at most {self._settings.max_documents_per_filing} documents",
                           field="documents")
        photo = self._photo_metadata(document_type, request.get("photo"), self._clock())
        # The archive key first: it is made before any document can depend on it (vault.py).
        recipients = [self._keys.public_key_info()]
        document_id = new_document_id()
        staged_key = f"documents/{filing_id}/{document_id}"
        max_bytes = ciphertext_bound(size)
        slot = self._blobs.upload_slot(staged_key, max_bytes=max_bytes,
                                       expires_in=self._settings.upload_slot_seconds)
        parts = self._blobs.upload_parts(staged_key, max_bytes=max_bytes, part_size=UPLOAD_PART_BYTES,
                                         expires_in=self._settings.upload_slot_seconds)
        now = self._clock()
        body = {
            "id": document_id, "filing": filing_id, "document_type": document_type,
            "state": AWAITING_UPLOAD, "declared_size": size, "staged_key": staged_key,
            "created_at": now.isoformat(), "uploaded_by": principal.subject,
            "media_type": media_type, "upload_id": parts.upload_id,
            # On the archive's clock, as the expiry is judged (the slot's own is the storage's).
            "slot_expires_at": (now + timedelta(seconds=self._settings.upload_slot_seconds)).isoformat(),
        }
        if photo:
            body["photo"] = photo
        self._records.save(Record(DOCUMENT, document_key(filing_id, document_id), body,
                                  indexes=(IndexEntry("documents", filing_id, now.isoformat()),)))
        return {
            "document": self._present(body),
            "upload": {"url": slot.url, "fields": slot.fields, "max_bytes": slot.max_bytes,
                       "expires_at": slot.expires_at.isoformat(),
                       # Or the same slot in parts: PUT each part to its URL, in any order.
                       "parts": {"part_size": parts.part_size, "urls": list(parts.urls)}},
            "envelope": {"context": self.context(filing.body, body),
                         "recipients": recipients},
        }

    def _counted(self, filing_id: str) -> int:
        """Documents that count toward the cap: all but slots that expired unused. Those are
        removed here (nothing was uploaded to them, so nothing is lost)."""
        counted = 0
        now = self._clock()
        for record in self._records.query("documents", filing_id, limit=SLOTS_EXAMINED).records:
            if record.kind != DOCUMENT:
                continue
            if record.body.get("state") == AWAITING_UPLOAD and self._expired_unused(record.body, now):
                self._records.delete(record)
                continue
            counted += 1
        return counted

    def _expired_unused(self, body: Mapping[str, Any], now: datetime) -> bool:
        expires = body.get("slot_expires_at")
        if not isinstance(expires, str) or datetime.fromisoformat(expires) > now:
            return False
        try:
            self._blobs.read_staged(str(body["staged_key"]), 1)
        except BlobMissing:
            return True
        return False  # uploaded in time: it can still be completed

    def cancel_upload(self, principal: Principal, filing_id: str, document_id: str) -> None:
        """The applicant (or verifier) withdraws a slot not yet completed; it stops counting."""
        self._filings.load_for(principal, filing_id, "upload")
        record = self._load(filing_id, document_id)
        if record.body["state"] != AWAITING_UPLOAD:
            raise Conflict("只有尚未上传完成的材料可以撤回", "Only a document still awaiting its upload can be "
                           "withdrawn", field="state")
        self._audit.record(principal, "document.cancel", f"document:{filing_id}/{document_id}")
        self._blobs.delete_staged(str(record.body["staged_key"]))
        self._records.delete(record)

    @staticmethod
    def _photo_metadata(document_type: object, photo: object, now: datetime) -> dict[str, Any] | None:
        """The on-site photo comes with what the verifier's client checked and stamped; its
        capture time (with its zone) and the time it is handed in are both kept, and a gap
        beyond the rules' tolerance is refused."""
        if document_type != FACE_PHOTO:
            return None
        spec = load_rules().photo
        if not isinstance(photo, Mapping) or not (
                {photo.get("width"), photo.get("height")} == {spec.long_side_px, spec.short_side_px}
                and photo.get("colour") is True and isinstance(photo.get("captured_at"), str)
                and isinstance(photo.get("curtain_marker"), str) and photo["curtain_marker"]):
            size = f"{spec.long_side_px}×{spec.short_side_px}"
            raise Invalid(f"照片须为 {size} 像素彩色照片，并注明拍照时间和幕布标识",
                          f"The photo must be {size} colour, with its capture time and curtain "
                          "marker", field="photo")
        captured = _zoned(str(photo["captured_at"]))
        tolerance = load_rules().photo_upload
        if captured is None:
            raise Invalid("拍照时间须带时区（如 2026-12-01 09:30:00+08:00）",
                          "The capture time must carry its zone (e.g. 2026-12-01 09:30:00+08:00)",
                          field="photo.captured_at")
        late = now - captured > timedelta(minutes=tolerance.max_delay_minutes)
        early = captured - now > timedelta(minutes=tolerance.max_clock_skew_minutes)
        if late or early:
            raise Invalid(f"照片须在现场拍摄后 {tolerance.max_delay_minutes} 分钟内上传（拍照时间 "
                          f"{china_time(captured)}，现在 {china_time(now)}）",
                          f"The photo must be uploaded within {tolerance.max_delay_minutes} minutes of "
                          f"being taken on site (taken {china_time(captured)}, now {china_time(now)})",
                          field="photo.captured_at")
        return {"width": photo["width"], "height": photo["height"], "colour": True,
                "captured_at": china_time(captured), "uploaded_at": china_time(now),
                "curtain_marker": str(photo["curtain_marker"])[:60]}

    def complete_upload(self, principal: Principal, filing_id: str,
                        document_id: str) -> dict[str, Any]:
        """Check the uploaded envelope's header and move it into the archive."""
        filing = self._filings.load_for(principal, filing_id, "upload")
        record = self._load(filing_id, document_id)
        if record.body["state"] == RECEIVED:
            return self._present(record.body)
        key = str(record.body["staged_key"])
        # A retry after promote succeeded and the save below failed: the envelope is archived.
        archived = self._blobs.info(key)
        upload_id = record.body.get("upload_id")  # none in slots made before uploads in parts
        if not archived and upload_id:
            try:
                self._blobs.complete_parts(key, str(upload_id),
                                           max_bytes=ciphertext_bound(int(record.body["declared_size"])))
            except BadUpload as error:
                raise Invalid("上传的分段不完整或超过申报大小，请重新上传",
                              "The uploaded parts are incomplete or larger than declared; upload again",
                              field="upload") from error
        try:
            size, head = self._archived_head(key, archived) if archived else self._blobs.read_staged(
                key, HEADER_READ_BYTES)
        except BlobMissing as error:
            raise Conflict("尚未收到文件，请重新上传", "Nothing was uploaded yet; upload the file again",
                           field="upload") from error
        body = dict(record.body)
        try:
            header = self._keys.check_upload(head, size, self.context(filing.body, body),
                                             int(body["declared_size"]))
        except EnvelopeRejected as rejected:
            raise Invalid(f"文件未按要求加密：{rejected.message_zh}",
                          f"The file is not a valid envelope: {rejected.message_en}",
                          field="upload") from rejected
        now = self._clock()
        if archived and archived.retain_until:
            info, keep_until = archived, archived.retain_until
        else:
            keep_until = retain_until(now)
            info = self._blobs.promote(key, retain_until=keep_until)
        self._hold_if_held(filing.body, info.key)
        body.update(state=RECEIVED, size=size, received_at=now.isoformat(), archive_key=info.key,
                    retain_until=keep_until.isoformat(), envelope=header)
        saved = self._records.save(Record(DOCUMENT, record.key, body, record.version,
                                          (*record.indexes, retention_entry(keep_until))))
        return self._present(saved.body)

    def _archived_head(self, key: str, info: BlobInfo) -> tuple[int, bytes]:
        with self._blobs.open(key) as stream:
            return info.size, stream.read(HEADER_READ_BYTES)

    def list_for(self, principal: Principal, filing_id: str) -> list[dict[str, Any]]:
        self._filings.load_for(principal, filing_id)
        page = self._records.query("documents", filing_id, limit=1000)
        # An index row added by hand must not list another filing's document here.
        return [self._present(record.body) for record in page.records
                if record.kind == DOCUMENT and record.body.get("filing") == filing_id]

    def release_key(self, principal: Principal, filing_id: str, document_id: str,
                    request: Mapping[str, Any]) -> dict[str, Any]:
        filing = self._filings.load(filing_id)
        policy.require(principal, "release_key", filing.body)
        stated = stated_purpose(request)
        requester = requester_key(request.get("public_key"))
        record = self._load(filing_id, document_id)
        if record.body["state"] != RECEIVED:
            raise Conflict("该材料尚未收妥", "The document has not been received", field="state")
        entry = self._audit.record(principal, "document.key_release",
                                   f"document:{filing_id}/{document_id}", purpose=stated.purpose,
                                   details=stated.audited())
        self._note_release(record, principal, int(entry["seq"]))
        try:
            with self._blobs.open(record.body["archive_key"]) as stream:
                wrapped = self._keys.release(stream.read(HEADER_READ_BYTES), requester)
        except BlobMissing as missing:  # a loss, not an outage: retrying will not help
            log.error("archived envelope of document %s/%s is missing", filing_id, document_id)
            raise Conflict("该材料的归档加密文件缺失，请告知合规负责人（beian reconcile 会标出）",
                           "This document's archived envelope is missing: tell the compliance officer "
                           "(beian reconcile flags it)", field="document") from missing
        return {
            "document": self._present(record.body),
            "wrapped_key": wrapped,
            "context": self.context(filing.body, record.body),
            "download_url": self._blobs.download_url(record.body["archive_key"],
                                                     expires_in=DOWNLOAD_SECONDS),
        }

    def _note_release(self, record: Record, principal: Principal, seq: int) -> None:
        """Where the audit log shows who opened the document: the review trail looks there."""
        for _ in range(5):
            body = dict(record.body)
            body["releases"] = [*body.get("releases", []), {"by": principal.subject, "role": principal.role,
                                                            "audit_seq": seq}][-50:]
            try:
                self._records.save(Record(DOCUMENT, record.key, body, record.version, record.indexes))
                return
            except VersionConflict:
                record = self._load(str(body["filing"]), str(body["id"]))
        log.warning("release of document %s not noted on its record", record.key)

    def received(self, filing_id: str) -> list[Mapping[str, Any]]:
        """The filing's documents that have arrived in the archive."""
        page = self._records.query("documents", filing_id, limit=1000)
        return [record.body for record in page.records
                if record.kind == DOCUMENT and record.body.get("filing") == filing_id
                and record.body.get("state") == RECEIVED]

    def find(self, filing_id: str, document_id: str) -> Mapping[str, Any] | None:
        record = self._records.get(DOCUMENT, document_key(filing_id, document_id))
        return None if record is None else record.body

    def store_generated(self, filing: Mapping[str, Any], document_type: str, media_type: str,
                        encrypt: Callable[[str], bytes]) -> str:
        """Archive a document the system made (already encrypted by ``encrypt(document_id)``)."""
        document_id = new_document_id()
        now = self._clock()
        keep_until = retain_until(now)
        info = self._blobs.put(f"documents/{filing['id']}/{document_id}", encrypt(document_id),
                               retain_until=keep_until)
        self._hold_if_held(filing, info.key)
        body = {"id": document_id, "filing": filing["id"], "document_type": document_type,
                "state": RECEIVED, "size": info.size, "created_at": now.isoformat(),
                "received_at": now.isoformat(), "uploaded_by": "system", "archive_key": info.key,
                "media_type": media_type,
                "retain_until": keep_until.isoformat()}
        self._records.save(Record(DOCUMENT, document_key(str(filing["id"]), document_id), body,
                                  indexes=(IndexEntry("documents", str(filing["id"]), now.isoformat()),
                                           retention_entry(keep_until))))
        return document_id

    def _hold_if_held(self, filing: Mapping[str, Any], archive_key: str) -> None:
        """A legal hold covers the filing's documents, those that arrive after it too."""
        if filing.get("holds"):
            self._blobs.set_legal_hold(archive_key, True)

    def _load(self, filing_id: str, document_id: str) -> Record:
        record = self._records.get(DOCUMENT, document_key(filing_id, document_id))
        if record is None:
            raise not_found("材料", "Document")
        return record

    @staticmethod
    def context(filing: Mapping[str, Any], document: Mapping[str, Any]) -> dict[str, str]:
        return {"provider": str(filing["provider"]), "filing": str(filing["id"]),
                "document_id": str(document["id"]), "document_type": str(document["document_type"])}

    @staticmethod
    def _present(body: Mapping[str, Any]) -> dict[str, Any]:
        hidden = ("staged_key", "archive_key", "releases", "upload_id")  # who opened it is the audit log's to show
        return {name: value for name, value in body.items() if name not in hidden}
