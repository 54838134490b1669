"""The operator's in-process transport: the API client answered by the embedded gateway in the
same process, with no socket. A request and its reply are those a remote client gets."""

from __future__ import annotations

import random
import socket
from pathlib import Path

import pytest
from chalicelib.services import current_services

from beian.client import ApiError
from beian.operator.inprocess import in_process_client
from beian.synthetic import filing_payload

pytestmark = pytest.mark.parametrize("backend_env", ["embedded"], indirect=True)


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to connect anywhere fails the test."""
    def refuse(*_: object) -> None:
        raise AssertionError("the in-process transport opened a connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)


def test_a_document_goes_up_and_comes_back_through_the_gateway(
        backend_env: dict[str, str], no_network: None, rng: random.Random, tmp_path: Path) -> None:
    current_services().initialise()
    client = in_process_client()
    filing, token = client.submit(filing_payload(rng, "enterprise"))
    scan = tmp_path / "licence.pdf"
    scan.write_bytes(b"%PDF-1.7\n" + rng.randbytes(200_000))  # several chunks each way
    applicant = in_process_client(token)
    document = applicant.upload(filing["id"], "business_licence", scan)  # a streamed multipart body
    assert document["state"] == "received"

    settings = current_services().settings
    officer = current_services().auth.issue("olga", "compliance_officer", provider=settings.provider,
                                            province=settings.province)
    back = in_process_client(officer).retrieve(filing["id"], document["id"], "internal_audit", "核对往返",
                                               tmp_path / "back.pdf")
    assert back.read_bytes() == scan.read_bytes()  # a streamed download, decrypted here


def test_refusals_come_back_as_the_apis_errors(backend_env: dict[str, str], no_network: None) -> None:
    client = in_process_client()
    with pytest.raises(ApiError) as unauthorised:
        client.call("GET", "/filings/F20260101-00000000")
    assert unauthorised.value.status == 401 and "令牌" in unauthorised.value.message
    with pytest.raises(ApiError) as unknown:
        client.call("GET", "/no-such-route")
    assert unknown.value.status == 404


def test_the_published_key_is_what_the_services_publish(backend_env: dict[str, str], no_network: None) -> None:
    current_services().initialise()
    assert in_process_client().call("GET", "/audit/public-key") == current_services().audit.published()
