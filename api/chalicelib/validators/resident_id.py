"""Resident ID number (公民身份号码, GB 11643), 18 characters.

Wraps ``stdnum.cn.ric`` and differs from it in four ways:

* the region codes 810000, 820000 and 830000 of the residence permits for
  Hong Kong, Macao and Taiwan residents (港澳台居民居住证) are accepted;
  stdnum knows no such region but the numbers share the checksum and layout;
* a birth date in the future (China Standard Time) or before 1900 is rejected;
* a 15-digit first-generation number gets its own error telling the person to
  enter the 18-digit number instead;
* a region code is accepted if it was ever assigned, not only if it existed in
  the birth year: the code is where the number was issued, so someone born in
  1985 may hold a number of 上海浦东新区 (310115, created 1993). stdnum's
  ``get_birth_place`` would refuse that real number.

``validate`` returns the compact form (18 characters, upper-case ``X``).

>>> validate('110101 19900307 1233')
'110101199003071233'
>>> validate('110101199003071230')
Traceback (most recent call last):
    ...
ValidationError: ...
>>> validate('110101199003071')
Traceback (most recent call last):
    ...
ValidationError: ...
>>> is_valid('110101199003071233')
True
>>> format('110101199003071233')
'110101199003071233'
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from stdnum import numdb
from stdnum.cn import ric
from stdnum.exceptions import ValidationError as StdnumError

from chalicelib.validators._common import fold_identifier, passes
from chalicelib.validators.exceptions import ValidationError

RESIDENCE_PERMIT_REGIONS = frozenset({"810000", "820000", "830000"})
"""Region codes of the residence permits for Hong Kong, Macao and Taiwan residents."""

_CHINA_STANDARD_TIME = timezone(timedelta(hours=8))
_EARLIEST_BIRTH = date(1900, 1, 1)


def compact(number: str) -> str:
    """Fold full-width characters and drop spaces and hyphens."""
    return fold_identifier(number)


def calc_check_digit(number: str) -> str:
    """Return the ISO 7064 MOD 11-2 check character for the first 17 digits."""
    return ric.calc_check_digit(number[:17] + "0")


def _today_in_china() -> date:
    # A person born today in China must not be "in the future" on a UTC server.
    return datetime.now(_CHINA_STANDARD_TIME).date()


def validate(number: str) -> str:
    """Check the number and return its compact form, or raise ValidationError."""
    number = compact(number)
    if len(number) == 15 and number.isdigit():
        raise ValidationError(
            "legacy_15_digit",
            "15位号码是第一代身份证号码，已停止使用；请填写第二代身份证上的18位公民身份号码。",
            "15-digit numbers belong to first-generation ID cards and are no longer used; "
            "please enter the 18-digit number on your second-generation ID card.",
        )
    if len(number) != 18:
        raise ValidationError(
            "invalid_length",
            "公民身份号码应为18位。",
            "A resident ID number has 18 characters.",
        )
    if not number[:17].isdigit() or number[17] not in "0123456789X":
        raise ValidationError(
            "invalid_format",
            "公民身份号码前17位应为数字，最后一位为数字或X。",
            "The first 17 characters must be digits and the last a digit or X.",
        )
    if number[17] != calc_check_digit(number):
        raise ValidationError(
            "invalid_checksum",
            "公民身份号码校验位不正确，请逐位核对。",
            "The check character does not match; please check each digit.",
        )
    try:
        birth = ric.get_birth_date(number)
    except StdnumError:
        raise _invalid_birth_date() from None
    if not _EARLIEST_BIRTH <= birth <= _today_in_china():
        raise _invalid_birth_date()
    if number[:6] not in RESIDENCE_PERMIT_REGIONS and not _ever_assigned(number[:6]):
        raise ValidationError(
            "invalid_region",
            "公民身份号码前6位地区码不存在。",
            "The first six digits are not a known region code.",
        )
    return number


def _ever_assigned(region: str) -> bool:
    """Whether stdnum's table of administrative divisions knows ``region`` in any period."""
    return any(properties.get("county") for _, properties in numdb.get("cn/loc").info(region))


def _invalid_birth_date() -> ValidationError:
    return ValidationError(
        "invalid_birth_date",
        "公民身份号码中的出生日期（第7至14位）无效。",
        "The birth date in the number (characters 7 to 14) is not valid.",
    )


def is_valid(number: str) -> bool:
    """Whether the number passes ``validate``."""
    return passes(validate, number)


def format(number: str) -> str:
    """Return the presentation form, which is the compact form."""
    return compact(number)
