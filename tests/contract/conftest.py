"""Helpers that let one contract suite drive both backends the way real clients would.

Uploads and downloads: against AWS they go over HTTP to the presigned URL; against the
embedded backend they call the two checks the embedded server makes, since the
server itself is not part of the contract.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import boto3
import pytest
import requests
from chalicelib.adapters.embedded import LocalBlobs, OutboxNotifier, TooLargeUpload
from chalicelib.config import Settings
from chalicelib.ports import Backend, UploadSlot

CHUNK = 64 * 1024


def _chunks(data: bytes) -> Iterator[bytes]:
    for start in range(0, len(data), CHUNK):
        yield data[start:start + CHUNK]


def _s3_would_refuse(slot: UploadSlot, size: int) -> bool:
    """moto accepts any POST without reading its policy; S3 checks the signed policy.
    So check it here as S3 does: expiry, every field condition, and the size range."""
    policy = json.loads(base64.b64decode(slot.fields["policy"]))
    if datetime.fromisoformat(policy["expiration"]) <= datetime.now(UTC):
        return True
    for condition in policy["conditions"]:
        if isinstance(condition, dict):
            ((name, value),) = condition.items()
            if name == "bucket":
                url = urlsplit(slot.url)  # path-style (moto, LocalStack) or virtual-hosted
                actual = url.path.strip("/") or url.netloc.split(".")[0]
            else:
                actual = slot.fields[name]
            if actual != value:
                return True
        else:
            kind, low, high = condition
            assert kind == "content-length-range", f"unexpected policy condition {condition}"
            if not low <= size <= high:
                return True
    return False


@pytest.fixture
def post_to_slot(backend: Backend) -> Callable[[UploadSlot, bytes], bool]:
    """Uploads ``data`` through ``slot`` as a client would; True if it was accepted."""

    def post(slot: UploadSlot, data: bytes) -> bool:
        if isinstance(backend.blobs, LocalBlobs):
            try:
                key, max_bytes = backend.blobs.verify_upload_fields(slot.fields)
                backend.blobs.write_staged(key, _chunks(data), max_bytes)
            except (ValueError, TooLargeUpload):
                return False
            return True
        if _s3_would_refuse(slot, len(data)):
            return False
        reply = requests.post(slot.url, data=slot.fields, timeout=10,
                              files={"file": ("blob", data, "application/octet-stream")})
        return reply.status_code == 204

    return post


@pytest.fixture
def fetch(backend: Backend) -> Callable[[str], bytes]:
    """Downloads from a ``download_url`` as a client would."""

    def get(url: str) -> bytes:
        if isinstance(backend.blobs, LocalBlobs):
            key = backend.blobs.verify_download(dict(parse_qsl(urlsplit(url).query)))
            with backend.blobs.open(key) as stream:
                return stream.read()
        reply = requests.get(url, timeout=10)
        reply.raise_for_status()
        return reply.content

    return get


@pytest.fixture
def stored_versions(backend: Backend, backend_env: dict[str, str]) -> Callable[[str], int]:
    """How many stored things (versions, delete markers; on disk: blob and retention
    state) a key still has in the archive, looked at beneath the adapter."""
    settings = Settings.from_env()

    def count(key: str) -> int:
        if backend.name == "embedded":
            blobs = Path(settings.data_dir, "blobs")
            return sum(path.exists() for path in (blobs / "archive" / key,
                                                  blobs / "retention" / f"{key}.json"))
        s3 = boto3.client("s3", region_name=settings.region)
        listing = s3.list_object_versions(Bucket=settings.archive_bucket, Prefix=key)
        return sum(item["Key"] == key for item in
                   [*listing.get("Versions", []), *listing.get("DeleteMarkers", [])])

    return count


@pytest.fixture
def sent_sms(backend: Backend, request: pytest.FixtureRequest) -> Callable[[], list[tuple[str, str]]]:
    """(phone, text) of every text message the backend handed over for delivery."""
    if request.node.callspec.params["backend_env"] == "localstack":
        pytest.skip("reads moto's record of sent text messages")

    def sent() -> list[tuple[str, str]]:
        if isinstance(backend.notifier, OutboxNotifier):
            return [(message.phone, message.text) for message in backend.notifier.sent()]
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.sns.models import sns_backends

        region = Settings.from_env().region
        return list(sns_backends[DEFAULT_ACCOUNT_ID][region].sms_messages.values())

    return sent
