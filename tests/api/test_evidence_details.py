"""Times on the evidence whatever the machine's zone, the photo's capture-to-upload gap, the
spot-check, the filing's JSON Schema, and the staff's commands."""

from __future__ import annotations

import io
import json
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jsonschema
import pytest
from chalicelib import steps
from chalicelib.photo import prepare_photo
from chalicelib.rules import load_rules
from chalicelib.services import current_services
from PIL import Image
from typer.testing import CliRunner

from beian.cli import app
from beian.client import ApiError, BeianClient
from beian.synthetic import SUBJECT_TYPES, filing_payload
from tests.api.evidence import (
    on_site_photo,
    open_spot_check_documents,
    review_trail,
    upload_identity_copies,
    walk_to_province,
)


def test_the_photo_stamp_is_china_time_on_a_utc_machine(utc_machine: None) -> None:
    raw = io.BytesIO()
    Image.new("RGB", (800, 600), (40, 90, 160)).save(raw, format="PNG")
    # 23:01 UTC is 07:01 the next morning in Beijing.
    stamped, info = prepare_photo(raw.getvalue(), curtain_marker="幕布", now=datetime(2026, 11, 30, 23, 1, tzinfo=UTC))
    assert info.captured_at == "2026-12-01 07:01:00+08:00"
    _, info_again = prepare_photo(stamped, curtain_marker="幕布", now=datetime(2026, 12, 1, tzinfo=UTC))
    assert info_again.captured_at == info.captured_at  # the EXIF time carries its zone


def test_an_exif_time_without_a_zone_is_read_as_china_time(utc_machine: None) -> None:
    image = Image.new("RGB", (800, 600), (40, 90, 160))
    exif = Image.Exif()
    exif[0x0132] = "2026:12:01 09:30:00"
    raw = io.BytesIO()
    image.save(raw, format="JPEG", exif=exif)
    _, info = prepare_photo(raw.getvalue(), curtain_marker="幕布", now=datetime(2026, 12, 1, 2, 0, tzinfo=UTC))
    assert info.captured_at == "2026-12-01 09:30:00+08:00"


def test_a_photo_uploaded_long_after_it_was_taken_is_refused(
        anonymous: BeianClient, staff: Callable[..., BeianClient], rng: random.Random, tmp_path: Path) -> None:
    filing, _ = anonymous.submit(filing_payload(rng, "individual"))
    verifier = staff("verifier")
    verifier.act(filing["id"], "pre_verify_pass", {"contact_verified_by": "phone"})
    tolerance = load_rules().photo_upload.max_delay_minutes
    for taken in (datetime.now(UTC) - timedelta(minutes=tolerance + 5), datetime.now(UTC) + timedelta(hours=1)):
        photo, info = on_site_photo(tmp_path, now=taken)
        with pytest.raises(ApiError) as late:
            verifier.upload(filing["id"], "face_photo", photo, extra={"photo": info})
        assert late.value.status == 400 and late.value.body["field"] == "photo.captured_at"
    photo, info = on_site_photo(tmp_path)
    document = verifier.upload(filing["id"], "face_photo", photo, extra={"photo": info})
    assert document["photo"]["captured_at"].endswith("+08:00") and document["photo"]["uploaded_at"]
    assert document["received_at"]


def test_a_filing_the_spot_check_picks_needs_its_photo_and_scans_opened(
        anonymous: BeianClient, staff: Callable[..., BeianClient], rng: random.Random, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    verifier, reviewer = staff("verifier"), staff("reviewer")
    filing, _ = anonymous.submit(filing_payload(rng, "enterprise"))
    filing = walk_to_province(verifier, filing, tmp_path)
    monkeypatch.setattr(steps, "spot_check_due", lambda filing_id, rate: False)
    trail = review_trail(reviewer, filing, tmp_path)  # opens the form only
    monkeypatch.setattr(steps, "spot_check_due", lambda filing_id, rate: True)
    with pytest.raises(ApiError) as unchecked:
        reviewer.act(filing["id"], "approve", trail)
    fields = {error["field"] for error in unchecked.value.body["errors"]}
    assert fields == {"review.spot_check.face_photo", "review.spot_check.business_licence",
                      "review.spot_check.resident_id_card"}
    open_spot_check_documents(reviewer, filing, tmp_path)
    approved = reviewer.act(filing["id"], "approve", trail)
    spot = approved["review"]["spot_check"]
    assert spot["due"] is True and spot["rate"] == load_rules().review.spot_check.rate
    assert all(item["audit_seq"] for item in spot["documents"].values())


def test_the_spot_check_picks_filings_at_the_rules_rate() -> None:
    rate = load_rules().review.spot_check.rate
    picked = sum(steps.spot_check_due(f"F20261201-{index:08X}", rate) for index in range(4000))
    assert abs(picked / 4000 - rate) < 0.03


@pytest.mark.parametrize("backend_env", ["embedded"], indirect=True)
def test_the_example_of_each_subject_type_fits_the_published_schema_and_is_accepted(
        live_server: str, tmp_path: Path) -> None:
    schema = BeianClient(live_server).call("GET", "/schemas/filing.json")
    jsonschema.Draft202012Validator.check_schema(schema)
    runner = CliRunner()
    for subject_type in SUBJECT_TYPES:
        printed = runner.invoke(app, ["apply", "--example", subject_type])
        assert printed.exit_code == 0, printed.output
        example = json.loads(printed.stdout)
        jsonschema.validate(example, schema)
        path = tmp_path / f"{subject_type}.json"
        path.write_text(printed.stdout, encoding="utf-8")
        applied = runner.invoke(app, ["apply", str(path), "--url", live_server])
        assert applied.exit_code == 0, applied.output
    missing = filing_payload(random.Random(1), "enterprise")
    del missing["responsible_person"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(missing, schema)
    assert runner.invoke(app, ["apply", "--example", "company"]).exit_code != 0


@pytest.mark.parametrize("backend_env", ["embedded"], indirect=True)
def test_staff_see_details_masked_and_documents_with_ids_from_the_cli(
        live_server: str, anonymous: BeianClient, staff: Callable[..., BeianClient], rng: random.Random,
        tmp_path: Path) -> None:
    payload = filing_payload(rng, "enterprise")
    filing, token = anonymous.submit(payload)
    copies = upload_identity_copies(BeianClient(live_server, token), filing, tmp_path)
    verifier = current_services().auth.issue("alice", "verifier", provider=current_services().settings.provider,
                                             province=current_services().settings.province)
    env = {"BEIAN_URL": live_server, "BEIAN_TOKEN": verifier, "COLUMNS": "200"}
    runner = CliRunner()
    shown = runner.invoke(app, ["status", filing["id"]], env=env)
    assert shown.exit_code == 0, shown.output
    number = payload["responsible_person"]["id_number"]
    assert number not in shown.output and filing["payload"]["responsible_person"]["id_number"] in shown.output
    assert payload["website"]["domains"][0] in shown.output
    for document_id in copies.values():
        assert document_id in shown.output
    listed = runner.invoke(app, ["documents", filing["id"]], env=env)
    assert all(document_id in listed.output for document_id in copies.values())
    applicant = runner.invoke(app, ["status", filing["id"]], env={**env, "BEIAN_TOKEN": token})
    assert applicant.exit_code == 0 and "材料 / Documents" not in applicant.output
    # Pre-verification is due 5 working days after submission: within 5 working days it is
    # listed, within 4 it is not, whatever weekends and holidays lie between.
    due = runner.invoke(app, ["deadlines", "--within", "5"], env=env)
    assert due.exit_code == 0 and filing["id"] in due.output and "working days" in due.output
    assert filing["id"] not in runner.invoke(app, ["deadlines", "--within", "4"], env=env).output
    assert [item["id"] for item in staff("verifier").call("GET", "/deadlines?within_days=5")["filings"]] == [
        filing["id"]]
