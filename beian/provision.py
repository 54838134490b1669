"""Creates the AWS resources of the AWS backend, as the production template describes them.

Idempotent: a second run finds everything in place and changes nothing. The tests run
it against moto; an operator can run it against an account or LocalStack.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError
from chalicelib.adapters.aws import AwsClients, error_code
from chalicelib.config import Settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import ObjectLockConfigurationTypeDef

# DNS-valid and without dots, so that virtual-hosted HTTPS certificates match.
_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")


def provision_aws(settings: Settings) -> None:
    for bucket in (settings.staging_bucket, settings.archive_bucket):
        if not _BUCKET_NAME.fullmatch(bucket):
            raise ValueError(f"bad bucket name {bucket!r}: 3-63 of a-z 0-9 -, no dots")
    clients = AwsClients(settings)
    key_arn = _key(clients.kms, settings.kms_key_id)
    _table(clients.dynamodb, settings.table)
    _staging_bucket(clients.s3, settings)
    _archive_bucket(clients.s3, settings, key_arn)


def _key(kms: KMSClient, key_id: str) -> str:
    """The ARN of the symmetric key sealing the archive's secrets, created with its alias
    if missing (a key given by id or ARN must exist already), with yearly rotation on."""
    try:
        key = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    except ClientError as error:
        if error_code(error) != "NotFoundException" or not key_id.startswith("alias/"):
            raise
        key = kms.create_key(Description="beian: seals the archive's private keys",
                             KeySpec="SYMMETRIC_DEFAULT", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]
        kms.create_alias(AliasName=key_id, TargetKeyId=key["KeyId"])
    kms.enable_key_rotation(KeyId=key["KeyId"])
    return key["Arn"]


def _table(dynamodb: DynamoDBClient, table: str) -> None:
    try:
        dynamodb.describe_table(TableName=table)
    except ClientError as error:
        if error_code(error) != "ResourceNotFoundException":
            raise
        dynamodb.create_table(
            TableName=table, BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                       {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                  {"AttributeName": "sk", "AttributeType": "S"}],
            SSESpecification={"Enabled": True, "SSEType": "KMS"},
            # It indexes a five-year archive: deleting it takes a deliberate second step.
            DeletionProtectionEnabled=True)
        dynamodb.get_waiter("table_exists").wait(TableName=table)
    # A new table may refuse this for a few minutes (ContinuousBackupsUnavailable): run again.
    dynamodb.update_continuous_backups(
        TableName=table, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})


def _staging_bucket(s3: S3Client, settings: Settings) -> None:
    name = settings.staging_bucket
    _private_bucket(s3, name, settings.region, object_lock=False)
    # Uploads are promoted within minutes; whatever is left is abandoned.
    s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": [{
        "ID": "expire-abandoned-uploads", "Status": "Enabled", "Filter": {"Prefix": ""},
        "Expiration": {"Days": 1}, "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
    }]})
    _allow_browser(s3, name, "POST", settings.public_url)


def _archive_bucket(s3: S3Client, settings: Settings, key_arn: str) -> None:
    name = settings.archive_bucket
    _private_bucket(s3, name, settings.region, object_lock=True)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    # Object Lock on, and no default retention: promote and put lock each object until its
    # own date, while a default would lock, in COMPLIANCE mode, anything written by
    # mistake too, for years, with no way back. Set only when different: this also turns
    # Object Lock on for an archive bucket made without it (moto refuses it on a bucket
    # that holds objects, even when nothing changes).
    wanted: ObjectLockConfigurationTypeDef = {"ObjectLockEnabled": "Enabled"}
    try:
        current = s3.get_object_lock_configuration(Bucket=name)["ObjectLockConfiguration"]
    except ClientError as error:
        if error_code(error) != "ObjectLockConfigurationNotFoundError":
            raise
        current = {}
    if current != wanted:
        s3.put_object_lock_configuration(Bucket=name, ObjectLockConfiguration=wanted)
    s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": [{
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms",
                                               "KMSMasterKeyID": key_arn},
        "BucketKeyEnabled": True,  # one KMS call per bucket key, not per object
    }]})
    _allow_browser(s3, name, "GET", settings.public_url)


def _private_bucket(s3: S3Client, name: str, region: str, *, object_lock: bool) -> None:
    # us-east-1 is the one region that refuses a location constraint naming itself.
    where: dict[str, Any] = {} if region == "us-east-1" else {
        "CreateBucketConfiguration": {"LocationConstraint": region}}
    try:
        s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=object_lock, **where)
    except ClientError as error:
        if error_code(error) != "BucketAlreadyOwnedByYou":
            raise
    s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True,
        "BlockPublicPolicy": True, "RestrictPublicBuckets": True})


def _allow_browser(s3: S3Client, name: str, method: str, origin: str) -> None:
    """Browsers upload (POST) and fetch (GET) ciphertext straight from S3, from our site."""
    s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": [{
        "AllowedMethods": [method], "AllowedOrigins": [origin], "AllowedHeaders": ["*"],
        "MaxAgeSeconds": 3600}]})
