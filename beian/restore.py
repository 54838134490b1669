"""Restoring the archive from its replica in the second region, locks and holds included.

S3 replication keeps a copy of every archived version in the second region, locked in
COMPLIANCE mode until the same date. When the archive bucket is lost or unusable, a new archive
bucket (made by the stack, Object Lock on) is filled from the replica: each current object is
copied with its own retain-until date and legal hold, in the copy request itself, so no version
of the new archive is ever unlocked. Run again, it copies only what is missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@dataclass(frozen=True)
class Restored:
    key: str
    retain_until: datetime
    legal_hold: bool
    copied: bool  # False: the new archive already held it


def _current_keys(s3: S3Client, bucket: str) -> Iterator[tuple[str, int]]:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            yield item["Key"], item["Size"]


def restore_archive(replica: S3Client, replica_bucket: str,
                    archive: S3Client, archive_bucket: str) -> Iterator[Restored]:
    """Copy every current object of the replica into the (new) archive, locked as it was."""
    present = dict(_current_keys(archive, archive_bucket))
    for key, size in _current_keys(replica, replica_bucket):
        # HeadObject shows the lock to a caller allowed GetObjectRetention and GetObjectLegalHold.
        head = replica.head_object(Bucket=replica_bucket, Key=key)
        if head.get("ObjectLockMode") != "COMPLIANCE" or "ObjectLockRetainUntilDate" not in head:
            raise ValueError(f"{key} is not locked in COMPLIANCE mode in the replica: not restored")
        until = head["ObjectLockRetainUntilDate"].astimezone(UTC)
        held = head.get("ObjectLockLegalHoldStatus") == "ON"
        copied = present.get(key) != size
        if copied:
            archive.copy_object(
                Bucket=archive_bucket, Key=key, CopySource={"Bucket": replica_bucket, "Key": key},
                ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=until,
                ObjectLockLegalHoldStatus="ON" if held else "OFF")
        yield Restored(key, until, held, copied)
