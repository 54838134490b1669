"""The inspection bundle: owner-only, complete or not there at all, and a document that cannot
be exported is listed as missing instead of costing the rest."""

from __future__ import annotations

import hashlib
import json
import os
import random
import zipfile
from pathlib import Path

import pytest
from chalicelib.services import current_services
from typer.testing import CliRunner

from beian.cli import app
from tests.faults.support import Desk, pdf


@pytest.mark.parametrize("backend_env", ["embedded"], indirect=True)  # the loss is made beneath the adapter
def test_the_bundle_is_private_and_lists_what_could_not_be_exported(
        live_server: str, rng: random.Random, tmp_path: Path) -> None:
    services = current_services()
    desk = Desk(services, live_server, rng)
    filing_id = desk.filing()
    kept, lost = pdf(rng, 4000), pdf(rng, 3000)
    kept_id, lost_id = desk.received(filing_id, kept), desk.received(filing_id, lost)
    Path(os.environ["BEIAN_DATA_DIR"], "blobs", "archive", "documents", filing_id, lost_id).unlink()
    token = services.auth.issue("ins", "inspector")
    out = tmp_path / "bundles" / "bundle.zip"
    out.parent.mkdir()

    exported = CliRunner().invoke(app, ["archive", "export", filing_id, "--purpose", "inspection",
                                        "--reference", "监管检查函 2026-3", "--out", str(out), "--decrypt"],
                                  env={"BEIAN_URL": live_server, "BEIAN_TOKEN": token})
    assert exported.exit_code == 1, exported.output
    assert lost_id in exported.output and "Traceback" not in exported.output
    assert oct(out.stat().st_mode & 0o777) == "0o600"  # it holds plaintext
    assert sorted(path.name for path in out.parent.iterdir()) == ["bundle.zip"]  # no scratch left behind
    with zipfile.ZipFile(out) as bundle:
        manifest = json.loads(bundle.read("manifest.json"))
        assert (manifest["purpose"], manifest["reference"]) == ("inspection", "监管检查函 2026-3")
        assert [entry["id"] for entry in manifest["documents"]] == [kept_id]
        assert bundle.read(manifest["documents"][0]["path"]) == kept
        assert manifest["documents"][0]["sha256"] == hashlib.sha256(kept).hexdigest()
        assert [(item["id"], "missing" in item["reason"]) for item in manifest["missing"]] == [(lost_id, True)]
