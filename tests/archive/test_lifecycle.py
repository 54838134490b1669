"""The archive's promise, on both backends: retrieve with a purpose, no early delete, holds
survive the sweep, the rest is disposed with a certificate, and the audit log verifies
offline and fails on every kind of tampering."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from chalicelib.auth import Principal
from chalicelib.config import Settings
from chalicelib.documents import retain_until
from chalicelib.ports import BlobLocked
from chalicelib.services import Services, build_services, current_services
from typer.testing import CliRunner

from beian.cli import app as cli
from beian.client import ApiError, BeianClient
from beian.synthetic import filing_payload
from tests.faults.support import post_sealed

LOCK_SECONDS = 8  # the uploads before the lock must fit in it, on a loaded machine too


def archived_long_ago(services: Services, rng: random.Random, live_server: str,
                      filing_id: str | None = None) -> tuple[str, str]:
    """A document received so long ago that its retention ends in seconds (on a new filing,
    or on ``filing_id``)."""
    filing = {"id": filing_id} if filing_id else services.filings.submit(filing_payload(rng, "enterprise"))[0]
    applicant = Principal(f"applicant:{filing['id']}", "applicant", filing=filing["id"])
    slot = services.documents.request_upload(applicant, filing["id"],
                                              {"document_type": "business_licence", "size": 3000,
                                               "media_type": "application/pdf"})
    post_sealed(live_server, slot, b"%PDF-" + bytes(rng.getrandbits(8) for _ in range(2995)))
    document = services.documents.complete_upload(applicant, filing["id"], slot["document"]["id"])
    return filing["id"], document["id"]


def tampered_copies(export: dict[str, Any]) -> dict[str, dict[str, Any]]:
    entries = export["entries"]
    edited = json.loads(json.dumps(export))
    edited["entries"][2]["purpose"] = "nothing to see"
    deleted = {**export, "entries": entries[:3] + entries[4:]}
    inserted_entry = {**entries[3], "seq": 4, "action": "archive.search"}
    inserted = {**export, "entries": [*entries[:3], inserted_entry, *entries[3:]]}
    reordered = {**export, "entries": [*entries[:2], entries[3], entries[2], *entries[4:]]}
    truncated = {**export, "entries": entries[:-1]}
    return {"edited": edited, "deleted": deleted, "inserted": inserted, "reordered": reordered,
            "truncated": truncated}


def test_archive_lifecycle(live_server: str, staff: Callable[..., BeianClient], rng: random.Random,
                           tmp_path: Path) -> None:
    start = datetime.now(UTC)
    # Documents received long ago (their retention ends LOCK_SECONDS from now): the clock is
    # moved back, not the storage's, so S3 Object Lock and the embedded lock behave for real.
    lead = start + timedelta(seconds=LOCK_SECONDS) - retain_until(start)
    past = build_services(Settings.from_env(), clock=lambda: datetime.now(UTC) + lead)
    held_filing, held_doc = archived_long_ago(past, rng, live_server)
    free_filing, free_doc = archived_long_ago(past, rng, live_server)

    verifier, officer, admin = staff("verifier"), staff("compliance_officer"), staff("admin")
    copy = verifier.retrieve(held_filing, held_doc, "verification", "核对营业执照原件", tmp_path / "copy")
    assert copy.stat().st_size == 3000

    for role in (admin, officer):
        with pytest.raises(ApiError) as early:
            role.call("DELETE", f"/filings/{held_filing}/documents/{held_doc}")
        assert early.value.status == 409 and early.value.body["code"] == "retention_locked"
    stored = current_services().backend.records.get("document", f"{held_filing}/{held_doc}")
    assert stored is not None
    with pytest.raises(BlobLocked):
        current_services().backend.blobs.delete(stored.body["archive_key"])

    with pytest.raises(ApiError) as not_officer:
        verifier.call("POST", f"/filings/{held_filing}/holds", {"case_id": "C-1", "reason": "litigation"})
    assert not_officer.value.status == 403
    officer.call("POST", f"/filings/{held_filing}/holds", {"case_id": "2026-INSP-7", "reason": "监管检查调取"})
    with pytest.raises(ApiError) as twice:
        officer.call("POST", f"/filings/{held_filing}/holds", {"case_id": "2026-INSP-7", "reason": "监管检查调取"})
    assert (twice.value.status, twice.value.body["field"]) == (409, "case_id")
    # The hold covers the filing: a document that arrives after it is held as well.
    _, later_doc = archived_long_ago(past, rng, live_server, held_filing)
    later = current_services().backend.records.get("document", f"{held_filing}/{later_doc}")
    assert later is not None
    assert current_services().backend.blobs.info(later.body["archive_key"]).legal_hold  # type: ignore[union-attr]

    dry = officer.call("POST", "/archive/sweep", {"dry_run": True})
    assert dry["disposed"] == [] and dry["held"] == []  # nothing is due yet
    time.sleep(LOCK_SECONDS + 1.5)
    result = officer.call("POST", "/archive/sweep", {"dry_run": False})
    assert [item["document"] for item in result["disposed"]] == [free_doc]
    assert sorted(item["document"] for item in result["held"]) == sorted([held_doc, later_doc])
    assert result["certificate_seq"]
    # Past its retention, a held document still cannot be deleted, not even by an admin.
    with pytest.raises(ApiError) as still_held:
        admin.call("DELETE", f"/filings/{held_filing}/documents/{later_doc}")
    assert still_held.value.status == 409 and still_held.value.body["field"] == "holds"
    assert "2026-INSP-7" in still_held.value.body["message_en"]

    documents = officer.call("GET", f"/filings/{free_filing}/documents")["documents"]
    assert [document["state"] for document in documents] == ["disposed"]
    with pytest.raises(ApiError) as gone:
        verifier.retrieve(free_filing, free_doc, "verification", "再次调阅", tmp_path / "gone")
    assert gone.value.status == 409
    assert verifier.retrieve(held_filing, held_doc, "verification", "保全期间调阅", tmp_path / "again").exists()

    export = staff("inspector").call("GET", "/audit/export")
    actions = [entry["action"] for entry in export["entries"]]
    for action in ("document.key_release", "archive.delete_refused", "archive.hold",
                   "archive.dispose_refused", "archive.disposal_certificate", "filing.submit"):
        assert action in actions, action
    runner = CliRunner()
    original = tmp_path / "audit.json"
    original.write_text(json.dumps(export))
    key = tmp_path / "audit-key.pem"
    key.write_text(export["public_key"])
    ok = runner.invoke(cli, ["audit", "verify", str(original), "--public-key", str(key)])
    assert ok.exit_code == 0, ok.output
    head = export["entries"][-1]["details"]["head_seq"]
    assert f"Signed through entry {head} " in " ".join(ok.output.split())
    for name, copy_ in tampered_copies(export).items():
        path = tmp_path / f"audit-{name}.json"
        path.write_text(json.dumps(copy_))
        failed = runner.invoke(cli, ["audit", "verify", str(path), "--public-key", str(key)])
        assert failed.exit_code == 1, name
    # An export cut at an earlier checkpoint (here: the earlier export itself) verifies on its
    # own; against the head an inspector knows of, it does not.
    later = staff("inspector").call("GET", "/audit/export")
    newer_head = later["entries"][-1]["details"]["head_seq"]
    assert newer_head > head and later["entries"][: len(export["entries"])] == export["entries"]
    cut = runner.invoke(cli, ["audit", "verify", str(original), "--public-key", str(key),
                              "--at-least", str(newer_head)])
    assert cut.exit_code == 1 and f"signed only through entry {head}" in " ".join(cut.output.split())

    # Unreadable input: one line, no traceback (2: cannot read; 1: read, and it fails).
    for name, (content, status) in {"truncated JSON": (original.read_text()[:200], 2), "a list": ("[]", 2),
                                    "no key": (json.dumps({"entries": export["entries"]}), 1)}.items():
        broken = tmp_path / "broken.json"
        broken.write_text(content)
        refused = runner.invoke(cli, ["audit", "verify", str(broken)])
        assert refused.exit_code == status and isinstance(refused.exception, SystemExit), (name, refused.output)


def test_held_documents_never_hold_up_the_disposal_of_the_others(
        live_server: str, staff: Callable[..., BeianClient], rng: random.Random,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("chalicelib.archive.SWEEP_BATCH", 1)  # held ones alone would fill a batch
    start = datetime.now(UTC)
    lead = start + timedelta(seconds=LOCK_SECONDS) - retain_until(start)
    past = build_services(Settings.from_env(), clock=lambda: datetime.now(UTC) + lead)
    held = [archived_long_ago(past, rng, live_server) for _ in range(3)]
    free = archived_long_ago(past, rng, live_server)  # the last in the queue
    officer = staff("compliance_officer")
    for filing_id, _ in held:
        officer.call("POST", f"/filings/{filing_id}/holds", {"case_id": "2026-INSP-8", "reason": "监管检查调取"})
    time.sleep(LOCK_SECONDS + 1.5)

    result = current_services().archive.sweep()
    assert [item["document"] for item in result.disposed] == [free[1]]
    assert sorted(item["document"] for item in result.held) == sorted(document for _, document in held)
    refusals = [entry for entry in current_services().audit.entries() if entry["action"] == "archive.dispose_refused"]
    assert len(refusals) == 1 and refusals[0]["details"]["count"] == 3  # one entry a sweep, not one a document
