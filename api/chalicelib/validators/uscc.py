"""Unified social credit code (统一社会信用代码, GB 32100-2015), 18 characters.

Layout: registration-authority character, entity-type character, 6-digit
administrative division code, 9-character organisation identifier, check
character. All characters come from the 31-character alphabet of the standard
(digits and capital letters except I, O, S, V, Z).

``stdnum.cn.uscc`` requires the first 8 characters to be digits and so rejects
valid codes whose registration authority is a letter (``A`` military, ``N``
agriculture, ``Y`` other). This module follows the standard instead and reuses
only stdnum's checksum. It does not recompute the check character of the
embedded organisation identifier: the overall check character already covers
every position, and a second check would only risk refusing a real code.

>>> validate('92330106 4WFE7LHE47')
'923301064WFE7LHE47'
>>> validate('923301064WFE7LHE40')
Traceback (most recent call last):
    ...
ValidationError: ...
>>> is_valid('923301064WFE7LHE47')
True
"""

from __future__ import annotations

from stdnum.cn import uscc as stdnum_uscc

from chalicelib.validators._common import fold_identifier, passes
from chalicelib.validators.exceptions import ValidationError

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def compact(number: str) -> str:
    """Fold full-width characters and drop spaces and hyphens."""
    return fold_identifier(number)


def calc_check_digit(number: str) -> str:
    """Return the check character for the first 17 characters."""
    return stdnum_uscc.calc_check_digit(number[:17])


def validate(number: str) -> str:
    """Check the code and return its compact form, or raise ValidationError."""
    number = compact(number)
    if len(number) != 18:
        raise ValidationError(
            "invalid_length",
            "统一社会信用代码应为18位。",
            "A unified social credit code has 18 characters.",
        )
    if any(ch not in ALPHABET for ch in number):
        raise ValidationError(
            "invalid_format",
            "统一社会信用代码只含数字和大写字母（不含I、O、S、V、Z）。",
            "The code uses digits and capital letters only, without I, O, S, V or Z.",
        )
    if not number[2:8].isdigit():
        raise ValidationError(
            "invalid_format",
            "统一社会信用代码第3至8位应为行政区划代码（数字）。",
            "Characters 3 to 8 must be the administrative division code (digits).",
        )
    if number[17] != calc_check_digit(number):
        raise ValidationError(
            "invalid_checksum",
            "统一社会信用代码校验位不正确，请核对证照上的代码。",
            "The check character does not match; please check the code on the licence.",
        )
    return number


def is_valid(number: str) -> bool:
    """Whether the code passes ``validate``."""
    return passes(validate, number)


def format(number: str) -> str:
    """Return the presentation form, which is the compact form."""
    return compact(number)
