"""The applicant's separate consent to processing sensitive personal information.

ID documents and face photos are sensitive personal information; the applicant
consents to their processing separately from everything else, against a named
version of the privacy notice, before any document is accepted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PRIVACY_NOTICE_VERSION = "2026-11"


def consent_errors(consent: object) -> list[dict[str, str]]:
    """Field errors for a consent object (empty when it is valid)."""
    if not isinstance(consent, Mapping):
        return [_error("consent", "required", "请单独同意处理敏感个人信息（身份证件、照片）",
                       "Give separate consent to processing sensitive personal information "
                       "(ID documents, photos)")]
    errors = []
    if consent.get("sensitive_processing") is not True:
        errors.append(_error("consent.sensitive_processing", "required",
                             "须勾选同意处理敏感个人信息",
                             "Consent to processing sensitive personal information is required"))
    if consent.get("privacy_notice_version") != PRIVACY_NOTICE_VERSION:
        errors.append(_error("consent.privacy_notice_version", "outdated",
                             f"请阅读并同意当前版本（{PRIVACY_NOTICE_VERSION}）的隐私与留存告知",
                             f"Read and accept the current privacy notice "
                             f"(version {PRIVACY_NOTICE_VERSION})"))
    return errors


def consent_record(consent: Mapping[str, Any], recorded_at: str) -> dict[str, Any]:
    return {"sensitive_processing": True, "privacy_notice_version": PRIVACY_NOTICE_VERSION,
            "recorded_at": recorded_at}


def _error(field: str, code: str, zh: str, en: str) -> dict[str, str]:
    return {"field": field, "code": code, "message_zh": zh, "message_en": en}
