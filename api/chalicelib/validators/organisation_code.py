"""Organisation code (组织机构代码, GB 11714-1997): 8 characters and a check character.

The body is digits and upper-case Latin letters; the check character is a digit
or ``X``. ``validate`` returns the compact form (9 characters, no hyphen);
``format`` gives the printed form: eight characters, a hyphen, the check character.

>>> validate('6GQ78UKH8')
'6GQ78UKH8'
>>> validate('6GQ78UKH0')
Traceback (most recent call last):
    ...
ValidationError: ...
>>> is_valid('6GQ78UKH8')
True
"""

from __future__ import annotations

import string

from chalicelib.validators._common import fold_identifier, passes
from chalicelib.validators.exceptions import ValidationError

_BODY_ALPHABET = string.digits + string.ascii_uppercase
_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def compact(number: str) -> str:
    """Fold full-width characters and drop spaces and hyphens."""
    return fold_identifier(number)


def calc_check_digit(body: str) -> str:
    """Return the check character for the first 8 characters of ``body``."""
    # GB 11714 values letters A..Z as 10..35, which is their base-36 value.
    total = sum(int(ch, 36) * weight for ch, weight in zip(body[:8], _WEIGHTS, strict=True))
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def validate(number: str) -> str:
    """Check the code and return its compact form, or raise ValidationError."""
    number = compact(number)
    if len(number) != 9:
        raise ValidationError(
            "invalid_length",
            "组织机构代码应为9位（8位本体代码加1位校验码）。",
            "An organisation code has 9 characters: 8 for the code and a check character.",
        )
    if any(ch not in _BODY_ALPHABET for ch in number[:8]) or number[8] not in string.digits + "X":
        raise ValidationError(
            "invalid_format",
            "组织机构代码前8位应为数字或大写字母，校验码为数字或X。",
            "The first 8 characters must be digits or capital letters, the check character a digit or X.",
        )
    if number[8] != calc_check_digit(number):
        raise ValidationError(
            "invalid_checksum",
            "组织机构代码校验码不正确，请核对证书上的代码。",
            "The check character does not match; please check the code on the certificate.",
        )
    return number


def is_valid(number: str) -> bool:
    """Whether the code passes ``validate``."""
    return passes(validate, number)


def format(number: str) -> str:
    """Return the printed form: the eight characters, a hyphen, the check character."""
    number = compact(number)
    return f"{number[:8]}-{number[8:]}"
