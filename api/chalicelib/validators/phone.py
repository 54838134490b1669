"""Mainland China telephone numbers: mobile and fixed line.

* Mobile: ``1[3-9]`` and 9 more digits, optionally after ``+86``/``0086``.
  Compact form: the 11 digits.
* Fixed line: area code (010, 02x, or 0 and three digits) and a 7- or 8-digit
  subscriber number not starting with 0 or 1, optionally an extension after
  ``-``, ``转``, ``ext``, ``x`` or ``#``. With ``+86`` the trunk ``0`` is dropped.
  Compact form: ``0AREA-NUMBER`` or ``0AREA-NUMBER-EXT``.

``validate`` accepts either kind; ``validate_mobile`` only a mobile number.

>>> validate('+86 138 0013 8000')
'13800138000'
>>> validate('010-6552 9988 转 123')
'010-65529988-123'
>>> validate('12345')
Traceback (most recent call last):
    ...
ValidationError: ...
>>> validate_mobile('010-65529988')
Traceback (most recent call last):
    ...
ValidationError: ...
>>> is_mobile('13800138000')
True
"""

from __future__ import annotations

import re

from chalicelib.validators._common import fold_identifier, passes
from chalicelib.validators.exceptions import ValidationError

_MOBILE = re.compile(r"(?:\+86|0086|86)?(1[3-9]\d{9})")
_FIXED = re.compile(
    r"(?:(?:\+|00)86-?|0)(10|2\d|[3-9]\d{2})-?([2-9]\d{6,7})"
    r"(?:(?:-|转|EXT\.?|X|#)(\d{1,6}))?"
)


def compact(number: str) -> str:
    """Return the compact form if ``number`` parses, else the folded input."""
    folded = fold_identifier(number, separators=" ()")
    mobile = _MOBILE.fullmatch(folded.replace("-", ""))
    if mobile:
        return mobile.group(1)
    fixed = _FIXED.fullmatch(folded)
    if fixed:
        area, subscriber, extension = fixed.groups()
        return "-".join(part for part in (f"0{area}", subscriber, extension) if part)
    return folded


def is_mobile(number: str) -> bool:
    """Whether ``number`` is a mainland mobile number."""
    return _MOBILE.fullmatch(compact(number)) is not None


def validate(number: str) -> str:
    """Check a mobile or fixed-line number and return its compact form."""
    number = compact(number)
    if not (_MOBILE.fullmatch(number) or _FIXED.fullmatch(number)):
        raise ValidationError(
            "invalid_format",
            "电话号码格式不正确：手机号码为11位，固定电话请写区号和号码，如010-62345678。",
            "Not a valid phone number: mobile numbers have 11 digits; for a fixed line "
            "give the area code and number, e.g. 010-62345678.",
        )
    return number


def validate_mobile(number: str) -> str:
    """Check a mobile number and return its 11 digits."""
    number = compact(number)
    if not _MOBILE.fullmatch(number):
        raise ValidationError(
            "invalid_mobile",
            "手机号码应为以1开头的11位中国大陆手机号码，如13800138000（本单位规则：仅受理大陆号码）。",
            "A mobile number has 11 digits starting with 1, e.g. 13800138000 (the provider's rule: "
            "mainland China numbers only).",
        )
    return number


def is_valid(number: str) -> bool:
    """Whether ``number`` is a valid mobile or fixed-line number."""
    return passes(validate, number)


def format(number: str) -> str:
    """Return the presentation form: ``138 0013 8000`` or ``010-62345678``."""
    number = compact(number)
    if _MOBILE.fullmatch(number):
        return f"{number[:3]} {number[3:7]} {number[7:]}"
    return number
