"""Number of a document without a published check scheme.

Used for the household register (户口簿), military officer card (军官证),
Taiwan compatriot permit (台胞证) and army code certificate (军队代号证书),
whose numbers mix digits, letters and Chinese characters such as 字, 第 and 号.
Checks 4 to 32 characters of letters (Latin or Chinese), digits, hyphens and
parentheses, with at least one digit. ``validate`` returns the number
NFKC-folded and upper-cased without spaces.

>>> validate('京字第 012345 号')
'京字第012345号'
>>> validate('ab-(12)')
'AB-(12)'
>>> validate('abcdef')
Traceback (most recent call last):
    ...
ValidationError: ...
>>> is_valid('A1')
False
"""

from __future__ import annotations

from chalicelib.validators._common import fold_identifier, passes
from chalicelib.validators.exceptions import ValidationError

_PUNCTUATION = frozenset("-()")


def compact(number: str) -> str:
    """Fold full-width characters, upper-case and drop spaces (hyphens are kept)."""
    return fold_identifier(number, separators=" ")


def validate(number: str) -> str:
    """Check the number and return its compact form, or raise ValidationError."""
    number = compact(number)
    if not 4 <= len(number) <= 32:
        raise ValidationError(
            "invalid_length",
            "证件号码应为4至32个字符。",
            "A document number has 4 to 32 characters.",
        )
    if not all(ch.isalnum() or ch in _PUNCTUATION for ch in number) or not any(ch.isdigit() for ch in number):
        raise ValidationError(
            "invalid_format",
            "证件号码只能包含文字、数字、连字符和括号，且至少有一位数字。",
            "A document number holds letters, digits, hyphens and parentheses, with at least one digit.",
        )
    return number


def is_valid(number: str) -> bool:
    """Whether the number passes ``validate``."""
    return passes(validate, number)


def format(number: str) -> str:
    """Return the presentation form, which is the compact form."""
    return compact(number)
