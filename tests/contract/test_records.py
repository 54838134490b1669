"""Records: optimistic versions, index entries replaced with the record, cheap queries."""

from __future__ import annotations

import dataclasses
import functools

import pytest
from chalicelib.ports import Backend, BadCursor, IndexEntry, Record, VersionConflict

from tests.threads import race


def _filing(key: str, *indexes: IndexEntry, **body: object) -> Record:
    return Record("filing", key, {"name": key, **body}, indexes=indexes)


def _keys(records: list[Record]) -> list[str]:
    return [record.key for record in records]


def test_saved_record_reads_back_whole(backend: Backend) -> None:
    body = {"名称": "示例网站", "domains": ["example.cn"], "count": 3, "ratio": 0.5,
            "ok": True, "none": None, "nested": {"a": [1, {"b": "c"}]}}
    indexes = (IndexEntry("province", "京", "2026-01-02"), IndexEntry("domain", "example.cn"))
    saved = backend.records.save(Record("filing", "f-1", body, indexes=indexes))
    assert saved.version == 1
    assert backend.records.get("filing", "f-1") == saved
    assert backend.records.get("filing", "f-2") is None
    assert backend.records.get("document", "f-1") is None


def test_insert_refused_when_the_record_exists(backend: Backend) -> None:
    backend.records.save(_filing("f-1"))
    with pytest.raises(VersionConflict):
        backend.records.save(_filing("f-1", changed=True))
    assert "changed" not in backend.records.get("filing", "f-1").body  # type: ignore[union-attr]


def test_replace_needs_the_stored_version(backend: Backend) -> None:
    first = backend.records.save(_filing("f-1"))
    second = backend.records.save(Record("filing", "f-1", {"step": 2}, first.version))
    assert second.version == 2
    with pytest.raises(VersionConflict):
        backend.records.save(Record("filing", "f-1", {"step": "stale"}, first.version))
    with pytest.raises(VersionConflict):
        backend.records.save(Record("filing", "f-1", {"step": "future"}, 7))
    assert backend.records.get("filing", "f-1") == second


def _race(backend: Backend, base: Record) -> list[Record | VersionConflict]:
    """Two threads save over ``base`` at the same moment."""
    return race(*(functools.partial(backend.records.save, Record(base.kind, base.key, {"w": writer}, base.version))
                  for writer in (1, 2)), caught=VersionConflict)


def test_two_threads_saving_one_version_one_wins(backend: Backend) -> None:
    current = backend.records.save(_filing("f-1"))
    for _ in range(3):
        outcomes = _race(backend, current)
        winners = [outcome for outcome in outcomes if isinstance(outcome, Record)]
        assert len(winners) == 1 and len(outcomes) == 2
        assert backend.records.get("filing", "f-1") == winners[0]
        current = winners[0]


def test_saving_replaces_the_index_entries(backend: Backend) -> None:
    saved = backend.records.save(_filing("f-1", IndexEntry("state", "new", "2026-01-01")))
    backend.records.save(Record("filing", "f-1", saved.body, saved.version,
                                (IndexEntry("state", "done", "2026-01-05"),)))
    assert backend.records.query("state", "new").records == []
    assert _keys(backend.records.query("state", "done").records) == ["f-1"]


def test_an_index_can_hold_many_values_of_one_record(backend: Backend) -> None:
    backend.records.save(_filing("f-1", IndexEntry("domain", "a.cn"), IndexEntry("domain", "b.cn")))
    backend.records.save(_filing("f-2", IndexEntry("domain", "b.cn")))
    assert _keys(backend.records.query("domain", "a.cn").records) == ["f-1"]
    assert _keys(backend.records.query("domain", "b.cn").records) == ["f-1", "f-2"]
    assert backend.records.query("domain", "c.cn").records == []


def test_query_selects_a_sort_range_in_order(backend: Backend) -> None:
    for day in (5, 1, 3, 2, 4):
        backend.records.save(_filing(f"f-{day}", IndexEntry("province", "京", f"2026-01-0{day}")))
    backend.records.save(_filing("f-sh", IndexEntry("province", "沪", "2026-01-03")))
    everything = backend.records.query("province", "京")
    assert _keys(everything.records) == ["f-1", "f-2", "f-3", "f-4", "f-5"]
    middle = backend.records.query("province", "京", sort_from="2026-01-02", sort_to="2026-01-04")
    assert _keys(middle.records) == ["f-2", "f-3", "f-4"]
    # Both bounds are inclusive and compare whole sort values, so a value that extends a
    # bound sorts after it.
    assert _keys(backend.records.query("province", "京", sort_from="2026-01-04").records) \
        == ["f-4", "f-5"]
    assert _keys(backend.records.query("province", "京", sort_to="2026-01-02").records) \
        == ["f-1", "f-2"]
    assert backend.records.query("province", "京", sort_to="2026-01-0").records == []
    assert len(backend.records.query("province", "京", sort_from="2026-01-0").records) == 5


def test_pages_follow_the_cursor_to_the_end(backend: Backend) -> None:
    for number in range(7):
        # Equal sort values too: the order falls back to kind and key.
        backend.records.save(_filing(f"f-{number}", IndexEntry("provider", "p", f"s{number // 2}")))
    seen: list[str] = []
    cursor = None
    for expected in (3, 3, 1):
        page = backend.records.query("provider", "p", limit=3, after=cursor)
        assert len(page.records) == expected
        seen += _keys(page.records)
        cursor = page.cursor
    assert cursor is None
    assert seen == [f"f-{number}" for number in range(7)]
    bounded = backend.records.query("provider", "p", sort_from="s1", sort_to="s2", limit=3)
    rest = backend.records.query("provider", "p", sort_from="s1", sort_to="s2", limit=3,
                                 after=bounded.cursor)
    assert _keys(bounded.records) + _keys(rest.records) == ["f-2", "f-3", "f-4", "f-5"]
    assert rest.cursor is None


def test_an_entry_lists_exactly_the_records_saved_under_it(backend: Backend) -> None:
    shared = IndexEntry("due", "review#京", "2026-01-05")
    first = backend.records.save(_filing("f-1", shared, IndexEntry("provider", "p", "s1")))
    backend.records.save(_filing("f-2", shared))
    assert backend.records.lists(shared, "filing", "f-1") and backend.records.lists(shared, "filing", "f-2")
    assert not backend.records.lists(shared, "filing", "f-3")
    assert not backend.records.lists(IndexEntry("due", "review#京", "2026-01-06"), "filing", "f-1")
    assert not backend.records.lists(IndexEntry("provider", "p", "s1"), "document", "f-1")
    backend.records.save(dataclasses.replace(first, indexes=(IndexEntry("provider", "p", "s1"),)))
    assert not backend.records.lists(shared, "filing", "f-1")  # the old entry went with the save
    assert backend.records.lists(IndexEntry("provider", "p", "s1"), "filing", "f-1")


def test_a_cursor_not_handed_out_by_the_query_is_refused(backend: Backend) -> None:
    backend.records.save(_filing("f-1", IndexEntry("provider", "p", "s1")))
    backend.records.save(_filing("f-2", IndexEntry("provider", "q", "s1")))
    backend.records.save(_filing("f-3", IndexEntry("provider", "q", "s2")))
    other = backend.records.query("provider", "q", limit=1).cursor
    assert other is not None
    for cursor in ("not base64!", "W10=", "eyJhIjoxfQ==", "WyJhIiwgMV0="):  # garbage, [], {"a":1}, ["a",1]
        with pytest.raises(BadCursor):
            backend.records.query("provider", "p", after=cursor)
    if backend.name == "aws":  # a cursor names the partition; the embedded one only a position
        with pytest.raises(BadCursor):
            backend.records.query("provider", "p", after=other)


def test_query_cost_follows_the_results_not_the_table(backend: Backend) -> None:
    # 120 records: moto copies the whole table in every transaction, so more is slow there.
    for number in range(60):
        backend.records.save(_filing(f"other-{number}", IndexEntry("province", "沪", "2026-01-01")))
        # Same index value, outside the queried sort range.
        backend.records.save(_filing(f"early-{number}", IndexEntry("province", "京", "2025-12-31")))
    for day in (1, 2, 3):
        backend.records.save(_filing(f"f-{day}", IndexEntry("province", "京", f"2026-01-0{day}")))
    page = backend.records.query("province", "京", sort_from="2026-01-01")
    assert _keys(page.records) == ["f-1", "f-2", "f-3"]
    assert page.examined <= 4
    first = backend.records.query("province", "沪", limit=5)
    assert len(first.records) == 5 and first.examined <= 6


def test_delete_needs_the_stored_version(backend: Backend) -> None:
    first = backend.records.save(_filing("f-1", IndexEntry("state", "new")))
    second = backend.records.save(Record("filing", "f-1", {}, first.version,
                                         (IndexEntry("state", "done"),)))
    with pytest.raises(VersionConflict):
        backend.records.delete(first)
    backend.records.delete(second)
    assert backend.records.get("filing", "f-1") is None
    assert backend.records.query("state", "done").records == []
    with pytest.raises(VersionConflict):
        backend.records.delete(second)
    with pytest.raises(VersionConflict):
        backend.records.delete(_filing("never-saved"))


def test_names_that_one_backend_could_not_store_are_refused(backend: Backend) -> None:
    # One test, not one per name: each AWS test provisions its own resources.
    for record in [
        Record("fil#ing", "f-1", {}),
        Record("idx", "f-1", {}),
        Record("filing", "", {}),
        Record("filing", "f-1", {}, indexes=(IndexEntry("by state", "new"),)),
        Record("filing", "f-1", {}, indexes=(IndexEntry("state", "new", "2026#01"),)),
        Record("filing", "f-1", {}, indexes=(IndexEntry("state", "new", "with space"),)),
    ]:
        with pytest.raises(ValueError):
            backend.records.save(record)
    with pytest.raises(ValueError):
        backend.records.query("state", "new", sort_from="a b")
    with pytest.raises(ValueError):
        backend.records.query("state", "new", limit=0)
    assert backend.records.get("filing", "f-1") is None


def test_insert_many_stores_new_records_with_their_indexes(backend: Backend) -> None:
    records = [Record("bulk", f"k{n}", {"n": n}, indexes=(IndexEntry("bulk-by-n", "all", f"{n:03d}"),))
               for n in range(30)]
    assert backend.records.insert_many(records) == 30
    page = backend.records.query("bulk-by-n", "all", sort_from="010", sort_to="012")
    assert [record.body["n"] for record in page.records] == [10, 11, 12]
    with pytest.raises(VersionConflict):
        backend.records.insert_many([Record("bulk", "new", {}), Record("bulk", "k3", {})])
    stored = backend.records.get("bulk", "k3")
    assert stored is not None and stored.body == {"n": 3} and stored.version == 1


def test_a_scan_pages_through_every_record_of_every_kind_once(backend: Backend) -> None:
    saved = [backend.records.save(_filing(f"f-{n}", IndexEntry("provider", "p", f"s{n}"))) for n in range(5)]
    saved += [backend.records.save(Record("document", f"f-0/d-{n}", {"n": n})) for n in range(3)]
    seen: list[Record] = []
    cursor = None
    for _ in range(20):
        page = backend.records.scan(limit=3, after=cursor)
        seen += page.records
        cursor = page.cursor
        if cursor is None:
            break
    def order(records: list[Record]) -> list[Record]:
        return sorted(records, key=lambda record: (record.kind, record.key))

    assert cursor is None and order(seen) == order(saved)  # each once, whole; index items are not records
    with pytest.raises(BadCursor):
        backend.records.scan(after="not a cursor")
