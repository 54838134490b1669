"""ICP filing number (ICP备案号), e.g. 京ICP备2021012345号-2.

Layout: the province character of the provincial communications
administration that issued it, ``ICP备``, 8 digits (older numbers: 2-digit
year and serial) or 10 digits (4-digit year and 6-digit serial), ``号``. That
is the subject's number (主体备案号); each of the subject's websites gets it
with the suffix ``-n``, n counting from 1 (网站备案号).

``validate`` returns the compact form (no spaces, ASCII ``ICP`` and hyphen);
``generate`` builds a new 10-digit number when a reviewer approves a filing.

>>> validate('京ICP备2021012345号-2')
'京ICP备2021012345号-2'
>>> generate('沪', 2024, 1234, website=1)
'沪ICP备2024001234号-1'
>>> province('粤ICP备2024000001号').character
'粤'
>>> validate('京ICP备2021012345')
Traceback (most recent call last):
    ...
ValidationError: ...
"""

from __future__ import annotations

import re
from typing import NamedTuple

from chalicelib.validators._common import passes
from chalicelib.validators.exceptions import ValidationError


class Province(NamedTuple):
    """A province-level division as it appears in filing numbers."""

    character: str
    name_zh: str
    name_en: str


PROVINCES: tuple[Province, ...] = (
    Province("京", "北京市", "Beijing"),
    Province("津", "天津市", "Tianjin"),
    Province("冀", "河北省", "Hebei"),
    Province("晋", "山西省", "Shanxi"),
    Province("蒙", "内蒙古自治区", "Inner Mongolia"),
    Province("辽", "辽宁省", "Liaoning"),
    Province("吉", "吉林省", "Jilin"),
    Province("黑", "黑龙江省", "Heilongjiang"),
    Province("沪", "上海市", "Shanghai"),
    Province("苏", "江苏省", "Jiangsu"),
    Province("浙", "浙江省", "Zhejiang"),
    Province("皖", "安徽省", "Anhui"),
    Province("闽", "福建省", "Fujian"),
    Province("赣", "江西省", "Jiangxi"),
    Province("鲁", "山东省", "Shandong"),
    Province("豫", "河南省", "Henan"),
    Province("鄂", "湖北省", "Hubei"),
    Province("湘", "湖南省", "Hunan"),
    Province("粤", "广东省", "Guangdong"),
    Province("桂", "广西壮族自治区", "Guangxi"),
    Province("琼", "海南省", "Hainan"),
    Province("渝", "重庆市", "Chongqing"),
    Province("蜀", "四川省", "Sichuan"),
    Province("黔", "贵州省", "Guizhou"),
    Province("滇", "云南省", "Yunnan"),
    Province("藏", "西藏自治区", "Tibet"),
    Province("陕", "陕西省", "Shaanxi"),
    Province("陇", "甘肃省", "Gansu"),
    Province("青", "青海省", "Qinghai"),
    Province("宁", "宁夏回族自治区", "Ningxia"),
    Province("新", "新疆维吾尔自治区", "Xinjiang"),
)
_CHARACTERS = "".join(province.character for province in PROVINCES)
_FILING_NUMBER = re.compile(rf"([{_CHARACTERS}])ICP备(\d{{8}}|\d{{10}})号(?:-([1-9]\d*))?")
_MAX_SERIAL = 999_999


def compact(number: str) -> str:
    """Drop whitespace, upper-case ``icp`` and fold a full-width hyphen."""
    return "".join(number.split()).upper().replace("－", "-")


def validate(number: str) -> str:
    """Check the number and return its compact form."""
    number = compact(number)
    if not _FILING_NUMBER.fullmatch(number):
        raise ValidationError(
            "invalid_format",
            "备案号格式不正确，应类似“京ICP备2021012345号”或“京ICP备2021012345号-2”。",
            "Not a valid filing number; it should look like 京ICP备2021012345号 or 京ICP备2021012345号-2.",
        )
    return number


def province(number: str) -> Province:
    """Return the province that issued a valid filing number."""
    return next(p for p in PROVINCES if p.character == validate(number)[0])


def generate(character: str, year: int, serial: int, website: int | None = None) -> str:
    """Build a 10-digit subject number, or with ``website`` a website's number."""
    if character not in _CHARACTERS or len(character) != 1:
        raise ValueError(f"unknown province character {character!r}")
    if not 2000 <= year <= 9999 or not 1 <= serial <= _MAX_SERIAL:
        raise ValueError("year must be 2000-9999 and serial 1-999999")
    if website is not None and website < 1:
        raise ValueError("website numbers count from 1")
    suffix = "" if website is None else f"-{website}"
    return f"{character}ICP备{year:04d}{serial:06d}号{suffix}"


def is_valid(number: str) -> bool:
    """Whether the number passes ``validate``."""
    return passes(validate, number)


def format(number: str) -> str:
    """Return the presentation form, which is the compact form."""
    return compact(number)
