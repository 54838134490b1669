"""Creates the AWS backend's resources where CloudFormation is not at hand (moto, LocalStack),
exactly as the deployment template ``infra/resources.json`` describes them.

The template is the one description of the resources: ``chalice package --merge-template``
makes CloudFormation create them in an account, and this module creates the same resources
with boto3 from the same Properties, with the names the settings give. A property it does
not know how to create is refused, so the template cannot describe anything the tests do
not exercise. Idempotent: a second run finds everything in place and changes nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import boto3
from botocore.exceptions import ClientError
from chalicelib.adapters.aws import AwsClients, error_code
from chalicelib.config import Settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import (
        BucketLifecycleConfigurationTypeDef,
        CORSConfigurationTypeDef,
        ObjectLockConfigurationTypeDef,
        ServerSideEncryptionConfigurationTypeDef,
    )

TEMPLATE = Path(__file__).resolve().parents[1] / "infra" / "resources.json"
# What the backend reads and writes, in creation order: the keys encrypt the table and the
# archive bucket. The site, CloudFront, API Gateway and the alarms are CloudFormation's only,
# and so are the buckets' TLS-only policies: moto applies a bucket policy's Deny whatever its
# Condition says (it evaluates none of S3's condition keys), so it would refuse every request.
BACKEND_RESOURCES = ("StorageKey", "CustodyKey", "Table", "StagingBucket", "ArchiveBucket")
# The template's parameters that name what the settings name.
NAMED_BY_SETTINGS = ("TableName", "ArchiveBucketName", "StagingBucketName", "CustodyKeyAliasName")
# Bucket properties that point at resources only CloudFormation creates (the log bucket, the
# replica in the second region): provisioning leaves them out, and the template tests check them.
CLOUDFORMATION_ONLY = {
    "LoggingConfiguration": "access logs go to the log bucket, which the backend never reads",
    "ReplicationConfiguration": "the replica lives in the second region's own stack (infra/replica.json)",
}
STACK_NAME = "beian"
_SUB = re.compile(r"\$\{([^}!]+)\}")


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    template: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return template


def parameters_for(settings: Settings, template: Mapping[str, Any]) -> dict[str, str]:
    """The template's parameters for these settings: names from the settings (checked against
    the template's patterns), the site's origin, and every other parameter's default."""
    named = dict(zip(NAMED_BY_SETTINGS, (settings.table, settings.archive_bucket,
                                         settings.staging_bucket, settings.kms_key_id), strict=True))
    declared: Mapping[str, Mapping[str, Any]] = template["Parameters"]
    for name, value in named.items():
        if not re.fullmatch(declared[name]["AllowedPattern"], value):
            raise ValueError(f"{value!r} cannot be the {name}: it must match "
                             f"{declared[name]['AllowedPattern']}")
    defaults = {name: str(spec["Default"]) for name, spec in declared.items() if "Default" in spec}
    return {**defaults, **named, "PublicUrl": settings.public_url}


@dataclass
class Stack:
    """The template's values as CloudFormation would see them: parameters, pseudo parameters,
    and what Ref and Fn::GetAtt return for each resource created so far."""

    parameters: Mapping[str, str]
    refs: dict[str, str] = field(default_factory=dict)
    arns: dict[str, str] = field(default_factory=dict)

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((name, argument),) = value.items()
            if name == "Ref":
                return self._ref(argument)
            if name == "Fn::GetAtt":
                return self._get_att(*argument)
            if name == "Fn::Sub":
                return self._sub(argument)
            if name.startswith("Fn::"):
                raise ValueError(f"provisioning does not evaluate {name}")
        return {key: self.resolve(item) for key, item in value.items()}

    def _ref(self, name: str) -> str:
        for known in (self.parameters, self.refs):
            if name in known:
                return known[name]
        raise ValueError(f"{name} is neither a parameter nor a resource created before this one")

    def _get_att(self, resource: str, attribute: str) -> str:
        if attribute != "Arn" or resource not in self.arns:
            raise ValueError(f"provisioning does not know {resource}.{attribute}")
        return self.arns[resource]

    def _sub(self, argument: str | list[Any]) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        values = {name: self.resolve(value) for name, value in variables.items()}

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in values:
                return str(values[name])
            resource, _, attribute = name.partition(".")
            return self._get_att(resource, attribute) if attribute else self._ref(name)

        return _SUB.sub(substitute, text)


def pseudo_parameters(settings: Settings) -> dict[str, str]:
    china = settings.region.startswith("cn-")
    account = boto3.client("sts", region_name=settings.region).get_caller_identity()["Account"]
    # The key policy names the functions' roles by the stack's name: moto runs no stack.
    return {"AWS::Region": settings.region, "AWS::AccountId": account, "AWS::StackName": STACK_NAME,
            "AWS::Partition": "aws-cn" if china else "aws",
            "AWS::URLSuffix": "amazonaws.com.cn" if china else "amazonaws.com"}


def provision_aws(settings: Settings, template_path: Path = TEMPLATE) -> None:
    """Create (or find) every backend resource of the template, named as ``settings`` say."""
    template = load_template(template_path)
    resources: Mapping[str, Mapping[str, Any]] = template["Resources"]
    stack = Stack({**parameters_for(settings, template), **pseudo_parameters(settings)})
    clients = AwsClients(settings)
    for logical in BACKEND_RESOURCES:
        resource = resources[logical]
        create = _CREATORS[resource["Type"]]
        create(_Context(clients, stack, resources, logical), dict(resource.get("Properties", {})))


REPLICA_TEMPLATE = TEMPLATE.with_name("replica.json")
REPLICA_RESOURCES = ("ReplicaKey", "ReplicaBucket")


def provision_replica(settings: Settings, bucket: str, template_path: Path = REPLICA_TEMPLATE) -> None:
    """Create (or find) the second region's replica bucket and its key, in ``settings.region``."""
    template = load_template(template_path)
    declared = template["Parameters"]
    parameters = {name: str(spec["Default"]) for name, spec in declared.items() if "Default" in spec}
    if not re.fullmatch(declared["ReplicaBucketName"]["AllowedPattern"], bucket):
        raise ValueError(f"{bucket!r} cannot be the ReplicaBucketName")
    stack = Stack({**parameters, "ReplicaBucketName": bucket, **pseudo_parameters(settings)})
    clients = AwsClients(settings)
    for logical in REPLICA_RESOURCES:
        resource = template["Resources"][logical]
        _CREATORS[resource["Type"]](_Context(clients, stack, template["Resources"], logical),
                                    dict(resource.get("Properties", {})))


@dataclass(frozen=True)
class _Context:
    clients: AwsClients
    stack: Stack
    resources: Mapping[str, Mapping[str, Any]]
    logical: str

    def refuse_unknown(self, properties: dict[str, Any], *known: str) -> None:
        """Refuse a property this module would not create (so the tests never skip one)."""
        unknown = set(properties) - set(known)
        if unknown:
            raise ValueError(f"{self.logical}: provisioning does not create {sorted(unknown)}")


# --- KMS ----------------------------------------------------------------------------------


def alias_of(resources: Mapping[str, Mapping[str, Any]], key: str, stack: Stack) -> str:
    """The alias name the template's one alias resource targeting ``key`` gives it."""
    (alias,) = [stack.resolve(resource["Properties"]["AliasName"]) for resource in resources.values()
                if resource.get("Type") == "AWS::KMS::Alias"
                and resource["Properties"]["TargetKeyId"] == {"Ref": key}]
    return str(alias)


def _key(context: _Context, properties: dict[str, Any]) -> None:
    """A symmetric key found or created through its alias (the template's alias resource
    that targets it), then given the template's key policy and rotation."""
    context.refuse_unknown(properties, "Description", "KeySpec", "KeyUsage", "EnableKeyRotation",
                 "PendingWindowInDays", "KeyPolicy")  # the pending window matters only on deletion
    alias = alias_of(context.resources, context.logical, context.stack)
    kms = context.clients.kms
    policy = json.dumps(context.stack.resolve(properties["KeyPolicy"]))
    try:
        key = kms.describe_key(KeyId=alias)["KeyMetadata"]
        kms.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy=policy)
    except ClientError as error:
        if error_code(error) != "NotFoundException":
            raise
        key = kms.create_key(Policy=policy, Description=properties["Description"],
                             KeySpec=properties["KeySpec"],
                             KeyUsage=properties["KeyUsage"])["KeyMetadata"]
        kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    if properties["EnableKeyRotation"]:
        kms.enable_key_rotation(KeyId=key["KeyId"])
    context.stack.refs[context.logical] = key["KeyId"]
    context.stack.arns[context.logical] = key["Arn"]


# --- DynamoDB -----------------------------------------------------------------------------


def _table(context: _Context, properties: dict[str, Any]) -> None:
    context.refuse_unknown(properties, "TableName", "BillingMode", "KeySchema", "AttributeDefinitions",
                 "GlobalSecondaryIndexes", "PointInTimeRecoverySpecification", "SSESpecification",
                 "DeletionProtectionEnabled")
    spec = context.stack.resolve(properties)
    dynamodb = context.clients.dynamodb
    name = spec["TableName"]
    try:
        table = dynamodb.describe_table(TableName=name)["Table"]
    except ClientError as error:
        if error_code(error) != "ResourceNotFoundException":
            raise
        sse = spec["SSESpecification"]
        indexes = {"GlobalSecondaryIndexes": spec["GlobalSecondaryIndexes"]} \
            if "GlobalSecondaryIndexes" in spec else {}
        dynamodb.create_table(
            TableName=name, BillingMode=spec["BillingMode"], KeySchema=spec["KeySchema"],
            AttributeDefinitions=spec["AttributeDefinitions"],
            SSESpecification={"Enabled": sse["SSEEnabled"], "SSEType": sse["SSEType"],
                              "KMSMasterKeyId": sse["KMSMasterKeyId"]},
            DeletionProtectionEnabled=spec["DeletionProtectionEnabled"], **indexes)
        dynamodb.get_waiter("table_exists").wait(TableName=name)
        table = dynamodb.describe_table(TableName=name)["Table"]
    # A new table may refuse this for a few minutes (ContinuousBackupsUnavailable): run again.
    dynamodb.update_continuous_backups(
        TableName=name, PointInTimeRecoverySpecification=spec["PointInTimeRecoverySpecification"])
    context.stack.refs[context.logical] = name
    context.stack.arns[context.logical] = table["TableArn"]


# --- S3 -----------------------------------------------------------------------------------


def _bucket(context: _Context, properties: dict[str, Any]) -> None:
    context.refuse_unknown(properties, "BucketName", "ObjectLockEnabled", *_BUCKET_SETTINGS, *CLOUDFORMATION_ONLY)
    spec = context.stack.resolve({name: value for name, value in properties.items()
                                  if name not in CLOUDFORMATION_ONLY})
    name = spec["BucketName"]
    s3 = context.clients.s3
    region = context.stack.parameters["AWS::Region"]
    # us-east-1 is the one region that refuses a location constraint naming itself.
    where: dict[str, Any] = {} if region == "us-east-1" else {
        "CreateBucketConfiguration": {"LocationConstraint": region}}
    try:
        s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=spec.get("ObjectLockEnabled", False),
                         **where)
    except ClientError as error:
        if error_code(error) != "BucketAlreadyOwnedByYou":
            raise
    for setting, apply in _BUCKET_SETTINGS.items():  # in this order: versioning before the lock
        if setting in spec:
            apply(s3, name, spec[setting])
    partition = context.stack.parameters["AWS::Partition"]
    context.stack.refs[context.logical] = name
    context.stack.arns[context.logical] = f"arn:{partition}:s3:::{name}"


def _object_lock(s3: S3Client, name: str, configuration: dict[str, Any]) -> None:
    # Set only when different: this also turns Object Lock on for an archive bucket made
    # without it, and moto refuses it on a bucket holding objects even when nothing changes.
    current: dict[str, Any]
    try:
        current = dict(s3.get_object_lock_configuration(Bucket=name)["ObjectLockConfiguration"])
    except ClientError as error:
        if error_code(error) != "ObjectLockConfigurationNotFoundError":
            raise
        current = {}
    if "Rule" in current:  # S3 answers the unit not set as 0 (moto does): compare what is set
        current["Rule"] = {"DefaultRetention": {unit: value for unit, value in
                                                current["Rule"].get("DefaultRetention", {}).items() if value != 0}}
    retention = configuration.get("Rule", {}).get("DefaultRetention")
    if retention:  # a Number parameter resolves to its text
        configuration = {**configuration, "Rule": {"DefaultRetention": {
            **retention, **{unit: int(retention[unit]) for unit in ("Days", "Years") if unit in retention}}}}
    if current != configuration:
        s3.put_object_lock_configuration(
            Bucket=name, ObjectLockConfiguration=cast("ObjectLockConfigurationTypeDef", configuration))


def _encryption(s3: S3Client, name: str, encryption: dict[str, Any]) -> None:
    rules = [{"ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"],
              **{key: value for key, value in rule.items() if key == "BucketKeyEnabled"}}
             for rule in encryption["ServerSideEncryptionConfiguration"]]
    s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration=cast(
        "ServerSideEncryptionConfigurationTypeDef", {"Rules": rules}))


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """A lifecycle rule as CloudFormation spells it, spelled as the S3 API does."""
    renamed: dict[str, Callable[[Any], dict[str, Any]]] = {
        "Id": lambda value: {"ID": value},
        "Status": lambda value: {"Status": value},
        "Prefix": lambda value: {"Filter": {"Prefix": value}},
        "ExpirationInDays": lambda value: {"Expiration": {"Days": value}},
        "AbortIncompleteMultipartUpload": lambda value: {"AbortIncompleteMultipartUpload": value},
        "NoncurrentVersionExpiration": lambda value: {"NoncurrentVersionExpiration": value},
        "Transitions": lambda value: {"Transitions": [
            {"Days": item["TransitionInDays"], "StorageClass": item["StorageClass"]} for item in value]},
        "NoncurrentVersionTransitions": lambda value: {"NoncurrentVersionTransitions": [
            {"NoncurrentDays": item["TransitionInDays"], "StorageClass": item["StorageClass"]}
            for item in value]},
    }
    unknown = set(rule) - set(renamed)
    if unknown:
        raise ValueError(f"provisioning does not create lifecycle {sorted(unknown)}")
    translated: dict[str, Any] = {}
    for key, value in rule.items():
        translated.update(renamed[key](value))
    return translated


def _cors_rule(rule: dict[str, Any]) -> dict[str, Any]:
    renamed = {"AllowedMethods": "AllowedMethods", "AllowedOrigins": "AllowedOrigins",
               "AllowedHeaders": "AllowedHeaders", "MaxAge": "MaxAgeSeconds"}
    unknown = set(rule) - set(renamed)
    if unknown:
        raise ValueError(f"provisioning does not create CORS {sorted(unknown)}")
    return {renamed[key]: value for key, value in rule.items()}


_BUCKET_SETTINGS: dict[str, Callable[[S3Client, str, Any], object]] = {
    "OwnershipControls": lambda s3, name, value: s3.put_bucket_ownership_controls(
        Bucket=name, OwnershipControls=value),
    "PublicAccessBlockConfiguration": lambda s3, name, value: s3.put_public_access_block(
        Bucket=name, PublicAccessBlockConfiguration=value),
    "VersioningConfiguration": lambda s3, name, value: s3.put_bucket_versioning(
        Bucket=name, VersioningConfiguration=value),
    "ObjectLockConfiguration": _object_lock,
    "BucketEncryption": _encryption,
    "LifecycleConfiguration": lambda s3, name, value: s3.put_bucket_lifecycle_configuration(
        Bucket=name, LifecycleConfiguration=cast("BucketLifecycleConfigurationTypeDef", {
            "Rules": [_lifecycle_rule(rule) for rule in value["Rules"]]})),
    "CorsConfiguration": lambda s3, name, value: s3.put_bucket_cors(
        Bucket=name, CORSConfiguration=cast("CORSConfigurationTypeDef", {
            "CORSRules": [_cors_rule(rule) for rule in value["CorsRules"]]})),
}


_CREATORS: dict[str, Callable[[_Context, dict[str, Any]], None]] = {
    "AWS::KMS::Key": _key,
    "AWS::DynamoDB::Table": _table,
    "AWS::S3::Bucket": _bucket,
}
