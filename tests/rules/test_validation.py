"""Validation of whole filings: every error at once, never an exception."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from chalicelib.rules import load_rules
from chalicelib.validation import FieldError, ValidationResult, validate_field, validate_filing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

MakeResidentId = Callable[[str, date, int], str]  # fixtures from conftest.py
MakeCode = Callable[[str], str]
RulesCopy = Callable[[Callable[[str], str]], Path]


def _problems(payload: object) -> set[tuple[str, str]]:
    return {(error.field, error.code) for error in validate_filing(payload).errors}


def test_a_valid_unit_filing_passes_and_is_normalised(unit_filing: dict[str, Any]) -> None:
    result = validate_filing(unit_filing)
    assert result.errors == ()
    assert result.ok
    normalised = result.normalised
    assert normalised["subject_type"] == "enterprise"
    assert normalised["contact"]["mobile"] == "13800138000"
    assert normalised["website"]["domains"] == ["example.cn", "xn--fsqu00a.xn--fiqs8s"]
    assert normalised["access"]["ip_addresses"] == ["1.2.3.4", "2400:3200::1"]
    same_id = normalised["responsible_person"]["id_number"] == (unit_filing["responsible_person"]["id_number"])
    assert same_id


def test_a_valid_individual_filing_passes(individual_filing: dict[str, Any]) -> None:
    result = validate_filing(individual_filing)
    assert result.errors == ()
    assert "responsible_person" not in result.normalised
    assert result.normalised["contact"]["home_phone"] == "021-51234567"


def test_ten_mistakes_give_ten_errors_in_one_call(unit_filing: dict[str, Any], make_uscc: MakeCode) -> None:
    filing = copy.deepcopy(unit_filing)
    valid_code = make_uscc("91110000MA0000002")
    filing["subject"]["id_number"] = valid_code[:-1] + ("0" if valid_code[-1] != "0" else "1")
    filing["responsible_person"]["id_number"] = "110101850615123"
    filing["contact"]["mobile"] = "12345"
    del filing["contact"]["office_phone"]
    filing["contact"]["email"] = "not-an-email"
    filing["website"]["domains"] = ["example.cn", "http://example.com/", "EXAMPLE.cn."]
    filing["website"]["extra"] = "?"
    filing["access"]["ip_addresses"] = ["192.168.1.1"]
    filing["access"]["access_method"] = "carrier_pigeon"

    result = validate_filing(filing)

    assert len(result.errors) == 10
    assert {(e.field, e.code) for e in result.errors} == {
        ("subject.id_number", "invalid_checksum"),
        ("responsible_person.id_number", "legacy_15_digit"),
        ("contact.mobile", "invalid_mobile"),
        ("contact.office_phone", "required"),
        ("contact.email", "invalid_format"),
        ("website.domains[1]", "not_a_domain"),
        ("website.domains[2]", "duplicate"),
        ("website.extra", "unknown_field"),
        ("access.ip_addresses[0]", "not_public"),
        ("access.access_method", "invalid_choice"),
    }
    for error in result.errors:
        assert error.message_zh and error.message_en
        leaked = any(
            str(number) in error.message_zh + error.message_en
            for number in (
                filing["subject"]["id_number"],
                filing["responsible_person"]["id_number"],
            )
        )
        assert not leaked
    assert not result.ok


def test_an_individual_is_their_own_responsible_person(
    individual_filing: dict[str, Any], unit_filing: dict[str, Any]
) -> None:
    filing = {**individual_filing, "responsible_person": unit_filing["responsible_person"]}
    assert _problems(filing) == {("responsible_person", "not_applicable")}
    # An empty section is as good as an absent one.
    assert _problems({**individual_filing, "responsible_person": {}}) == set()


def test_an_individual_needs_an_office_or_a_home_phone(individual_filing: dict[str, Any]) -> None:
    filing = copy.deepcopy(individual_filing)
    del filing["contact"]["home_phone"]
    assert _problems(filing) == {("contact.office_phone", "one_of_required")}
    filing["contact"]["office_phone"] = "010-62345678"
    assert _problems(filing) == set()


def test_a_unit_has_no_home_phone(unit_filing: dict[str, Any]) -> None:
    filing = copy.deepcopy(unit_filing)
    filing["contact"]["home_phone"] = "010-62345679"
    assert _problems(filing) == {("contact.home_phone", "not_applicable")}


def test_the_document_must_be_allowed_for_the_subject_type(unit_filing: dict[str, Any]) -> None:
    filing = copy.deepcopy(unit_filing)
    filing["subject"]["id_type"] = "passport"
    # One error: the number is not judged against a document that is not allowed.
    assert _problems(filing) == {("subject.id_type", "invalid_choice")}
    [error] = validate_filing(filing).errors
    assert "工商营业执照" in error.message_zh and "Business licence" in error.message_en


def test_the_fallback_document_is_accepted(unit_filing: dict[str, Any], make_organisation_code: MakeCode) -> None:
    filing = copy.deepcopy(unit_filing)
    filing["subject"]["id_type"] = "organisation_code_certificate"
    filing["subject"]["id_number"] = make_organisation_code("MA000000")
    assert _problems(filing) == set()


def test_the_nationality_decides_the_personal_documents(unit_filing: dict[str, Any]) -> None:
    filing = copy.deepcopy(unit_filing)
    filing["responsible_person"]["nationality"] = "foreign"
    assert _problems(filing) == {("responsible_person.id_type", "invalid_choice")}
    filing["responsible_person"].update(id_type="passport", id_number="e 1234 5678")
    result = validate_filing(filing)
    assert result.errors == ()
    assert result.normalised["responsible_person"]["id_number"] == "E12345678"


def test_a_wrong_nationality_is_one_error(unit_filing: dict[str, Any]) -> None:
    filing = copy.deepcopy(unit_filing)
    filing["responsible_person"]["nationality"] = "martian"
    assert _problems(filing) == {("responsible_person.nationality", "invalid_choice")}


def test_the_number_is_checked_by_the_documents_identifier(unit_filing: dict[str, Any]) -> None:
    filing = copy.deepcopy(unit_filing)
    filing["responsible_person"]["id_type"] = "household_register"
    assert _problems(filing) == set()
    filing["responsible_person"]["id_type"] = "military_officer_card"
    filing["responsible_person"]["id_number"] = "南字第1234567号"
    assert _problems(filing) == set()


# (subject type, its first document, the first 17 characters of a code of its category)
UNIT_CODES = [
    ("government", "organisation_code_certificate", "11100000MB0000001"),
    ("institution", "organisation_code_certificate", "12110000MB0000002"),
    ("institution", "public_institution_certificate", "12110000MB0000002"),
    ("social_group", "organisation_code_certificate", "51110000MJ0000003"),
    ("social_group", "social_group_certificate", "13100000MC0000004"),
    ("enterprise", "business_licence", "91110000MA0000001"),
    ("enterprise", "organisation_code_certificate", "92110000MA0000005"),
    ("other_unit", "registration_certificate", "52110000MJ0000006"),
    ("other_unit", "registration_certificate", "N2110000MF0000007"),
]


@pytest.mark.parametrize(("subject_type", "document", "code"), UNIT_CODES)
def test_every_unit_type_accepts_its_unified_social_credit_code(
        unit_filing: dict[str, Any], make_uscc: MakeCode, subject_type: str, document: str, code: str) -> None:
    filing = copy.deepcopy(unit_filing)
    filing["subject_type"] = subject_type
    filing["subject"].update(id_type=document, id_number=make_uscc(code))
    result = validate_filing(filing)
    assert result.errors == ()
    assert result.normalised["subject"]["id_number"] == make_uscc(code)


def test_the_organisation_code_stays_accepted_where_the_notice_names_it(
        unit_filing: dict[str, Any], make_organisation_code: MakeCode) -> None:
    filing = copy.deepcopy(unit_filing)
    for subject_type in ("government", "institution", "social_group", "enterprise"):
        filing["subject_type"] = subject_type
        filing["subject"].update(id_type="organisation_code_certificate",
                                 id_number=make_organisation_code("D2143569"))
        assert _problems(filing) == set(), subject_type
    # A licence never carried the organisation code alone; a length that fits neither says both.
    filing["subject"].update(id_type="business_licence")
    filing["subject_type"] = "enterprise"
    assert _problems(filing) == {("subject.id_number", "invalid_length")}
    filing["subject"].update(id_type="organisation_code_certificate", id_number="12345")
    (error,) = validate_filing(filing).errors
    assert "18" in error.message_zh and "9" in error.message_zh and "9-character" in error.message_en


@pytest.mark.parametrize(("subject_type", "code"), [
    ("government", "91110000MA0000001"),  # an enterprise's
    ("institution", "11100000MB0000001"),  # a government agency's
    ("social_group", "12110000MB0000002"),
    ("enterprise", "51110000MJ0000003"),
    ("other_unit", "91110000MA0000001"),
])
def test_a_uscc_of_another_unit_category_is_a_field_error(
        unit_filing: dict[str, Any], make_uscc: MakeCode, subject_type: str, code: str) -> None:
    filing = copy.deepcopy(unit_filing)
    filing["subject_type"] = subject_type
    document = load_rules().documents_for(subject_type, "cn")[0].documents[0].id
    filing["subject"].update(id_type=document, id_number=make_uscc(code))
    (error,) = validate_filing(filing).errors
    assert (error.field, error.code) == ("subject.id_number", "wrong_unit_category")
    name = load_rules().subject_type(subject_type).name
    assert f"“{code[:2]}”" in error.message_zh and name.zh in error.message_zh
    assert repr(code[:2]) in error.message_en and name.en.lower() in error.message_en
    # Field by field, as a person types, the same.
    assert validate_field("subject.id_number", make_uscc(code), subject_type=subject_type,
                          siblings={"id_type": document}).errors[0].code == "wrong_unit_category"


@pytest.mark.parametrize("payload", [None, [], "filing", 42, True, {"subject_type": ["enterprise"]}])
def test_wrong_json_types_give_errors(payload: object) -> None:
    result = validate_filing(payload)
    assert result.errors
    assert all(isinstance(error, FieldError) for error in result.errors)


def test_wrong_types_inside_a_filing(unit_filing: dict[str, Any]) -> None:
    filing = copy.deepcopy(unit_filing)
    filing["subject"] = "示例科技有限公司"
    filing["contact"]["mobile"] = 13800138000
    filing["website"]["domains"] = "example.cn"
    filing["access"]["ip_addresses"] = ["1.2.3.4", None, 5]
    filing["unexpected"] = {}
    assert _problems(filing) == {
        ("subject", "type"),
        ("contact.mobile", "type"),
        ("website.domains", "type"),
        ("access.ip_addresses[1]", "required"),
        ("access.ip_addresses[2]", "type"),
        ("unexpected", "unknown_field"),
    }


def test_without_a_subject_type_the_rest_is_still_checked(unit_filing: dict[str, Any]) -> None:
    filing = copy.deepcopy(unit_filing)
    del filing["subject_type"]
    filing["contact"]["email"] = "broken"
    del filing["contact"]["office_phone"]
    assert _problems(filing) == {("subject_type", "required"), ("contact.email", "invalid_format")}
    filing["subject_type"] = "company"
    assert ("subject_type", "invalid_choice") in _problems(filing)


def test_list_limits_and_lengths(unit_filing: dict[str, Any]) -> None:
    filing = copy.deepcopy(unit_filing)
    filing["website"]["domains"] = [f"site{n}.example.cn" for n in range(21)]
    filing["website"]["name"] = "网" * 51
    filing["website"]["service_content"] = "   "
    filing["access"]["ip_addresses"] = []
    assert _problems(filing) == {
        ("website.domains", "too_many"),
        ("website.name", "too_long"),
        ("website.service_content", "required"),
        ("access.ip_addresses", "required"),
    }


def test_the_rules_passed_in_are_the_rules_applied(unit_filing: dict[str, Any], rules_copy: RulesCopy) -> None:
    website_name = 'max_length = 50\napplies_to = ["unit", "individual"]'
    stricter = load_rules(rules_copy(lambda t: t.replace(website_name, website_name.replace("50", "5"))))
    assert _problems(unit_filing) == set()
    result = validate_filing(unit_filing, stricter)
    assert {(e.field, e.code) for e in result.errors} == {("website.name", "too_long")}


def test_errors_serialise() -> None:
    [error] = validate_filing([]).errors
    assert error.to_dict() == {
        "field": "",
        "code": "type",
        "message_zh": error.message_zh,
        "message_en": error.message_en,
    }
    assert validate_filing([]).to_dict()["errors"][0]["code"] == "type"


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=20), children, max_size=4),
    max_leaves=20,
)


@settings(database=None, max_examples=200, deadline=None)
@given(payload=JSON)
def test_arbitrary_json_never_raises(payload: object) -> None:
    result = validate_filing(payload)
    assert_well_formed(result)
    if not isinstance(payload, dict):
        assert [error.code for error in result.errors] == ["type"]


def assert_well_formed(result: ValidationResult) -> None:
    """What callers rely on: errors each naming a field and saying why in both languages, and
    the values that passed as a JSON object; no error, no refusal."""
    assert isinstance(result, ValidationResult) and isinstance(result.normalised, dict)
    for error in result.errors:
        assert isinstance(error, FieldError) and isinstance(error.field, str)
        assert error.code and error.message_zh.strip() and error.message_en.strip()
    json.dumps(result.to_dict(), ensure_ascii=False)  # serialisable as the API sends it


# The filing fixture is copied before each change, so sharing it between examples is safe.
@settings(
    database=None,
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    section=st.sampled_from(["subject", "responsible_person", "contact", "website", "access"]),
    key=st.text(max_size=20),
    value=JSON,
)
def test_arbitrary_values_in_a_filing_never_raise(
    unit_filing: dict[str, Any], section: str, key: str, value: object
) -> None:
    filing = copy.deepcopy(unit_filing)
    filing[section][key] = value
    result = validate_filing(filing)
    assert_well_formed(result)
    single = {spec.key for spec in load_rules().fields if spec.section == section and not spec.many}
    if key in single and isinstance(value, (bool, int, float, list, dict)) and value not in ([], {}):
        assert any(error.field.startswith(f"{section}.{key}") for error in result.errors), (key, value)


def test_validate_field_alone(make_resident_id: MakeResidentId) -> None:
    mobile = validate_field("contact.mobile", "+86 138 0013 8000")
    assert (mobile.value, mobile.errors) == ("13800138000", ())
    assert validate_field("contact.office_phone", "").errors == ()
    [required] = validate_field("contact.office_phone", "", subject_type="enterprise").errors
    assert required.code == "required"
    [not_allowed] = validate_field("subject.id_type", "passport", subject_type="enterprise").errors
    assert not_allowed.code == "invalid_choice"


def test_validate_field_uses_its_siblings(make_resident_id: MakeResidentId) -> None:
    number = make_resident_id("120101", date(1970, 12, 31), 999)
    as_card = validate_field(
        "responsible_person.id_number",
        number,
        subject_type="enterprise",
        siblings={"nationality": "cn", "id_type": "resident_id_card"},
    )
    accepted = as_card.errors == () and as_card.value == number
    assert accepted
    as_passport = validate_field(
        "responsible_person.id_number",
        "12",
        subject_type="enterprise",
        siblings={"nationality": "foreign", "id_type": "passport"},
    )
    assert [e.code for e in as_passport.errors] == ["invalid_format"]
