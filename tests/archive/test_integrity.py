"""Records are signed: a record changed in the table, outside the archive, is refused on every
read, over the API and the CLI, and the reconciler lists it and goes on (both backends)."""

from __future__ import annotations

import dataclasses
import json
import os
import random
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import typer
from chalicelib.adapters.shared import dump_json, encode_indexes
from chalicelib.auth import Principal
from chalicelib.filings import FILING, filing_indexes
from chalicelib.integrity import MAC_FIELD, MAC_KEY, RecordTampered
from chalicelib.ports import IndexEntry, Record
from chalicelib.services import Services, current_services
from chalicelib.staff import REVOCATION
from chalicelib.vault import SEALED
from typer.testing import CliRunner

from beian.cli import app as main_app
from beian.cli import main
from beian.client import ApiError, BeianClient
from beian.operator.reconcile import register
from beian.synthetic import filing_payload


def submitted(services: Services, rng: random.Random) -> str:
    filing, _token = services.filings.submit(filing_payload(rng, "enterprise"))
    return str(filing["id"])


def stored(services: Services, filing_id: str) -> Record:
    """The record as the table holds it, tag included."""
    record = services.integrity.unverified.get(FILING, filing_id)
    assert record is not None and MAC_FIELD in record.body
    return record


def overwrite(services: Services, record: Record) -> None:
    """Write ``record`` to the table as someone with write access but not the key would."""
    services.integrity.unverified.save(dataclasses.replace(record, version=stored(services, record.key).version))


EDITS: dict[str, Callable[[Record], Record]] = {
    "state": lambda r: dataclasses.replace(r, body={**r.body, "state": "approved"}),
    "index entries": lambda r: dataclasses.replace(r, indexes=filing_indexes({**r.body, "state": "approved"})),
    "tag removed": lambda r: dataclasses.replace(r, body={k: v for k, v in r.body.items() if k != MAC_FIELD}),
    "version only": lambda r: r,  # the same signed body saved again: its version moves on, the tag does not
    "extra field": lambda r: dataclasses.replace(r, body={**r.body, "note": "x"}),
}


@pytest.mark.parametrize("edit", list(EDITS))
def test_a_record_edited_in_the_table_is_refused(live_server: str, rng: random.Random, edit: str) -> None:
    services = current_services()
    filing_id = submitted(services, rng)
    assert services.backend.records.get(FILING, filing_id) is not None
    overwrite(services, EDITS[edit](stored(services, filing_id)))
    with pytest.raises(RecordTampered):
        services.backend.records.get(FILING, filing_id)


def test_a_signed_body_moved_to_another_record_is_refused(live_server: str, rng: random.Random) -> None:
    services = current_services()
    source, target = (stored(services, submitted(services, rng)) for _ in range(2))
    overwrite(services, dataclasses.replace(source, key=target.key, indexes=target.indexes))
    with pytest.raises(RecordTampered):
        services.backend.records.get(FILING, target.key)
    assert services.backend.records.get(FILING, source.key) is not None


def test_signed_records_read_back_as_saved_and_the_tag_never_leaves(
        live_server: str, staff: Callable[..., BeianClient], rng: random.Random) -> None:
    services = current_services()
    records = services.backend.records
    body = {"id": "F-INTEGRITY", "nested": {"名称": "示例", "n": 1.5}, "list": [1, "二"]}
    saved = records.save(Record(FILING, "F-INTEGRITY", body, indexes=(IndexEntry("integrity-test", "v", "s"),)))
    assert saved.body == body and saved.version == 1
    assert records.get(FILING, "F-INTEGRITY") == saved
    assert records.query("integrity-test", "v").records == [saved]
    assert records.insert_many([Record(FILING, f"F-BULK-{n}", {"n": n}) for n in range(3)]) == 3
    assert [records.get(FILING, f"F-BULK-{n}").body for n in range(3)] == [{"n": n} for n in range(3)]  # type: ignore[union-attr]
    # The vault's sealed secrets are authenticated by key custody, not signed again.
    secret = services.integrity.unverified.get(SEALED, MAC_KEY)
    assert secret is not None and MAC_FIELD not in secret.body
    assert records.get(SEALED, MAC_KEY) == secret
    filing_id = submitted(services, rng)
    shown = staff("verifier").call("GET", f"/filings/{filing_id}")
    assert MAC_FIELD not in json.dumps(shown)


def reconcile(*args: str) -> tuple[int, dict[str, Any]]:
    app = typer.Typer()
    register(app)
    app.command("version")(lambda: None)  # a second command, so Typer keeps "reconcile" as a name
    result = CliRunner().invoke(app, ["reconcile", "--json", *args])
    return result.exit_code, json.loads(result.stdout)


def test_the_api_and_the_cli_refuse_a_tampered_record_and_the_reconciler_lists_it(
        live_server: str, staff: Callable[..., BeianClient], rng: random.Random,
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    services = current_services()
    tampered, intact = submitted(services, rng), submitted(services, rng)
    record = stored(services, tampered)
    overwrite(services, dataclasses.replace(record, body={**record.body, "state": "approved"}))
    verifier = staff("verifier")

    with pytest.raises(ApiError) as refused:
        verifier.call("GET", f"/filings/{tampered}")
    assert refused.value.status == 500
    assert refused.value.body["code"] == "integrity" and refused.value.body["record"] == f"filing:{tampered}"
    assert "完整性" in refused.value.body["message_zh"] and "integrity" in refused.value.body["message_en"]
    assert verifier.call("GET", f"/filings/{intact}")["id"] == intact

    status, report = reconcile("--repair")
    assert status == 1
    assert {(f["kind"], f["subject"], f["outcome"]) for f in report["findings"]} >= {
        ("tampered_record", f"filing:{tampered}", "flagged")}
    assert report["filings"] == 1  # the walk went on to the intact filing; the other is only listed
    with pytest.raises(RecordTampered):  # flagged, never re-signed
        services.backend.records.get(FILING, tampered)

    month = str(record.body["created_at"])[:7]
    monkeypatch.setattr("sys.argv", ["beian", "report", "check-ids", "--month", month])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 3
    assert "完整性" in capsys.readouterr().err


@pytest.mark.parametrize("backend_env", ["embedded"], indirect=True)  # the copy is put back beneath the adapter
def test_an_earlier_signed_copy_put_back_is_found_by_the_audit_log(live_server: str, rng: random.Random) -> None:
    services = current_services()
    payload = filing_payload(rng, "enterprise")
    filing_id = str(services.filings.submit(payload)[0]["id"])
    first = stored(services, filing_id)  # version 1, validly signed
    where = {"provider": services.settings.provider, "province": services.settings.province}
    services.filings.act(Principal("v1", "verifier", **where), filing_id, "pre_verify_return", {"reasons": ["核对"]})
    services.filings.act(Principal(f"applicant:{filing_id}", "applicant", filing=filing_id), filing_id,
                         "resubmit", {"filing": payload})
    with sqlite3.connect(Path(os.environ["BEIAN_DATA_DIR"]) / "beian.db") as db:  # a backup's row, put back
        db.execute("UPDATE records SET version = ?, body = ?, indexes = ? WHERE kind = ? AND key = ?",
                   (first.version, dump_json(first.body), encode_indexes(first.indexes), FILING, filing_id))
    assert services.backend.records.get(FILING, filing_id) is not None  # its signature holds: the MAC cannot tell

    status, report = reconcile("--repair")
    assert status == 1
    found = [f for f in report["findings"] if f["subject"] == f"filing:{filing_id}"]
    assert [(f["kind"], f["outcome"]) for f in found] == [("rolled_back_record", "flagged")]
    assert stored(services, filing_id).version == first.version  # left as it is, not signed anew


def test_a_tampered_revocation_refuses_the_token_and_role_commands_exit_3(
        live_server: str, rng: random.Random) -> None:
    services = current_services()
    where = {"provider": services.settings.provider, "province": services.settings.province}
    services.staff.revoke(Principal("cli:root", "admin", **where), "mallory", "laptop lost")
    revocation = services.integrity.unverified.get(REVOCATION, "mallory")
    assert revocation is not None
    services.integrity.unverified.save(dataclasses.replace(revocation, body={**revocation.body, "not_before": 1}))
    token = services.auth.issue("mallory", "verifier", **where)
    with pytest.raises(ApiError) as refused:  # fails closed: not trusted on a record someone edited
        BeianClient(live_server, token).call("GET", "/deadlines")
    assert refused.value.status == 401

    tampered = submitted(services, rng)
    record = stored(services, tampered)
    overwrite(services, dataclasses.replace(record, body={**record.body, "state": "approved"}))
    verifier = services.auth.issue("v", "verifier", **where)
    shown = CliRunner().invoke(main_app, ["status", tampered], env={"BEIAN_URL": live_server, "BEIAN_TOKEN": verifier})
    assert shown.exit_code == 3 and f"filing:{tampered}" in shown.output
    # The reconciler checks every record's signature, not only this provider's filings.
    _, report = reconcile()
    listed = {f["subject"] for f in report["findings"] if f["kind"] == "tampered_record"}
    assert listed == {f"{REVOCATION}:mallory", f"filing:{tampered}"} and report["records"] > 2


@pytest.mark.parametrize("backend_env", ["embedded"], indirect=True)  # the row is added beneath the adapter
def test_an_index_row_added_by_hand_shows_nothing_outside_the_callers_scope(
        live_server: str, rng: random.Random) -> None:
    services = current_services()
    own = stored(services, submitted(services, rng))
    foreign = {**{k: v for k, v in own.body.items() if k != MAC_FIELD}, "id": "F20260101-0000F0F0",
               "provider": "other-idc"}
    services.backend.records.save(Record(FILING, foreign["id"], foreign, indexes=filing_indexes(foreign)))
    with sqlite3.connect(Path(os.environ["BEIAN_DATA_DIR"]) / "beian.db") as db:
        db.execute("INSERT INTO entries VALUES (?, ?, ?, ?, ?)",
                   ("due", f"pre_verification#{services.settings.provider}", "2026-01-01", FILING, foreign["id"]))
    verifier = BeianClient(live_server, services.auth.issue("v", "verifier", provider=services.settings.provider,
                                                            province=services.settings.province))
    listed = [filing["id"] for filing in verifier.call("GET", "/deadlines?within_days=30")["filings"]]
    assert own.key in listed and foreign["id"] not in listed
