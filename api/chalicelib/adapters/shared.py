"""The rules both adapters follow, so that data one backend accepts the other accepts too.

Names, keys, sort values, phone numbers and retention dates are checked here the same way for
SQLite and a folder (``embedded.py``) as for DynamoDB and S3 (``aws.py``); index entries and
cursors are encoded here once for both. Neither adapter imports the other: both import this.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from ..ports import BadCursor, BadUpload, BlobInfo, BlobLocked, IndexEntry

# A DynamoDB transaction holds 100 writes: the record, the old entries removed and
# the new ones added.
MAX_INDEX_ENTRIES = 49
AUDIT_PAGE = 500
_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
# The AWS adapter joins sort, kind and key with "#" into one sort key; characters up
# to "#" would sort differently there than in SQLite.
_SORT_FORBIDDEN = re.compile(r"[\x00-#]")
_KEY_SEGMENT = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}")
_PHONE = re.compile(r"\+[1-9][0-9]{6,14}")


def check_record_names(kind: str, key: str, indexes: Iterable[IndexEntry]) -> None:
    """Raise ValueError unless the names can be stored unambiguously on both backends."""
    # "idx" prefixes the DynamoDB partitions of index entries.
    if not _NAME.fullmatch(kind) or kind == "idx":
        raise ValueError(f"bad record kind {kind!r}: use 1-64 of A-Z a-z 0-9 _ . - (not 'idx')")
    if not key:
        raise ValueError("a record key cannot be empty")
    entries = list(indexes)
    if len(set(entries)) > MAX_INDEX_ENTRIES:
        raise ValueError(f"a record can have at most {MAX_INDEX_ENTRIES} index entries")
    for entry in entries:
        check_index(entry.index, entry.sort)


def check_index(index: str, *sorts: str) -> None:
    if not _NAME.fullmatch(index):
        raise ValueError(f"bad index name {index!r}: use 1-64 of A-Z a-z 0-9 _ . -")
    for sort in sorts:
        if _SORT_FORBIDDEN.search(sort):
            raise ValueError(f"bad sort value {sort!r}: no control characters, space, ! \" or #")


def check_query(index: str, sort_from: str, sort_to: str, limit: int) -> None:
    check_index(index, sort_from, sort_to)
    if limit < 1:
        raise ValueError("limit must be at least 1")


def check_blob_key(key: str) -> str:
    """A relative "/"-separated path of safe segments (none empty, none starting with ".")."""
    if len(key) > 512 or not all(_KEY_SEGMENT.fullmatch(part) for part in key.split("/")):
        raise ValueError(f"bad blob key {key!r}: use segments of A-Z a-z 0-9 . _ - joined by /")
    return key


def check_link(key: str, expires_in: int) -> None:
    check_blob_key(key)
    if expires_in < 1:
        raise ValueError("expires_in must be at least 1")


def check_upload_slot(key: str, max_bytes: int, expires_in: int) -> None:
    check_link(key, expires_in)
    if max_bytes < 1:
        raise ValueError("max_bytes must be at least 1")


def part_count(max_bytes: int, part_size: int) -> int:
    if part_size < 1:
        raise ValueError("part_size must be at least 1")
    return -(-max_bytes // part_size)


def check_parts(sizes: Mapping[int, int], max_bytes: int) -> None:
    """Parts 1..n, none empty, at most ``max_bytes`` together (S3 checks that all but the last
    are at least 5 MiB; the embedded server that each is at most its signed part size)."""
    if sorted(sizes) != list(range(1, len(sizes) + 1)) or 0 in sizes.values():
        raise BadUpload("the uploaded parts are not numbered 1 to n")
    if sum(sizes.values()) > max_bytes:
        raise BadUpload(f"the uploaded parts exceed {max_bytes} bytes")


def check_phone(phone: str) -> None:
    if not _PHONE.fullmatch(phone):
        raise ValueError(f"bad phone number {phone!r}: use E.164, e.g. +8613800138000")


def check_seq(seq: int) -> None:
    if seq < 1:
        raise ValueError("audit sequence numbers start at 1")


def retention_date(retain_until: datetime) -> datetime:
    """UTC, rounded up to a whole second (what S3 keeps), in the future (S3 refuses the past)."""
    if retain_until.tzinfo is None:
        raise ValueError("retain_until must be timezone-aware")
    until = retain_until.astimezone(UTC)
    if until.microsecond:
        until = until.replace(microsecond=0) + timedelta(seconds=1)
    if until <= datetime.now(UTC):
        raise ValueError("retain_until must be in the future")
    return until


def refuse_if_locked(info: BlobInfo | None) -> None:
    """BlobLocked if ``info`` is of a blob still retained or under legal hold."""
    if info is None:
        return
    if info.legal_hold or (info.retain_until is not None and info.retain_until > datetime.now(UTC)):
        raise BlobLocked(f"{info.key} is retained until {info.retain_until} or under legal hold")


def dump_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def encode_indexes(indexes: Iterable[IndexEntry]) -> str:
    return dump_json([[entry.index, entry.value, entry.sort] for entry in indexes])


def decode_indexes(text: str) -> tuple[IndexEntry, ...]:
    return tuple(IndexEntry(index, value, sort) for index, value, sort in json.loads(text))


def encode_cursor(position: Any) -> str:
    return base64.urlsafe_b64encode(dump_json(position).encode()).decode()


def decode_cursor(cursor: str, parts: int) -> list[str]:
    """The ``parts`` strings that ``encode_cursor`` packed, or BadCursor."""
    try:
        position = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, ValueError) as error:
        raise BadCursor("bad cursor") from error
    if not isinstance(position, list) or len(position) != parts or not all(isinstance(p, str) for p in position):
        raise BadCursor("bad cursor")
    return position


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
