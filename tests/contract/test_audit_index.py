"""The audit log's index by action: what the revocation check of a new process reads instead
of the whole log."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from chalicelib.audit import AuditLog
from chalicelib.auth import Principal
from chalicelib.integrity import signed_backend
from chalicelib.ports import AuditStore, Backend, VersionConflict
from chalicelib.staff import REVOKE_ACTION, StaffTokens

ADMIN = Principal("cli:root", "admin", provider="demo-idc", province="京")


def _entry(seq: int, action: str) -> dict[str, object]:
    return {"seq": seq, "action": action, "hash": f"{seq:064x}", "details": {"n": seq}}


def test_entries_appended_by_action_are_read_through_their_index(backend: Backend) -> None:
    assert list(backend.audit.read_action(REVOKE_ACTION)) == []
    listed = {2: REVOKE_ACTION, 5: REVOKE_ACTION, 6: "archive.disposal_certificate", 9: REVOKE_ACTION}
    for seq in range(1, 11):
        # seq 7 is a revocation appended without the index: only ``by_action`` lists an entry
        action = listed.get(seq, REVOKE_ACTION if seq == 7 else "filing.view")
        backend.audit.append(seq, _entry(seq, action), by_action=seq in listed)
    assert list(backend.audit.read_action(REVOKE_ACTION)) == [_entry(seq, REVOKE_ACTION) for seq in (2, 5, 9)]
    assert list(backend.audit.read_action(REVOKE_ACTION, 5)) == [_entry(seq, REVOKE_ACTION) for seq in (5, 9)]
    assert list(backend.audit.read_action(REVOKE_ACTION, 10)) == []
    assert list(backend.audit.read_action("archive.disposal_certificate")) == [
        _entry(6, "archive.disposal_certificate")]
    assert list(backend.audit.read_action("filing.view")) == []


def test_a_taken_sequence_number_lists_nothing_under_its_action(backend: Backend) -> None:
    backend.audit.append(1, _entry(1, "filing.view"))
    with pytest.raises(VersionConflict):
        backend.audit.append(1, _entry(1, REVOKE_ACTION), by_action=True)
    assert list(backend.audit.read_action(REVOKE_ACTION)) == []
    assert list(backend.audit.read()) == [_entry(1, "filing.view")]


def test_an_entry_is_listed_again_from_the_log(backend: Backend) -> None:
    backend.audit.append(1, _entry(1, REVOKE_ACTION), by_action=True)
    backend.audit.append(2, _entry(2, REVOKE_ACTION))
    backend.audit.list_by_action(2)
    backend.audit.list_by_action(1)  # listed already: stays listed once
    assert list(backend.audit.read_action(REVOKE_ACTION)) == [_entry(1, REVOKE_ACTION), _entry(2, REVOKE_ACTION)]
    with pytest.raises(KeyError):
        backend.audit.list_by_action(3)
    assert list(backend.audit.read_action(REVOKE_ACTION, 3)) == []


class CountingAudit:
    """The audit store, counting the entries each read hands out."""

    def __init__(self, store: AuditStore) -> None:
        self._store = store
        self.entries_read: Counter[str] = Counter()

    def append(self, seq: int, entry: Mapping[str, Any], *, by_action: bool = False) -> None:
        self._store.append(seq, entry, by_action=by_action)

    def last(self) -> tuple[int, Mapping[str, Any]] | None:
        return self._store.last()

    def read(self, start: int = 1, end: int | None = None) -> Iterator[Mapping[str, Any]]:
        return self._counted("read", self._store.read(start, end))

    def read_action(self, action: str, start: int = 1) -> Iterator[Mapping[str, Any]]:
        return self._counted("read_action", self._store.read_action(action, start))

    def _counted(self, how: str, entries: Iterator[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
        for entry in entries:
            self.entries_read[how] += 1
            yield entry


def _process(backend: Backend) -> tuple[StaffTokens, CountingAudit]:
    """Staff tokens as a new process (a cold Lambda) builds them: nothing read yet."""
    signed, _, vault = signed_backend(backend)
    store = CountingAudit(backend.audit)
    return StaffTokens(signed.records, AuditLog(store, vault)), store


def test_the_first_revocation_check_of_a_new_process_reads_only_the_revocations(backend: Backend) -> None:
    staff, _ = _process(backend)
    log = AuditLog(backend.audit, signed_backend(backend)[2])
    for number in range(250):  # two checkpoints' worth of other entries around three revocations
        log.record(ADMIN, "filing.view", f"filing:F{number}")
        if number in (10, 120, 240):
            staff.revoke(ADMIN, f"verifier-{number}", "设备丢失")
    assert (backend.audit.last() or (0, {}))[0] > 250

    cold, store = _process(backend)
    assert cold.revoked("verifier-120", 0)
    assert not cold.revoked("verifier-11", 0)
    assert store.entries_read == Counter(read_action=3)
    staff.revoke(ADMIN, "verifier-11", "离职")
    assert cold.revoked("verifier-11", 0)
    assert store.entries_read == Counter(read_action=4)  # then only what was appended since


def test_an_entry_that_does_not_match_its_hash_is_left_out(backend: Backend) -> None:
    staff, _ = _process(backend)
    staff.revoke(ADMIN, "verifier-1", "设备丢失")
    seq, entry = backend.audit.last() or (0, {})
    forged = {**entry, "seq": seq + 1, "details": {"subject": "verifier-2", "not_before": 2**40}}
    backend.audit.append(seq + 1, forged, by_action=True)
    cold, _ = _process(backend)
    assert cold.audited_revocations().keys() == {"verifier-1"}
