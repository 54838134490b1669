"""The demo seeder: reproducible, realistic mix, stored as the real path stores filings."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from chalicelib.config import Settings
from chalicelib.filings import FILING
from chalicelib.oversight.idcheck import FINDING_FILING_INDEX
from chalicelib.oversight.periods import MONTH_INDEX, Quarter, filing_month
from chalicelib.oversight.store import scan
from chalicelib.services import Services, build_services

from beian.demo import AlreadySeeded, seed_demo

QUARTER = Quarter(2024, 1)
WORLD = datetime(2024, 4, 15, tzinfo=UTC)


def archive(tmp_path: Path, name: str) -> Services:
    settings = Settings.from_env({"BEIAN_BACKEND": "embedded", "BEIAN_DATA_DIR": str(tmp_path / name)})
    return build_services(settings, clock=lambda: WORLD)


def filings(services: Services) -> list[Mapping[str, Any]]:
    return [record.body for month in QUARTER.months
            for record in scan(services.backend.records, MONTH_INDEX, month.label)]


def public_part(body: Mapping[str, Any]) -> dict[str, Any]:
    """What does not depend on random nonces: everything but the sealed bytes and hashes."""
    payload = {section: {name: value["masked"] if isinstance(value, dict) else value
                         for name, value in values.items()} if isinstance(values, dict) else values
               for section, values in body["payload"].items()}
    return {**{k: v for k, v in body.items() if k not in ("payload", "id_hashes")}, "payload": payload}


def test_the_same_seed_gives_the_same_filings(tmp_path: Path) -> None:
    first, second = archive(tmp_path, "a"), archive(tmp_path, "b")
    assert seed_demo(first, 150, seed=4, quarter=QUARTER, now=WORLD) == \
        seed_demo(second, 150, seed=4, quarter=QUARTER, now=WORLD)
    assert [public_part(body) for body in filings(first)] == [public_part(body) for body in filings(second)]
    with pytest.raises(AlreadySeeded):
        seed_demo(first, 10, seed=4, quarter=QUARTER, now=WORLD)
    seed_demo(first, 10, seed=5, quarter=QUARTER, now=WORLD)  # another seed shares the archive


def test_the_mix_has_late_steps_pending_ones_and_deliberate_defects(tmp_path: Path) -> None:
    services = archive(tmp_path, "mix")
    # A filing still awaiting pre-verification two weeks after the quarter is rare (a late
    # pre-verification of one made in its last days): this seed's mix has one.
    summary = seed_demo(services, 1500, seed=12, quarter=QUARTER, now=WORLD)
    bodies = filings(services)
    assert len(bodies) == summary.filings == 1500
    assert {filing_month(body["created_at"]) for body in bodies} == {m.label for m in QUARTER.months}
    states = Counter(body["state"] for body in bodies)
    assert {"approved", "submitted", "returned_to_applicant", "submitted_to_province"} <= set(states)
    late = Counter(name for body in bodies for name, deadline in body["deadlines"].items()
                   if deadline.get("late"))
    assert late["pre_verification"] > 0 and late["provincial_review"] > 0
    assert any(not body["deadlines"][name]["met_at"] for body in bodies for name in body["deadlines"])
    legacy = [body for body in bodies if body.get("legacy_import")]
    assert 20 < len(legacy) < 80
    assert all(body["history"][0]["action"] == "import" for body in legacy)
    records = services.backend.records
    codes: Counter[str] = Counter()
    for body in bodies:
        found = [record.body["code"] for record in scan(records, FINDING_FILING_INDEX, body["id"])]
        codes.update(found)
        if body.get("legacy_import"):
            assert found, body["id"]
    assert {"invalid_checksum", "invalid_region", "invalid_birth_date", "legacy_15_digit", "underage",
            "duplicate"} <= set(codes)
    # Sealed as the real path seals: the checker unseals every number.
    sensitive = services.sensitive
    approved = next(body for body in bodies if body["state"] == "approved")
    number = sensitive.reveal(approved["payload"]["subject"]["id_number"], filing_id=approved["id"],
                              path="subject.id_number")
    assert sensitive.index_value(number) in approved["id_hashes"]
    assert records.get(FILING, approved["id"]) is not None
    assert summary.sites > 1000 and summary.pre_2010 > 100 and summary.spot_checks >= 300
