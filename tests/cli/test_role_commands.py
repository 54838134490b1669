"""The role commands over HTTP, as an applicant and staff would type them."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest
from chalicelib.auth import Principal
from chalicelib.services import current_services
from typer.testing import CliRunner

from beian.cli import app
from beian.client import BeianClient
from beian.synthetic import filing_payload, public_ip
from tests.api.evidence import all_checks, on_site_photo, scan


def flat(output: str) -> str:
    """Rich wraps long lines to the terminal's width."""
    return " ".join(output.split())


def verifier_principal() -> Principal:
    settings = current_services().settings
    return Principal("alice", "verifier", provider=settings.provider, province=settings.province)


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
    told: list[int] = []  # the progress bar counts the file's bytes, not the larger ciphertext's
    BeianClient(live_server, token).upload(filing_id.group(), "business_licence", scan, progress=told.append)
    assert sum(told) == scan.stat().st_size and min(told) >= 0

    staff = current_services().auth.issue("alice", "verifier", provider=current_services().settings.provider,
                                          province=current_services().settings.province)
    staff_env = {"BEIAN_URL": live_server, "BEIAN_TOKEN": staff}
    due = runner.invoke(app, ["deadlines", "--within", "30"], env=staff_env)
    assert due.exit_code == 0 and filing_id.group() in due.output
    returned = runner.invoke(app, ["pre-verify", filing_id.group(), "--return", "--reason", "联系电话无法接通"],
                             env=staff_env)
    assert returned.exit_code == 0, returned.output
    status = runner.invoke(app, ["status", filing_id.group()], env=env)
    assert "联系电话无法接通" in status.output  # the applicant learns why
    resubmitted = runner.invoke(app, ["resubmit", filing_id.group(), str(filing_file)], env=env)
    assert resubmitted.exit_code == 0, resubmitted.output
    passed = runner.invoke(app, ["pre-verify", filing_id.group(), "--pass"], env=staff_env)
    assert passed.exit_code == 0, passed.output
    status = runner.invoke(app, ["status", filing_id.group()], env=env)
    assert "已通过预核验" in status.output
    officer = current_services().auth.issue("olga", "compliance_officer", provider=current_services().settings.provider,
                                            province=current_services().settings.province)
    domain = json.loads(filing_file.read_text(encoding="utf-8"))["website"]["domains"][0]
    searched = runner.invoke(app, ["archive", "search", "--domain", domain, "--purpose", "inspection",
                                   "--reference", "检查函-1", "--json"],
                             env={"BEIAN_URL": live_server, "BEIAN_TOKEN": officer})
    assert searched.exit_code == 0, searched.output
    assert [item["id"] for item in json.loads(searched.stdout)["filings"]] == [filing_id.group()]

    bad = tmp_path / "bad.json"
    broken = filing_payload(rng, "enterprise")
    broken["contact"]["mobile"] = "123"
    broken["website"]["domains"] = ["not a domain"]
    bad.write_text(json.dumps(broken, ensure_ascii=False), encoding="utf-8")
    refused = runner.invoke(app, ["apply", str(bad), "--url", live_server])
    assert refused.exit_code == 1
    assert "contact.mobile" in refused.output and "website.domains[0]" in refused.output


@pytest.mark.parametrize("backend_env", ["embedded"], indirect=True)
def test_on_site_enters_the_access_information_and_stores_no_photo_when_the_step_cannot_go_on(
        live_server: str, rng: random.Random, tmp_path: Path) -> None:
    services = current_services()
    payload = filing_payload(rng, "individual")
    payload.pop("access")  # left to the provider, as the site's form allows
    filing_id = str(services.filings.submit(payload)[0]["id"])
    staff = services.auth.issue("alice", "verifier", provider=services.settings.provider,
                                province=services.settings.province)
    env = {"BEIAN_URL": live_server, "BEIAN_TOKEN": staff}
    photo, _ = on_site_photo(tmp_path)
    runner = CliRunner()
    on_site = ["on-site", filing_id, "--photo", str(photo), "--curtain-marker", "示例IDC备案幕布"]

    def photos() -> list[str]:
        listed = services.documents.list_for(verifier_principal(), filing_id)
        return [document["id"] for document in listed if document["document_type"] == "face_photo"]

    too_early = runner.invoke(app, on_site, env=env)
    assert too_early.exit_code == 1 and "record_on_site is not allowed" in flat(too_early.output)
    assert runner.invoke(app, ["pre-verify", filing_id, "--pass"], env=env).exit_code == 0
    unconfirmed = runner.invoke(app, [*on_site, "--access-provider", "示例数据中心", "--access-method", "cloud",
                                      "--server-location", "北京市", "--ip", public_ip(rng)], env=env)
    assert unconfirmed.exit_code == 1  # nothing is ticked for the verifier
    for check in all_checks():
        assert f"params.checks.{check}" in flat(unconfirmed.output)
    checks = [argument for check in all_checks() for argument in ("--check", check)]
    no_copies = runner.invoke(app, [*on_site, *checks, "--access-provider", "示例数据中心", "--access-method",
                                    "cloud", "--server-location", "北京市", "--ip", public_ip(rng)], env=env)
    assert no_copies.exit_code == 1 and "params.checks.copies_retained" in flat(no_copies.output)
    assert "params.checks.holder_matches" not in flat(no_copies.output)
    id_type = payload["subject"]["id_type"]
    wrong_type = runner.invoke(app, ["upload", filing_id, "business_licence", str(scan(tmp_path, "licence"))],
                               env=env)
    assert wrong_type.exit_code == 1 and "document_type" in flat(wrong_type.output)
    assert runner.invoke(app, ["upload", filing_id, id_type, str(scan(tmp_path, id_type))], env=env).exit_code == 0
    on_site += checks
    incomplete = runner.invoke(app, [*on_site, "--ip", "203.0.113.300"], env=env)
    assert incomplete.exit_code == 1
    for field in ("access.provider_name", "access.access_method", "access.server_location", "access.ip_addresses"):
        assert field in flat(incomplete.output)
    assert photos() == []  # refused before the photo was stored (it could never be deleted again)

    address = public_ip(rng)
    done = runner.invoke(app, [*on_site, "--access-provider", "示例数据中心", "--access-method", "cloud",
                               "--server-location", "北京市 示例机房", "--ip", address], env=env)
    assert done.exit_code == 0, done.output
    filing = services.filings.load_for(verifier_principal(), filing_id).body
    assert filing["state"] == "verified_on_site" and len(photos()) == 1
    assert filing["payload"]["access"] == {"provider_name": "示例数据中心", "access_method": "cloud",
                                           "server_location": "北京市 示例机房", "ip_addresses": [address]}


def test_a_malformed_filing_file_and_an_unreachable_server_get_one_clear_line(tmp_path: Path) -> None:
    broken = tmp_path / "filing.json"
    broken.write_text('{\n  "subject": {\n', encoding="utf-8")
    runner = CliRunner()
    applied = runner.invoke(app, ["apply", str(broken), "--url", "http://127.0.0.1:9"])
    assert applied.exit_code == 1 and "line 3" in applied.output and "Traceback" not in applied.output
    unreachable = runner.invoke(app, ["status", "F20260101-00000000", "--url", "http://127.0.0.1:9"])
    assert unreachable.exit_code == 1 and "Cannot reach http://127.0.0.1:9/api/" in flat(unreachable.output)
    assert "Traceback" not in unreachable.output
