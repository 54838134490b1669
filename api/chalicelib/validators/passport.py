"""Passport number of any country: 5 to 20 Latin letters and digits.

Countries format passport numbers differently, so only the common shape is
checked. ``validate`` returns the number upper-cased without spaces or hyphens.

>>> validate('e 1234 5678')
'E12345678'
>>> validate('AB-12')
Traceback (most recent call last):
    ...
ValidationError: ...
>>> is_valid('G12345678')
True
"""

from __future__ import annotations

import re

from chalicelib.validators._common import fold_identifier, passes
from chalicelib.validators.exceptions import ValidationError

_PASSPORT = re.compile(r"[A-Z0-9]{5,20}")


def compact(number: str) -> str:
    """Fold full-width characters, upper-case, drop spaces and hyphens."""
    return fold_identifier(number)


def validate(number: str) -> str:
    """Check the number and return its compact form, or raise ValidationError."""
    number = compact(number)
    if not _PASSPORT.fullmatch(number):
        raise ValidationError(
            "invalid_format",
            "护照号码应为5至20位字母或数字。",
            "A passport number has 5 to 20 letters or digits.",
        )
    return number


def is_valid(number: str) -> bool:
    """Whether the number passes ``validate``."""
    return passes(validate, number)


def format(number: str) -> str:
    """Return the presentation form, which is the compact form."""
    return compact(number)
