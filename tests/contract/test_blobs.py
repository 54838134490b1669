"""Blobs: size-capped upload slots, a staging area, and an archive nobody can shorten."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest
from chalicelib.ports import Backend, BlobInfo, BlobLocked, BlobMissing, UploadSlot

Post = Callable[[UploadSlot, bytes], bool]
KEY = "filings/f-1/documents/d-1.enc"


def _years(count: int) -> datetime:
    """A whole second, as both backends keep retention dates."""
    return (datetime.now(UTC) + timedelta(days=366 * count)).replace(microsecond=0)


def _staged(backend: Backend, post_to_slot: Post, data: bytes, key: str = KEY) -> None:
    assert post_to_slot(backend.blobs.upload_slot(key, max_bytes=len(data), expires_in=60), data)


def test_upload_slot_takes_a_file_into_staging(backend: Backend, post_to_slot: Post) -> None:
    data = os.urandom(200_000)
    slot = backend.blobs.upload_slot(KEY, max_bytes=len(data), expires_in=60)
    assert (slot.key, slot.max_bytes) == (KEY, len(data))
    # Absolute (S3), or a path on the API's own origin (the embedded server).
    assert slot.url.startswith(("https://", "http://", "/blobs/")) and slot.fields["key"] == KEY
    assert timedelta(seconds=55) < slot.expires_at - datetime.now(UTC) <= timedelta(seconds=60)
    assert post_to_slot(slot, data)
    assert backend.blobs.read_staged(KEY, 16) == (len(data), data[:16])
    assert backend.blobs.read_staged(KEY, len(data) + 10) == (len(data), data)


def test_upload_slot_refuses_too_large_and_empty_files(backend: Backend,
                                                       post_to_slot: Post) -> None:
    slot = backend.blobs.upload_slot(KEY, max_bytes=100_000, expires_in=60)
    assert not post_to_slot(slot, b"x" * 100_001)
    assert not post_to_slot(slot, b"")
    with pytest.raises(BlobMissing):
        backend.blobs.read_staged(KEY, 16)
    assert post_to_slot(slot, b"x" * 100_000)


def test_upload_slot_is_bound_to_its_key(backend: Backend, post_to_slot: Post) -> None:
    slot = backend.blobs.upload_slot(KEY, max_bytes=100, expires_in=60)
    forged = UploadSlot(slot.url, {**slot.fields, "key": "filings/f-2/documents/d-1.enc"},
                        slot.key, slot.max_bytes, slot.expires_at)
    assert not post_to_slot(forged, b"data")


def test_upload_slot_expires(backend: Backend, post_to_slot: Post) -> None:
    slot = backend.blobs.upload_slot(KEY, max_bytes=100, expires_in=1)
    time.sleep((slot.expires_at - datetime.now(UTC)).total_seconds() + 0.1)
    assert not post_to_slot(slot, b"data")


def test_unsafe_keys_are_refused(backend: Backend) -> None:
    # One test, not one per key: each AWS test provisions its own resources.
    for key in ["../escape", "/absolute", "a//b", "a/./b", ".hidden", "with space", "a\\b",
                "trailing/", "中文"]:
        with pytest.raises(ValueError, match="bad blob key"):
            backend.blobs.upload_slot(key, max_bytes=100, expires_in=60)
        with pytest.raises(ValueError, match="bad blob key"):
            backend.blobs.put(key, b"data", retain_until=_years(5))


def test_promote_moves_a_staged_file_into_the_locked_archive(backend: Backend,
                                                             post_to_slot: Post) -> None:
    data = os.urandom(5000)
    _staged(backend, post_to_slot, data)
    until = _years(5)
    assert backend.blobs.promote(KEY, retain_until=until) == BlobInfo(KEY, len(data), until)
    assert backend.blobs.info(KEY) == BlobInfo(KEY, len(data), until)
    with pytest.raises(BlobMissing):
        backend.blobs.read_staged(KEY, 16)
    with backend.blobs.open(KEY) as stream:
        assert stream.read() == data
    # Promoting again meets the locked archive first, staged file or not.
    with pytest.raises(BlobLocked):
        backend.blobs.promote(KEY, retain_until=until)


def test_put_archives_and_a_download_url_serves_it(backend: Backend,
                                                   fetch: Callable[[str], bytes]) -> None:
    data = os.urandom(3000)
    until = _years(5)
    assert backend.blobs.put("exports/e-1.enc", data, retain_until=until) \
        == BlobInfo("exports/e-1.enc", len(data), until)
    assert fetch(backend.blobs.download_url("exports/e-1.enc", expires_in=60)) == data
    # Dates are kept to the second, rounded up: never shorter than asked.
    assert backend.blobs.put("exports/e-2.enc", data, retain_until=until - timedelta(
        microseconds=1)).retain_until == until


def test_a_locked_blob_cannot_be_deleted_or_overwritten(backend: Backend,
                                                        post_to_slot: Post) -> None:
    backend.blobs.put(KEY, b"original", retain_until=_years(5))
    with pytest.raises(BlobLocked):
        backend.blobs.delete(KEY)
    with pytest.raises(BlobLocked):
        backend.blobs.put(KEY, b"replacement", retain_until=_years(6))
    _staged(backend, post_to_slot, b"replacement")
    with pytest.raises(BlobLocked):
        backend.blobs.promote(KEY, retain_until=_years(6))
    with backend.blobs.open(KEY) as stream:
        assert stream.read() == b"original"


def test_retention_can_be_extended_but_never_shortened(backend: Backend) -> None:
    five, six = _years(5), _years(6)
    backend.blobs.put(KEY, b"data", retain_until=five)
    assert backend.blobs.extend_retention(KEY, six).retain_until == six
    with pytest.raises(BlobLocked):
        backend.blobs.extend_retention(KEY, five)
    with pytest.raises(ValueError):
        backend.blobs.extend_retention(KEY, datetime.now(UTC) - timedelta(days=1))
    with pytest.raises(ValueError):
        backend.blobs.put("other", b"data", retain_until=datetime.now(UTC) - timedelta(days=1))
    assert backend.blobs.info(KEY) == BlobInfo(KEY, 4, six)


def test_legal_hold_is_set_and_released(backend: Backend) -> None:
    until = _years(5)
    backend.blobs.put(KEY, b"data", retain_until=until)
    assert backend.blobs.set_legal_hold(KEY, True) == BlobInfo(KEY, 4, until, legal_hold=True)
    assert backend.blobs.info(KEY) == BlobInfo(KEY, 4, until, legal_hold=True)
    assert backend.blobs.set_legal_hold(KEY, False).legal_hold is False
    assert backend.blobs.info(KEY) == BlobInfo(KEY, 4, until)


def test_missing_blobs(backend: Backend) -> None:
    assert backend.blobs.info(KEY) is None
    with pytest.raises(BlobMissing):
        backend.blobs.open(KEY)
    with pytest.raises(BlobMissing):
        backend.blobs.read_staged(KEY, 16)
    with pytest.raises(BlobMissing):
        backend.blobs.promote(KEY, retain_until=_years(5))
    with pytest.raises(BlobMissing):
        backend.blobs.extend_retention(KEY, _years(5))
    with pytest.raises(BlobMissing):
        backend.blobs.set_legal_hold(KEY, True)
    with pytest.raises(BlobMissing):
        backend.blobs.delete(KEY)


def test_past_retain_until_deletes_every_version_unless_held(
        backend: Backend, stored_versions: Callable[[str], int]) -> None:
    until = (datetime.now(UTC) + timedelta(seconds=2)).replace(microsecond=0)
    backend.blobs.put("due", b"data", retain_until=until)
    backend.blobs.put("held", b"data", retain_until=until)
    backend.blobs.set_legal_hold("held", True)
    assert stored_versions("due") > 0
    time.sleep((until - datetime.now(UTC)).total_seconds() + 0.2)

    backend.blobs.delete("due")
    assert backend.blobs.info("due") is None
    assert stored_versions("due") == 0
    with pytest.raises(BlobMissing):
        backend.blobs.delete("due")

    with pytest.raises(BlobLocked):
        backend.blobs.delete("held")
    backend.blobs.set_legal_hold("held", False)
    backend.blobs.delete("held")
    assert stored_versions("held") == 0


def test_only_a_download_url_the_store_made_and_serves_is_granted(backend: Backend) -> None:
    backend.blobs.put("exports/e-3.enc", b"x" * 10, retain_until=_years(5))
    query = dict(parse_qsl(urlsplit(backend.blobs.download_url("exports/e-3.enc", expires_in=60)).query))
    if backend.name == "embedded":
        assert backend.blobs.verify_download(query) == "exports/e-3.enc"
    else:  # S3 checks its own presigned URLs: no other server may grant them
        with pytest.raises(ValueError, match="S3"):
            backend.blobs.verify_download(query)
    with pytest.raises(ValueError):
        backend.blobs.verify_download({**query, "key": "exports/e-4.enc"})
