"""Public IP address of a website: IPv4 or IPv6.

The filing records the address at which the public reaches the site (一.4),
so only globally routable unicast addresses are accepted: private, loopback,
link-local, shared (100.64/10), documentation, reserved, multicast and
unspecified addresses are rejected. An IPv4-mapped IPv6 address is reduced to
its IPv4 form. ``validate`` returns the canonical text (compressed IPv6).

>>> validate('203.0.113.7')
Traceback (most recent call last):
    ...
ValidationError: ...
>>> validate('8.8.8.8')
'8.8.8.8'
>>> validate('::ffff:8.8.4.4')
'8.8.4.4'
>>> validate('2001:4860:4860:0000:0000:0000:0000:8888')
'2001:4860:4860::8888'
>>> validate('192.168.1.10')
Traceback (most recent call last):
    ...
ValidationError: ...
"""

from __future__ import annotations

import ipaddress

from chalicelib.validators._common import passes
from chalicelib.validators.exceptions import ValidationError


def compact(address: str) -> str:
    """Strip surrounding whitespace."""
    return address.strip()


def validate(address: str) -> str:
    """Check the address and return its canonical text."""
    try:
        parsed = ipaddress.ip_address(compact(address))
    except ValueError:
        raise ValidationError(
            "invalid_format",
            "IP地址格式不正确，应为IPv4或IPv6地址。",
            "Not a valid IP address; enter an IPv4 or IPv6 address.",
        ) from None
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        parsed = parsed.ipv4_mapped
    # A zone index (fe80::1%eth0) only means something on the host that wrote it.
    scoped = isinstance(parsed, ipaddress.IPv6Address) and parsed.scope_id is not None
    if scoped or not parsed.is_global or parsed.is_multicast:
        raise ValidationError(
            "not_public",
            "请填写网站的公网IP地址；内网、回环、保留或组播地址不能用于备案。",
            "Enter the website's public IP address; private, loopback, reserved and "
            "multicast addresses cannot be filed.",
        )
    return str(parsed)


def is_valid(address: str) -> bool:
    """Whether the address passes ``validate``."""
    return passes(validate, address)


def format(address: str) -> str:
    """Return the canonical text."""
    return validate(address)
