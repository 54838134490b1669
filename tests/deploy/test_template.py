"""The merged deployment template: cfn-lint finds nothing, and each resource is what the
design asks (locked archive, keys only break-glass can disable, reviewed roles, CSP, throttling)."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cfnlint.data import AdditionalSpecs
from cfnlint.helpers import load_resource
from cfnlint.template.transforms._sam_globals import merge_globals
from chalicelib.adapters.http import CHALICE_ERRORS
from hypothesis import given, settings
from hypothesis import strategies as st

from beian.operator.deploy import lint
from beian.provision import load_template
from beian.server import ANONYMOUS, LIMITED_ROUTES, MESSAGES, SECURITY_HEADERS

Template = dict[str, Any]
FUNCTIONS = ("APIHandler", "Bearer", "RetentionSweep", "StaffTokens")
# What the AWS backend reads from the environment and must not leave to a default.
BACKEND_VARIABLES = {"BEIAN_BACKEND", "BEIAN_TABLE", "BEIAN_ARCHIVE_BUCKET", "BEIAN_STAGING_BUCKET",
                     "BEIAN_KMS_KEY_ID", "BEIAN_PUBLIC_URL", "BEIAN_PROVIDER", "BEIAN_PROVINCE",
                     "BEIAN_JWKS_URL", "BEIAN_JWT_ISSUER", "BEIAN_JWT_AUDIENCE", "BEIAN_SMS_SENDER_ID",
                     "BEIAN_CJK_FONT"}
KEY_GUARD = {"kms:ScheduleKeyDeletion", "kms:DisableKey", "kms:DisableKeyRotation", "kms:PutKeyPolicy"}
CONFIG = Path(__file__).resolve().parents[2] / "api" / ".chalice" / "config.json"


def _of_type(template: Template, kind: str) -> dict[str, dict[str, Any]]:
    return {name: resource for name, resource in template["Resources"].items() if resource["Type"] == kind}


def _contains(whole: Any, part: Any) -> bool:
    """Whether ``part`` was merged into ``whole``: dictionaries key by key, the rest equal."""
    if isinstance(part, dict) and isinstance(whole, dict):
        return all(key in whole and _contains(whole[key], value) for key, value in part.items())
    return bool(whole == part)


def _references(value: Any) -> Iterator[str]:
    """The logical ids and parameters an intrinsic function names."""
    if isinstance(value, dict):
        for name, argument in value.items():
            if name == "Ref":
                yield argument
            elif name == "Fn::GetAtt":
                yield argument[0]
            elif name == "Fn::Sub":
                text = argument if isinstance(argument, str) else argument[0]
                yield from (match.split(".")[0] for match in re.findall(r"\$\{([^}!]+)\}", text))
            else:
                yield from _references(argument)
    elif isinstance(value, list):
        for item in value:
            yield from _references(item)


def _statements(template: Template, function: str) -> list[dict[str, Any]]:
    role = template["Resources"][function]["Properties"]["Role"]["Fn::GetAtt"][0]
    (policy,) = template["Resources"][role]["Properties"]["Policies"]
    statements: list[dict[str, Any]] = policy["PolicyDocument"]["Statement"]
    return statements


def _actions(statements: list[dict[str, Any]]) -> set[str]:
    return {action for statement in statements for action in statement["Action"]}


def _directives(policy: str) -> dict[str, list[str]]:
    return {name: sources for name, *sources in (part.split() for part in policy.split(";"))}


def test_cfn_lint_finds_nothing_for_the_china_regions_and_us_east_1(package_dir: Path) -> None:
    assert lint(package_dir / "sam.json") == []


def test_the_merge_keeps_every_resource_as_written(template: Template) -> None:
    for logical, resource in load_template()["Resources"].items():
        if logical == "ApiFirewall":  # packaging adds the rate rules to its list: the next test
            resource = {**resource, "Properties": {key: value for key, value in resource["Properties"].items()
                                                   if key != "Rules"}}
        assert _contains(template["Resources"][logical], resource), logical


def test_packaging_adds_only_the_rate_rules_to_the_firewall(template: Template) -> None:
    """The web ACL's written rules come first, as written; after them only rate-based rules."""
    written = load_template()["Resources"]["ApiFirewall"]["Properties"]["Rules"]
    packaged = template["Resources"]["ApiFirewall"]["Properties"]["Rules"]
    assert packaged[:len(written)] == written
    added = packaged[len(written):]
    assert added and all("RateBasedStatement" in rule["Statement"] for rule in added)


def test_the_archive_is_locked_versioned_private_encrypted_and_cools_after_90_days(template: Template) -> None:
    archive = template["Resources"]["ArchiveBucket"]
    properties = archive["Properties"]
    assert properties["ObjectLockEnabled"] is True
    # A default retention as long as the application's own: a version written without lock
    # headers is locked all the same (the bucket policy refuses such a write anyway).
    assert properties["ObjectLockConfiguration"] == {"ObjectLockEnabled": "Enabled", "Rule": {
        "DefaultRetention": {"Mode": "COMPLIANCE", "Days": {"Ref": "ArchiveRetentionDays"}}}}
    assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
    (encryption,) = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": {"Fn::GetAtt": ["StorageKey", "Arn"]}}
    assert fully_private(properties["PublicAccessBlockConfiguration"])
    (rule,) = properties["LifecycleConfiguration"]["Rules"]
    assert rule["Transitions"] == [{"StorageClass": {"Ref": "ArchiveColdStorageClass"}, "TransitionInDays": 90}]
    # Only the audited sweep disposes of documents: no lifecycle rule expires anything.
    assert not {"ExpirationInDays", "NoncurrentVersionExpiration"} & set(rule)
    assert (archive["DeletionPolicy"], archive["UpdateReplacePolicy"]) == ("Retain", "Retain")


def test_staging_forgets_abandoned_uploads_after_a_day_and_takes_posts_from_the_site(template: Template) -> None:
    properties = template["Resources"]["StagingBucket"]["Properties"]
    (rule,) = properties["LifecycleConfiguration"]["Rules"]
    assert (rule["ExpirationInDays"], rule["AbortIncompleteMultipartUpload"]) == (1, {"DaysAfterInitiation": 1})
    (cors,) = properties["CorsConfiguration"]["CorsRules"]
    assert (cors["AllowedMethods"], cors["AllowedOrigins"]) == (["POST", "PUT"], [{"Ref": "PublicUrl"}])


PUBLIC_ACCESS_BLOCKS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


def fully_private(configuration: object) -> bool:
    """All four public-access blocks on: ``all()`` of an empty or partial mapping is true too."""
    return configuration == dict.fromkeys(PUBLIC_ACCESS_BLOCKS, True)


def test_a_partial_public_access_block_is_not_private() -> None:
    """What ``all(configuration.values())`` let through: empty and partial mappings of true."""
    reached = {"partial_all_true": 0, "complete": 0}

    @given(st.dictionaries(st.sampled_from(PUBLIC_ACCESS_BLOCKS), st.booleans()))
    @settings(max_examples=300, database=None)
    def check(configuration: dict[str, bool]) -> None:
        if set(configuration) == set(PUBLIC_ACCESS_BLOCKS) and all(configuration.values()):
            reached["complete"] += 1
            assert fully_private(configuration)
        elif all(configuration.values()):
            reached["partial_all_true"] += 1
            assert not fully_private(configuration)
        else:
            assert not fully_private(configuration)

    check()
    assert all(reached.values()), reached


def test_every_bucket_is_private_and_refuses_plain_http(template: Template) -> None:
    policies = {policy["Properties"]["Bucket"]["Ref"]: policy["Properties"]["PolicyDocument"]["Statement"]
                for policy in _of_type(template, "AWS::S3::BucketPolicy").values()}
    for name, bucket in _of_type(template, "AWS::S3::Bucket").items():
        assert fully_private(bucket["Properties"].get("PublicAccessBlockConfiguration")), name
        assert {"Effect": "Deny", "Principal": "*", "Action": "s3:*",
                "Resource": [{"Fn::GetAtt": [name, "Arn"]}, {"Fn::Sub": f"${{{name}.Arn}}/*"}],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}}, "Sid": "TlsOnly"} in policies[name]


def test_the_table_has_recovery_encryption_and_needs_no_secondary_index(template: Template) -> None:
    table = template["Resources"]["Table"]
    properties = table["Properties"]
    assert properties["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"},
                                       {"AttributeName": "sk", "KeyType": "RANGE"}]
    # Index entries are items of their own (scale-and-cost page): no GSI to keep in step.
    assert "GlobalSecondaryIndexes" not in properties
    assert properties["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert properties["SSESpecification"] == {"SSEEnabled": True, "SSEType": "KMS",
                                              "KMSMasterKeyId": {"Ref": "StorageKey"}}
    assert properties["DeletionProtectionEnabled"] is True and table["DeletionPolicy"] == "Retain"


@pytest.mark.parametrize("key", ["CustodyKey", "StorageKey"])
def test_keys_rotate_and_only_the_break_glass_role_may_disable_delete_or_repolicy_them(
        template: Template, key: str) -> None:
    properties = template["Resources"][key]["Properties"]
    assert properties["EnableKeyRotation"] is True
    statements = {statement["Sid"]: statement for statement in properties["KeyPolicy"]["Statement"]}
    allow, deny = statements["AccountGrantsUseThroughIam"], statements["OnlyBreakGlassDisablesDeletesOrRepolicies"]
    # Besides the account's IAM, the key policy allows only AWS services, each on a condition.
    for sid, statement in statements.items():
        if statement["Effect"] == "Allow" and statement is not allow:
            assert set(statement["Principal"]) == {"Service"} and statement["Condition"], sid
    # The account's IAM grants use; nothing else is allowed in the key policy itself.
    assert (allow["Effect"], allow["Principal"]) == (
        "Allow", {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}})
    assert (deny["Effect"], deny["Principal"]) == ("Deny", "*") and set(deny["Action"]) >= KEY_GUARD
    assert deny["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": {
        "Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${BreakGlassRoleName}"}}}


def test_each_function_has_a_reviewed_role_naming_the_template_s_own_resources(template: Template) -> None:
    known_actions = load_resource(AdditionalSpecs, "Policies.json")
    for function in FUNCTIONS:
        for statement in _statements(template, function):
            for action in statement["Action"]:
                service, _, name = action.partition(":")
                # cfn-lint skips this check on SAM templates (serverless-application-model#3633).
                assert name.lower() in known_actions[service]["Actions"], action
                assert "*" not in action, action
            if statement["Resource"] == "*":  # SMS to a phone number has no resource ARN
                assert (function, statement["Action"]) == ("APIHandler", ["sns:Publish"])
                continue
            for name in _references(statement["Resource"]):
                assert name in template["Resources"] or name.startswith("AWS::"), (function, name)


def test_the_authorizer_only_reads_and_the_sweep_neither_uploads_nor_texts(template: Template) -> None:
    # dynamodb:Query: the revocations in the audit log, which a deleted record cannot hide.
    assert _actions(_statements(template, "Bearer")) == {
        "dynamodb:GetItem", "dynamodb:Query", "kms:Decrypt", "logs:CreateLogStream", "logs:PutLogEvents"}
    sweep = _statements(template, "RetentionSweep")
    assert not _actions(sweep) & {"s3:PutObject", "sns:Publish", "kms:GenerateDataKey"}
    assert not any("StagingBucket" in json.dumps(statement) for statement in sweep)
    # It seals nothing: the API creates every secret when the archive is initialised.
    assert "kms:Encrypt" not in _actions(sweep)


def test_every_function_is_configured_for_the_aws_backend_and_no_emulator(template: Template) -> None:
    merged = merge_globals(copy.deepcopy(template))
    for function in FUNCTIONS:
        variables = merged["Resources"][function]["Properties"]["Environment"]["Variables"]
        assert variables["BEIAN_BACKEND"] == "aws"
        assert set(variables) >= BACKEND_VARIABLES, function
        assert not any(name.startswith("AWS_ENDPOINT_URL") for name in variables)
    for stage in json.loads(CONFIG.read_text(encoding="utf-8"))["stages"].values():
        assert not any(name.startswith("AWS_ENDPOINT_URL") for name in stage.get("environment_variables", {}))


def test_the_sweep_runs_daily_alone_with_lambda_s_longest_timeout(template: Template) -> None:
    sweep = template["Resources"]["RetentionSweep"]["Properties"]
    assert [event["Type"] for event in sweep["Events"].values()] == ["Schedule"]
    assert (sweep["Timeout"], sweep["ReservedConcurrentExecutions"]) == (900, 1)


def test_api_gateway_errors_are_the_api_s_own_bilingual_json(template: Template) -> None:
    responses = template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"][
        "x-amazon-apigateway-gateway-responses"]
    retry = responses["THROTTLED"]["responseParameters"]["gatewayresponse.header.Retry-After"].strip("'")
    expected = {
        "MISSING_AUTHENTICATION_TOKEN": (404, "not_found", *MESSAGES["not_found"]),
        "UNAUTHORIZED": (401, "unauthorized", *MESSAGES["unauthorized"]),
        "ACCESS_DENIED": (401, "unauthorized", *MESSAGES["unauthorized"]),
        "THROTTLED": (429, "rate_limited", *(text.format(retry) for text in MESSAGES["rate_limited"])),
        "REQUEST_TOO_LARGE": (413, "too_large", *MESSAGES["too_large"]),
        "DEFAULT_4XX": (None, *CHALICE_ERRORS["BadRequestError"]),
        "DEFAULT_5XX": (None, *CHALICE_ERRORS["InternalServerError"]),
    }
    assert set(responses) == set(expected)
    for kind, (status, code, zh, en) in expected.items():
        response = responses[kind]
        assert response.get("statusCode") == status, kind
        body = json.loads(response["responseTemplates"]["application/json"])
        assert body == {"code": code, "message_zh": zh, "message_en": en}, kind


def test_api_gateway_throttles_exactly_the_routes_the_embedded_server_limits(template: Template) -> None:
    api = template["Resources"]["RestAPI"]["Properties"]
    throttled = {(setting["HttpMethod"], setting["ResourcePath"][1:].replace("~1", "/"))
                 for setting in api["MethodSettings"]
                 if setting["ThrottlingRateLimit"] == {"Ref": "AnonymousRateLimit"}
                 and setting["ThrottlingBurstLimit"] == {"Ref": "AnonymousBurstLimit"}}
    limited = {(method, path) for path, methods in api["DefinitionBody"]["paths"].items()
               for method in (name.upper() for name in methods)
               for _, route_method, pattern, kind in LIMITED_ROUTES
               if kind == ANONYMOUS and method == route_method and pattern.match(re.sub(r"\{\w+\}", "F1", path))}
    assert throttled == limited and len(limited) == sum(kind == ANONYMOUS for *_, kind in LIMITED_ROUTES)


def test_the_site_has_the_embedded_server_s_headers_and_may_post_only_to_the_upload_bucket(
        template: Template) -> None:
    headers = template["Resources"]["SiteHeaders"]["Properties"]["ResponseHeadersPolicyConfig"][
        "SecurityHeadersConfig"]
    server = dict(SECURITY_HEADERS)
    site = _directives(headers["ContentSecurityPolicy"]["ContentSecurityPolicy"]["Fn::Sub"])
    embedded = _directives(server["Content-Security-Policy"])
    assert site["script-src"] == ["'self'"]  # no inline and no third-party script
    assert site["connect-src"] == [*embedded.pop("connect-src"),
                                   "https://${StagingBucket}.s3.${AWS::Region}.${AWS::URLSuffix}",
                                   "https://${StagingBucket}.s3.${AWS::URLSuffix}"]
    assert {name: sources for name, sources in site.items() if name != "connect-src"} == embedded
    assert headers["FrameOptions"]["FrameOption"] == server["X-Frame-Options"]
    assert headers["ReferrerPolicy"]["ReferrerPolicy"] == server["Referrer-Policy"]
    assert server["X-Content-Type-Options"] == "nosniff" and headers["ContentTypeOptions"]["Override"]
    config = template["Resources"]["SiteDistribution"]["Properties"]["DistributionConfig"]
    for behaviour in (config["DefaultCacheBehavior"], *config["CacheBehaviors"]):
        assert behaviour["ResponseHeadersPolicyId"] == {"Ref": "SiteHeaders"}
        assert behaviour["ViewerProtocolPolicy"] in ("https-only", "redirect-to-https")


def test_the_site_takes_tls_1_2_or_later_in_either_partition(template: Template) -> None:
    config = template["Resources"]["SiteDistribution"]["Properties"]["DistributionConfig"]
    condition, china, elsewhere = config["ViewerCertificate"]["Fn::If"]
    assert condition == "InChina"
    for certificate in (china, elsewhere):
        assert (certificate["MinimumProtocolVersion"], certificate["SslSupportMethod"]) == ("TLSv1.2_2021", "sni-only")
