"""Provisioning creates in moto exactly what the template describes, and nothing it cannot."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from chalicelib.config import Settings

from beian.provision import (
    BACKEND_RESOURCES,
    CLOUDFORMATION_ONLY,
    Stack,
    alias_of,
    load_template,
    parameters_for,
    provision_aws,
    pseudo_parameters,
)

SOURCE = load_template()
pytestmark = pytest.mark.parametrize("backend_env", ["aws"], indirect=True)


def _properties(logical: str) -> dict[str, Any]:
    """The resource's properties that provisioning creates."""
    properties: dict[str, Any] = SOURCE["Resources"][logical]["Properties"]
    return {name: value for name, value in properties.items() if name not in CLOUDFORMATION_ONLY}


def _stack(settings: Settings) -> Stack:
    """The template's values for these settings, with the keys provisioning created."""
    kms = boto3.client("kms", region_name=settings.region)
    stack = Stack({**parameters_for(settings, SOURCE), **pseudo_parameters(settings)})
    for key in ("CustodyKey", "StorageKey"):
        metadata = kms.describe_key(KeyId=alias_of(SOURCE["Resources"], key, stack))["KeyMetadata"]
        stack.refs[key], stack.arns[key] = metadata["KeyId"], metadata["Arn"]
    return stack


def test_every_backend_resource_of_the_template_is_provisioned(backend_env: dict[str, str]) -> None:
    backend_types = {"AWS::KMS::Key", "AWS::DynamoDB::Table"}
    expected = {name for name, resource in SOURCE["Resources"].items()
                if resource.get("Type") in backend_types
                or resource.get("Properties", {}).get("BucketName", {}).get("Ref") in (
                    "ArchiveBucketName", "StagingBucketName")}
    assert set(BACKEND_RESOURCES) == expected


def test_the_buckets_are_as_the_template_describes(backend_env: dict[str, str]) -> None:
    settings = Settings.from_env()
    stack = _stack(settings)
    s3 = boto3.client("s3", region_name=settings.region)
    for logical, name in (("ArchiveBucket", settings.archive_bucket), ("StagingBucket", settings.staging_bucket)):
        spec = stack.resolve(_properties(logical))
        assert s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"] == \
            spec["PublicAccessBlockConfiguration"]
        assert s3.get_bucket_ownership_controls(Bucket=name)["OwnershipControls"] == spec["OwnershipControls"]
        (rule,) = s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"]
        (wanted,) = spec["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert rule["ApplyServerSideEncryptionByDefault"] == wanted["ServerSideEncryptionByDefault"]
        assert rule.get("BucketKeyEnabled", False) == wanted.get("BucketKeyEnabled", False)
        (lifecycle,) = s3.get_bucket_lifecycle_configuration(Bucket=name)["Rules"]
        (wanted_lifecycle,) = spec["LifecycleConfiguration"]["Rules"]
        assert lifecycle["ID"] == wanted_lifecycle["Id"] and lifecycle["Status"] == "Enabled"
        assert [(item["Days"], item["StorageClass"]) for item in lifecycle.get("Transitions", [])] == \
            [(item["TransitionInDays"], item["StorageClass"]) for item in wanted_lifecycle.get("Transitions", [])]
        assert lifecycle.get("Expiration", {}).get("Days") == wanted_lifecycle.get("ExpirationInDays")
    archive = stack.resolve(_properties("ArchiveBucket"))
    lock = s3.get_object_lock_configuration(Bucket=settings.archive_bucket)["ObjectLockConfiguration"]
    wanted_lock = archive["ObjectLockConfiguration"]
    assert lock["ObjectLockEnabled"] == wanted_lock["ObjectLockEnabled"]
    default = lock["Rule"]["DefaultRetention"]
    assert (default["Mode"], default["Days"]) == ("COMPLIANCE", int(wanted_lock["Rule"]["DefaultRetention"]["Days"]))
    assert s3.get_bucket_versioning(Bucket=settings.archive_bucket)["Status"] == \
        archive["VersioningConfiguration"]["Status"]
    assert archive["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"][
        "KMSMasterKeyID"] == stack.arns["StorageKey"]
    (cors,) = s3.get_bucket_cors(Bucket=settings.staging_bucket)["CORSRules"]
    assert (cors["AllowedMethods"], cors["AllowedOrigins"]) == (["POST", "PUT"], [settings.public_url])


def test_the_table_is_as_the_template_describes(backend_env: dict[str, str]) -> None:
    settings = Settings.from_env()
    spec = _stack(settings).resolve(_properties("Table"))
    dynamodb = boto3.client("dynamodb", region_name=settings.region)
    table = dynamodb.describe_table(TableName=settings.table)["Table"]
    assert table["KeySchema"] == spec["KeySchema"]
    assert sorted(table["AttributeDefinitions"], key=str) == sorted(spec["AttributeDefinitions"], key=str)
    assert table.get("GlobalSecondaryIndexes", []) == spec.get("GlobalSecondaryIndexes", [])
    assert table["BillingModeSummary"]["BillingMode"] == spec["BillingMode"]
    assert table["DeletionProtectionEnabled"] is spec["DeletionProtectionEnabled"]
    assert table["SSEDescription"]["Status"] == "ENABLED"
    assert table["SSEDescription"]["KMSMasterKeyArn"].endswith(spec["SSESpecification"]["KMSMasterKeyId"])
    recovery = dynamodb.describe_continuous_backups(TableName=settings.table)[
        "ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
    assert recovery["PointInTimeRecoveryStatus"] == "ENABLED"
    assert recovery["RecoveryPeriodInDays"] == spec["PointInTimeRecoverySpecification"]["RecoveryPeriodInDays"]


@pytest.mark.parametrize("key", ["CustodyKey", "StorageKey"])
def test_the_keys_carry_the_template_s_policy_and_rotate(backend_env: dict[str, str], key: str) -> None:
    settings = Settings.from_env()
    stack = _stack(settings)
    kms = boto3.client("kms", region_name=settings.region)
    policy = json.loads(kms.get_key_policy(KeyId=stack.refs[key], PolicyName="default")["Policy"])
    assert policy == stack.resolve(_properties(key)["KeyPolicy"])
    assert kms.get_key_rotation_status(KeyId=stack.refs[key])["KeyRotationEnabled"]
    (guard,) = [statement for statement in policy["Statement"]
                if statement["Sid"] == "OnlyBreakGlassDisablesDeletesOrRepolicies"]
    assert guard["Condition"]["ArnNotEquals"]["aws:PrincipalArn"].endswith(":role/beian-break-glass")
    described = kms.describe_key(KeyId=stack.refs[key])["KeyMetadata"]
    assert (described["KeySpec"], described["KeyUsage"]) == (_properties(key)["KeySpec"], _properties(key)["KeyUsage"])


def test_custody_is_the_key_the_settings_name(backend_env: dict[str, str]) -> None:
    settings = Settings.from_env()
    kms = boto3.client("kms", region_name=settings.region)
    assert kms.describe_key(KeyId=settings.kms_key_id)["KeyMetadata"]["Arn"] == _stack(settings).arns["CustodyKey"]


def test_a_property_provisioning_cannot_create_is_refused(backend_env: dict[str, str], tmp_path: Path) -> None:
    template = load_template()
    template["Resources"]["ArchiveBucket"]["Properties"]["AccelerateConfiguration"] = {"AccelerationStatus": "Enabled"}
    changed = tmp_path / "resources.json"
    changed.write_text(json.dumps(template), encoding="utf-8")
    with pytest.raises(ValueError, match=r"ArchiveBucket: provisioning does not create \['AccelerateConfiguration'\]"):
        provision_aws(Settings.from_env(), changed)


def test_names_the_template_would_refuse_are_refused(backend_env: dict[str, str]) -> None:
    settings = Settings.from_env()
    for bad in (dataclasses.replace(settings, archive_bucket="Beian.Archive"),
                dataclasses.replace(settings, kms_key_id="arn:aws:kms:us-east-1:123456789012:key/x")):
        with pytest.raises(ValueError, match="cannot be the"):
            provision_aws(bad)
