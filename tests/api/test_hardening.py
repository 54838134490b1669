"""Abuse limits and upload hardening: 429 with Retry-After, types judged by content,
size and count limits before anything is stored, and nothing ever served inline."""

from __future__ import annotations

import io
import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest
import requests
from chalicelib.auth import Principal
from chalicelib.config import Settings
from chalicelib.errors import TooLarge
from chalicelib.services import build_services, current_services
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import crypto
from beian.client import ApiError, BeianClient
from beian.synthetic import filing_payload
from benchmarks.stress_figures import record
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
        verifier.retrieve(filing["id"], slot["document"]["id"], "verification", "核对营业执照", tmp_path / "out")
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
                            {"purpose": "verification", "reference": "核对营业执照", "public_key": key})
    reply = requests.get(urljoin(live_server + "/", release["download_url"]), timeout=10)
    assert reply.status_code == 200
    assert reply.headers["Content-Type"] == "application/octet-stream"
    assert reply.headers["Content-Disposition"].startswith("attachment")


def test_deleting_a_document_that_was_never_archived_is_the_uploaders_withdrawal_not_a_crash(
        live_server: str, staff: Callable[..., BeianClient], rng: random.Random) -> None:
    """Found by the long stateful fuzz run: a DELETE on a document still awaiting its upload
    answered 500 (it has no archive key yet). It is now the uploader withdrawing the slot."""
    filing, token = BeianClient(live_server).submit(filing_payload(rng, "enterprise"))
    slot = BeianClient(live_server, token).call("POST", f"/filings/{filing['id']}/documents", {
        "document_type": "business_licence", "size": 20, "media_type": "application/pdf"})
    with pytest.raises(ApiError) as refused:
        staff("compliance_officer").call("DELETE", f"/filings/{filing['id']}/documents/{slot['document']['id']}")
    assert refused.value.status == 403
    listed = BeianClient(live_server, token).call("GET", f"/filings/{filing['id']}/documents")["documents"]
    assert [document["state"] for document in listed] == ["awaiting_upload"]
    BeianClient(live_server, token).call("DELETE", f"/filings/{filing['id']}/documents/{slot['document']['id']}")
    assert BeianClient(live_server, token).call("GET", f"/filings/{filing['id']}/documents")["documents"] == []


@pytest.fixture
def three_documents(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("BEIAN_MAX_DOCUMENTS_PER_FILING", "3")
    yield


@pytest.mark.parametrize("backend_env", ["embedded"], indirect=True)
@given(unused=st.integers(1, 3), withdrawn=st.integers(0, 3))
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
def test_unused_slots_expire_or_are_withdrawn_and_stop_counting(three_documents: None, backend_env: dict[str, str],
                                                                unused: int, withdrawn: int) -> None:
    moment = [datetime.now(UTC)]  # the services' clock, moved past the slots' expiry below
    services = build_services(Settings.from_env(), clock=lambda: moment[0])
    filing, _ = services.filings.submit(filing_payload(random.Random(unused * 7 + withdrawn), "individual"))
    applicant = Principal(f"applicant:{filing['id']}", "applicant", filing=filing["id"])
    request = {"document_type": "resident_id_card", "size": 20, "media_type": "application/pdf"}
    for _ in range(withdrawn):
        slot = services.documents.request_upload(applicant, filing["id"], request)
        services.documents.cancel_upload(applicant, filing["id"], slot["document"]["id"])  # never counted again
    for _ in range(unused):
        services.documents.request_upload(applicant, filing["id"], request)
    if unused == 3:
        with pytest.raises(TooLarge) as capped:
            services.documents.request_upload(applicant, filing["id"], request)
        assert capped.value.field == "documents"
    moment[0] += timedelta(seconds=services.settings.upload_slot_seconds + 1)  # the unused slots expire
    for _ in range(3):
        services.documents.request_upload(applicant, filing["id"], request)
    assert len(services.documents.list_for(applicant, filing["id"])) == 3
    record("upload_slot_cases", unused + withdrawn, 0)


@pytest.mark.parametrize("backend_env", ["embedded"], indirect=True)
@given(size=st.integers(10, 2000))
@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck))
def test_a_slot_is_single_use(live_server: str, size: int) -> None:
    filing, token = BeianClient(live_server).submit(filing_payload(random.Random(size), "individual"))
    applicant = BeianClient(live_server, token)
    plaintext = b"%PDF-1.7\n" + bytes(size)
    slot = applicant.call("POST", f"/filings/{filing['id']}/documents", {
        "document_type": "resident_id_card", "size": len(plaintext), "media_type": "application/pdf"})
    post_sealed(live_server, slot, plaintext)
    applicant.call("POST", f"/filings/{filing['id']}/documents/{slot['document']['id']}/complete")
    with pytest.raises(ApiError) as again:
        post_sealed(live_server, slot, plaintext)
    assert again.value.status == 409 and again.value.body["code"] == "upload_used"
    staged = list(current_services().backend.blobs.list_staged(""))
    assert staged == [], "a refused second upload leaves nothing in staging"
    record("upload_slot_cases", 1, 0)


ROUTE_CLASSES = [("POST", "/api/filings"), ("POST", "/api/filings/F1/documents"), ("GET", "/api/filings/F1"),
                 ("GET", "/api/deadlines"), ("DELETE", "/api/filings/F1/holds/C1"), ("POST", "/blobs/upload"),
                 ("GET", "/blobs/download")]


def wsgi_call(server: Any, method: str, path: str, address: str, token: str) -> tuple[str, dict[str, str]]:
    """One request straight into the embedded server's WSGI application."""
    replies: list[tuple[str, dict[str, str]]] = []
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "REQUEST_URI": path, "REMOTE_ADDR": address,
               "HTTP_AUTHORIZATION": f"Bearer {token}", "CONTENT_LENGTH": "0", "QUERY_STRING": "",
               "wsgi.input": io.BytesIO(b"")}
    b"".join(server(environ, lambda status, headers: replies.append((status, dict(headers)))))
    return replies[0]


@pytest.mark.parametrize("backend_env", ["embedded"], indirect=True)
@given(route=st.sampled_from(ROUTE_CLASSES), burst=st.integers(1, 3), by_token=st.booleans())
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_route_class_is_limited_per_address_and_per_token(
        monkeypatch: pytest.MonkeyPatch, backend_env: dict[str, str], route: tuple[str, str], burst: int,
        by_token: bool) -> None:
    for name in ("BEIAN_ANONYMOUS", "BEIAN"):
        monkeypatch.setenv(f"{name}_RATE", "0.01")
        monkeypatch.setenv(f"{name}_BURST", str(burst))
    from app import app as chalice_app

    from beian.server import build_server

    server = build_server(chalice_app, Path("site"))
    # One token from many addresses, or many tokens from one address: either way the limit holds.
    calls = [(f"10.0.0.{n}", "same-token") if by_token else ("10.0.0.1", f"token-{n}") for n in range(burst + 1)]
    statuses = [wsgi_call(server, *route, address, token) for address, token in calls]
    assert all(not status.startswith("429") for status, _ in statuses[:burst]), statuses
    status, headers = statuses[burst]
    assert status.startswith("429") and int(headers["Retry-After"]) >= 1, (route, status)
    record("rate_limit_cases", 1, 0)
