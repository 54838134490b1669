"""What a filing needs on record at each step, made for tests: the on-site photo, the identity
copies, the signed papers, and the reviewer's trail."""

from __future__ import annotations

import io
import random
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chalicelib import steps
from chalicelib.photo import cjk_font_path, prepare_photo
from chalicelib.rules import load_rules
from PIL import Image

from beian.client import BeianClient
from tests.support import require_file

HOLDERS = ("subject", "responsible_person")


def on_site_photo(tmp_path: Path, size: tuple[int, int] = (800, 600),
                  now: datetime | None = None) -> tuple[Path, dict[str, Any]]:
    require_file(cjk_font_path(), "fonts-wqy-microhei")  # the stamp, and the verification form after it
    image = Image.new("RGB", size, (40, 90, 160))
    image.paste((220, 180, 150), (size[0] // 2 - 100, 150, size[0] // 2 + 100, 450))
    raw = io.BytesIO()
    image.save(raw, format="PNG")
    stamped, info = prepare_photo(raw.getvalue(), curtain_marker="示例IDC备案幕布",
                                  now=now or datetime.now(UTC))
    path = tmp_path / "photo.jpg"
    path.write_bytes(stamped)
    return path, info.to_dict()


def all_checks() -> dict[str, bool]:
    return {check.id: True for section in load_rules().verification_form.sections
            for check in section.checks}


def on_site_params(filing: dict[str, Any], photo_id: str) -> dict[str, Any]:
    payload = filing["payload"]
    return {
        "originals": {holder: payload[holder]["id_type"] for holder in HOLDERS if holder in payload},
        "checks": all_checks(), "photo_document_id": photo_id,
        "agreement_accepted": True, "contract_clause_accepted": True,
        "corrections": [{"field": "contact.address", "note": "门牌号现场更正"}],
    }


def scan(tmp_path: Path, name: str, rng: random.Random | None = None) -> Path:
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(b"%PDF-1.7\n" + (rng or random.Random(name)).randbytes(2000))
    return path


def upload_identity_copies(client: BeianClient, filing: dict[str, Any], tmp_path: Path) -> dict[str, str]:
    """A scan of each identity document the filing names (二.(二)1(5): copies retained)."""
    payload = filing["payload"]
    kinds = {payload[holder]["id_type"] for holder in HOLDERS if holder in payload}
    return {kind: client.upload(filing["id"], kind, scan(tmp_path, kind))["id"] for kind in sorted(kinds)}


def upload_signed_papers(verifier: BeianClient, filing_id: str, tmp_path: Path) -> dict[str, str]:
    """The signed and sealed form, agreement and contract, scanned after the on-site step."""
    papers = load_rules().required_evidence("submit_to_province")
    return {paper.id: verifier.upload(filing_id, paper.id, scan(tmp_path, paper.id))["id"] for paper in papers}


def verify_on_site(verifier: BeianClient, filing: dict[str, Any], tmp_path: Path,
                   **extra: Any) -> dict[str, Any]:
    photo, info = on_site_photo(tmp_path)
    uploaded = verifier.upload(filing["id"], "face_photo", photo, extra={"photo": info})
    return verifier.act(filing["id"], "record_on_site", {**on_site_params(filing, uploaded["id"]), **extra})


def review_trail(reviewer: BeianClient, filing: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    """Open the submitted form (and, if the spot-check picks the filing, the photo and the
    identity scans), and say per key item what was checked: the params of an approval."""
    filing_id = filing["id"]
    reviewer.retrieve(filing_id, filing["province_submission"]["form_document_id"], "review", "审核核验单",
                      tmp_path / "review-form.pdf")
    if steps.spot_check_due(filing_id, load_rules().review.spot_check.rate):
        open_spot_check_documents(reviewer, filing, tmp_path)
    kind = load_rules().subject_type(filing["payload"]["subject_type"]).kind
    return {"checked": {item.id: f"已逐项核对{item.name.zh}" for item in load_rules().review.items_for(kind)}}


def open_spot_check_documents(reviewer: BeianClient, filing: dict[str, Any], tmp_path: Path) -> None:
    declared = {filing["payload"][holder]["id_type"] for holder in HOLDERS if holder in filing["payload"]}
    for document in reviewer.call("GET", f"/filings/{filing['id']}/documents")["documents"]:
        if document["state"] == "received" and (
                document["document_type"] in declared or document["id"] == filing["on_site"]["photo_document_id"]):
            reviewer.retrieve(filing["id"], document["id"], "review", "抽查证件原件",
                              tmp_path / f"spot-{document['id']}")


def walk_to_province(verifier: BeianClient, filing: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    """From submitted to the province, with the copies, the photo and the signed papers."""
    filing = verifier.act(filing["id"], "pre_verify_pass", {"contact_verified_by": "phone"})
    upload_identity_copies(verifier, filing, tmp_path)
    filing = verify_on_site(verifier, filing, tmp_path)
    upload_signed_papers(verifier, filing["id"], tmp_path)
    return verifier.act(filing["id"], "submit_to_province")


def walk_to_approval(filing: dict[str, Any], staff: Callable[..., BeianClient], tmp_path: Path,
                     ) -> dict[str, Any]:
    """From submitted to approved, with every piece of evidence on record."""
    reviewer = staff("reviewer")
    filing = walk_to_province(staff("verifier"), filing, tmp_path)
    return reviewer.act(filing["id"], "approve", review_trail(reviewer, filing, tmp_path))
