"""The rules file against the notice: documents, citations and official wording."""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
from chalicelib.rules import DEFAULT_RULES_FILE, RULES_FILE_ENV, Rules, RulesError, load_rules

RULES_FILE = DEFAULT_RULES_FILE
NOTICE_COPY = RULES_FILE.with_name("notice-2010.md")

# The official wording, typed here once more so that a change to the rules file
# and its notice copy together still fails this test.
SMS_PASSED = "您提交的网站备案信息已通过预核验，请在1个月内由网站负责人本人携带有关证件原件到我单位备案现场办理核验手续"
SMS_FAILED = "您提交的网站备案信息未通过预核验，请修改后重新提交"
CONTRACT_CLAUSE = (
    "依据《非经营性互联网备案管理办法》第二十三条规定，如备案信息不真实，将关闭网站并注销备案。"
    "请您承诺并确认：您提交的所有备案信息真实有效，当您的备案信息发生变化时请及时到备案系统中"
    "提交更新信息，如因未及时更新而导致备案信息不准确，我公司有权依法对接入网站进行关闭处理。"
)


def _raw_rules() -> dict[str, object]:
    with RULES_FILE.open("rb") as stream:
        return tomllib.load(stream)


def test_notice_copy_matches_the_recorded_digest() -> None:
    recorded = _raw_rules()["notice"]
    assert isinstance(recorded, dict)
    assert hashlib.sha256(NOTICE_COPY.read_bytes()).hexdigest() == recorded["sha256"]


@pytest.mark.parametrize(
    ("name", "expected", "cite"),
    [
        ("sms_pre_verification_passed", SMS_PASSED, "二.(二)1(2)"),
        ("sms_pre_verification_failed", SMS_FAILED, "二.(二)1(2)"),
        ("contract_clause", CONTRACT_CLAUSE, "三.(一)3"),
    ],
)
def test_official_texts_match_the_notice_character_for_character(
    rules: Rules, name: str, expected: str, cite: str
) -> None:
    notice = NOTICE_COPY.read_text(encoding="utf-8")
    raw_texts = _raw_rules()["notice_texts"]
    assert isinstance(raw_texts, dict)
    assert raw_texts[name]["text"] == expected
    # The whole quotation, delimited by the notice's own quotation marks.
    assert f"“{expected}”" in notice
    assert f"“{expected}”" in rules.cited_text(cite)
    assert rules.notice_text(name).text == expected
    assert rules.notice_text(name).cite == cite


# Section 一.1 of the notice: who presents which documents, first choice first.
DOCUMENT_RULES = [
    ("government", "cn", "subject", ["组织机构代码证书"], "一.1(1)"),
    ("institution", "cn", "subject", ["组织机构代码证书", "事业法人证书"], "一.1(1)"),
    ("social_group", "cn", "subject", ["组织机构代码证书", "社团法人证书"], "一.1(1)"),
    ("enterprise", "cn", "subject", ["工商营业执照", "组织机构代码证书"], "一.1(1)"),
    ("military", "cn", "subject", ["军队代号证书"], "一.1(1)"),
    ("enterprise", "cn", "responsible_person", ["身份证", "户口簿", "军官证", "台胞证"], "一.1(1)"),
    ("military", "foreign", "responsible_person", ["护照"], "一.1(1)"),
    ("individual", "cn", "subject", ["身份证", "户口簿", "军官证", "台胞证"], "一.1(2)"),
    ("individual", "foreign", "subject", ["护照"], "一.1(2)"),
]


@pytest.mark.parametrize(("subject_type", "nationality", "holder", "names", "cite"), DOCUMENT_RULES)
def test_every_document_rule_of_section_1_is_in_the_rules_with_its_citation(
    rules: Rules, subject_type: str, nationality: str, holder: str, names: list[str], cite: str
) -> None:
    options = {o.holder: o for o in rules.documents_for(subject_type, nationality)}  # type: ignore[arg-type]
    chosen = options[holder]
    assert [document.name.zh for document in chosen.documents] == names
    assert chosen.citation.cite == cite
    cited = rules.cited_text(cite)
    assert chosen.citation.quote in cited
    for document in chosen.documents:
        assert document.name.zh in cited


def test_unit_subjects_have_a_responsible_person_and_individuals_do_not(rules: Rules) -> None:
    for subject_type in rules.subject_types:
        holders = [o.holder for o in rules.documents_for(subject_type.id, "cn")]
        expected = ["subject", "responsible_person"] if subject_type.kind == "unit" else ["subject"]
        assert holders == expected, subject_type.id


def test_subject_types_have_stable_ids_and_kinds(rules: Rules) -> None:
    kinds = {t.id: t.kind for t in rules.subject_types}
    assert kinds == {
        "government": "unit",
        "institution": "unit",
        "social_group": "unit",
        "enterprise": "unit",
        "military": "unit",
        "other_unit": "unit",
        "individual": "individual",
    }
    assert rules.subject_type("military").name.zh == "军队"


def test_document_numbers_name_a_validator(rules: Rules) -> None:
    identifiers = {d.id: d.identifier for d in rules.documents}
    assert identifiers["resident_id_card"] == "resident_id"
    assert identifiers["business_licence"] == "uscc"
    # Today's code first; older certificates' organisation code still accepted.
    assert rules.document("organisation_code_certificate").identifiers == ("uscc", "organisation_code")
    assert identifiers["passport"] == "passport"


def test_responsible_person_definition(rules: Rules) -> None:
    person = rules.responsible_person
    assert person.citation.cite == "一.1(3)"
    assert person.definition_unit.zh == "法定代表人或单位委派具体负责网站的部门负责人"
    assert person.definition_unit.zh in rules.cited_text("一.1(3)")


def test_contact_fields_per_kind(rules: Rules) -> None:
    def contact(subject_type: str) -> set[str]:
        return {f.key for f in rules.required_fields(subject_type) if f.section == "contact"}

    assert contact("enterprise") == {"mobile", "office_phone", "email", "address"}
    assert contact("individual") == {"mobile", "email", "address"}
    [group] = [g for g in rules.field_groups if "individual" in g.applies_to]
    assert group.fields == ("contact.office_phone", "contact.home_phone")
    assert group.minimum == 1
    assert group.citation.cite == "一.2"
    assert not rules.field("contact.home_phone").applies("unit")


def test_website_and_access_fields(rules: Rules) -> None:
    by_section: dict[str, list[str]] = {}
    for field in rules.fields:
        by_section.setdefault(field.section, []).append(field.key)
        assert field.hint.zh and field.hint.en and field.label.zh and field.label.en
    assert by_section["website"] == ["name", "domains", "prior_approvals", "service_content"]
    assert by_section["access"] == [
        "provider_name",
        "access_method",
        "server_location",
        "ip_addresses",
    ]
    assert rules.field("website.domains").validator == "domain"
    assert rules.field("access.ip_addresses").many
    assert {f.citation.cite for f in rules.fields if f.section == "website"} == {"一.3"}
    assert {f.citation.cite for f in rules.fields if f.section == "access"} == {"一.4"}


@pytest.mark.parametrize(
    ("name", "amount", "unit", "bound", "cite"),
    [
        ("pre_verification", 5, "working_days", "within", "二.(二)1(2)"),
        ("on_site_verification", 1, "months", "within", "二.(二)1(2)"),
        ("provincial_review", 20, "working_days", "within", "二.(二)2"),
        ("retention", 5, "years", "at_least", "三.(一)4"),
    ],
)
def test_deadlines(rules: Rules, name: str, amount: int, unit: str, bound: str, cite: str) -> None:
    deadline = rules.deadline(name)
    assert (deadline.amount, deadline.unit, deadline.bound) == (amount, unit, bound)
    assert deadline.citation.cite == cite


def test_photo_specification(rules: Rules) -> None:
    photo = rules.photo
    assert (photo.long_side_px, photo.short_side_px) == (800, 600)
    assert photo.colour and photo.front_facing and photo.bareheaded
    assert photo.shows_capture_time and photo.shows_curtain_marker
    assert "800×600像素" in rules.cited_text(photo.citation.cite)


def test_verification_form_and_agreement(rules: Rules) -> None:
    form = rules.verification_form
    assert form.title.zh == "网站备案信息真实性核验单"
    assert form.copies == 2
    assert {s.fields_from for s in form.sections if s.kind == "fields"} == {section.id for section in rules.sections}
    # The notice requires the agreement (二.(二)1(6)) but not its points: those are the provider's.
    assert rules.security_agreement.citation.cite == "二.(二)1(6)"
    assert all(p.citation.provider and not p.citation.cite for p in rules.security_agreement.points)


def test_every_quote_is_in_its_cited_section(rules: Rules) -> None:
    citations = [
        *(t.citation for t in rules.subject_types),
        *(d.citation for d in rules.documents),
        *(f.citation for f in rules.fields),
        *(d.citation for d in rules.deadlines),
        *(s.citation for s in rules.verification_form.sections),
    ]
    for citation in (c for c in citations if not c.provider):
        assert citation.quote in rules.cited_text(citation.cite), citation


def test_a_cite_must_name_the_sub_part(rules: Rules) -> None:
    with pytest.raises(KeyError):
        rules.cited_text("二.1(2)")


def test_rules_are_json_serialisable(rules: Rules) -> None:
    data = json.loads(json.dumps(rules.to_dict(), ensure_ascii=False))
    assert data["version"] == rules.version
    assert data["effective"] == "2010-03-31"
    assert data["subject_types"][0]["id"] == "government"


def test_a_changed_rule_is_seen_from_an_explicit_path(
    rules_copy: Callable[[Callable[[str], str]], Path],
) -> None:
    path = rules_copy(
        lambda text: text.replace('amount = 5\nunit = "working_days"', 'amount = 7\nunit = "working_days"', 1)
    )
    assert load_rules(path).deadline("pre_verification").amount == 7
    assert load_rules().deadline("pre_verification").amount == 5


def test_the_environment_variable_is_read_at_call_time(
    rules_copy: Callable[[Callable[[str], str]], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = rules_copy(lambda text: text.replace('version = "2010.1"', 'version = "2010.1-test"'))
    monkeypatch.setenv(RULES_FILE_ENV, str(path))
    assert load_rules().version == "2010.1-test"


@pytest.mark.parametrize(
    ("edit", "where"),
    [
        (lambda t: t.replace('quote = "军队代号证书"', 'quote = "军队代号证明"'), "quote"),
        (lambda t: t.replace('cite = "一.4"', 'cite = "一.5"', 1), "cite"),
        (lambda t: t.replace('sha256 = "0', 'sha256 = "1'), "sha256"),
        (lambda t: t.replace("max_length = 100", "max_lenght = 100", 1), "max_lenght"),
        (lambda t: t.replace("请修改后重新提交", "请修改后再提交"), "text"),
        (
            lambda t: t.replace('documents = ["military_code_certificate"]', 'documents = ["army_card"]'),
            "documents",
        ),
        (lambda t: t.replace('validator = "mobile"', 'validator = "cellphone"'), "validator"),
        (lambda t: t.replace("amount = 20", "amount = true"), "amount"),
        (lambda t: t.replace('uploaded_by = ["verifier"]', 'uploaded_by = ["reviewer"]'), "uploaded_by"),
        (lambda t: t.replace('id = "domain_certificate"', 'id = "face_photo"'), "evidence"),
        # A provider rule that cites the notice is refused, naming the entry.
        (lambda t: t.replace('source = "provider"\n', 'source = "provider"\ncite = "三.(一)5"\n', 1),
         "subject_types[5].cite"),
        (lambda t: t.replace('starts_en = "after approval or the previous follow-up"\nsource = "provider"',
                             'starts_en = "after approval or the previous follow-up"\nsource = "provider"\n'
                             'quote = "接入服务单位应做好日常回访核查工作"'), "deadlines.follow_up.quote"),
        (lambda t: t.replace('source = "provider"\ndocuments', 'source = "ours"\ndocuments'),
         "subject_types[5].source"),
        # A rule without a citation must say it is the provider's.
        (lambda t: t.replace('starts_en = "after approval or the previous follow-up"\nsource = "provider"',
                             'starts_en = "after approval or the previous follow-up"'), "deadlines.follow_up.cite"),
        # Every leaf clause is accounted for, and only leaf clauses.
        (lambda t: t.replace('[clauses."三.(三)5"]', '[clauses_unused."三.(三)5"]'), "clauses.三.(三)5"),
        (lambda t: t.replace('[clauses."四"]', '[clauses."五"]'), "clauses.五"),
        (lambda t: t.replace('[clauses."二.(一)"]\n', '[clauses."二.(一)"]\nexcluded_zh = "x"\nexcluded_en = "x"\n'),
         "clauses.二.(一)"),
        (lambda t: t.replace('pages = ["photo.md"]', 'pages = []'), "clauses.二.(二)1(4).pages"),
        (lambda t: t.replace("min_age = 18", "min_age = 101"), "id_check.max_age"),
        (lambda t: t.replace('provider_rule = "narrowed_fallbacks"', 'provider_rule = "narrowed"', 1),
         "subject_types[0].provider_rule"),
    ],
)
def test_a_broken_rules_file_is_refused(
    rules_copy: Callable[[Callable[[str], str]], Path], edit: Callable[[str], str], where: str
) -> None:
    """A broken file names the entry at fault: a provider rule that cites the notice, a
    clause left unaccounted for, a misspelt key ..."""
    with pytest.raises(RulesError) as caught:
        load_rules(rules_copy(edit))
    assert where in str(caught.value)


def test_provider_rules_carry_no_citation_and_the_notices_rules_do(rules: Rules) -> None:
    provider = dict(rules.provider_rules())
    for expected in ("deadlines.follow_up", "id_check", "provider_rules.mainland_mobile",
                     "provider_rules.narrowed_fallbacks", "security_agreement.points.signed",
                     "subject_types.other_unit"):
        assert expected in provider
    assert not rules.deadline("follow_up").citation.cite
    assert rules.deadline("pre_verification").citation.source == "notice"
    assert (rules.id_check.min_age, rules.id_check.max_age) == (18, 100)
