"""Disaster recovery on moto: the archive is rebuilt from its replica in the second region, each
document locked until its own date, and staff read it back through the API as before."""

from __future__ import annotations

import dataclasses
import random
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from chalicelib.config import Settings

from beian.client import BeianClient
from beian.provision import provision_aws, provision_replica
from beian.restore import restore_archive
from beian.synthetic import filing_payload

pytestmark = pytest.mark.parametrize("backend_env", ["aws"], indirect=True)
SECOND_REGION = "cn-northwest-1"


def replicate(s3: Any, source: str, replica_s3: Any, replica: str) -> int:
    """What S3 replication does and moto does not: each object copied with its lock."""
    copied = 0
    for item in s3.list_objects_v2(Bucket=source).get("Contents", []):
        source_object = s3.get_object(Bucket=source, Key=item["Key"])
        replica_s3.put_object(Bucket=replica, Key=item["Key"], Body=source_object["Body"].read(),
                              ChecksumAlgorithm="SHA256", ObjectLockMode=source_object["ObjectLockMode"],
                              ObjectLockRetainUntilDate=source_object["ObjectLockRetainUntilDate"])
        copied += 1
    return copied


def test_the_archive_is_restored_from_the_replica_locked_and_readable(
        backend_env: dict[str, str], live_server: str, anonymous: BeianClient,
        staff: Callable[..., BeianClient], rng: random.Random, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings.from_env()
    filing, token = anonymous.submit(filing_payload(rng, "enterprise"))
    scan = tmp_path / "licence.pdf"
    scan.write_bytes(b"%PDF-1.7\n" + rng.randbytes(5000))
    document = BeianClient(live_server, token).upload(filing["id"], "business_licence", scan)

    suffix = uuid.uuid4().hex[:10]
    replica, restored = f"beian-replica-{suffix}", f"beian-restored-{suffix}"
    provision_replica(dataclasses.replace(settings, region=SECOND_REGION), replica)
    s3 = boto3.client("s3", region_name=settings.region)
    replica_s3 = boto3.client("s3", region_name=SECOND_REGION)
    assert replica_s3.get_object_lock_configuration(Bucket=replica)["ObjectLockConfiguration"]["Rule"][
        "DefaultRetention"]["Mode"] == "COMPLIANCE"
    assert replicate(s3, settings.archive_bucket, replica_s3, replica) >= 1

    # The archive is lost: the stack makes a new archive bucket, and the replica fills it.
    monkeypatch.setenv("BEIAN_ARCHIVE_BUCKET", restored)
    provision_aws(Settings.from_env())
    results = list(restore_archive(replica_s3, replica, s3, restored))
    assert results and all(result.copied for result in results)
    for result in results:
        original = s3.head_object(Bucket=settings.archive_bucket, Key=result.key)
        copy = s3.head_object(Bucket=restored, Key=result.key)
        assert copy["ObjectLockMode"] == "COMPLIANCE"
        assert copy["ObjectLockRetainUntilDate"] == original["ObjectLockRetainUntilDate"] == result.retain_until
        with pytest.raises(s3.exceptions.ClientError):  # locked from the first byte: no delete
            s3.delete_object(Bucket=restored, Key=result.key, VersionId=copy["VersionId"])

    copy = staff("verifier").retrieve(filing["id"], document["id"], "verification", "灾备恢复后核对", tmp_path / "copy")
    assert copy.read_bytes() == scan.read_bytes()
    # Run again after an interruption: nothing is copied twice.
    assert not any(result.copied for result in restore_archive(replica_s3, replica, s3, restored))
