"""The automatic ID check: each defect, duplicates, findings on arrival and in bulk."""

from __future__ import annotations

import copy
import json
import logging
import random
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

import pytest
from chalicelib.filings import FILING, filing_indexes
from chalicelib.oversight.idcheck import (
    OPEN,
    RESOLVED,
    IdChecker,
    check_on_arrival,
    last_run,
    number_findings,
)
from chalicelib.oversight.periods import Month, month_entry
from chalicelib.ports import Page, Record, Records, StorageError
from chalicelib.rules import load_rules
from chalicelib.services import Services
from chalicelib.validators import organisation_code, resident_id, uscc

from beian.synthetic import filing_payload, resident_id_number, uscc_number

FILED_ON = date(2024, 7, 10)
MIN_AGE, MAX_AGE = load_rules().id_check.min_age, load_rules().id_check.max_age


def with_check(body: str) -> str:
    return body + resident_id.calc_check_digit(body)


def codes(path: str, id_type: str, number: str) -> list[str]:
    return [finding.code for finding in number_findings(load_rules(), "F1", path, id_type, number,
                                                        FILED_ON)]


@pytest.mark.parametrize(("number", "code"), [
    (with_check("11010119900101123")[:17] + "0", "invalid_checksum"),
    (with_check("99010119900101123"), "invalid_region"),
    (with_check("11010119901301123"), "invalid_birth_date"),
    (with_check("11010120300101123"), "invalid_birth_date"),
    ("110101900101123", "legacy_15_digit"),
    (with_check(f"110101{FILED_ON.year - MIN_AGE + 1}0101123"), "underage"),
    (with_check(f"810000{FILED_ON.year - MAX_AGE - 5}0101123"), "implausible_age"),
])
def test_each_defect_of_a_resident_id_has_its_code(number: str, code: str) -> None:
    if code == "invalid_checksum" and number == with_check(number[:17]):
        number = number[:17] + "1"
    assert codes("subject.id_number", "resident_id_card", number) == [code]


def test_a_valid_adult_number_and_unit_codes_pass(rng: random.Random) -> None:
    adult = resident_id_number(rng, birth=date(1980, 5, 17), region="110101")
    assert codes("responsible_person.id_number", "resident_id_card", adult) == []
    assert codes("subject.id_number", "business_licence", uscc_number(rng)) == []
    assert codes("subject.id_number", "organisation_code_certificate", "D2143569X") == []
    assert codes("subject.id_number", "organisation_code_certificate", uscc_number(rng, "government")) == []


def test_an_age_limit_is_reported_as_the_providers_rule() -> None:
    young = with_check(f"110101{FILED_ON.year - MIN_AGE + 1}0101123")
    (finding,) = number_findings(load_rules(), "F1", "responsible_person.id_number", "resident_id_card",
                                 young, FILED_ON)
    assert finding.code == "underage"
    assert "本单位规则" in finding.reason_zh and "the provider's rule" in finding.reason_en


def test_unit_codes_with_a_wrong_check_character_fail(rng: random.Random) -> None:
    code = uscc_number(rng)
    wrong = code[:17] + ("0" if code[17] != "0" else "1")
    assert uscc.calc_check_digit(wrong) != wrong[17]
    assert codes("subject.id_number", "business_licence", wrong) == ["invalid_checksum"]
    org = "D2143569" + ("0" if organisation_code.calc_check_digit("D2143569") != "0" else "1")
    assert codes("subject.id_number", "organisation_code_certificate", org) == ["invalid_checksum"]


def test_reasons_name_the_field_and_never_the_number() -> None:
    number = with_check("99010119900101123")
    (finding,) = number_findings(load_rules(), "F1", "responsible_person.id_number",
                                 "resident_id_card", number, FILED_ON)
    assert finding.reason_zh.startswith("网站负责人证件号码：")
    assert finding.reason_en.startswith("Document number of the person responsible: ")
    assert number not in finding.reason_zh + finding.reason_en
    assert codes("subject.id_number", "no_such_document", "X") == ["unknown_document"]


def submitted(services: Services, payload: dict[str, Any]) -> Record:
    view, _ = services.filings.submit(payload)
    record = services.backend.records.get(FILING, view["id"])
    assert record is not None
    assert month_entry(record.body) in record.indexes
    return record


def stored_bodies(services: Services, checker: IdChecker, *filing_ids: str) -> str:
    return json.dumps([checker.for_filing(filing_id) for filing_id in filing_ids], ensure_ascii=False)


def test_a_clean_filing_has_no_findings(services: Services, checker: IdChecker,
                                        rng: random.Random) -> None:
    record = submitted(services, filing_payload(rng, "enterprise"))
    assert check_on_arrival(checker, record) == []
    assert checker.for_filing(record.key) == []


def test_an_underage_holder_is_found_on_arrival_and_seen_by_provider_and_center(
        services: Services, checker: IdChecker, rng: random.Random, now: datetime) -> None:
    payload = filing_payload(rng, "individual")
    minor = resident_id_number(rng, birth=date(now.year - 15, 3, 1))
    payload["subject"]["id_number"] = minor
    record = submitted(services, payload)  # the API accepts it: the number itself is valid
    (finding,) = check_on_arrival(checker, record)
    assert (finding.filing_id, finding.field, finding.code) == (record.key, "subject.id_number", "underage")
    provider_view = list(checker.open_for_provider(services.settings.provider))
    center_view = list(checker.open_for_month(Month.of(now.date())))
    assert [f["filing_id"] for f in provider_view] == [f["filing_id"] for f in center_view] == [record.key]
    assert minor not in stored_bodies(services, checker, record.key)


def test_duplicates_are_marked_on_both_filings_and_resolve_when_one_is_cancelled(
        services: Services, checker: IdChecker, rng: random.Random, now: datetime) -> None:
    first_payload = filing_payload(rng, "individual")
    number = first_payload["subject"]["id_number"]
    first = submitted(services, first_payload)
    assert check_on_arrival(checker, first) == []
    second_payload = filing_payload(rng, "individual")
    second_payload["subject"]["id_number"] = number
    second = submitted(services, second_payload)
    (finding,) = check_on_arrival(checker, second)
    assert finding.code == "duplicate" and finding.related == (first.key,)
    (marked,) = checker.for_filing(first.key)
    assert marked["code"] == "duplicate" and marked["related"] == [second.key]
    # A unit whose responsible person holds the number is not a duplicate subject.
    unit_payload = filing_payload(rng, "enterprise")
    unit_payload["responsible_person"]["id_number"] = number
    assert check_on_arrival(checker, submitted(services, unit_payload)) == []
    assert number not in stored_bodies(services, checker, first.key, second.key)

    records = services.backend.records
    current = records.get(FILING, second.key)
    assert current is not None
    records.save(Record(FILING, current.key, {**current.body, "state": "cancelled"}, current.version,
                        current.indexes))
    run = checker.check_month(Month.of(now.date()))
    assert run.filings == 3 and run.resolved == 1
    (first_finding,) = checker.for_filing(first.key)
    assert first_finding["state"] == RESOLVED
    assert last_run(services.backend.records, Month.of(now.date())) == run.to_body()


def legacy_filing(services: Services, payload: dict[str, Any], created: datetime,
                  filing_id: str) -> Record:
    """A filing migrated from the legacy system: stored without the API's validation."""
    body: dict[str, Any] = {"id": filing_id, "state": "approved", "provider": "legacy-idc",
                            "province": "沪", "created_at": created.isoformat(), "history": [],
                            "deadlines": {}, "legacy_import": True}
    services.filings.apply_payload(body, payload)
    indexes = filing_indexes(body)
    return services.backend.records.save(Record(FILING, filing_id, body, indexes=indexes))


def test_the_bulk_check_finds_legacy_defects_and_resolves_them_once_corrected(
        services: Services, checker: IdChecker, rng: random.Random, now: datetime) -> None:
    payload = filing_payload(rng, "enterprise")
    good = copy.deepcopy(payload)
    number = payload["responsible_person"]["id_number"]
    payload["responsible_person"]["id_number"] = number[:17] + ("0" if number[17] != "0" else "1")
    record = legacy_filing(services, payload, now, "F20240710-0000AAAA")
    run = checker.check_month(Month.of(now.date()))
    assert (run.filings, run.failed, run.opened) == (1, 1, 1)
    assert dict(run.by_code) == {"invalid_checksum": 1}
    (finding,) = checker.for_filing(record.key)
    assert finding["state"] == OPEN and finding["field"] == "responsible_person.id_number"

    body = copy.deepcopy(dict(record.body))
    services.filings.apply_payload(body, good)
    services.backend.records.save(Record(FILING, record.key, body, record.version, record.indexes))
    again = checker.check_month(Month.of(now.date()))
    assert (again.failed, again.resolved) == (0, 1)
    assert [f["state"] for f in checker.for_filing(record.key)] == [RESOLVED]
    assert list(checker.open_for_month(Month.of(now.date()))) == []
    assert list(checker.open_for_provider("legacy-idc")) == []


class BrokenRecords:
    """Records whose queries fail, as a backend in trouble would."""

    def __init__(self, inner: Records) -> None:
        self._inner = inner

    def get(self, kind: str, key: str) -> Record | None:
        return self._inner.get(kind, key)

    def save(self, record: Record) -> Record:
        return self._inner.save(record)

    def insert_many(self, records: Iterable[Record]) -> int:
        return self._inner.insert_many(records)

    def delete(self, record: Record) -> None:
        self._inner.delete(record)

    def query(self, index: str, value: str, *, sort_from: str = "", sort_to: str = "\uffff",
              limit: int = 100, after: str | None = None) -> Page:
        raise StorageError("unavailable")


def test_a_storage_failure_on_arrival_is_logged_without_the_number_and_left_to_the_bulk_check(
        embedded: Services, rng: random.Random, now: datetime, caplog: pytest.LogCaptureFixture) -> None:
    payload = filing_payload(rng, "individual")
    record = submitted(embedded, payload)
    broken = IdChecker(BrokenRecords(embedded.backend.records), embedded.sensitive, lambda: now)
    with caplog.at_level(logging.ERROR, logger="beian.oversight"):
        assert check_on_arrival(broken, record) == []
    assert record.key in caplog.text
    assert payload["subject"]["id_number"] not in caplog.text
