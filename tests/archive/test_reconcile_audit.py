"""The reconciler compares records with the audit log: a filing put back to the copy before
its last step, a filing deleted whole and a deleted revocation are all found, while a step
whose save failed (never confirmed) raises nothing."""

from __future__ import annotations

import os
import random
import sqlite3
import uuid
from pathlib import Path

import pytest
from chalicelib.adapters.shared import dump_json, encode_indexes
from chalicelib.auth import Principal, staff_name
from chalicelib.errors import Unauthorized
from chalicelib.filings import FILING
from chalicelib.ports import StorageError
from chalicelib.services import Services, current_services, reconciler_for
from chalicelib.staff import REVOCATION
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from beian.synthetic import filing_payload
from benchmarks.stress_figures import record
from tests.archive.test_integrity import stored

pytestmark = pytest.mark.parametrize("backend_env", ["embedded"], indirect=True)
PROPERTY = settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
# Steps that can follow each other from a fresh submission: return, resubmit, return, ...
STEPS = ("pre_verify_return", "resubmit")


def walk(services: Services, rng: random.Random, steps: int) -> tuple[str, list[int]]:
    """A filing taken ``steps`` steps; the versions it had before each step."""
    payload = filing_payload(rng, "enterprise")
    # One website, one live filing: each walk files a website of its own (seeds repeat).
    payload["website"]["domains"] = [f"walk-{uuid.uuid4().hex[:12]}.cn"]
    filing_id = str(services.filings.submit(payload)[0]["id"])
    where = {"provider": services.settings.provider, "province": services.settings.province}
    before = []
    for number in range(steps):
        before.append(stored(services, filing_id).version)
        if STEPS[number % 2] == "pre_verify_return":
            services.filings.act(Principal("v1", "verifier", **where), filing_id, "pre_verify_return",
                                 {"reasons": ["核对"]})
        else:
            services.filings.act(Principal(f"applicant:{filing_id}", "applicant", filing=filing_id), filing_id,
                                 "resubmit", {"filing": payload})
    return filing_id, before


def put_back(filing_id: str, version: int, body: dict[str, object], indexes: object) -> None:
    with sqlite3.connect(Path(os.environ["BEIAN_DATA_DIR"]) / "beian.db") as db:  # a backup's row
        db.execute("UPDATE records SET version = ?, body = ?, indexes = ? WHERE kind = ? AND key = ?",
                   (version, dump_json(body), encode_indexes(indexes), FILING, filing_id))


def kinds_for(services: Services, subject: str) -> list[str]:
    return [f.kind for f in reconciler_for(services).run().findings if f.subject == subject]


@given(steps=st.integers(1, 4), seed=st.integers(0, 10_000))
@PROPERTY
def test_a_rollback_of_exactly_the_last_step_is_flagged(live_server: str, steps: int, seed: int) -> None:
    services = current_services()
    rng = random.Random(seed)
    filing_id, _ = walk(services, rng, steps - 1)
    before_last = stored(services, filing_id)
    walk_one_more = STEPS[(steps - 1) % 2]
    where = {"provider": services.settings.provider, "province": services.settings.province}
    if walk_one_more == "pre_verify_return":
        services.filings.act(Principal("v1", "verifier", **where), filing_id, walk_one_more, {"reasons": ["核对"]})
    else:
        again = filing_payload(random.Random(seed), "enterprise")
        again["website"]["domains"] = list(before_last.body["payload"]["website"]["domains"])  # its own website
        services.filings.act(Principal(f"applicant:{filing_id}", "applicant", filing=filing_id), filing_id,
                             walk_one_more, {"filing": again})
    assert kinds_for(services, f"filing:{filing_id}") == []  # as it stands: nothing to find
    put_back(filing_id, before_last.version, dict(before_last.body), before_last.indexes)
    assert kinds_for(services, f"filing:{filing_id}") == ["rolled_back_record"]
    record("audit_forgeries", 1, 0)


@given(seed=st.integers(0, 10_000))
@PROPERTY
def test_a_step_whose_save_failed_is_not_a_rollback(live_server: str, seed: int,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    services = current_services()
    filing_id, _ = walk(services, random.Random(seed), 0)
    where = {"provider": services.settings.provider, "province": services.settings.province}

    def failing_save(*_args: object, **_kwargs: object) -> None:
        raise StorageError("the table is unavailable")

    with monkeypatch.context() as patched:
        patched.setattr(services.filings._records, "save", failing_save)
        with pytest.raises(StorageError):
            services.filings.act(Principal("v1", "verifier", **where), filing_id, "pre_verify_return",
                                 {"reasons": ["核对"]})
    assert kinds_for(services, f"filing:{filing_id}") == []


@given(count=st.integers(1, 3), seed=st.integers(0, 10_000))
@PROPERTY
def test_a_filing_deleted_whole_is_flagged(live_server: str, count: int, seed: int) -> None:
    services = current_services()
    rng = random.Random(seed)
    deleted = [walk(services, rng, 1)[0] for _ in range(count)]
    kept = walk(services, rng, 1)[0]
    for filing_id in deleted:
        services.backend.records.delete(services.backend.records.get(FILING, filing_id))
    findings = reconciler_for(services).run().findings
    flagged = {f.subject for f in findings if f.kind == "deleted_record"}
    assert {f"filing:{filing_id}" for filing_id in deleted} <= flagged
    assert f"filing:{kept}" not in flagged
    record("audit_forgeries", count, 0)


@given(name=st.text(st.characters(categories=["L"]), min_size=1, max_size=10))
@PROPERTY
def test_a_deleted_revocation_is_found_and_put_back_from_the_audit_log(live_server: str, name: str) -> None:
    services = current_services()
    name = staff_name(f"{name}-{random.Random(name).randrange(10**6)}")  # as revocations store it
    where = {"provider": services.settings.provider, "province": services.settings.province}
    token = services.auth.issue(name, "verifier", **where)
    services.staff.revoke(Principal("cli:root", "admin", **where), name, "设备丢失")
    services.backend.records.delete(services.backend.records.get(REVOCATION, name))
    found = [f for f in reconciler_for(services).run().findings if f.subject == f"staff:{name}"]
    assert [(f.kind, f.outcome) for f in found] == [("missing_revocation", "found")]
    repaired = [f for f in reconciler_for(services).run(repair=True).findings if f.subject == f"staff:{name}"]
    assert [f.outcome for f in repaired] == ["repaired"]
    assert services.backend.records.get(REVOCATION, name) is not None
    assert [f for f in reconciler_for(services).run().findings if f.subject == f"staff:{name}"] == []
    with pytest.raises(Unauthorized):
        services.auth.authenticate(f"Bearer {token}")
    record("audit_forgeries", 1, 0)


def test_a_revocation_deleted_from_the_index_and_the_records_is_caught_by_the_full_read(live_server: str) -> None:
    """Who may delete both the revocation record and its index entry re-enables the tokens
    (for a process that has not read the revocation yet) until the reconciler reads the whole
    log: it puts both back from the log, which refuses them again."""
    services = current_services()
    name = staff_name(f"verifier-{uuid.uuid4().hex[:8]}")
    where = {"provider": services.settings.provider, "province": services.settings.province}
    token = services.auth.issue(name, "verifier", **where)
    services.staff.revoke(Principal("cli:root", "admin", **where), name, "设备丢失")
    services.backend.records.delete(services.backend.records.get(REVOCATION, name))
    with sqlite3.connect(Path(os.environ["BEIAN_DATA_DIR"]) / "beian.db") as db:
        db.execute("DELETE FROM audit_by_action WHERE action = 'staff.revoke'")
    assert services.audit.entries_of("staff.revoke") == []
    assert services.auth.authenticate(f"Bearer {token}").subject == name  # the attack, until the reconciler runs
    found = {(f.kind, f.outcome) for f in reconciler_for(services).run(repair=True).findings
             if f.subject == f"staff:{name}"}
    assert found == {("missing_revocation", "repaired"), ("unindexed_revocation", "repaired")}
    with pytest.raises(Unauthorized):
        services.auth.authenticate(f"Bearer {token}")
    assert [entry["details"]["subject"] for entry in services.audit.entries_of("staff.revoke")] == [name]
    assert [f for f in reconciler_for(services).run().findings if f.subject == f"staff:{name}"] == []
