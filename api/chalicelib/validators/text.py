"""Free text typed by a person: names, service descriptions, locations.

``validate`` returns the text NFC-normalised with whitespace runs collapsed to
one space. It rejects control and format characters (including bidirectional
overrides), text without any letter or digit, and text over 200 characters.
Fields wanting a shorter limit set ``max_length`` in the rules file.

>>> validate('  张三   李四 ')
'张三 李四'
>>> validate('\u202egnp.exe')
Traceback (most recent call last):
    ...
ValidationError: ...
>>> validate('---')
Traceback (most recent call last):
    ...
ValidationError: ...
"""

from __future__ import annotations

from chalicelib.validators._common import collapse_whitespace, has_control_characters, passes
from chalicelib.validators.exceptions import ValidationError

MAX_LENGTH = 200


def compact(value: str) -> str:
    """NFC-normalise and collapse whitespace."""
    return collapse_whitespace(value)


def validate(value: str) -> str:
    """Check the text and return its normalised form."""
    value = compact(value)
    if has_control_characters(value):
        raise ValidationError(
            "invalid_characters",
            "包含不可见的控制字符，请重新输入。",
            "Contains invisible control characters; please retype it.",
        )
    if not any(ch.isalnum() for ch in value):
        raise ValidationError(
            "no_text",
            "请填写文字内容，不能只有标点或空格。",
            "Enter some text, not only punctuation or spaces.",
        )
    if len(value) > MAX_LENGTH:
        raise ValidationError(
            "too_long",
            f"内容过长（最多{MAX_LENGTH}个字符）。",
            f"Too long (at most {MAX_LENGTH} characters).",
        )
    return value


def is_valid(value: str) -> bool:
    """Whether the text passes ``validate``."""
    return passes(validate, value)


def format(value: str) -> str:
    """Return the normalised form."""
    return compact(value)
