"""One filing of each subject type walked from submission to filing number, over HTTP."""

from __future__ import annotations

import io
import random
import re
import subprocess
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from chalicelib.errors import Invalid
from chalicelib.photo import prepare_photo
from chalicelib.rules import load_rules
from chalicelib.services import current_services
from PIL import Image

from beian.client import ApiError, BeianClient
from beian.synthetic import SUBJECT_TYPES, filing_payload, uscc_number

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


def on_site_photo(tmp_path: Path, size: tuple[int, int] = (800, 600)) -> tuple[Path, dict[str, Any]]:
    image = Image.new("RGB", size, (40, 90, 160))
    image.paste((220, 180, 150), (size[0] // 2 - 100, 150, size[0] // 2 + 100, 450))
    raw = io.BytesIO()
    image.save(raw, format="PNG")
    stamped, info = prepare_photo(raw.getvalue(), curtain_marker="示例IDC备案幕布",
                                  now=datetime(2026, 11, 30, 10, 0, tzinfo=UTC))
    path = tmp_path / "photo.jpg"
    path.write_bytes(stamped)
    return path, info.to_dict()


def all_checks() -> dict[str, bool]:
    return {check.id: True for section in load_rules().verification_form.sections
            for check in section.checks}


def on_site_params(filing: dict[str, Any], photo_id: str) -> dict[str, Any]:
    payload = filing["payload"]
    return {
        "originals": {holder: payload[holder]["id_type"]
                      for holder in ("subject", "responsible_person") if holder in payload},
        "checks": all_checks(), "photo_document_id": photo_id,
        "agreement_accepted": True, "contract_clause_accepted": True,
        "corrections": [{"field": "contact.address", "note": "门牌号现场更正"}],
    }


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
    uploaded = verifier.upload(filing["id"], "face_photo", photo, extra={"photo": info})
    filing = verifier.act(filing["id"], "record_on_site", on_site_params(filing, uploaded["id"]))
    assert filing["state"] == "verified_on_site"
    form_id = filing["on_site"]["form_document_id"]

    form = verifier.retrieve(filing["id"], form_id, "核对核验单", tmp_path / "form.pdf")
    text = subprocess.run(["pdftotext", str(form), "-"], check=True, capture_output=True,
                          text=True).stdout
    rules = load_rules()
    assert text.count(rules.verification_form.title.zh) == 2  # in duplicate
    assert "第一联" in text and "第二联" in text
    for section in rules.verification_form.sections:
        assert section.title.zh in text
    assert filing["payload"]["subject"]["name"] in text

    filing = verifier.act(filing["id"], "submit_to_province")
    assert filing["state"] == "submitted_to_province"
    assert filing["deadlines"]["provincial_review"]["due"]
    filing = reviewer.act(filing["id"], "approve")
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
    outcomes: list[Any] = [None, None]
    barrier = threading.Barrier(2)

    def run(index: int) -> None:
        barrier.wait()
        try:
            outcomes[index] = verifiers[index].act(filing["id"], *actions[index],
                                                   expected_version=filing["version"])
        except ApiError as error:
            outcomes[index] = error

    threads = [threading.Thread(target=run, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
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
    verifier = staff("verifier")
    filing = verifier.act(filing["id"], "pre_verify_pass", {"contact_verified_by": "sms"})
    photo, info = on_site_photo(tmp_path)
    uploaded = verifier.upload(filing["id"], "face_photo", photo, extra={"photo": info})
    verifier.act(filing["id"], "record_on_site", on_site_params(filing, uploaded["id"]))
    verifier.act(filing["id"], "submit_to_province")
    return staff("reviewer").act(filing["id"], "approve"), BeianClient(live_server, token)


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
