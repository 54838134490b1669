"""Uploads in parts (a browser's streaming upload): both backends join the parts into the
staged object, keep the slot's size cap, and are single use."""

from __future__ import annotations

import os
import time
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from chalicelib.adapters.embedded import LocalBlobs, TooLargeUpload
from chalicelib.ports import Backend, BadUpload, PartsSlot

PART = 5 * 1024 * 1024  # S3's smallest part but the last


def put(backend: Backend, url: str, data: bytes) -> bool:
    """PUT one part as a browser does; True if it was accepted."""
    if isinstance(backend.blobs, LocalBlobs):
        query = dict(parse_qsl(urlsplit(url).query))
        try:
            key, upload_id, part, part_size = backend.blobs.verify_part(query)
            backend.blobs.write_part(key, upload_id, part, [data], part_size)
        except (ValueError, TooLargeUpload):
            return False
        return True
    return requests.put(url, data=data, timeout=30).status_code == 200


def test_parts_are_joined_in_order(backend: Backend) -> None:
    key = "documents/F1/D-parts"
    data = os.urandom(2 * PART + 1000)
    slot = backend.blobs.upload_parts(key, max_bytes=len(data) + 100, part_size=PART, expires_in=300)
    assert isinstance(slot, PartsSlot) and len(slot.urls) == 3
    for number in (3, 1, 2):  # any order
        assert put(backend, slot.urls[number - 1], data[(number - 1) * PART : number * PART])
    assert backend.blobs.complete_parts(key, slot.upload_id, max_bytes=len(data) + 100)
    size, head = backend.blobs.read_staged(key, len(data))
    assert (size, head) == (len(data), data)
    # Single use: joined once, the upload is gone; its URLs store nothing new.
    assert not backend.blobs.complete_parts(key, slot.upload_id, max_bytes=len(data) + 100)
    assert not put(backend, slot.urls[0], b"x" * PART)
    assert backend.blobs.read_staged(key, 10) == (len(data), data[:10])


def test_no_parts_means_the_post_was_used(backend: Backend) -> None:
    slot = backend.blobs.upload_parts("documents/F1/D-none", max_bytes=100, part_size=PART, expires_in=300)
    assert not backend.blobs.complete_parts("documents/F1/D-none", slot.upload_id, max_bytes=100)


def test_parts_over_the_cap_or_with_a_gap_are_refused(backend: Backend) -> None:
    data = os.urandom(PART + 10)
    over = backend.blobs.upload_parts("documents/F1/D-over", max_bytes=PART + 5, part_size=PART, expires_in=300)
    assert put(backend, over.urls[0], data[:PART])
    assert put(backend, over.urls[1], data[PART:])  # 10 bytes: the slot allows 5
    with pytest.raises(BadUpload):
        backend.blobs.complete_parts("documents/F1/D-over", over.upload_id, max_bytes=PART + 5)
    gap = backend.blobs.upload_parts("documents/F1/D-gap", max_bytes=3 * PART, part_size=PART, expires_in=300)
    assert put(backend, gap.urls[1], data[:PART])
    with pytest.raises(BadUpload):
        backend.blobs.complete_parts("documents/F1/D-gap", gap.upload_id, max_bytes=3 * PART)


# moto does not check presigned signatures (S3 does): the embedded server's own check is tested.
@pytest.mark.parametrize("backend_env", ["embedded"], indirect=True)
def test_a_part_url_grants_its_own_part_only(backend: Backend) -> None:
    slot = backend.blobs.upload_parts("documents/F1/D-forged", max_bytes=PART, part_size=PART, expires_in=300)
    assert not put(backend, slot.urls[0].replace("part=1", "part=2"), b"x")
    assert not put(backend, slot.urls[0], b"x" * (PART + 1))
    assert put(backend, slot.urls[0], b"x")


@pytest.mark.parametrize("backend_env", ["embedded"], indirect=True)
def test_parts_never_joined_are_forgotten_after_a_day(backend: Backend) -> None:
    """As S3's AbortIncompleteMultipartUpload rule does for the staging bucket."""
    blobs = backend.blobs
    assert isinstance(blobs, LocalBlobs)
    old = blobs.upload_parts("documents/F1/D-old", max_bytes=10, part_size=PART, expires_in=300)
    assert put(backend, old.urls[0], b"abandoned")
    folder = blobs._parts / old.upload_id
    day_ago = time.time() - 24 * 3600 - 60
    os.utime(folder, (day_ago, day_ago))
    blobs.upload_parts("documents/F1/D-new", max_bytes=10, part_size=PART, expires_in=300)
    assert not folder.exists()
