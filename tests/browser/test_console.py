"""The staff console in Chromium: one test per role, its bad input, its accessibility.

The verifier takes a filing from the queue through the on-site step with Chromium's fake
camera (an 800x600 video written here) to submission; the reviewer opens the photo and
the form decrypted in the page and approves; the officer searches, decrypts a document to
the applicant's exact bytes and places a hold. Every request stays on the server's origin
and the staff token goes to /api/ only. Screenshots of the queue, the filing page and the
camera step are kept in test-artifacts/screenshots/.
"""

from __future__ import annotations

import io
import json
import random
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from chalicelib.auth import Principal
from chalicelib.rules import load_rules
from chalicelib.services import current_services
from PIL import Image, ImageChops

from beian.client import BeianClient
from beian.synthetic import resident_id_number
from tests.api.evidence import upload_identity_copies, upload_signed_papers, verify_on_site
from tests.browser.conftest import CHROMIUM, CHROMIUM_FLAGS, watched_page
from tests.browser.test_site import axe_violations
from tests.browser.test_upload import PDF, Applicant, scan

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("backend_env", ["embedded"], indirect=True)]

MARKER = "示例IDC备案幕布"
PHONE_WIDTH = 390


def fake_camera_video(path: Path, frames: int = 5) -> Path:
    """A y4m video of a few 800x600 colour frames: a face-coloured oval on a blue curtain."""
    spec = load_rules().photo
    size = (spec.long_side_px, spec.short_side_px)
    image = Image.new("RGB", size, (40, 90, 160))
    image.paste((220, 180, 150), (size[0] // 2 - 100, 150, size[0] // 2 + 100, 450))
    luma, blue, red = image.convert("YCbCr").split()
    half = (size[0] // 2, size[1] // 2)
    frame = b"FRAME\n" + luma.tobytes() + blue.resize(half).tobytes() + red.resize(half).tobytes()
    path.write_bytes(f"YUV4MPEG2 W{size[0]} H{size[1]} F10:1 Ip A1:1 C420jpeg\n".encode() + frame * frames)
    return path


@pytest.fixture(scope="module")
def camera_browser(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Chromium whose camera is the fake device playing ``fake_camera_video``, allowed
    (started by the same Playwright as the suite's own browser)."""
    video = fake_camera_video(tmp_path_factory.mktemp("camera") / "camera.y4m")
    flags = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
             f"--use-file-for-fake-video-capture={video}"]
    chromium = browser.browser_type.launch(executable_path=CHROMIUM, headless=True, args=[*CHROMIUM_FLAGS, *flags])
    yield chromium
    chromium.close()


@pytest.fixture
def camera_page(camera_browser: Any) -> Iterator[Any]:
    with watched_page(camera_browser) as tab:
        yield tab


class Traffic:
    """Where the page's requests went, and which of them carried the staff token."""

    def __init__(self, page: Any) -> None:
        self.requests: list[Any] = []
        page.on("request", lambda request: self.requests.append(request))

    def origins(self) -> set[str]:
        return {urlsplit(request.url).netloc for request in self.requests}

    def with_token(self) -> set[str]:
        return {urlsplit(r.url).path.split("/")[1] for r in self.requests if "authorization" in r.headers}

    def to(self, fragment: str) -> list[Any]:
        return [request for request in self.requests if fragment in request.url]


def staff_token(role: str, name: str | None = None) -> str:
    settings = current_services().settings
    return current_services().auth.issue(name or f"{role}-王", role, provider=settings.provider,
                                         province=settings.province)


def sign_in(page: Any, base: str, role: str, prefix: str = "", name: str | None = None) -> BeianClient:
    token = staff_token(role, name)
    page.goto(f"{base}{prefix}/staff/")
    page.fill("#staff-token", token)
    page.click("#sign-in-form button[type=submit]")
    page.wait_for_selector("#signed-in")
    return BeianClient(base, token)


def state_of(page: Any, state: str) -> None:
    page.wait_for_selector(f"#filing-state.beian-state--{state}", timeout=60_000)


def to_submitted_to_province(applicant: Applicant, tmp_path: Path) -> dict[str, Any]:
    verifier = applicant.staff("verifier")
    filing = verifier.act(applicant.id, "pre_verify_pass", {"contact_verified_by": "phone"})
    upload_identity_copies(verifier, filing, tmp_path)
    verify_on_site(verifier, filing, tmp_path)
    upload_signed_papers(verifier, applicant.id, tmp_path)
    return verifier.act(applicant.id, "submit_to_province")


def upload_in_page(page: Any, form: str, document_type: str, file: Path) -> None:
    """Upload one scan through a console upload form and wait until the API has it."""
    received = "#documents tbody tr[data-state=received]"
    before = page.locator(received).count()
    page.select_option(f"#{form}-type", document_type)
    page.set_input_files(f"#{form}-file", str(file))
    page.click(f"#{form} button[type=submit]")
    page.wait_for_function(f"n => document.querySelectorAll('{received}').length > n", arg=before, timeout=60_000)


def test_a_verifier_takes_a_filing_from_the_queue_through_the_camera_to_submission(
    camera_page: Any, live_server: str, tmp_path: Path, screenshot: Callable[[Any, str], Path]
) -> None:
    page = camera_page
    applicant = Applicant(live_server)
    traffic = Traffic(page)
    verifier = sign_in(page, live_server, "verifier", name="核验员李")
    assert "核验员李" in page.inner_text("#signed-in") and "核验员" in page.inner_text("#signed-in")
    row = page.wait_for_selector(f"#queue tr[data-filing='{applicant.id}']")
    due = applicant.filing["deadlines"]["pre_verification"]["due"]
    assert due in row.inner_text() and "个工作日" in row.inner_text()
    screenshot(page, "console-queue")

    page.click(f"#queue tr[data-filing='{applicant.id}'] a")
    page.wait_for_selector("#steps [data-action=pre_verify_pass]")
    masked = applicant.filing["payload"]["responsible_person"]["id_number"]
    assert "*" in masked and masked in page.inner_text("#filing-details")
    screenshot(page, "console-filing")
    page.click("#do-pre_verify_pass")
    state_of(page, "pre_verified")
    assert "核验员李" in page.inner_text("#trail")

    page.click("#go-record_on_site")
    page.wait_for_selector("#photo-step")
    payload = applicant.filing["payload"]
    declared = {payload[holder]["id_type"] for holder in ("subject", "responsible_person") if holder in payload}
    for kind in sorted(declared):
        upload_in_page(page, "copies-upload", kind, scan(tmp_path, f"{kind}.png", 20_000))
    page.fill("#curtain-marker", MARKER)
    page.click("#camera-start")
    page.wait_for_function("() => document.querySelector('#camera-view').readyState >= 2")
    page.click("#camera-shoot")
    page.wait_for_selector("#photo-ready")
    assert "+08:00" in page.inner_text("#photo-ready")
    screenshot(page, "console-camera")

    assert not page.is_visible("#camera-view")  # the camera is off once the photo is taken
    assert "{document}" not in page.inner_text("#checklist")  # items name the document shown
    for box in page.query_selector_all("#on-site-form input[type=checkbox]"):
        box.check()
    page.uncheck("#agreement-signed")  # every missing item is named at once
    page.uncheck("#check-holder_matches")
    page.click("#record-on-site")
    problem = page.wait_for_selector("#on-site-form [role=alert]").inner_text()
    assert "params.agreement_accepted" in problem and "params.checks.holder_matches" in problem
    page.check("#agreement-signed")
    page.check("#check-holder_matches")
    page.click("#record-on-site")
    state_of(page, "verified_on_site")
    for paper in load_rules().required_evidence("submit_to_province"):
        upload_in_page(page, "papers-upload", paper.id, scan(tmp_path, f"{paper.id}.pdf", 30_000, PDF))
    page.click("#do-submit_to_province")
    state_of(page, "submitted_to_province")

    filing = verifier.call("GET", f"/filings/{applicant.id}")
    photo_id = filing["on_site"]["photo_document_id"]
    documents = verifier.call("GET", f"/filings/{applicant.id}/documents")["documents"]
    stored = next(d for d in documents if d["id"] == photo_id)
    assert stored["photo"]["captured_at"].endswith("+08:00") and stored["photo"]["curtain_marker"] == MARKER
    image = Image.open(verifier.retrieve(applicant.id, photo_id, "verification", "核对现场照片",
                                         tmp_path / "photo.jpg"))
    assert image.format == "JPEG" and image.size == (800, 600)
    red, green, _ = image.convert("RGB").split()
    assert ImageChops.difference(red, green).getbbox()  # in colour
    assert traffic.origins() == {urlsplit(live_server).netloc}
    assert traffic.with_token() == {"api"}  # the token never went to /blobs/ or the site


def test_a_reviewer_opens_the_evidence_in_the_page_and_approves(
    page: Any, live_server: str, tmp_path: Path, screenshot: Callable[[Any, str], Path]
) -> None:
    applicant = Applicant(live_server)
    filing = to_submitted_to_province(applicant, tmp_path)
    traffic = Traffic(page)
    sign_in(page, live_server, "reviewer", name="审核员赵")
    page.wait_for_selector(f"#queue tr[data-filing='{applicant.id}'][data-deadline=provincial_review]")
    page.click(f"#queue tr[data-filing='{applicant.id}'] a")
    page.click("#go-approve")
    page.wait_for_selector("#review-form")
    form_id = filing["province_submission"]["form_document_id"]
    photo_id = filing["on_site"]["photo_document_id"]
    opened = [form.get_attribute("data-document") for form in page.query_selector_all("#retrievals form")]
    assert form_id in opened and photo_id in opened
    for document_id in opened:  # the form, the photo and the scans: a spot-check may want them
        page.click(f"form[data-document='{document_id}'] button[type=submit]")
        page.wait_for_selector(f"#download-{document_id}")
    assert page.eval_on_selector(f"#image-{photo_id}", "img => img.naturalWidth") == 800
    releases = traffic.to("/key-release")
    rules = load_rules()
    (review,) = [p.id for p in rules.stated_purposes.purposes if p.citation.cite == rules.review.citation.cite]
    stated = [(json.loads(r.post_data)["purpose"], json.loads(r.post_data)["reference"]) for r in releases]
    assert stated == [(review, f"审核备案 {applicant.id}")] * len(opened)
    for field in page.query_selector_all("#review-items textarea"):
        field.fill(f"已核对：{field.get_attribute('data-item')}")
    screenshot(page, "console-review")
    page.click("#approve")
    state_of(page, "approved")
    assert page.inner_text("#filing-number")
    trail = page.inner_text("#trail")
    assert "审核员赵" in trail and "审核通过" in trail
    entries = current_services().audit.entries()
    opened = [e for e in entries if e["action"] == "document.key_release" and e["object"].endswith(form_id)]
    assert opened and opened[-1]["actor"]["subject"] == "审核员赵"


def test_an_officer_searches_decrypts_a_document_to_the_applicants_bytes_and_places_a_hold(
    page: Any, live_server: str, tmp_path: Path, screenshot: Callable[[Any, str], Path]
) -> None:
    applicant = Applicant(live_server)
    original = scan(tmp_path, "licence.png", 150_000)  # three chunks, the last one short
    BeianClient(live_server, applicant.token).upload(applicant.id, "business_licence", original)
    traffic = Traffic(page)
    officer = sign_in(page, live_server, "compliance_officer", name="合规周")
    page.click("#link-archive")
    page.wait_for_selector("#search-form")
    page.select_option("#search-by", "domain")
    page.fill("#search-value", applicant.filing["payload"]["website"]["domains"][0])
    page.select_option("#purpose-search", "lawful_request")
    page.fill("#reference-search", "公安机关协查函 2026-17")
    page.click("#search-form button[type=submit]")
    page.click(f"details[data-filing='{applicant.id}'] summary")
    retrieval = page.wait_for_selector(f"#panel-{applicant.id} form.beian-retrieve")
    document_id = retrieval.get_attribute("data-document")

    # The search's purpose and reference are carried to the document; each refusal is shown at
    # its field, before any key is asked for.
    assert page.input_value(f"#purpose-{document_id}") == "lawful_request"
    page.select_option(f"#purpose-{document_id}", "")
    page.click(f"form[data-document='{document_id}'] button[type=submit]")
    assert "调阅目的" in page.wait_for_selector(f"#purpose-{document_id}-error:not([hidden])").inner_text()
    assert page.get_attribute(f"#purpose-{document_id}", "aria-invalid") == "true"
    page.select_option(f"#purpose-{document_id}", "lawful_request")
    page.fill(f"#reference-{document_id}", " 查 ")  # too short once trimmed
    page.click(f"form[data-document='{document_id}'] button[type=submit]")
    assert "调阅依据" in page.wait_for_selector(f"#reference-{document_id}-error:not([hidden])").inner_text()
    assert page.is_hidden(f"#purpose-{document_id}-error")
    assert traffic.to("/key-release") == []
    # What only the API can see (an ID number in the reference, which the audit log must not
    # hold) is refused there and shown at the same field.
    page.fill(f"#reference-{document_id}", f"协查函 {resident_id_number(random.Random(17))}")
    page.click(f"form[data-document='{document_id}'] button[type=submit]")
    assert "证件号码" in page.wait_for_selector(f"#reference-{document_id}-error:not([hidden])").inner_text()
    assert len(traffic.to("/key-release")) == 1

    page.fill(f"#reference-{document_id}", "公安机关协查函 2026-17")
    page.click(f"form[data-document='{document_id}'] button[type=submit]")
    with page.expect_download() as download:
        page.click(f"#download-{document_id}")
    assert Path(download.value.path()).read_bytes() == original.read_bytes()
    screenshot(page, "console-archive")

    page.fill(f"#case-{applicant.id}", "CASE-2026-17")
    page.fill(f"#reason-{applicant.id}", "公安机关协查")
    page.click(f"#panel-{applicant.id} form.beian-hold button[type=submit]")
    page.wait_for_selector(f"#panel-{applicant.id} li[data-case='CASE-2026-17']")
    domain = applicant.filing["payload"]["website"]["domains"][0]
    found = officer.call("GET", f"/archive/search?domain={domain}&purpose=legal_hold&reference=CASE-2026-17")
    assert found["filings"][0]["holds"] == ["CASE-2026-17"]

    page.click(f"#export-{applicant.id}")
    with page.expect_download() as bundle:
        page.click(f"#bundle-{applicant.id}")
    with zipfile.ZipFile(io.BytesIO(Path(bundle.value.path()).read_bytes())) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        assert manifest["format"] == "beian-inspection-bundle-v1" and not manifest["missing"]
        assert (manifest["purpose"], manifest["reference"]) == ("lawful_request", "公安机关协查函 2026-17")
        assert [d["id"] for d in manifest["documents"]] == [document_id]
        assert original.read_bytes() not in archive.read(manifest["documents"][0]["path"])
        assert json.loads(archive.read("audit/export.json"))["entries"]
    actions = [e["action"] for e in current_services().audit.entries() if e["actor"]["subject"] == "合规周"]
    assert {"archive.search", "document.key_release", "archive.hold"} <= set(actions)
    released = [e for e in current_services().audit.entries()
                if e["action"] == "document.key_release" and e["actor"]["subject"] == "合规周"]
    stated = {(e["purpose"], e["details"]["reference"]) for e in released}
    assert stated == {("lawful_request", "公安机关协查函 2026-17")}
    assert traffic.origins() == {urlsplit(live_server).netloc}


def test_a_missing_camera_offers_the_file_and_a_wrong_photo_gets_the_clis_message(
    page: Any, live_server: str, tmp_path: Path
) -> None:
    applicant = Applicant(live_server)
    applicant.staff("verifier").act(applicant.id, "pre_verify_pass", {"contact_verified_by": "phone"})
    sign_in(page, live_server, "verifier")
    page.goto(f"{live_server}/staff/on-site/?id={applicant.id}")
    page.fill("#curtain-marker", MARKER)
    page.click("#camera-start")  # this Chromium has no camera
    assert "请用相机拍摄后在下方选择照片文件" in page.wait_for_selector("#camera-unavailable").inner_text()
    assert page.is_visible("#photo-file")

    small = tmp_path / "small.png"
    Image.new("RGB", (640, 480), (200, 30, 30)).save(small)
    page.set_input_files("#photo-file", str(small))
    page.wait_for_function("() => document.querySelector('#photo-message').innerText.includes('640')")
    assert "照片须为 800×600 像素（横竖均可），当前为 640×480" in page.inner_text("#photo-message [role=alert]")
    grey = tmp_path / "grey.jpg"
    Image.new("L", (600, 800), 128).save(grey)
    page.set_input_files("#photo-file", str(grey))
    page.wait_for_function("() => document.querySelector('#photo-message').innerText.includes('彩色')")
    assert "照片须为彩色照片" in page.inner_text("#photo-message")
    page.click("#record-on-site")
    assert "请先拍摄或选择" in page.wait_for_selector("#on-site-form [role=alert]").inner_text()
    photos = lambda: [d["state"] for d in applicant.staff("verifier").call(  # noqa: E731
        "GET", f"/filings/{applicant.id}/documents")["documents"] if d["document_type"] == "face_photo"]
    assert photos() == []

    portrait = tmp_path / "portrait.png"
    Image.new("RGB", (600, 800), (40, 90, 160)).save(portrait)
    page.set_input_files("#photo-file", str(portrait))
    page.wait_for_selector("#photo-ready")
    page.route("**/blobs/part**", lambda route: route.abort("connectionreset"))  # uploads go in parts
    page.click("#record-on-site")
    dropped = page.wait_for_selector("#on-site-form [role=alert]").inner_text()
    assert "网络连接中断" in dropped and photos() == ["awaiting_upload"]
    page.unroute("**/blobs/part**")
    page.click("#record-on-site")  # resumes: the same slot, the same ciphertext
    alert = "#on-site-form [role=alert]"
    page.wait_for_function(f"() => document.querySelector('{alert}')?.innerText.includes('params.checks')")
    errors = page.inner_text("#on-site-form [role=alert]")
    assert "params.agreement_accepted" in errors and "params.access" not in errors  # every one at once
    assert photos() == ["received"]


def test_the_token_lives_in_this_tab_only_and_a_revoked_one_returns_to_sign_in(page: Any, live_server: str) -> None:
    page.goto(f"{live_server}/en/staff/")
    page.fill("#staff-token", "not-a-token")
    page.click("#sign-in-form button[type=submit]")
    assert "invalid, expired or revoked" in page.wait_for_selector("#sign-in-form [role=alert]").inner_text()
    client = sign_in(page, live_server, "verifier", prefix="/en", name="Li Wei")
    assert "Signed in as Li Wei (verifier, provider" in page.inner_text("#signed-in")
    assert client.token not in page.evaluate("JSON.stringify(localStorage)") and page.context.cookies() == []
    assert page.evaluate("Object.keys(sessionStorage)") == ["beian.staff.token"]

    admin = Principal(subject="admin-1", role="admin")
    current_services().staff.revoke(admin, "Li Wei", "laptop lost")
    page.reload()
    assert "expired or was revoked" in page.wait_for_selector("#session-ended").inner_text()
    assert page.evaluate("Object.keys(sessionStorage)") == []
    assert page.is_visible("#sign-in-form")

    sign_in(page, live_server, "verifier", prefix="/en", name="Li Wei 2")
    page.click("#sign-out")
    assert "Signed out" in page.wait_for_selector("#session-ended").inner_text()


@pytest.mark.parametrize("prefix", ["", "/en"])
def test_every_console_page_passes_axe_and_fits_a_phone(
    page: Any, live_server: str, tmp_path: Path, prefix: str
) -> None:
    applicant = Applicant(live_server)
    to_submitted_to_province(applicant, tmp_path)
    pages = {
        "verifier": ["staff/", f"staff/filing/?id={applicant.id}", f"staff/on-site/?id={applicant.id}"],
        "reviewer": [f"staff/review/?id={applicant.id}"],
        "compliance_officer": ["staff/archive/"],
    }
    problems: dict[str, Any] = {}
    page.goto(f"{live_server}{prefix}/staff/")
    page.wait_for_selector("#sign-in-form")
    problems["sign-in"] = axe_violations(page)
    for role, paths in pages.items():
        sign_in(page, live_server, role, prefix)
        for path in paths:
            for width in (1280, PHONE_WIDTH):
                page.set_viewport_size({"width": width, "height": 900})
                page.goto(f"{live_server}{prefix}/{path}")
                page.wait_for_selector(".beian-app:not([aria-busy]) #console-body > *")
                if path.startswith("staff/archive"):
                    # Each purpose under its label in the page's language, in the rules file's order.
                    shown = page.eval_on_selector_all("#purpose-search option[value]:not([value=''])",
                                                      "options => options.map(o => [o.value, o.textContent])")
                    purposes = load_rules().stated_purposes.purposes
                    assert [value for value, _ in shown] == [purpose.id for purpose in purposes]
                    assert all(text.startswith(purpose.label.en if prefix else purpose.label.zh)
                               for (_, text), purpose in zip(shown, purposes, strict=True))
                    page.select_option("#search-by", "province")
                    page.fill("#search-value", current_services().settings.province)
                    page.select_option("#purpose-search", "inspection")
                    page.fill("#reference-search", "年度检查函 2026-1")
                    page.click("#search-form button[type=submit]")
                    page.click(f"details[data-filing='{applicant.id}'] summary")
                    page.wait_for_selector(f"#panel-{applicant.id} form.beian-hold")
                problems[f"{path} {width}"] = axe_violations(page)
                overflow = page.evaluate("document.documentElement.scrollWidth")
                assert overflow <= width, f"{path} is {overflow} px wide at {width} px"
        page.click("#sign-out")
    assert not any(problems.values()), json.dumps(problems, ensure_ascii=False, indent=1)
