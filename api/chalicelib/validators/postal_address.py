"""Postal address (通信地址) in Chinese or Latin script.

``validate`` returns the address NFC-normalised with whitespace collapsed. It
needs 5 to 200 characters including Chinese or Latin letters, and no control
or format characters.

>>> validate('北京市  东城区\u3000东长安街 1 号')
'北京市 东城区 东长安街 1 号'
>>> validate('1234')
Traceback (most recent call last):
    ...
ValidationError: ...
>>> is_valid('Room 5, 1 Road')
True
"""

from __future__ import annotations

import re

from chalicelib.validators import text
from chalicelib.validators._common import passes
from chalicelib.validators.exceptions import ValidationError

MIN_LENGTH = 5
# CJK Unified Ideographs with extension A, or a Latin letter.
_SCRIPT = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fffA-Za-z\u00c0-\u024f]")


def compact(address: str) -> str:
    """NFC-normalise and collapse whitespace."""
    return text.compact(address)


def validate(address: str) -> str:
    """Check the address and return its normalised form."""
    address = text.validate(address)
    if len(address) < MIN_LENGTH or not _SCRIPT.search(address):
        raise ValidationError(
            "incomplete_address",
            "请填写完整的通信地址，如省、市、区、街道和门牌号。",
            "Enter a complete postal address: province, city, district, street and number.",
        )
    return address


def is_valid(address: str) -> bool:
    """Whether the address passes ``validate``."""
    return passes(validate, address)


def format(address: str) -> str:
    """Return the normalised form."""
    return compact(address)
