"""The China partition as a cn-north-1 deployment sees it: aws-cn ARNs from what provisioning
creates, and the .com.cn addresses the adapter hands to browsers, which the site's
Content-Security-Policy must allow."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from chalicelib.adapters.aws import AwsClients, S3Blobs
from chalicelib.config import Settings

from tests.conftest import REGION
from tests.deploy.policies import template_stack


@pytest.mark.parametrize("backend_env", ["aws"], indirect=True)
def test_the_aws_tests_run_in_the_china_partition(backend_env: dict[str, str]) -> None:
    settings = Settings.from_env()
    assert REGION == settings.region == "cn-north-1"
    kms = boto3.client("kms", region_name=settings.region)
    for alias in (settings.kms_key_id, f"{settings.kms_key_id}-storage"):  # custody, storage
        assert kms.describe_key(KeyId=alias)["KeyMetadata"]["Arn"].startswith("arn:aws-cn:kms:cn-north-1:")
    table = boto3.client("dynamodb", region_name=settings.region).describe_table(TableName=settings.table)
    assert table["Table"]["TableArn"].startswith("arn:aws-cn:dynamodb:cn-north-1:")


def test_the_site_may_post_to_the_upload_address_the_adapter_gives_in_china(
        template: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """No endpoint override: the addresses boto3 makes for cn-north-1 (signing needs no network)."""
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    settings = Settings.from_env({"BEIAN_BACKEND": "aws", "AWS_REGION": "cn-north-1",
                                  "BEIAN_STAGING_BUCKET": "beian-staging-example",
                                  "BEIAN_ARCHIVE_BUCKET": "beian-archive-example"})
    blobs = S3Blobs(AwsClients(settings), settings)
    slot = blobs.upload_slot("documents/F1/D1", max_bytes=1000, expires_in=60)
    download = blobs.download_url("documents/F1/D1", expires_in=60)
    assert slot.url.startswith("https://beian-staging-example.s3.cn-north-1.amazonaws.com.cn")
    assert download.startswith("https://beian-archive-example.s3.cn-north-1.amazonaws.com.cn/documents/F1/D1?")

    stack = template_stack(template)
    stack.refs["StagingBucket"] = settings.staging_bucket
    headers = template["Resources"]["SiteHeaders"]["Properties"]["ResponseHeadersPolicyConfig"]
    policy = stack.resolve(headers["SecurityHeadersConfig"]["ContentSecurityPolicy"]["ContentSecurityPolicy"])
    (connect,) = [part.split()[1:] for part in policy.split(";") if part.split()[:1] == ["connect-src"]]
    assert slot.url.rstrip("/") in connect
