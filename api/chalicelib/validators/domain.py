"""Domain name of a website, internationalised names allowed.

Names are mapped and encoded with the ``idna`` package (IDNA 2008 with the
UTS 46 mapping, which also folds full-width letters and the ideographic full
stop 。). ``validate`` returns the lower-case ASCII (A-label) form without a
trailing dot; ``format`` returns the Unicode form for display.

Rejected: URLs (scheme, path, port), IP addresses, wildcards, names with one
label, labels over 63 or names over 253 characters, and top-level labels that
are not alphabetic or an A-label.

>>> validate('Example.COM.')
'example.com'
>>> validate('中文域名.中国')
'xn--fiq06l2rdsvs.xn--fiqs8s'
>>> format('xn--fiq228c5hs.xn--fiqs8s')
'中文网.中国'
>>> validate('http://example.com/path')
Traceback (most recent call last):
    ...
ValidationError: ...
>>> validate('localhost')
Traceback (most recent call last):
    ...
ValidationError: ...
"""

from __future__ import annotations

import ipaddress
import re

import idna

from chalicelib.validators._common import passes
from chalicelib.validators.exceptions import ValidationError

_TOP_LEVEL = re.compile(r"[a-z]{2,63}|xn--[a-z0-9-]{1,59}")
_MAX_LABEL_LENGTH = 63
_MAX_NAME_LENGTH = 253


def compact(name: str) -> str:
    """Strip surrounding whitespace and one trailing dot."""
    name = name.strip()
    return name[:-1] if name.endswith((".", "。")) else name


def _too_long(mapped: str) -> bool:
    # Measure the encoded (A-label) lengths, so the person is told "too long"
    # rather than "invalid" when only the length is wrong.
    lengths = [
        len(label) if label.isascii() else len("xn--") + len(label.encode("punycode")) for label in mapped.split(".")
    ]
    return max(lengths) > _MAX_LABEL_LENGTH or sum(lengths) + len(lengths) - 1 > _MAX_NAME_LENGTH


def validate(name: str) -> str:
    """Check the name and return its lower-case A-label form."""
    name = compact(name)
    try:
        ipaddress.ip_address(name)
    except ValueError:
        pass
    else:
        raise ValidationError(
            "ip_address",
            "请填写域名，IP地址请填在接入信息中。",
            "Enter a domain name; IP addresses belong in the access information.",
        )
    if any(ch in name for ch in "/:@?#"):
        raise ValidationError(
            "not_a_domain",
            "请只填写域名（如example.com），不要包含http://、端口或路径。",
            "Enter the domain name only (e.g. example.com), without http://, a port or a path.",
        )
    if "*" in name:
        raise ValidationError("wildcard", "不接受通配符域名。", "Wildcard domain names are not accepted.")
    try:
        mapped = idna.uts46_remap(name, std3_rules=True, transitional=False)
        if _too_long(mapped):
            raise ValidationError(
                "invalid_length",
                "域名过长：每一级不超过63个字符，总长不超过253个字符。",
                "The name is too long: at most 63 characters per label and 253 in total.",
            )
        ascii_name = idna.encode(mapped).decode("ascii")
    except idna.IDNAError:
        raise ValidationError(
            "invalid_format",
            "域名格式不正确：只能包含字母、数字、中文和连字符，连字符不能在开头或结尾。",
            "Not a valid domain name: use letters, digits, Chinese characters and hyphens, "
            "with no hyphen at the start or end of a label.",
        ) from None
    labels = ascii_name.split(".")
    if len(labels) < 2 or not _TOP_LEVEL.fullmatch(labels[-1]):
        raise ValidationError(
            "invalid_top_level",
            "域名须包含有效的顶级域，如.com、.cn或.中国。",
            "The name needs a valid top-level domain such as .com, .cn or .中国.",
        )
    return ascii_name


def is_valid(name: str) -> bool:
    """Whether the name passes ``validate``."""
    return passes(validate, name)


def format(name: str) -> str:
    """Return the Unicode (U-label) form of a valid name for display."""
    return idna.decode(validate(name))
