"""The thin path over HTTP, on both backends: submit, upload encrypted, release, decrypt."""

from __future__ import annotations

import io
import os
import random
from collections.abc import Callable
from pathlib import Path

import pytest
from chalicelib.services import current_services

from beian.client import ApiError, BeianClient
from beian.synthetic import filing_payload
from tests.faults.support import seal


def test_applicant_uploads_and_verifier_decrypts_identical_bytes(
        anonymous: BeianClient, staff: Callable[..., BeianClient], live_server: str,
        rng: random.Random, tmp_path: Path) -> None:
    filing, token = anonymous.submit(filing_payload(rng, "enterprise"))
    assert filing["state"] == "submitted"
    assert token.startswith(f"bft_{filing['id']}.")
    applicant = BeianClient(live_server, token)

    original = tmp_path / "licence.png"
    original.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(200_000))  # over three 64 KiB chunks
    document = applicant.upload(filing["id"], "business_licence", original)
    assert document["state"] == "received"
    assert document["size"] > original.stat().st_size  # ciphertext, not the file

    listed = applicant.call("GET", f"/filings/{filing['id']}/documents")["documents"]
    assert [item["id"] for item in listed] == [document["id"]]

    verifier = staff("verifier")
    copy = verifier.retrieve(filing["id"], document["id"], "verification", "预核验：核对营业执照", tmp_path / "copy")
    assert copy.read_bytes() == original.read_bytes()


def test_applicant_cannot_release_keys_and_nothing_is_released_without_a_purpose(
        anonymous: BeianClient, staff: Callable[..., BeianClient], live_server: str,
        rng: random.Random, tmp_path: Path) -> None:
    filing, token = anonymous.submit(filing_payload(rng, "individual"))
    applicant = BeianClient(live_server, token)
    scan = tmp_path / "id.jpg"
    scan.write_bytes(b"\xff\xd8\xff" + os.urandom(1000))
    document = applicant.upload(filing["id"], "resident_id_card", scan)

    with pytest.raises(ApiError) as refused:
        applicant.retrieve(filing["id"], document["id"], "verification", "I want to see it", tmp_path / "x")
    assert refused.value.status == 403
    for purpose, reference, field in (("curiosity", "核对营业执照", "purpose"), ("verification", "", "reference")):
        with pytest.raises(ApiError) as no_purpose:
            staff("verifier").retrieve(filing["id"], document["id"], purpose, reference, tmp_path / "y")
        assert no_purpose.value.status == 400
        assert no_purpose.value.body["field"] == field
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_an_upload_encrypted_for_another_document_is_refused(
        anonymous: BeianClient, live_server: str, rng: random.Random, tmp_path: Path) -> None:
    filing, token = anonymous.submit(filing_payload(rng, "enterprise"))
    applicant = BeianClient(live_server, token)
    source = tmp_path / "scan.bin"
    source.write_bytes(b"%PDF-1.7\n" + os.urandom(4991))
    first = applicant.call("POST", f"/filings/{filing['id']}/documents",
                           {"document_type": "business_licence", "size": 5000, "media_type": "application/pdf"})
    second = applicant.call("POST", f"/filings/{filing['id']}/documents",
                            {"document_type": "business_licence", "size": 5000, "media_type": "application/pdf"})
    # Encrypt for the first slot's context, upload into the second slot.
    sealed = seal(first["envelope"], source.read_bytes())
    applicant.post_to_slot(second["upload"], io.BytesIO(sealed), len(sealed))
    with pytest.raises(ApiError) as refused:
        applicant.call("POST", f"/filings/{filing['id']}/documents/{second['document']['id']}"
                       "/complete")
    assert refused.value.status == 400
    assert refused.value.body["field"] == "upload"
    states = {item["id"]: item["state"] for item in applicant.call(
        "GET", f"/filings/{filing['id']}/documents")["documents"]}
    assert states[second["document"]["id"]] == "awaiting_upload"


def test_an_upload_over_the_slot_limit_is_refused_and_not_received(
        anonymous: BeianClient, live_server: str, rng: random.Random) -> None:
    filing, token = anonymous.submit(filing_payload(rng, "enterprise"))
    applicant = BeianClient(live_server, token)
    slot = applicant.call("POST", f"/filings/{filing['id']}/documents",
                          {"document_type": "business_licence", "size": 10, "media_type": "application/pdf"})
    oversize = slot["upload"]["max_bytes"] + 1
    document = f"/filings/{filing['id']}/documents/{slot['document']['id']}"
    try:
        applicant.post_to_slot(slot["upload"], io.BytesIO(b"x" * oversize), oversize)
        stored = True
    except ApiError as refused:
        assert refused.status in (400, 413)
        stored = False
    # S3 and the embedded server refuse it at the door; moto ignores content-length-range,
    # so there the envelope check must refuse it instead.
    assert stored == (current_services().settings.backend == "aws")
    with pytest.raises(ApiError) as not_received:
        applicant.call("POST", f"{document}/complete")
    assert not_received.value.status == (400 if stored else 409)
    states = [item["state"] for item in applicant.call("GET", f"/filings/{filing['id']}/documents")["documents"]]
    assert states == ["awaiting_upload"]


def test_a_retrieved_file_that_is_not_what_was_declared_is_never_written(
        anonymous: BeianClient, staff: Callable[..., BeianClient], live_server: str,
        rng: random.Random, tmp_path: Path) -> None:
    """The media-type check runs before the plaintext gets a name: nothing is left to delete."""
    filing, token = anonymous.submit(filing_payload(rng, "enterprise"))
    applicant = BeianClient(live_server, token)
    slot = applicant.call("POST", f"/filings/{filing['id']}/documents",
                          {"document_type": "business_licence", "size": 5000, "media_type": "application/pdf"})
    sealed = seal(slot["envelope"], b"\x89PNG\r\n\x1a\n" + os.urandom(4992))  # a PNG declared as a PDF
    applicant.post_to_slot(slot["upload"], io.BytesIO(sealed), len(sealed))
    applicant.call("POST", f"/filings/{filing['id']}/documents/{slot['document']['id']}/complete")
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ApiError) as refused:
        staff("verifier").retrieve(filing["id"], slot["document"]["id"], "verification", "核对营业执照",
                                   out / "licence.pdf")
    assert refused.value.status == 422
    assert list(out.iterdir()) == []
