"""Synthetic filings for tests, demos and benchmarks: never a real person's data.

ID numbers are generated with valid checksums from a seeded random source, so a
test or a demo is reproducible and no number belongs to anyone on purpose.
"""

from __future__ import annotations

import random
import string
from datetime import date, timedelta
from typing import Any

from chalicelib.consent import PRIVACY_NOTICE_VERSION
from chalicelib.rules import load_rules
from chalicelib.validators import organisation_code, resident_id, uscc

# The characters a unified social credit code may use (GB 32100: no I, O, S, V, Z).
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
REGIONS = ("110101", "310104", "440305", "330106", "510107", "420102", "320102", "370102")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英"
CITIES = ("北京市东城区", "上海市徐汇区", "深圳市南山区", "杭州市西湖区", "成都市武侯区")
UNIT_TYPES = ("government", "institution", "social_group", "enterprise", "military", "other_unit")
SUBJECT_TYPES = (*UNIT_TYPES, "individual")
MILITARY_DOCUMENT = "military_code_certificate"


def resident_id_number(rng: random.Random, *, birth: date | None = None,
                       region: str | None = None) -> str:
    # Region codes are valid only for people born after the region was created: stay recent.
    born = birth or date(1990, 1, 1) + timedelta(days=rng.randrange(0, 15 * 365))
    body = f"{region or rng.choice(REGIONS)}{born:%Y%m%d}{rng.randrange(0, 1000):03d}"
    return body + resident_id.calc_check_digit(body)


def organisation_code_number(rng: random.Random) -> str:
    body = "".join(rng.choice(USCC_ALPHABET) for _ in range(8))
    return body + organisation_code.calc_check_digit(body)


def uscc_number(rng: random.Random, subject_type: str = "enterprise") -> str:
    """A code whose registration authority and unit category fit ``subject_type``."""
    prefix = rng.choice(load_rules().subject_type(subject_type).uscc_prefixes or ("91",))
    category = prefix if len(prefix) == 2 else prefix + rng.choice("123")
    body = f"{category}{rng.choice(REGIONS)}{organisation_code_number(rng)}"
    return body + uscc.calc_check_digit(body)


def passport_number(rng: random.Random) -> str:
    return rng.choice("EGP") + "".join(rng.choice(string.digits) for _ in range(8))


def person_name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def mobile(rng: random.Random) -> str:
    return f"1{rng.choice('3456789')}{rng.randrange(0, 10**9):09d}"


def public_ip(rng: random.Random) -> str:
    octets = (rng.choice((36, 49, 101, 106, 121, 139)), rng.randrange(1, 255), rng.randrange(0, 256),
              rng.randrange(1, 255))
    return ".".join(str(octet) for octet in octets)


def filing_payload(rng: random.Random, subject_type: str = "enterprise", *,
                   nationality: str = "cn", consent: bool = True) -> dict[str, Any]:
    """A valid filing of ``subject_type`` (with the consent the API asks for)."""
    label = "".join(rng.choice(string.ascii_lowercase) for _ in range(8))
    person = {
        "name": person_name(rng),
        "nationality": nationality,
        "id_type": "resident_id_card" if nationality == "cn" else "passport",
        "id_number": resident_id_number(rng) if nationality == "cn" else passport_number(rng),
    }
    payload: dict[str, Any] = {
        "subject_type": subject_type,
        "contact": {"mobile": mobile(rng), "office_phone": f"010-{rng.randrange(2 * 10**7, 10**8)}",
                    "email": f"{label}@example.cn", "address": f"{rng.choice(CITIES)}示例路{rng.randrange(1, 300)}号"},
        "website": {"name": f"示例网站{label[:3]}", "domains": [f"{label}.cn"],
                    "prior_approvals": [], "service_content": "企业介绍与产品展示"},
        "access": {"provider_name": "示例数据中心", "access_method": "cloud",
                   "server_location": "北京市", "ip_addresses": [public_ip(rng)]},
    }
    if subject_type == "individual":
        payload["subject"] = person
    else:
        # The first document; every unit but the military's carries today's code.
        document = load_rules().documents_for(subject_type, "cn")[0].documents[0].id
        number = (f"JD{rng.randrange(10**6, 10**7)}" if document == MILITARY_DOCUMENT
                  else uscc_number(rng, subject_type))
        payload["subject"] = {"name": f"示例{label[:4]}有限公司", "id_type": document,
                              "id_number": number}
        payload["responsible_person"] = {k: v for k, v in person.items()}
    if consent:
        payload["consent"] = {"sensitive_processing": True,
                              "privacy_notice_version": PRIVACY_NOTICE_VERSION}
    return payload
