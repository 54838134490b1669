"""Abuse limits and upload hardening: 429 with Retry-After, types judged by content,
size and count limits before anything is stored, and nothing ever served inline."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests

import crypto
from beian.client import ApiError, BeianClient
from beian.synthetic import filing_payload
from tests.faults.support import post_sealed


@pytest.fixture
def tight_limits(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("BEIAN_ANONYMOUS_RATE", "0.2")
    monkeypatch.setenv("BEIAN_ANONYMOUS_BURST", "2")
    yield


@pytest.fixture
def few_documents(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("BEIAN_MAX_DOCUMENTS_PER_FILING", "2")
    yield


@pytest.mark.parametrize("backend_env", ["embedded"], indirect=True)
def test_anonymous_routes_are_rate_limited_per_client(tight_limits: None, live_server: str,
                                                      rng: random.Random) -> None:
    url = f"{live_server}/api/filings"
    replies = [requests.post(url, json=filing_payload(rng, "enterprise"), timeout=10) for _ in range(3)]
    assert [reply.status_code for reply in replies] == [201, 201, 429]
    refused = replies[2]
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.json()["code"] == "rate_limited" and refused.json()["message_zh"]
    # Staff routes are not throttled by this limit.
    assert requests.get(f"{live_server}/api/health", timeout=10).status_code == 200


def test_types_are_judged_by_content_and_sizes_and_counts_are_capped(few_documents: None, live_server: str,
                                                           rng: random.Random, tmp_path: Path) -> None:
    filing, token = BeianClient(live_server).submit(filing_payload(rng, "enterprise"))
    applicant = BeianClient(live_server, token)
    disguised = tmp_path / "licence.pdf"
    disguised.write_text("<html><script>alert(1)</script></html>")
    with pytest.raises(ApiError) as refused:
        applicant.upload(filing["id"], "business_licence", disguised)
    assert refused.value.body["field"] == "media_type"
    with pytest.raises(ApiError) as declared:
        applicant.call("POST", f"/filings/{filing['id']}/documents",
                       {"document_type": "business_licence", "size": 10, "media_type": "text/html"})
    assert declared.value.status == 400 and declared.value.body["field"] == "media_type"
    empty = tmp_path / "empty.pdf"
    empty.write_bytes(b"")
    with pytest.raises(ApiError) as nothing:
        applicant.upload(filing["id"], "business_licence", empty)
    assert nothing.value.body["field"] == "size" and "empty" in nothing.value.body["message_en"]
    assert applicant.call("GET", f"/filings/{filing['id']}/documents")["documents"] == []

    slot_request = {"document_type": "business_licence", "size": 10, "media_type": "image/png"}
    with pytest.raises(ApiError) as too_big:
        applicant.call("POST", f"/filings/{filing['id']}/documents", {**slot_request, "size": 10**9})
    assert too_big.value.status == 413 and too_big.value.body["field"] == "size"
    for _ in range(2):
        applicant.call("POST", f"/filings/{filing['id']}/documents", slot_request)
    with pytest.raises(ApiError) as too_many:
        applicant.call("POST", f"/filings/{filing['id']}/documents", slot_request)
    assert too_many.value.status == 413 and too_many.value.body["field"] == "documents"


def test_a_document_whose_content_is_not_its_declared_type_is_not_handed_over(
        live_server: str, staff: object, rng: random.Random, tmp_path: Path) -> None:
    filing, token = BeianClient(live_server).submit(filing_payload(rng, "enterprise"))
    applicant = BeianClient(live_server, token)
    slot = applicant.call("POST", f"/filings/{filing['id']}/documents",
                          {"document_type": "business_licence", "size": 20, "media_type": "application/pdf"})
    post_sealed(live_server, slot, b"\x89PNG\r\n\x1a\n" + bytes(12))
    applicant.call("POST", f"/filings/{filing['id']}/documents/{slot['document']['id']}/complete")
    verifier = staff("verifier")  # type: ignore[operator]
    with pytest.raises(ApiError) as mismatch:
        verifier.retrieve(filing["id"], slot["document"]["id"], "核对", tmp_path / "out")
    assert mismatch.value.status == 422
    assert not (tmp_path / "out").exists()


def test_ciphertext_downloads_are_attachments_never_inline(live_server: str, staff: object,
                                                            rng: random.Random, tmp_path: Path) -> None:
    filing, token = BeianClient(live_server).submit(filing_payload(rng, "individual"))
    scan = tmp_path / "id.jpg"
    scan.write_bytes(b"\xff\xd8\xff\xe0synthetic")
    document = BeianClient(live_server, token).upload(filing["id"], "resident_id_card", scan)
    verifier = staff("verifier")  # type: ignore[operator]
    key = crypto.PrivateKey.generate().public_key.dump_pem().decode()
    release = verifier.call("POST", f"/filings/{filing['id']}/documents/{document['id']}/key-release",
                            {"purpose": "核对", "public_key": key})
    reply = requests.get(urljoin(live_server + "/", release["download_url"]), timeout=10)
    assert reply.status_code == 200
    assert reply.headers["Content-Type"] == "application/octet-stream"
    assert reply.headers["Content-Disposition"].startswith("attachment")


def test_deleting_a_document_that_was_never_archived_is_a_conflict_not_a_crash(
        live_server: str, staff: Callable[..., BeianClient], rng: random.Random) -> None:
    """Found by the long stateful fuzz run: a DELETE on a document still awaiting its upload
    answered 500 (it has no archive key yet)."""
    filing, token = BeianClient(live_server).submit(filing_payload(rng, "enterprise"))
    slot = BeianClient(live_server, token).call("POST", f"/filings/{filing['id']}/documents", {
        "document_type": "business_licence", "size": 20, "media_type": "application/pdf"})
    with pytest.raises(ApiError) as refused:
        staff("compliance_officer").call("DELETE", f"/filings/{filing['id']}/documents/{slot['document']['id']}")
    assert refused.value.status == 409 and refused.value.body["field"] == "state"
    listed = BeianClient(live_server, token).call("GET", f"/filings/{filing['id']}/documents")["documents"]
    assert [document["state"] for document in listed] == ["awaiting_upload"]
