"""Errors the domain raises; the API maps each kind to one HTTP status in one place.

Every error carries a message in Chinese and English, because a person reads it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class DomainError(Exception):
    code = "error"

    def __init__(self, message_zh: str, message_en: str, *, field: str | None = None,
                 details: Sequence[dict[str, Any]] = ()) -> None:
        super().__init__(message_en)
        self.message_zh = message_zh
        self.message_en = message_en
        self.field = field
        self.details = list(details)

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "code": self.code,
            "message_zh": self.message_zh,
            "message_en": self.message_en,
        }
        if self.field:
            body["field"] = self.field
        if self.details:
            body["errors"] = self.details
        return body


class Invalid(DomainError):
    code = "invalid"


class Unauthorized(DomainError):
    code = "unauthorized"


class Forbidden(DomainError):
    code = "forbidden"


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    """A transition not allowed from the current state, or a lost optimistic-concurrency race."""

    code = "conflict"


def invalid_cursor() -> Invalid:
    return Invalid("分页游标无效，请从第一页重新查询",
                   "The cursor is not one this query handed out; start again from the first page", field="cursor")


class RetentionLocked(DomainError):
    """Deleting or overwriting before retain-until, or disposing of a held record."""

    code = "retention_locked"


class TooLarge(DomainError):
    code = "too_large"


class UnsupportedMediaType(DomainError):
    """A body sent as something other than JSON to an operation that takes JSON."""

    code = "unsupported_media_type"


class Unavailable(DomainError):
    """A dependency failed (e.g. the audit log): nothing was released or changed."""

    code = "unavailable"


def not_found(what_zh: str, what_en: str) -> NotFound:
    return NotFound(f"{what_zh}不存在", f"{what_en} not found")
