"""The role commands over HTTP, as an applicant and staff would type them."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest
from chalicelib.services import current_services
from typer.testing import CliRunner

from beian.cli import app
from beian.synthetic import filing_payload


@pytest.mark.parametrize("backend_env", ["embedded"], indirect=True)
def test_apply_status_upload_pre_verify_deadlines(live_server: str, rng: random.Random,
                                                 tmp_path: Path) -> None:
    runner = CliRunner()
    filing_file = tmp_path / "filing.json"
    filing_file.write_text(json.dumps(filing_payload(rng, "enterprise"), ensure_ascii=False), encoding="utf-8")
    applied = runner.invoke(app, ["apply", str(filing_file), "--url", live_server])
    assert applied.exit_code == 0, applied.output
    filing_id = re.search(r"F\d{8}-[0-9A-F]{8}", applied.output)
    token = applied.output.strip().splitlines()[-1]
    assert filing_id and token.startswith("bft_")
    env = {"BEIAN_URL": live_server, "BEIAN_TOKEN": token}

    scan = tmp_path / "licence.pdf"
    scan.write_bytes(b"%PDF-1.7\n" + bytes(70_000))
    uploaded = runner.invoke(app, ["upload", filing_id.group(), "business_licence", str(scan)], env=env)
    assert uploaded.exit_code == 0, uploaded.output
    assert "received" in uploaded.output

    staff = current_services().auth.issue("alice", "verifier", provider=current_services().settings.provider,
                                          province=current_services().settings.province)
    staff_env = {"BEIAN_URL": live_server, "BEIAN_TOKEN": staff}
    due = runner.invoke(app, ["deadlines", "--within", "30"], env=staff_env)
    assert due.exit_code == 0 and filing_id.group() in due.output
    passed = runner.invoke(app, ["pre-verify", filing_id.group(), "--pass"], env=staff_env)
    assert passed.exit_code == 0, passed.output
    status = runner.invoke(app, ["status", filing_id.group()], env=env)
    assert "已通过预核验" in status.output

    bad = tmp_path / "bad.json"
    broken = filing_payload(rng, "enterprise")
    broken["contact"]["mobile"] = "123"
    broken["website"]["domains"] = ["not a domain"]
    bad.write_text(json.dumps(broken, ensure_ascii=False), encoding="utf-8")
    refused = runner.invoke(app, ["apply", str(bad), "--url", live_server])
    assert refused.exit_code == 1
    assert "contact.mobile" in refused.output and "website.domains[0]" in refused.output
