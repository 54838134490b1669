"""The upload page: files encrypted in the browser reach the archive as ciphertext only.

Round trip: the page encrypts and uploads; a verifier's release and the Python
implementation decrypt identical bytes, and no request the page sent, nor anything
the server stored, holds the plaintext. Bad input: a wrong token, a file over the
limit and a dropped connection each say what happened and what to do, in the page's
language, and a document is shown as received only once the API has checked it.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from chalicelib.documents import UPLOAD_PART_BYTES
from chalicelib.rules import load_rules
from chalicelib.services import current_services

from beian.client import BeianClient
from beian.synthetic import filing_payload

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("backend_env", ["embedded"], indirect=True)]

MARKER = b"PLAINTEXT-NEVER-LEAVES-THE-BROWSER"
PNG = b"\x89PNG\r\n\x1a\n"
PDF = b"%PDF-1.7\n"
FINAL = ".beian-upload[data-state=received], .beian-upload[data-state=failed]"


class Applicant:
    """A filing submitted over the API, and what the tests need to drive its pages."""

    def __init__(self, live_server: str, subject_type: str = "enterprise") -> None:
        self.base = live_server
        self.filing, self.token = BeianClient(live_server).submit(filing_payload(random.Random(2010), subject_type))
        self.id = self.filing["id"]

    def open(self, page: Any, path: str = "/upload/", token: str | None = None) -> None:
        page.goto(f"{self.base}{path}")
        page.fill("#filing-id", self.id)
        page.fill("#filing-token", self.token if token is None else token)
        page.click("#access-form button[type=submit]")

    def staff(self, role: str) -> BeianClient:
        settings = current_services().settings
        token = current_services().auth.issue(f"{role}-1", role, provider=settings.provider, province=settings.province)
        return BeianClient(self.base, token)

    def documents(self) -> list[dict[str, Any]]:
        documents: list[dict[str, Any]] = BeianClient(self.base, self.token).call(
            "GET", f"/filings/{self.id}/documents")["documents"]
        return documents

    def verifier_copy(self, document: dict[str, Any], reference: str, target: Path) -> bytes:
        """The document as a verifier retrieves it for verification, decrypted on their side."""
        return self.staff("verifier").retrieve(self.id, document["id"], "verification", reference, target).read_bytes()


@pytest.fixture
def applicant(live_server: str) -> Applicant:
    return Applicant(live_server)


@pytest.fixture
def sent(page: Any) -> list[bytes]:
    """Every request body the page sends (read by intercepting, then passed on unchanged)."""
    bodies: list[bytes] = []

    def keep(route: Any) -> None:
        bodies.append(route.request.post_data_buffer or b"")
        route.continue_()

    page.route("**/*", keep)
    return bodies


def scan(tmp_path: Path, name: str, size: int, signature: bytes = PNG) -> Path:
    """A file of the type ``signature`` announces, holding MARKER so plaintext would be found."""
    path = tmp_path / name
    head = signature + MARKER
    path.write_bytes(head + os.urandom(size - len(head)))
    return path


def upload(page: Any, *files: Path, document_type: str | None = None) -> list[str]:
    page.wait_for_selector("#upload-form")
    if document_type:
        page.select_option("#document-type", document_type)
    page.set_input_files("#document-file", [str(f) for f in files])
    page.click("#upload-button")
    page.wait_for_function(
        "n => document.querySelectorAll('.beian-upload[data-state=received], "
        ".beian-upload[data-state=failed]').length >= n",
        arg=len(files),
        timeout=60_000,
    )
    page.wait_for_selector("#upload-button:not([disabled])")
    return [row.get_attribute("data-state") for row in page.query_selector_all(".beian-upload")]


def document_states(page: Any) -> list[str]:
    page.wait_for_selector("#documents, #documents-empty")
    return [row.get_attribute("data-state") for row in page.query_selector_all("#documents tbody tr")]


def stored_files(data_dir: Path) -> list[Path]:
    return [path for path in (data_dir / "blobs").rglob("*") if path.is_file()]


def test_a_file_encrypted_by_the_page_decrypts_to_identical_bytes(
    page: Any,
    applicant: Applicant,
    sent: list[bytes],
    tmp_path: Path,
    backend_env: dict[str, str],
    screenshot: Callable[[Any, str], Path],
) -> None:
    files = [
        scan(tmp_path, "licence.png", 200_000),  # four chunks, the last one short
        scan(tmp_path, "exact.pdf", 2 * 64 * 1024, PDF),  # whole chunks only
    ]
    applicant.open(page)
    assert upload(page, *files, document_type="business_licence") == ["received", "received"]
    assert document_states(page) == ["received", "received"]
    screenshot(page, "upload-received")

    copies = sorted(applicant.verifier_copy(document, "核对营业执照", tmp_path / document["id"])
                    for document in applicant.documents())
    assert copies == sorted(f.read_bytes() for f in files)

    assert any(len(body) > 200_000 for body in sent), "the ciphertext upload was not seen"
    assert not any(MARKER in body for body in sent)
    stored = stored_files(Path(backend_env["BEIAN_DATA_DIR"]))
    assert stored and not any(MARKER in path.read_bytes() for path in stored)


def test_a_large_file_goes_up_in_bounded_parts_while_it_is_encrypted(
    page: Any, applicant: Applicant, tmp_path: Path
) -> None:
    """No request holds more than one part and no more than three are in flight: the page never
    holds the whole ciphertext."""
    # Count the part requests as the page makes them, by wrapping its fetch.
    page.add_init_script("""
      const send = window.fetch;
      window.parts = {busy: 0, peak: 0, sizes: []};
      window.fetch = async (url, init) => {
        if (!init || init.method !== 'PUT') return send(url, init);
        parts.busy += 1;
        parts.peak = Math.max(parts.peak, parts.busy);
        parts.sizes.push(init.body.size);
        try { return await send(url, init); } finally { parts.busy -= 1; }
      };
    """)
    file = scan(tmp_path, "big.pdf", 18 * 1024 * 1024 + 5, PDF)
    # A slow network: parts pile up unless the page waits for one to finish before the next.
    page.route("**/blobs/part**", lambda route: (time.sleep(0.5), route.continue_()))
    applicant.open(page)
    assert upload(page, file, document_type="business_licence") == ["received"]
    parts = page.evaluate("window.parts")
    assert len(parts["sizes"]) == 4 and max(parts["sizes"]) == UPLOAD_PART_BYTES
    assert parts["peak"] == 3
    assert applicant.verifier_copy(applicant.documents()[0], "核对营业执照", tmp_path / "copy") == file.read_bytes()


def test_a_wrong_token_says_what_to_check(page: Any, applicant: Applicant) -> None:
    applicant.open(page, token=f"bft_{applicant.id}.not-the-token")
    alert = page.wait_for_selector("[role=alert]").inner_text()
    assert "访问令牌无效" in alert and "bft_" in alert
    assert page.query_selector("#upload-form") is None

    applicant.open(page, "/en/upload/", token="bft_F20990101-00000000.nope")
    alert = page.wait_for_selector("[role=alert]").inner_text()
    assert "access token" in alert and "bft_" in alert
    assert "令牌" not in alert


def test_the_document_choices_and_their_names_come_from_the_rules(page: Any, applicant: Applicant) -> None:
    applicant.open(page)
    page.wait_for_selector("#upload-form")
    offered = dict(page.eval_on_selector_all("#document-type option", "os => os.map(o => [o.value, o.textContent])"))
    evidence = load_rules().evidence
    for item in evidence:
        if "applicant" in item.uploaded_by:
            assert offered[item.id] == item.name.zh
        else:  # the on-site photo is the verifier's to take
            assert item.id not in offered
    assert offered["business_licence"] == load_rules().document("business_licence").name.zh


def test_a_file_that_is_not_pdf_jpeg_or_png_is_refused(page: Any, applicant: Applicant, tmp_path: Path) -> None:
    applicant.open(page)
    assert upload(page, scan(tmp_path, "scan.docx", 5000, b"PK\x03\x04")) == ["failed"]
    problem = page.inner_text(".beian-upload[data-state=failed]")
    assert "仅接受 PDF、JPEG、PNG 文件" in problem and "服务器没有收妥" in problem
    assert "PDF, JPEG, PNG" in page.inner_text("#document-file-hint")
    assert document_states(page) == []


def test_a_file_over_the_limit_is_refused_before_it_is_encrypted(
    page: Any,
    applicant: Applicant,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    screenshot: Callable[[Any, str], Path],
) -> None:
    monkeypatch.setenv("BEIAN_MAX_DOCUMENT_BYTES", str(1024 * 1024))
    applicant.open(page, "/en/upload/")
    assert upload(page, scan(tmp_path, "huge.pdf", 1024 * 1024 + 1)) == ["failed"]
    problem = page.inner_text(".beian-upload[data-state=failed]")
    assert "The file is too large; the limit is 1 MB" in problem
    assert "Make the file smaller" in problem
    assert "has not received" in problem
    assert document_states(page) == []  # nothing was even registered
    screenshot(page, "upload-too-large-en")


def test_a_dropped_connection_is_retried_and_never_shown_as_received(
    page: Any, applicant: Applicant, tmp_path: Path, screenshot: Callable[[Any, str], Path]
) -> None:
    file = scan(tmp_path, "id.jpg", 150_000)
    applicant.open(page)
    page.route("**/blobs/part**", lambda route: route.abort("connectionreset"))
    assert upload(page, file, document_type="resident_id_card") == ["failed"]
    problem = page.inner_text(".beian-upload[data-state=failed]")
    assert "网络连接中断" in problem and "重试" in problem
    assert "服务器没有收妥" in problem
    assert document_states(page) == ["awaiting_upload"]
    assert "未收到" in page.inner_text("#documents")
    screenshot(page, "upload-dropped")

    # The upload now succeeds, but the connection drops before the server's check answers.
    page.unroute("**/blobs/part**")
    page.route("**/complete", lambda route: route.abort("connectionreset"))
    page.click(".beian-upload .retry")
    page.wait_for_selector(".beian-upload[data-state=failed] .retry")
    assert document_states(page) == ["awaiting_upload"]

    page.unroute("**/complete")
    page.click(".beian-upload .retry")
    page.wait_for_selector(".beian-upload[data-state=received]")
    assert document_states(page) == ["received"]
    screenshot(page, "upload-retried")

    assert applicant.verifier_copy(applicant.documents()[0], "核对身份证", tmp_path / "copy") == file.read_bytes()


@pytest.mark.parametrize("prefix", ["", "/en"])
def test_the_status_page_shows_the_state_deadlines_and_documents(
    page: Any, applicant: Applicant, tmp_path: Path, prefix: str, screenshot: Callable[[Any, str], Path]
) -> None:
    BeianClient(applicant.base, applicant.token).upload(
        applicant.id, "business_licence", scan(tmp_path, "licence.png", 1000)
    )
    applicant.staff("verifier").act(applicant.id, "pre_verify_pass", {"contact_verified_by": "phone"})
    applicant.open(page, f"{prefix}/status/")
    page.wait_for_selector("#deadlines")
    filing = BeianClient(applicant.base, applicant.token).call("GET", f"/filings/{applicant.id}")
    name = filing["state_name"]["en" if prefix else "zh"]
    assert name in page.inner_text("#filing-state")
    due = {
        row.get_attribute("data-deadline"): row.inner_text() for row in page.query_selector_all("#deadlines tbody tr")
    }
    for deadline, value in filing["deadlines"].items():
        assert value["due"] in due[deadline]
    assert ("Done on" if prefix else "已于") in due["pre_verification"]
    assert ("Not started" if prefix else "尚未开始") in due["provincial_review"]
    assert document_states(page) == ["received"]
    page.click("#filing-details summary")
    details = page.inner_text("#filing-details")
    assert filing["payload"]["contact"]["email"] in details and filing["payload"]["website"]["domains"][0] in details
    masked = filing["payload"]["responsible_person"]["id_number"]
    assert "*" in masked and masked in details  # the masked form only, as the API gives it
    screenshot(page, f"status{prefix.replace('/', '-')}")


def test_the_archive_key_page_shows_the_live_key(
    page: Any, live_server: str, screenshot: Callable[[Any, str], Path]
) -> None:
    page.goto(f"{live_server}/developers/archive-key/")
    page.wait_for_selector("#key-fingerprint")
    info = current_services().keys.public_key_info()
    assert page.inner_text("#key-fingerprint") == info["fingerprint"]
    assert page.get_attribute("#key-check", "data-match") == "true"
    assert page.inner_text("#key-pem").strip() == info["public_key_pem"].strip()
    published = current_services().audit.published()
    assert page.inner_text("#audit-fingerprint") == published["fingerprint"]
    anchor = page.inner_text("#audit-anchor")  # the latest checkpoint anchored outside the log
    assert (str(published["anchor"]["seq"]) in anchor and published["anchor"]["hash"] in anchor
            if published["anchor"] else anchor in ("尚无", "none yet"))
    screenshot(page, "archive-key")


def test_a_returned_filing_says_why_and_is_corrected_and_resubmitted_on_the_status_page(
    page: Any, applicant: Applicant, screenshot: Callable[[Any, str], Path]
) -> None:
    reasons = ["联系电话无法接通", "网站名称与域名不符"]
    applicant.staff("verifier").act(applicant.id, "pre_verify_return", {"reasons": reasons})
    applicant.open(page, "/status/")
    page.wait_for_selector("#return-reasons")
    shown = page.inner_text("#return-reasons")
    assert all(reason in shown for reason in reasons)
    page.wait_for_selector("#resubmit #submit-form")
    original = filing_payload(random.Random(2010), "enterprise")  # what the applicant submitted
    assert page.input_value("[name='contact.email']") == original["contact"]["email"]  # filled in
    numbers = [field.id for field in load_rules().fields if field.validator == "document_number"]
    for field_id in numbers:  # stored sealed, shown masked: typed again
        section, key = field_id.split(".")
        if key in original.get(section, {}):
            assert page.input_value(f"[name='{field_id}']") == ""
            page.fill(f"[name='{field_id}']", original[section][key])
    page.fill("[name='contact.email']", "corrected@example.cn")
    assert page.query_selector("#consent") is None  # given at submission; a correction does not ask again
    page.click("#submit-button")
    page.wait_for_selector("#filing-state.beian-state--submitted")
    assert page.query_selector("#resubmit") is None
    assert page.evaluate("document.activeElement.id") == "status-notice"  # said, and focus is there
    assert "已重新提交" in page.inner_text("#status-notice")
    filing = BeianClient(applicant.base, applicant.token).call("GET", f"/filings/{applicant.id}")
    assert filing["state"] == "submitted" and filing["payload"]["contact"]["email"] == "corrected@example.cn"
    screenshot(page, "status-resubmitted")
