"""The reconciler, on both backends: every half-done pair a crash or a failed storage call can
leave is found, repaired when that is safe, flagged when it needs a person, and an archived
envelope still retained is never deleted."""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import typer
from chalicelib.archive import DISPOSED, RETENTION_INDEX
from chalicelib.audit import verify_export
from chalicelib.config import Settings
from chalicelib.documents import DOCUMENT, retain_until
from chalicelib.filings import FILING, filing_indexes
from chalicelib.ports import BlobLocked, Record
from chalicelib.services import build_services, current_services
from typer.testing import CliRunner

from beian.client import BeianClient
from beian.operator.reconcile import register
from benchmarks.stress_figures import record
from tests.faults.support import Desk, pdf

LOCK_SECONDS = 3


def wait_until(moment: datetime) -> None:
    """Sleep until a second after ``moment`` (retention dates are kept to the second)."""
    time.sleep(max(0.0, (moment - datetime.now(UTC)).total_seconds() + 1.0))


def reconcile_cli(*args: str) -> tuple[int, dict[str, Any]]:
    app = typer.Typer()
    register(app)
    app.command("version")(lambda: None)  # a second command, so Typer keeps "reconcile" as a name
    result = CliRunner().invoke(app, ["reconcile", "--json", *args])
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, json.loads(result.stdout)


def outcomes(report: dict[str, Any]) -> dict[tuple[str, str], str]:
    return {(finding["kind"], finding["subject"]): finding["outcome"] for finding in report["findings"]}


def test_the_reconciler_finds_and_mends_every_half_done_pair(
        live_server: str, staff: Callable[..., BeianClient], rng: random.Random, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BEIAN_UPLOAD_SLOT_SECONDS", "2")  # slots expire while the test runs
    services = current_services()
    records, blobs = services.backend.records, services.backend.blobs
    start = datetime.now(UTC)
    lead = start + timedelta(seconds=LOCK_SECONDS) - retain_until(start)
    now = Desk(services, live_server, rng)
    # Documents received "long ago": the clock is moved back, not the storage's own.
    past = Desk(build_services(Settings.from_env(), clock=lambda: datetime.now(UTC) + lead), live_server, rng)
    plaintext = pdf(rng, 3000)

    # Promote succeeded, the record save did not.
    receipt = now.filing()
    awaiting = now.staged(receipt, plaintext)
    staged = records.get(DOCUMENT, f"{receipt}/{awaiting}")
    assert staged is not None
    blobs.promote(staged.body["staged_key"], retain_until=retain_until(start))
    # Uploaded, never completed: the slot expires, the staged copy stays. A staged object no
    # record awaits, and an archived envelope no record holds (only a listing finds those two).
    abandoned = now.filing()
    left = now.staged(abandoned, plaintext)
    stray_filing = now.filing()
    stray_upload = records.get(DOCUMENT, f"{stray_filing}/{now.staged(stray_filing, plaintext)}")
    assert stray_upload is not None
    records.delete(stray_upload)
    stray_envelope = f"documents/{stray_filing}/DSTRAY"
    blobs.put(stray_envelope, b"stray", retain_until=retain_until(start))
    # A filing whose index entries are those of another state.
    indexed = records.get(FILING, now.filing())
    assert indexed is not None
    records.save(Record(FILING, indexed.key, indexed.body, indexed.version,
                        filing_indexes({**indexed.body, "state": "approved"})))
    # Due for disposal once LOCK_SECONDS pass.
    due = {name: (filing, past.received(filing, plaintext))
           for name, filing in (("sweep_died", past.filing()), ("record_only", past.filing()))}
    # (kind, subject) -> (outcome without --repair, outcome with it); None: not reported.
    expected: dict[tuple[str, str], tuple[str | None, str]] = {
        ("unfinished_receipt", f"document:{receipt}/{awaiting}"): ("found", "repaired"),
        ("index_mismatch", f"filing:{indexed.key}"): ("found", "repaired"),
        ("stray_upload", f"staged:{stray_upload.body['staged_key']}"): ("found", "repaired"),
        ("stray_envelope", f"envelope:{stray_envelope}"): ("flagged", "flagged"),
        ("unfinished_disposal", "document:{}/{}".format(*due["sweep_died"])): ("found", "repaired"),
        # Finishing that disposal is a disposal no certificate names yet: certified in the same run.
        ("uncertified_disposal", "document:{}/{}".format(*due["sweep_died"])): (None, "repaired"),
        ("disposed_envelope_present", "document:{}/{}".format(*due["record_only"])): ("found", "repaired"),
        ("uncertified_disposal", "document:{}/{}".format(*due["record_only"])): ("found", "repaired"),
    }
    if services.backend.name == "embedded":  # beneath the adapter: S3 Object Lock forbids both
        archive = Path(os.environ["BEIAN_DATA_DIR"], "blobs", "archive")
        lost, damaged = (now.filing() for _ in range(2))
        lost_document, damaged_document = now.received(lost, plaintext), now.received(damaged, plaintext)
        (archive / "documents" / lost / lost_document).unlink()
        damaged_path = archive / "documents" / damaged / damaged_document
        damaged_path.chmod(0o600)
        damaged_path.write_bytes(damaged_path.read_bytes()[:-100])
        expected[("missing_envelope", f"document:{lost}/{lost_document}")] = ("flagged", "flagged")
        expected[("damaged_envelope", f"document:{damaged}/{damaged_document}")] = ("flagged", "flagged")
        # A day-old staged copy of an upload never completed (S3's lifecycle would expire it).
        aged = (datetime.now(UTC) - timedelta(days=2)).timestamp()
        os.utime(Path(os.environ["BEIAN_DATA_DIR"], "blobs", "staging", "documents", abandoned, left), (aged, aged))
        expected[("stale_upload", f"document:{abandoned}/{left}")] = ("found", "repaired")
    else:
        held = now.filing()
        with pytest.raises(BlobLocked):
            blobs.delete(f"documents/{held}/{now.received(held, plaintext)}")

    sweep_died = records.get(DOCUMENT, "{}/{}".format(*due["sweep_died"]))
    record_only = records.get(DOCUMENT, "{}/{}".format(*due["record_only"]))
    assert sweep_died is not None and record_only is not None
    wait_until(max(datetime.fromisoformat(document.body["retain_until"]) for document in (sweep_died, record_only)))
    # The sweep's first write without its second; and a disposal whose envelope was left.
    blobs.delete(sweep_died.body["archive_key"])
    records.save(Record(DOCUMENT, record_only.key, {**record_only.body, "state": DISPOSED}, record_only.version,
                        tuple(entry for entry in record_only.indexes if entry.index != RETENTION_INDEX)))

    status, check = reconcile_cli()
    assert status == 1
    found = outcomes(check)
    status, repair = reconcile_cli("--repair")
    repaired = outcomes(repair)
    status_after, after = reconcile_cli("--repair")
    missed = [key for key, outcomes_ in expected.items() if (found.get(key), repaired.get(key)) != outcomes_]
    unexpected = sorted(set(found) - set(expected) | set(repaired) - set(expected))
    record("damage_cases", len(expected), len(missed) + len(unexpected))
    assert missed == [] and unexpected == [], (missed, unexpected, repair)
    assert {finding["outcome"] for finding in after["findings"]} <= {"flagged"}
    assert status == status_after == 1  # the stray envelope (and on disk the lost ones) need a person

    # The finished receipt is a document like any other: it decrypts to what was uploaded.
    verifier = staff("verifier")
    copy = verifier.retrieve(receipt, awaiting, "verification", "核对补记的材料", tmp_path / "copy")
    assert copy.read_bytes() == plaintext
    assert indexed.key in {item["id"] for item in verifier.call("GET", "/filings?state=submitted")["filings"]}
    assert indexed.key not in {item["id"] for item in verifier.call("GET", "/filings?state=approved")["filings"]}
    for filing, document in due.values():
        assert blobs.info(f"documents/{filing}/{document}") is None
    export = staff("inspector").call("GET", "/audit/export")
    assert verify_export(export["entries"], export["public_key"]).ok
    actions = [entry["action"] for entry in export["entries"]]
    assert actions.count("archive.reconcile") >= 4 and "archive.disposal_certificate" in actions
