"""The field validators: what each accepts, rejects and normalises to."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta

import pytest
from chalicelib import validators
from chalicelib.rules import Rules, load_rules
from chalicelib.validators import VALIDATORS, ValidationError
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.cn import uscc as stdnum_uscc

MakeResidentId = Callable[[str, date, int], str]  # fixtures from conftest.py
MakeCode = Callable[[str], str]
USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"

# No example database: it would write generated numbers to disk.
CHECKS = settings(database=None, max_examples=300, deadline=None)

# Region codes valid for every birth year since 1900, and the three
# residence-permit prefixes for Hong Kong, Macao and Taiwan residents.
REGIONS = ["110101", "120101", "310101"]
PERMIT_REGIONS = ["810000", "820000", "830000"]
BIRTHS = st.dates(min_value=date(1900, 1, 1), max_value=date.today() - timedelta(days=1))
SEQUENCES = st.integers(min_value=0, max_value=999)


def _code(call: object, value: str) -> str:
    """The error code ``call(value)`` raises, without ever showing the value."""
    assert callable(call)
    try:
        call(value)
    except ValidationError as error:
        return error.code
    return "accepted"


# ------------------------------------------------------------------ resident ID


@CHECKS
@given(region=st.sampled_from(REGIONS + PERMIT_REGIONS), birth=BIRTHS, sequence=SEQUENCES)
def test_every_synthetic_resident_id_passes(
    make_resident_id: MakeResidentId, region: str, birth: date, sequence: int
) -> None:
    number = make_resident_id(region, birth, sequence)
    accepted = validators.resident_id.validate(number) == number
    assert accepted


@CHECKS
@given(
    region=st.sampled_from(REGIONS + PERMIT_REGIONS),
    birth=BIRTHS,
    sequence=SEQUENCES,
    position=st.integers(min_value=0, max_value=17),
    replacement=st.sampled_from("0123456789X"),
)
def test_any_single_character_change_fails(
    make_resident_id: MakeResidentId,
    region: str,
    birth: date,
    sequence: int,
    position: int,
    replacement: str,
) -> None:
    number = make_resident_id(region, birth, sequence)
    changed = number[:position] + replacement + number[position + 1 :]
    if changed != number:
        rejected = not validators.resident_id.is_valid(changed)
        assert rejected


@pytest.mark.parametrize("region", PERMIT_REGIONS)
def test_residence_permit_prefixes_are_accepted_though_stdnum_rejects_them(
    make_resident_id: MakeResidentId, region: str
) -> None:
    from stdnum.cn import ric

    number = make_resident_id(region, date(1990, 5, 17), 7)
    stdnum_rejects = not ric.is_valid(number)
    we_accept = validators.resident_id.is_valid(number)
    assert stdnum_rejects and we_accept


@pytest.mark.parametrize(("region", "born"), [("310115", date(1985, 12, 12)), ("510107", date(1979, 3, 1))])
def test_a_region_created_after_the_birth_year_is_accepted(make_resident_id: MakeResidentId, region: str,
                                                           born: date) -> None:
    """The code is where the number was issued: a Pudong (1993) number of someone born in 1985."""
    from stdnum.cn import ric

    number = make_resident_id(region, born, 22)
    assert not ric.is_valid(number)  # stdnum checks the code against the birth year
    assert validators.resident_id.validate(number) == number


def test_a_15_digit_number_is_refused_with_an_explanation() -> None:
    legacy = "110101" + "850615" + "123"
    with pytest.raises(ValidationError) as caught:
        validators.resident_id.validate(legacy)
    assert caught.value.code == "legacy_15_digit"
    assert "18位" in caught.value.message_zh
    assert "18-digit" in caught.value.message_en
    assert legacy not in str(caught.value)


def test_resident_id_errors(make_resident_id: MakeResidentId) -> None:
    validate = validators.resident_id.validate
    tomorrow = date.today() + timedelta(days=2)
    assert _code(validate, make_resident_id("110101", tomorrow, 1)) == "invalid_birth_date"
    assert _code(validate, make_resident_id("110101", date(1899, 12, 31), 1)) == "invalid_birth_date"
    assert _code(validate, make_resident_id("990101", date(1990, 1, 1), 1)) == "invalid_region"
    assert _code(validate, "11010119900101001") == "invalid_length"
    assert _code(validate, "11010119900101001A") == "invalid_format"


def test_resident_id_is_normalised(make_resident_id: MakeResidentId) -> None:
    number = make_resident_id("110101", date(1990, 1, 1), 2)
    spaced = f" {number[:6]} {number[6:14]} {number[14:]} ".lower()
    full_width = "".join(chr(ord(ch) + 0xFEE0) for ch in number)
    same = validators.resident_id.validate(spaced) == number and validators.resident_id.validate(full_width) == number
    assert same


# ------------------------------------------------------------- USCC and org code


@pytest.mark.parametrize("authority", ["A", "N", "Y", "1", "5", "9"])
def test_uscc_with_any_registration_authority_passes(make_uscc: MakeCode, authority: str) -> None:
    code = make_uscc(f"{authority}1110000MA0000001")
    assert validators.uscc.validate(code) == code
    if authority.isalpha():
        # The reason for the wrapper: stdnum refuses letter authorities.
        assert not stdnum_uscc.is_valid(code)


@CHECKS
@given(
    body=st.tuples(
        st.text(USCC_CHARS, min_size=2, max_size=2),
        st.text("0123456789", min_size=6, max_size=6),
        st.text(USCC_CHARS, min_size=9, max_size=9),
    ),
    position=st.integers(min_value=0, max_value=17),
    replacement=st.sampled_from(USCC_CHARS),
)
def test_uscc_checksum_catches_any_single_change(
    make_uscc: MakeCode, body: tuple[str, str, str], position: int, replacement: str
) -> None:
    code = make_uscc("".join(body))
    assert validators.uscc.is_valid(code)
    changed = code[:position] + replacement + code[position + 1 :]
    assert changed == code or not validators.uscc.is_valid(changed)


def test_uscc_errors(make_uscc: MakeCode) -> None:
    valid = make_uscc("91110000MA0000001")
    assert _code(validators.uscc.validate, valid[:-1]) == "invalid_length"
    assert _code(validators.uscc.validate, "I" + valid[1:]) == "invalid_format"
    assert _code(validators.uscc.validate, make_uscc("91A10000MA0000001")) == "invalid_format"
    wrong = valid[:-1] + ("0" if valid[-1] != "0" else "1")
    assert _code(validators.uscc.validate, wrong) == "invalid_checksum"
    assert validators.uscc.validate(f"{valid[:9]} {valid[9:]}".lower()) == valid


@pytest.mark.parametrize(
    ("body", "check"),
    [("D2143569", "X"), ("60003734", "1"), ("00000000", "0")],
)
def test_organisation_code_check_character(body: str, check: str) -> None:
    assert validators.organisation_code.calc_check_digit(body) == check
    assert validators.organisation_code.validate(f"{body}-{check}") == body + check
    assert validators.organisation_code.format(body + check) == f"{body}-{check}"


@CHECKS
@given(body=st.text("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=8, max_size=8))
def test_organisation_codes_with_their_check_character_pass(make_organisation_code: MakeCode, body: str) -> None:
    code = make_organisation_code(body)
    assert validators.organisation_code.is_valid(code)
    wrong = code[:8] + ("1" if code[8] != "1" else "2")
    assert not validators.organisation_code.is_valid(wrong)


def test_organisation_code_errors() -> None:
    assert _code(validators.organisation_code.validate, "D2143569") == "invalid_length"
    assert _code(validators.organisation_code.validate, "D214356*X") == "invalid_format"
    assert _code(validators.organisation_code.validate, "D2143569-1") == "invalid_checksum"


# ------------------------------------------------------------- other documents


def test_passport() -> None:
    assert validators.passport.validate(" e1234 5678 ") == "E12345678"
    assert _code(validators.passport.validate, "E12") == "invalid_format"
    assert _code(validators.passport.validate, "E1234567#") == "invalid_format"
    assert _code(validators.passport.validate, "A" * 21) == "invalid_format"


def test_document_number() -> None:
    assert validators.document_number.validate("南字第 1234567 号") == "南字第1234567号"
    assert validators.document_number.validate("（１２３４５６）") == "(123456)"
    assert _code(validators.document_number.validate, "军字第号") == "invalid_format"
    assert _code(validators.document_number.validate, "12") == "invalid_length"


# ----------------------------------------------------------------- contact


@pytest.mark.parametrize(
    ("raw", "compact"),
    [
        ("13800138000", "13800138000"),
        ("+86 138-0013-8000", "13800138000"),
        ("0086 19912345678", "19912345678"),
        ("010-62345678", "010-62345678"),
        ("(0755) 2612345", "0755-2612345"),
        ("021 51234567 转 8001", "021-51234567-8001"),
        ("+86 10 62345678", "010-62345678"),
        ("01062345678", "010-62345678"),
    ],
)
def test_phone_numbers_are_accepted_and_normalised(raw: str, compact: str) -> None:
    assert validators.phone.validate(raw) == compact
    assert validators.phone.validate(compact) == compact


@pytest.mark.parametrize("raw", ["12800138000", "1380013800", "62345678", "010-12345678", "0755-0123456", "电话"])
def test_bad_phone_numbers_are_refused(raw: str) -> None:
    assert _code(validators.phone.validate, raw) == "invalid_format"


def test_mobile_only() -> None:
    assert validators.phone.validate_mobile("+8613800138000") == "13800138000"
    assert _code(validators.phone.validate_mobile, "010-62345678") == "invalid_mobile"
    assert validators.phone.format("13800138000") == "138 0013 8000"
    assert validators.phone.is_mobile("138 0013 8000") and not validators.phone.is_mobile("010-62345678")


def test_email() -> None:
    assert validators.email.validate(" Li.Lei@例子.中国 ") == "Li.Lei@xn--fsqu00a.xn--fiqs8s"
    assert validators.email.format("Li.Lei@xn--fsqu00a.xn--fiqs8s") == "Li.Lei@例子.中国"
    assert _code(validators.email.validate, "no-at-sign.example.com") == "invalid_format"
    assert _code(validators.email.validate, "a..b@example.com") == "invalid_format"
    assert _code(validators.email.validate, "a@localhost") == "invalid_domain"


def test_postal_address() -> None:
    assert validators.postal_address.validate("  北京市东城区\n示例路1号 ") == "北京市东城区 示例路1号"
    assert validators.postal_address.validate("1 Example Road, Beijing") == "1 Example Road, Beijing"
    assert _code(validators.postal_address.validate, "北京") == "incomplete_address"
    assert _code(validators.postal_address.validate, "12345 678") == "incomplete_address"
    assert _code(validators.postal_address.validate, "北京市东城区\u202e示例路") == "invalid_characters"
    assert _code(validators.postal_address.validate, "路" * 201) == "too_long"


def test_text() -> None:
    assert validators.text.validate(" 示例  网站 ") == "示例 网站"
    assert _code(validators.text.validate, "——") == "no_text"
    assert _code(validators.text.validate, "a\x00b") == "invalid_characters"


# ------------------------------------------------------------ website, access


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("Example.COM.", "example.com"),
        ("例子。中国", "xn--fsqu00a.xn--fiqs8s"),
        ("ＥＸＡＭＰＬＥ.cn", "example.cn"),
        ("www.bücher.de", "www.xn--bcher-kva.de"),
        ("xn--fsqu00a.xn--fiqs8s", "xn--fsqu00a.xn--fiqs8s"),
    ],
)
def test_domains_are_normalised_to_lower_case_a_labels(raw: str, normalised: str) -> None:
    assert validators.domain.validate(raw) == normalised


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("1.2.3.4", "ip_address"),
        ("2400:3200::1", "ip_address"),
        ("https://example.com/", "not_a_domain"),
        ("example.com:8080", "not_a_domain"),
        ("*.example.com", "wildcard"),
        ("localhost", "invalid_top_level"),
        ("example.123", "invalid_top_level"),
        ("a" * 64 + ".com", "invalid_length"),
        (("a" * 60 + ".") * 5 + "com", "invalid_length"),
        ("under_score.com", "invalid_format"),
        ("-lead.com", "invalid_format"),
        ("a..b.com", "invalid_format"),
    ],
)
def test_bad_domains_are_refused(raw: str, code: str) -> None:
    assert _code(validators.domain.validate, raw) == code


def test_domain_format_shows_unicode() -> None:
    assert validators.domain.format("xn--fsqu00a.xn--fiqs8s") == "例子.中国"


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [("1.2.3.4", "1.2.3.4"), (" 2400:3200:0::1 ", "2400:3200::1"), ("::ffff:1.2.3.4", "1.2.3.4")],
)
def test_public_ip_addresses_are_accepted(raw: str, normalised: str) -> None:
    assert validators.ip.validate(raw) == normalised


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("10.0.0.1", "not_public"),
        ("192.168.1.1", "not_public"),
        ("127.0.0.1", "not_public"),
        ("100.64.0.1", "not_public"),
        ("192.0.2.1", "not_public"),
        ("239.1.1.1", "not_public"),
        ("fe80::1", "not_public"),
        ("2400:3200::1%eth0", "not_public"),
        ("1.2.3", "invalid_format"),
        ("01.2.3.4", "invalid_format"),
    ],
)
def test_non_public_or_malformed_ip_addresses_are_refused(raw: str, code: str) -> None:
    assert _code(validators.ip.validate, raw) == code


# -------------------------------------------------------------- filing numbers


@pytest.mark.parametrize(
    "number",
    ["京ICP备11018762号-11", "粤ICP备2021012345号", "蜀ICP备2021012345号-1", "陇icp备12345678号"],
)
def test_filing_numbers(number: str) -> None:
    assert validators.filing_number.is_valid(number)


@pytest.mark.parametrize(
    "number",
    ["京ICP备1101876号", "川ICP备2021012345号", "京ICP备2021012345号-0", "京ICP证2021012345号"],
)
def test_bad_filing_numbers(number: str) -> None:
    assert _code(validators.filing_number.validate, number) == "invalid_format"


def test_filing_number_generator() -> None:
    subject = validators.filing_number.generate("沪", 2026, 42)
    website = validators.filing_number.generate("沪", 2026, 42, website=3)
    assert subject == "沪ICP备2026000042号"
    assert website == "沪ICP备2026000042号-3"
    assert validators.filing_number.is_valid(subject) and validators.filing_number.is_valid(website)
    assert validators.filing_number.province(website).name_en == "Shanghai"
    assert len(validators.filing_number.PROVINCES) == 31
    with pytest.raises(ValueError):
        validators.filing_number.generate("川", 2026, 1)
    with pytest.raises(ValueError):
        validators.filing_number.generate("沪", 2026, 1_000_000)
    with pytest.raises(ValueError):
        validators.filing_number.generate("沪", 2026, 1, website=0)


# ------------------------------------------------------------------ registry


def test_every_validator_the_rules_name_exists(rules: Rules) -> None:
    named = {d.identifier for d in rules.documents} | {f.validator for f in rules.fields}
    resolved_by_rules = {"choice", "nationality", "document_type", "document_number"}
    assert named - resolved_by_rules <= set(VALIDATORS)
    assert "document_number" in VALIDATORS


def test_the_example_numbers_people_are_shown_are_valid() -> None:
    """A hint or an error that offers an example must offer one that passes."""
    shown = []
    with pytest.raises(ValidationError) as caught:
        validators.phone.validate("电话")
    shown += [caught.value.message_zh, caught.value.message_en]
    shown += [text for field in load_rules().fields if field.validator == "phone"
              for text in (field.hint.zh, field.hint.en)]
    examples = {found for text in shown for found in re.findall(r"\b0\d{2,3}-\d{7,8}\b", text)}
    assert examples and all(validators.phone.is_valid(example) for example in examples), examples
