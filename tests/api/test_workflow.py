"""One filing of each subject type walked from submission to filing number, over HTTP."""

from __future__ import annotations

import functools
import io
import random
import re
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from chalicelib.errors import Invalid
from chalicelib.filings import DOMAIN_CLAIM
from chalicelib.photo import prepare_photo
from chalicelib.rules import load_rules
from chalicelib.services import current_services, reconciler_for
from PIL import Image

from beian.client import ApiError, BeianClient
from beian.synthetic import SUBJECT_TYPES, filing_payload, uscc_number
from tests.api.evidence import (
    all_checks,
    on_site_params,
    on_site_photo,
    review_trail,
    upload_identity_copies,
    upload_signed_papers,
    verify_on_site,
    walk_to_approval,
    walk_to_province,
)
from tests.support import require_command
from tests.threads import race

FILING_NUMBER = re.compile(r"^京ICP备\d{10}号$")


def sent_texts() -> list[str]:
    notifier = current_services().backend.notifier
    if hasattr(notifier, "sent"):
        return [message.text for message in notifier.sent()]
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sns.models import sns_backends

    region = current_services().settings.region
    return [message[1] for message in
            sns_backends[DEFAULT_ACCOUNT_ID][region].sms_messages.values()]


def pdf_text(path: Path) -> str:
    pdftotext = require_command("pdftotext", "poppler-utils")
    return subprocess.run([pdftotext, str(path), "-"], check=True, capture_output=True, text=True).stdout


USCC_UNITS = ("government", "institution", "social_group")


@pytest.mark.parametrize("subject_type", [t for t in SUBJECT_TYPES if t not in USCC_UNITS])
def test_each_subject_type_reaches_a_filing_number(
        subject_type: str, anonymous: BeianClient, staff: Callable[..., BeianClient],
        live_server: str, rng: random.Random, tmp_path: Path) -> None:
    walk_to_filing_number(filing_payload(rng, subject_type), anonymous, staff, live_server, tmp_path)


@pytest.mark.parametrize("subject_type", USCC_UNITS)
def test_units_reach_a_filing_number_with_a_unified_social_credit_code(
        subject_type: str, anonymous: BeianClient, staff: Callable[..., BeianClient],
        live_server: str, rng: random.Random, tmp_path: Path) -> None:
    payload = filing_payload(rng, subject_type)
    code = uscc_number(rng, subject_type)
    # The first document the notice names, carrying today's 18-character code.
    payload["subject"].update(id_type="organisation_code_certificate", id_number=code)
    filing = walk_to_filing_number(payload, anonymous, staff, live_server, tmp_path)
    assert filing["payload"]["subject"]["id_type"] == "organisation_code_certificate"
    assert len(code) == 18 and code.startswith(load_rules().subject_type(subject_type).uscc_prefixes)


def walk_to_filing_number(payload: dict[str, Any], anonymous: BeianClient,
                          staff: Callable[..., BeianClient], live_server: str,
                          tmp_path: Path) -> dict[str, Any]:
    """Submit ``payload`` and take it through every step to its filing number and a follow-up."""
    filing, token = anonymous.submit(payload)
    applicant = BeianClient(live_server, token)
    verifier, reviewer = staff("verifier"), staff("reviewer")
    texts = load_rules()

    filing = verifier.act(filing["id"], "pre_verify_pass", {"contact_verified_by": "phone"})
    assert filing["state"] == "pre_verified"
    assert filing["deadlines"]["pre_verification"]["met_at"]
    assert filing["deadlines"]["on_site_verification"]["due"]
    assert texts.notice_text("sms_pre_verification_passed").text in sent_texts()

    photo, info = on_site_photo(tmp_path)
    with pytest.raises(ApiError) as applicant_photo:
        applicant.upload(filing["id"], "face_photo", photo, extra={"photo": info})
    assert applicant_photo.value.status == 403
    upload_identity_copies(applicant, filing, tmp_path)
    uploaded = verifier.upload(filing["id"], "face_photo", photo, extra={"photo": info})
    filing = verifier.act(filing["id"], "record_on_site", on_site_params(filing, uploaded["id"]))
    assert filing["state"] == "verified_on_site"
    form_id = filing["on_site"]["form_document_id"]

    text = pdf_text(verifier.retrieve(filing["id"], form_id, "verification", "核对核验单", tmp_path / "form.pdf"))
    rules = load_rules()
    assert text.count(rules.verification_form.title.zh) == 2  # in duplicate
    assert "第一联" in text and "第二联" in text
    for section in rules.verification_form.sections:
        assert section.title.zh in text
    assert filing["payload"]["subject"]["name"] in text

    with pytest.raises(ApiError) as unsigned:
        verifier.act(filing["id"], "submit_to_province")
    assert unsigned.value.status == 409
    assert {error["field"] for error in unsigned.value.body["errors"]} == {
        f"documents.{paper.id}" for paper in rules.required_evidence("submit_to_province")}
    upload_signed_papers(verifier, filing["id"], tmp_path)
    filing = verifier.act(filing["id"], "submit_to_province")
    assert filing["state"] == "submitted_to_province"
    assert filing["deadlines"]["provincial_review"]["due"]
    filing = reviewer.act(filing["id"], "approve", review_trail(reviewer, filing, tmp_path))
    assert filing["state"] == "approved"
    assert FILING_NUMBER.match(filing["filing_number"]), filing["filing_number"]
    domain = filing["payload"]["website"]["domains"][0]
    assert filing["website_numbers"][domain] == filing["filing_number"] + "-1"
    assert applicant.call("GET", f"/filings/{filing['id']}")["filing_number"] == (
        filing["filing_number"])
    assert filing["deadlines"]["follow_up"]["met_at"] is None
    followed = verifier.call("POST", f"/filings/{filing['id']}/follow-ups", {"outcome": "confirmed"})
    assert followed["follow_ups"][0]["outcome"] == "confirmed"
    assert followed["deadlines"]["follow_up"]["due"] > filing["deadlines"]["follow_up"]["started_at"][:10]
    return filing


def test_a_return_sends_the_notice_text_and_the_applicant_resubmits(
        anonymous: BeianClient, staff: Callable[..., BeianClient], live_server: str,
        rng: random.Random) -> None:
    filing, token = anonymous.submit(filing_payload(rng, "individual"))
    verifier = staff("verifier")
    with pytest.raises(ApiError) as no_reason:
        verifier.act(filing["id"], "pre_verify_return", {})
    assert no_reason.value.status == 400
    filing = verifier.act(filing["id"], "pre_verify_return", {"reasons": ["邮箱无法联系"]})
    assert filing["state"] == "returned_to_applicant"
    assert load_rules().notice_text("sms_pre_verification_failed").text in sent_texts()

    corrected = filing_payload(rng, "individual")
    corrected.pop("consent")
    applicant = BeianClient(live_server, token)
    filing = applicant.act(filing["id"], "resubmit", {"filing": corrected})
    assert filing["state"] == "submitted"
    assert filing["payload"]["contact"]["email"] == corrected["contact"]["email"]


def test_a_step_not_allowed_from_the_state_is_a_409_naming_the_state(
        anonymous: BeianClient, staff: Callable[..., BeianClient], rng: random.Random) -> None:
    filing, _ = anonymous.submit(filing_payload(rng, "enterprise"))
    with pytest.raises(ApiError) as refused:
        staff("reviewer").act(filing["id"], "approve")
    assert refused.value.status == 409
    assert "submitted" in refused.value.body["message_en"]
    assert refused.value.body["field"] == "state"


def test_of_two_conflicting_transitions_exactly_one_wins(
        anonymous: BeianClient, staff: Callable[..., BeianClient], rng: random.Random) -> None:
    filing, _ = anonymous.submit(filing_payload(rng, "enterprise"))
    verifiers = [staff("verifier"), staff("verifier")]
    actions = [("pre_verify_pass", {"contact_verified_by": "phone"}),
               ("pre_verify_return", {"reasons": ["资料不全"]})]
    outcomes = race(*(functools.partial(verifiers[index].act, filing["id"], *actions[index],
                                        expected_version=filing["version"]) for index in range(2)),
                    caught=ApiError)
    winners = [outcome for outcome in outcomes if isinstance(outcome, dict)]
    losers = [outcome for outcome in outcomes if isinstance(outcome, ApiError)]
    assert len(winners) == 1 and len(losers) == 1
    assert losers[0].status == 409
    final = verifiers[0].call("GET", f"/filings/{filing['id']}")
    assert final["state"] == winners[0]["state"]
    assert len(final["history"]) == 2  # submit, and the one winning step


def test_on_site_without_evidence_lists_every_missing_item(
        anonymous: BeianClient, staff: Callable[..., BeianClient], rng: random.Random) -> None:
    filing, _ = anonymous.submit(filing_payload(rng, "enterprise"))
    verifier = staff("verifier")
    verifier.act(filing["id"], "pre_verify_pass", {"contact_verified_by": "email"})
    with pytest.raises(ApiError) as refused:
        verifier.act(filing["id"], "record_on_site", {})
    fields = {error["field"] for error in refused.value.body["errors"]}
    assert {"params.photo_document_id", "params.agreement_accepted",
            "params.contract_clause_accepted", "params.originals.subject",
            "params.originals.responsible_person"} <= fields
    assert {f"params.checks.{check}" for check in all_checks()} <= fields
    assert verifier.call("GET", f"/filings/{filing['id']}")["state"] == "pre_verified"


def test_verifier_lists_the_queue_and_deadlines_in_scope_only(
        anonymous: BeianClient, staff: Callable[..., BeianClient], rng: random.Random) -> None:
    filing, _ = anonymous.submit(filing_payload(rng, "enterprise"))
    verifier = staff("verifier")
    queue = verifier.call("GET", "/filings?state=submitted")["filings"]
    assert [item["id"] for item in queue] == [filing["id"]]
    due = verifier.call("GET", "/deadlines?within_days=30")["filings"]
    assert [item["id"] for item in due] == [filing["id"]]
    assert verifier.call("GET", "/deadlines?within_days=0")["filings"] == []
    other = staff("verifier", provider="another-idc", province="京")
    assert other.call("GET", "/filings?state=submitted")["filings"] == []
    assert other.call("GET", "/deadlines?within_days=30")["filings"] == []
    with pytest.raises(ApiError) as hidden:
        other.call("GET", f"/filings/{filing['id']}")
    assert hidden.value.status == 404
    reviewer = staff("reviewer")
    assert reviewer.call("GET", "/deadlines?within_days=30")["filings"] == []
    with pytest.raises(ApiError) as bad:
        verifier.call("GET", "/deadlines?within_days=soon")
    assert bad.value.status == 400 and bad.value.body["field"] == "within_days"


def approved_filing(anonymous: BeianClient, staff: Callable[..., BeianClient], live_server: str,
                    rng: random.Random, tmp_path: Path) -> tuple[dict[str, Any], BeianClient]:
    filing, token = anonymous.submit(filing_payload(rng, "individual"))
    return walk_to_approval(filing, staff, tmp_path), BeianClient(live_server, token)


def test_a_change_keeps_the_number_and_goes_through_verification_again(
        anonymous: BeianClient, staff: Callable[..., BeianClient], live_server: str,
        rng: random.Random, tmp_path: Path) -> None:
    filing, applicant = approved_filing(anonymous, staff, live_server, rng, tmp_path)
    changed = filing_payload(rng, "individual")
    changed.pop("consent")
    after = applicant.act(filing["id"], "request_change", {"filing": changed})
    assert after["state"] == "submitted"
    assert after["filing_number"] == filing["filing_number"]
    assert after["payload"]["website"]["domains"] == changed["website"]["domains"]
    assert after["deadlines"]["pre_verification"]["met_at"] is None


def test_cancellation_needs_a_reason_and_is_final(
        anonymous: BeianClient, staff: Callable[..., BeianClient], live_server: str,
        rng: random.Random, tmp_path: Path) -> None:
    filing, applicant = approved_filing(anonymous, staff, live_server, rng, tmp_path)
    with pytest.raises(ApiError) as no_reason:
        applicant.act(filing["id"], "cancel", {})
    assert no_reason.value.status == 400
    cancelled = applicant.act(filing["id"], "cancel", {"reasons": ["网站关闭"]})
    assert cancelled["state"] == "cancelled"
    with pytest.raises(ApiError) as again:
        applicant.act(filing["id"], "request_change", {"filing": {}})
    assert again.value.status == 409


def test_the_provider_enters_the_access_information_on_site(
        anonymous: BeianClient, staff: Callable[..., BeianClient], rng: random.Random,
        tmp_path: Path) -> None:
    payload = filing_payload(rng, "enterprise")
    access = payload.pop("access")
    filing, _ = anonymous.submit(payload)  # 二.(二)1(5): the access section is the provider's
    verifier = staff("verifier")
    filing = verifier.act(filing["id"], "pre_verify_pass", {"contact_verified_by": "phone"})
    upload_identity_copies(verifier, filing, tmp_path)
    photo, info = on_site_photo(tmp_path, size=(600, 800))  # a portrait photo is as good
    uploaded = verifier.upload(filing["id"], "face_photo", photo, extra={"photo": info})
    params = on_site_params(filing, uploaded["id"])
    with pytest.raises(ApiError) as missing:
        verifier.act(filing["id"], "record_on_site", params)
    fields = {error["field"] for error in missing.value.body["errors"]}
    assert {"params.access.provider_name", "params.access.ip_addresses"} <= fields
    filing = verifier.act(filing["id"], "record_on_site", {**params, "access": access})
    assert filing["state"] == "verified_on_site"
    assert filing["payload"]["access"]["ip_addresses"] == access["ip_addresses"]


@pytest.mark.parametrize("size", [(800, 601), (1600, 1200), (600, 600)])
def test_a_photo_of_another_size_is_refused_naming_the_size(tmp_path: Path, size: tuple[int, int]) -> None:
    raw = io.BytesIO()
    Image.new("RGB", size, (40, 90, 160)).save(raw, format="PNG")
    with pytest.raises(Invalid) as refused:
        prepare_photo(raw.getvalue(), curtain_marker="幕布", now=datetime(2026, 11, 30, 10, 0, tzinfo=UTC))
    assert refused.value.field == "photo"
    assert f"not {size[0]}x{size[1]}" in refused.value.message_en and "800×600" in refused.value.message_zh


def audit_entries(action: str, filing_id: str) -> list[dict[str, Any]]:
    return [entry for entry in current_services().audit.entries()
            if entry["action"] == action and entry["object"] == f"filing:{filing_id}"]


@pytest.mark.parametrize("subject_type", SUBJECT_TYPES)
def test_refusal_province_return_correction_and_approval_with_the_evidence(
        subject_type: str, anonymous: BeianClient, staff: Callable[..., BeianClient],
        live_server: str, rng: random.Random, tmp_path: Path, utc_machine: None) -> None:
    verifier, reviewer = staff("verifier"), staff("reviewer")
    payload = filing_payload(rng, subject_type, nationality="foreign")  # a passport holder
    refused, _ = anonymous.submit(payload)
    refused = verifier.act(refused["id"], "pre_verify_pass", {"contact_verified_by": "phone"})
    with pytest.raises(ApiError) as no_reason:
        verifier.act(refused["id"], "refuse", {})
    assert no_reason.value.status == 400 and no_reason.value.body["field"] == "params.reasons"
    refused = verifier.act(refused["id"], "refuse", {"reasons": ["域名所有者与主办者不一致"]})
    assert refused["state"] == "refused" and refused["refusal"]["reasons"] == ["域名所有者与主办者不一致"]
    assert load_rules().sms_text("sms_refused") in sent_texts()
    with pytest.raises(ApiError) as final:
        verifier.act(refused["id"], "record_on_site", {})
    assert final.value.status == 409 and final.value.body["field"] == "state"

    filing, _ = anonymous.submit(payload)  # a refused filing lets its domains go
    filing = verifier.act(filing["id"], "pre_verify_pass", {"contact_verified_by": "email"})
    upload_identity_copies(verifier, filing, tmp_path)
    filing = verify_on_site(verifier, filing, tmp_path)
    upload_signed_papers(verifier, filing["id"], tmp_path)
    filing = verifier.act(filing["id"], "submit_to_province")
    filing = reviewer.act(filing["id"], "return_to_provider", {"reasons": ["通信地址不完整"]})
    assert filing["state"] == "returned_by_province"
    reverification = filing["deadlines"]["reverification"]
    assert reverification["due"] and load_rules().deadline("reverification").source == "provider"

    holder = "responsible_person" if "responsible_person" in filing["payload"] else "subject"
    old_address = filing["payload"]["contact"]["address"]
    with pytest.raises(ApiError) as unknown:
        verify_on_site(verifier, filing, tmp_path, corrections=[{"field": "contact.fax", "value": "1"}])
    assert unknown.value.status == 400
    assert "params.corrections[0].field" in {error["field"] for error in unknown.value.body["errors"]}
    new_number = filing_payload(rng, subject_type, nationality="foreign")[holder]["id_number"]
    filing = verify_on_site(verifier, filing, tmp_path, corrections=[
        {"field": "contact.address", "value": old_address + "（东门）", "note": "现场核实"},
        {"field": f"{holder}.id_number", "value": new_number, "note": "证件号码录入有误"}])
    assert filing["state"] == "verified_on_site"
    assert filing["payload"]["contact"]["address"] == old_address + "（东门）"
    assert filing["deadlines"]["reverification"]["met_at"]
    [corrected] = audit_entries("filing.correction", filing["id"])
    changes = {item["field"]: item for item in corrected["details"]["corrections"]}
    assert changes["contact.address"]["old"] == old_address
    assert new_number not in str(corrected) and changes[f"{holder}.id_number"]["new"].count("*") > 3

    text = pdf_text(verifier.retrieve(filing["id"], filing["on_site"]["form_document_id"], "verification", "核对核验单",
                                      tmp_path / "form.pdf"))
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\+08:00", text), text
    assert "护照与网站负责人本人一致" in text and "身份证与网站负责人本人一致" not in text
    assert "云服务器" in text and "\ncloud\n" not in text  # the rules' label, not the id
    assert "示例数据中心" in text and "非中国公民" in text
    assert "东门" in text  # the correction is on the form
    person = filing["payload"].get("responsible_person") or filing["payload"]["subject"]
    # 网站负责人 is filled in for an individual too: they are their own responsible person.
    assert text.count(person["name"]) >= (4 if subject_type == "individual" else 2)

    with pytest.raises(ApiError) as stale_papers:  # papers signed for the first verification
        verifier.act(filing["id"], "submit_to_province")
    assert stale_papers.value.status == 409
    upload_signed_papers(verifier, filing["id"], tmp_path)
    filing = verifier.act(filing["id"], "submit_to_province")
    with pytest.raises(ApiError) as no_trail:
        reviewer.act(filing["id"], "approve")
    assert no_trail.value.status == 409
    missing = {error["field"] for error in no_trail.value.body["errors"]}
    assert {"review.form_opened", "params.checked.subject_document", "params.checked.domain"} <= missing
    filing = reviewer.act(filing["id"], "approve", review_trail(reviewer, filing, tmp_path))
    assert filing["state"] == "approved"
    assert filing["review"]["form_audit_seq"] and set(filing["review"]["checked"]) >= {"domain", "access"}
    documents = {d["document_type"] for d in verifier.call("GET", f"/filings/{filing['id']}/documents")["documents"]}
    assert {paper.id for paper in load_rules().required_evidence("submit_to_province")} <= documents

    again = filing_payload(rng, "individual")
    again["website"]["domains"] = [filing["payload"]["website"]["domains"][0]]
    with pytest.raises(ApiError) as taken:
        anonymous.submit(again)
    assert taken.value.status == 409 and taken.value.body["field"] == "website.domains[0]"
    assert filing["payload"]["subject"]["name"] not in str(taken.value.body)


def test_sent_back_to_the_applicant_it_is_verified_again_from_the_start(
        anonymous: BeianClient, staff: Callable[..., BeianClient], live_server: str,
        rng: random.Random, tmp_path: Path) -> None:
    verifier, reviewer = staff("verifier"), staff("reviewer")
    filing, token = anonymous.submit(filing_payload(rng, "enterprise"))
    walk_to_province(verifier, filing, tmp_path)
    reviewer.act(filing["id"], "return_to_provider", {"reasons": ["网站名称与主体不符"]})
    filing = verifier.act(filing["id"], "send_back_to_applicant", {"reasons": ["请修改网站名称"]})
    assert filing["state"] == "returned_to_applicant"
    assert load_rules().sms_text("sms_returned_for_correction") in sent_texts()
    corrected = {**filing_payload(rng, "enterprise"), "website": {**filing["payload"]["website"], "name": "新名称"}}
    corrected.pop("consent")
    filing = BeianClient(live_server, token).act(filing["id"], "resubmit", {"filing": corrected})
    assert filing["state"] == "submitted" and filing["payload"]["website"]["name"] == "新名称"
    assert filing["deadlines"]["pre_verification"]["met_at"] is None  # pre-verified again


def test_one_domain_two_racing_submissions_exactly_one_wins(
        anonymous: BeianClient, rng: random.Random) -> None:
    payloads = [filing_payload(rng, "individual"), filing_payload(rng, "enterprise")]
    payloads[1]["website"]["domains"] = list(payloads[0]["website"]["domains"])
    outcomes = race(*(functools.partial(anonymous.submit, payload) for payload in payloads), caught=ApiError)
    losers = [outcome for outcome in outcomes if isinstance(outcome, ApiError)]
    assert len(losers) == 1 and losers[0].status == 409, outcomes
    assert losers[0].body["field"] == "website.domains[0]"


def test_the_same_subject_filing_the_same_website_again_is_told_to_change_it(
        anonymous: BeianClient, rng: random.Random) -> None:
    payload = filing_payload(rng, "enterprise")
    anonymous.submit(payload)
    with pytest.raises(ApiError) as same:
        anonymous.submit(payload)
    assert same.value.status == 409
    assert same.value.body["message_zh"] == load_rules().provider_text("domain_filed_by_same_subject").text.zh


def test_a_conflict_from_before_the_rule_is_shown_found_and_blocks_approval(
        anonymous: BeianClient, staff: Callable[..., BeianClient], rng: random.Random,
        tmp_path: Path) -> None:
    verifier, reviewer = staff("verifier"), staff("reviewer")
    first, _ = anonymous.submit(filing_payload(rng, "enterprise"))
    domain = first["payload"]["website"]["domains"][0]
    records = current_services().backend.records
    claim = records.get(DOMAIN_CLAIM, domain)
    assert claim is not None and claim.body["filing"] == first["id"]
    records.delete(claim)  # as a filing made before one website, one live filing was enforced
    payload = filing_payload(rng, "individual")
    payload["website"]["domains"] = [domain]
    second, _ = anonymous.submit(payload)

    assert verifier.call("GET", f"/filings/{second['id']}")["domain_conflicts"] == [domain]
    queue = {item["id"]: item for item in verifier.call("GET", "/filings?state=submitted")["filings"]}
    assert queue[first["id"]]["domain_conflicts"] == [domain]
    found = reconciler_for(current_services()).run().of("domain_conflict")
    assert {finding.subject for finding in found} == {f"filing:{first['id']}", f"filing:{second['id']}"}

    second = walk_to_province(verifier, second, tmp_path)
    trail = review_trail(reviewer, second, tmp_path)
    with pytest.raises(ApiError) as blocked:
        reviewer.act(second["id"], "approve", trail)
    assert blocked.value.status == 409 and blocked.value.body["field"] == "website.domains"
    verifier.act(first["id"], "refuse", {"reasons": ["域名所有者与主办者不一致"]})
    assert reviewer.act(second["id"], "approve", trail)["state"] == "approved"
    assert not reconciler_for(current_services()).run().of("domain_conflict")


def test_a_change_or_correction_that_adds_a_filed_domain_is_refused(
        anonymous: BeianClient, staff: Callable[..., BeianClient], live_server: str, rng: random.Random,
        tmp_path: Path) -> None:
    held, _ = anonymous.submit(filing_payload(rng, "enterprise"))
    taken = held["payload"]["website"]["domains"][0]
    verifier = staff("verifier")
    filing, _ = anonymous.submit(filing_payload(rng, "individual"))
    filing = verifier.act(filing["id"], "pre_verify_pass", {"contact_verified_by": "phone"})
    upload_identity_copies(verifier, filing, tmp_path)
    domains = [*filing["payload"]["website"]["domains"], taken]
    with pytest.raises(ApiError) as refused:
        verify_on_site(verifier, filing, tmp_path, corrections=[{"field": "website.domains", "value": domains}])
    assert refused.value.status == 409 and refused.value.body["field"] == "website.domains[1]"
    assert verifier.call("GET", f"/filings/{filing['id']}")["state"] == "pre_verified"  # nothing changed
    changed = filing_payload(rng, "individual")
    changed.pop("consent")
    approved, applicant = approved_filing(anonymous, staff, live_server, rng, tmp_path)
    changed["website"]["domains"] = [taken]
    with pytest.raises(ApiError) as change:
        applicant.act(approved["id"], "request_change", {"filing": changed})
    assert change.value.status == 409 and change.value.body["field"] == "website.domains[0]"
