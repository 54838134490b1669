"""E-mail address: an ASCII local part and a domain checked by ``domain``.

The local part is the RFC 5322 dot-atom (no quoted strings, no non-ASCII
local parts, which few mail systems deliver). ``validate`` returns the local
part unchanged and the domain in its A-label form.

>>> validate('Zhang.San@Example.COM')
'Zhang.San@example.com'
>>> validate('张三@example.com')
Traceback (most recent call last):
    ...
ValidationError: ...
>>> is_valid('a@b')
False
"""

from __future__ import annotations

import re

from chalicelib.validators import domain
from chalicelib.validators._common import passes
from chalicelib.validators.exceptions import ValidationError

_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LOCAL_PART = re.compile(rf"{_ATOM}(?:\.{_ATOM})*")
_MAX_LOCAL_LENGTH = 64
_MAX_ADDRESS_LENGTH = 254


def compact(address: str) -> str:
    """Strip surrounding whitespace."""
    return address.strip()


def validate(address: str) -> str:
    """Check the address and return it with an A-label domain."""
    address = compact(address)
    local, at, host = address.rpartition("@")
    if not at or len(local) > _MAX_LOCAL_LENGTH or not _LOCAL_PART.fullmatch(local):
        raise ValidationError(
            "invalid_format",
            "电子邮箱格式不正确，应类似name@example.com。",
            "Not a valid e-mail address; it should look like name@example.com.",
        )
    try:
        ascii_host = domain.validate(host)
    except ValidationError as error:
        raise ValidationError(
            "invalid_domain",
            f"电子邮箱的域名部分无效：{error.message_zh}",
            f"The domain of the e-mail address is not valid: {error.message_en}",
        ) from None
    normalised = f"{local}@{ascii_host}"
    if len(normalised) > _MAX_ADDRESS_LENGTH:
        raise ValidationError(
            "invalid_length",
            "电子邮箱地址过长（最多254个字符）。",
            "The e-mail address is too long (at most 254 characters).",
        )
    return normalised


def is_valid(address: str) -> bool:
    """Whether the address passes ``validate``."""
    return passes(validate, address)


def format(address: str) -> str:
    """Return the address with its domain in Unicode form for display."""
    local, _, host = validate(address).rpartition("@")
    return f"{local}@{domain.format(host)}"
