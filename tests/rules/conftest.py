"""Synthetic identifiers and sample filings for the rules tests.

Every ID number here is generated: a region code, a birth date and a sequence
number with a computed check digit; none belongs to a real person. The check
digits are computed independently of the code under test. Tests never print
ID numbers: they assert on booleans and error codes, not on the numbers.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from chalicelib.rules import DEFAULT_RULES_FILE, Rules, load_rules

RULES_DIR = DEFAULT_RULES_FILE.parent

# GB 11643: ISO 7064 MOD 11-2 weights and the check character for each remainder.
_RESIDENT_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_RESIDENT_CHECK = "10X98765432"
# GB 32100: 31-character alphabet and weights 3^i mod 31.
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
# GB 11714 weights.
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def _resident_id(region: str, birth: date, sequence: int) -> str:
    body = f"{region}{birth:%Y%m%d}{sequence:03d}"
    total = sum(int(digit) * weight for digit, weight in zip(body, _RESIDENT_WEIGHTS, strict=True))
    return body + _RESIDENT_CHECK[total % 11]


def _uscc(first_17: str) -> str:
    total = sum(USCC_ALPHABET.index(ch) * weight for ch, weight in zip(first_17, _USCC_WEIGHTS, strict=True))
    return first_17 + USCC_ALPHABET[(31 - total % 31) % 31]


def _organisation_code(body: str) -> str:
    total = sum(int(ch, 36) * weight for ch, weight in zip(body, _ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    return body + {10: "X", 11: "0"}.get(check, str(check))


@pytest.fixture(scope="session")
def make_resident_id() -> Callable[[str, date, int], str]:
    """A synthetic resident ID number from region, birth date and sequence."""
    return _resident_id


@pytest.fixture(scope="session")
def make_uscc() -> Callable[[str], str]:
    """A unified social credit code from its first 17 characters."""
    return _uscc


@pytest.fixture(scope="session")
def make_organisation_code() -> Callable[[str], str]:
    """An organisation code from its 8-character body."""
    return _organisation_code


@pytest.fixture(scope="session")
def rules() -> Rules:
    return load_rules()


@pytest.fixture
def rules_copy(tmp_path: Path) -> Callable[[Callable[[str], str]], Path]:
    """Copy the rules file and its notice to a temporary folder, editing the rules text."""

    def copy(edit: Callable[[str], str]) -> Path:
        shutil.copy(RULES_DIR / "notice-2010.md", tmp_path / "notice-2010.md")
        target = tmp_path / "notice-2010.toml"
        original = (RULES_DIR / "notice-2010.toml").read_text(encoding="utf-8")
        edited = edit(original)
        assert edited != original, "the edit changed nothing"
        target.write_text(edited, encoding="utf-8")
        return target

    return copy


class Filing(dict[str, Any]):
    """A sample filing whose repr hides its contents, so no ID number is ever printed."""

    def __repr__(self) -> str:
        return "<synthetic filing>"


@pytest.fixture
def unit_filing() -> dict[str, Any]:
    """A complete, valid filing by an enterprise."""
    return Filing(
        {
            "subject_type": "enterprise",
            "subject": {
                "name": "示例科技有限公司",
                "id_type": "business_licence",
                "id_number": _uscc("91110000MA0000001"),
            },
            "responsible_person": {
                "name": "张三",
                "nationality": "cn",
                "id_type": "resident_id_card",
                "id_number": _resident_id("110101", date(1985, 6, 15), 123),
            },
            "contact": {
                "mobile": "+86 138 0013 8000",
                "office_phone": "010-62345678",
                "email": "webmaster@example.cn",
                "address": "北京市东城区示例路1号",
            },
            "website": {
                "name": "示例科技官网",
                "domains": ["Example.CN", "例子.中国"],
                "prior_approvals": [],
                "service_content": "企业介绍",
            },
            "access": {
                "provider_name": "示例数据中心有限公司",
                "access_method": "cloud",
                "server_location": "北京市",
                "ip_addresses": ["1.2.3.4", "2400:3200::1"],
            },
        }
    )


@pytest.fixture
def individual_filing() -> dict[str, Any]:
    """A complete, valid filing by an individual with a home phone only."""
    return Filing(
        {
            "subject_type": "individual",
            "subject": {
                "name": "李四",
                "nationality": "cn",
                "id_type": "resident_id_card",
                "id_number": _resident_id("310101", date(1992, 2, 29), 46),
            },
            "contact": {
                "mobile": "13900139000",
                "home_phone": "021-51234567",
                "email": "lisi@example.com",
                "address": "上海市黄浦区示例路2号",
            },
            "website": {
                "name": "李四的博客",
                "domains": ["lisi-blog.com"],
                "service_content": "个人博客",
            },
            "access": {
                "provider_name": "示例数据中心有限公司",
                "access_method": "virtual_host",
                "server_location": "上海市",
                "ip_addresses": ["8.8.4.4"],
            },
        }
    )
