"""Errors the domain raises; the API maps each kind to one HTTP status in one place.

Every error carries a message in Chinese and English, because a person reads it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class DomainError(Exception):
    code = "error"

    def __init_subclass__(cls, *, code: str, **kwargs: Any) -> None:
        """Each kind names its ``code`` in its class line (the API maps codes to statuses)."""
        super().__init_subclass__(**kwargs)
        cls.code = code

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


class Invalid(DomainError, code="invalid"):
    """Input that breaks a rule of the notice or of the provider."""


class Unauthorized(DomainError, code="unauthorized"):
    """No credential, or one that is not valid (expired, unknown, wrongly signed)."""


class Forbidden(DomainError, code="forbidden"):
    """A credential whose role or scope does not allow the operation."""


class NotFound(DomainError, code="not_found"):
    """Nothing of that name within the caller's scope."""


class Conflict(DomainError, code="conflict"):
    """A transition not allowed from the current state, or a lost optimistic-concurrency race."""


class RetentionLocked(DomainError, code="retention_locked"):
    """Deleting or overwriting before retain-until, or disposing of a held record."""


class TooLarge(DomainError, code="too_large"):
    """A request body or upload over the size allowed."""


class UnsupportedMediaType(DomainError, code="unsupported_media_type"):
    """A body sent as something other than JSON to an operation that takes JSON."""


class Unavailable(DomainError, code="unavailable"):
    """A dependency failed (e.g. the audit log): nothing was released or changed."""


def not_found(what_zh: str, what_en: str) -> NotFound:
    return NotFound(f"{what_zh}不存在", f"{what_en} not found")


def invalid_cursor() -> Invalid:
    return Invalid("分页游标无效，请从第一页重新查询",
                   "The cursor is not one this query handed out; start again from the first page", field="cursor")
