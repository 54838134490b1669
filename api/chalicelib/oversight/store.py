"""Reading an index page by page, and saving a record whether or not it already exists."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ..ports import IndexEntry, Record, Records, VersionConflict
from .periods import FIRST_SORT, LAST_SORT

PAGE_SIZE = 500


def scan(records: Records, index: str, value: str, *, sort_from: str = FIRST_SORT,
         sort_to: str = LAST_SORT, page_size: int = PAGE_SIZE) -> Iterator[Record]:
    """Every record under (``index``, ``value``) in sort order, a page at a time."""
    after: str | None = None
    while True:
        page = records.query(index, value, sort_from=sort_from, sort_to=sort_to, limit=page_size,
                             after=after)
        yield from page.records
        if page.cursor is None:
            return
        after = page.cursor


def put(records: Records, kind: str, key: str, body: Mapping[str, Any],
        indexes: tuple[IndexEntry, ...], known: Record | None = None) -> Record:
    """Save ``body`` over the version in ``known`` (or as new); if someone else saved the
    record meanwhile, save over theirs: these records are recomputed, the last check wins."""
    version = known.version if known is not None else 0
    for _ in range(5):
        try:
            return records.save(Record(kind, key, body, version, indexes))
        except VersionConflict:
            current = records.get(kind, key)
            version = current.version if current is not None else 0
    raise VersionConflict(f"{kind}/{key} keeps changing")
