"""Network logs kept at least six months (never a request body), limits on every route and per
client, a dead-letter queue for the sweep, and the archive's copies in a second region and in a
locked backup vault: as the merged template states them."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.deploy.policies import ROOT, Request, allowed, role_of, template_stack

Template = dict[str, Any]
SIX_MONTHS_DAYS = 180
# What an access log line may hold: who, when, which route (its template, not the path with
# its ids), the outcome and its timings. Never a header, the query string or the body.
ACCESS_LOG_FIELDS = {"requestId", "requestTime", "identity.sourceIp", "httpMethod", "resourcePath", "status",
                     "responseLength", "responseLatency", "integrationStatus", "error.responseType",
                     "wafResponseCode"}


def _resources(template: Template, kind: str) -> dict[str, dict[str, Any]]:
    return {name: resource for name, resource in template["Resources"].items() if resource["Type"] == kind}


def test_log_retention_is_six_months_or_more_everywhere(template: Template) -> None:
    retention = template["Parameters"]["LogRetentionDays"]
    assert retention["Default"] >= SIX_MONTHS_DAYS and min(retention["AllowedValues"]) >= SIX_MONTHS_DAYS
    groups = _resources(template, "AWS::Logs::LogGroup")
    assert {"ApiHandlerLogs", "BearerLogs", "RetentionSweepLogs", "ApiAccessLogs"} <= set(groups)
    for name, group in groups.items():
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, name
    (rule,) = template["Resources"]["LogBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    assert rule["ExpirationInDays"] == {"Ref": "LogRetentionDays"}


def test_api_gateway_logs_every_request_by_context_fields_only(template: Template) -> None:
    api = template["Resources"]["RestAPI"]["Properties"]
    setting = api["AccessLogSetting"]
    assert setting["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogs", "Arn"]}
    line = json.loads(setting["Format"])
    fields = {value.removeprefix("$context.") for value in line.values()}
    assert all(value.startswith("$context.") for value in line.values())
    assert fields == ACCESS_LOG_FIELDS
    assert not re.search(r"\$input|body|header|querystring|authorizer", setting["Format"], re.IGNORECASE)
    (stage_wide,) = [setting for setting in api["MethodSettings"] if setting["ResourcePath"] == "/*"]
    assert stage_wide["DataTraceEnabled"] is False  # execution logs with bodies stay off
    assert template["Resources"]["ApiGatewayLogging"]["Properties"]["CloudWatchRoleArn"] == {
        "Fn::GetAtt": ["ApiGatewayLogsRole", "Arn"]}


def test_cloudfront_and_the_archive_log_their_access_and_cloudtrail_its_object_events(template: Template) -> None:
    distribution = template["Resources"]["SiteDistribution"]["Properties"]["DistributionConfig"]
    assert distribution["Logging"]["Bucket"] == {"Fn::GetAtt": ["LogBucket", "DomainName"]}
    assert distribution["Logging"]["IncludeCookies"] is False
    archive = template["Resources"]["ArchiveBucket"]["Properties"]
    assert archive["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": "LogBucket"}
    (trail,) = _resources(template, "AWS::CloudTrail::Trail").values()
    properties = trail["Properties"]
    assert properties["IsLogging"] and properties["EnableLogFileValidation"]
    assert properties["S3BucketName"] == {"Ref": "LogBucket"}
    (selector,) = properties["EventSelectors"]
    assert selector["ReadWriteType"] == "All"
    assert selector["DataResources"] == [{"Type": "AWS::S3::Object", "Values": [{"Fn::Sub": "${ArchiveBucket.Arn}/"}]}]
    # The log bucket takes each service's writes into its own prefix only.
    stack = template_stack(template)
    policy = stack.resolve(template["Resources"]["LogBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"])
    logs = stack.arns["LogBucket"]
    writes = {statement["Principal"]["Service"]: statement["Resource"] for statement in policy
              if statement["Effect"] == "Allow" and statement["Action"] == "s3:PutObject"}
    assert writes == {"logging.s3.amazonaws.com": [f"{logs}/s3-archive/*", f"{logs}/s3-staging/*", f"{logs}/s3-site/*"],
                      "cloudtrail.amazonaws.com": f"{logs}/cloudtrail/AWSLogs/111122223333/*"}
    for bucket in ("ArchiveBucket", "StagingBucket", "SiteBucket"):
        logging = template["Resources"][bucket]["Properties"]["LoggingConfiguration"]
        assert logging["DestinationBucketName"] == {"Ref": "LogBucket"}, bucket
    # Encrypted at rest with the storage key: the log groups, the trail.
    assert properties["KMSKeyId"] == {"Fn::GetAtt": ["StorageKey", "Arn"]}
    for name, group in _resources(template, "AWS::Logs::LogGroup").items():
        assert group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": ["StorageKey", "Arn"]}, name


def test_every_route_is_throttled_and_the_regional_waf_guards_the_stage(template: Template) -> None:
    parameters = template["Parameters"]
    api = template["Resources"]["RestAPI"]["Properties"]
    (stage_wide,) = [setting for setting in api["MethodSettings"] if setting["ResourcePath"] == "/*"]
    assert (stage_wide["HttpMethod"], stage_wide["ThrottlingRateLimit"], stage_wide["ThrottlingBurstLimit"]) == (
        "*", {"Ref": "ApiRateLimit"}, {"Ref": "ApiBurstLimit"})
    assert parameters["AnonymousRateLimit"]["Default"] < parameters["ApiRateLimit"]["Default"]
    assert parameters["AnonymousBurstLimit"]["Default"] < parameters["ApiBurstLimit"]["Default"]
    firewall = template["Resources"]["ApiFirewall"]["Properties"]
    assert firewall["Scope"] == "REGIONAL" and firewall["DefaultAction"] == {"Allow": {}}
    rules = {rule["Name"]: rule for rule in firewall["Rules"]}
    assert rules["known-bad-inputs"]["Statement"]["ManagedRuleGroupStatement"]["Name"] == \
        "AWSManagedRulesKnownBadInputsRuleSet"  # Log4j-style lookups among them
    assert sorted(rule["Priority"] for rule in firewall["Rules"]) == list(range(len(firewall["Rules"])))
    association = template["Resources"]["ApiFirewallOnTheStage"]["Properties"]
    assert association["WebACLArn"] == {"Fn::GetAtt": ["ApiFirewall", "Arn"]}
    assert association["ResourceArn"]["Fn::Sub"].endswith("/restapis/${RestAPI}/stages/api")


def _holds(statement: dict[str, Any], method: str, path: str) -> bool:
    """Whether a WAF statement (the kinds the rate rules' scope-downs use) matches a request."""
    ((kind, body),) = statement.items()
    if kind == "AndStatement":
        return all(_holds(inner, method, path) for inner in body["Statements"])
    if kind == "OrStatement":
        return any(_holds(inner, method, path) for inner in body["Statements"])
    if kind == "NotStatement":
        return not _holds(body["Statement"], method, path)
    assert body["TextTransformations"] == [{"Priority": 0, "Type": "NONE"}]
    if kind == "ByteMatchStatement":
        assert (body["FieldToMatch"], body["PositionalConstraint"]) == ({"Method": {}}, "EXACTLY")
        return bool(method == body["SearchString"])
    assert kind == "RegexMatchStatement" and body["FieldToMatch"] == {"UriPath": {}}, kind
    return re.search(body["RegexString"], path) is not None


def _requests() -> list[tuple[str, str]]:
    """Every operation of the API with its path parameters filled in, and a few paths no
    operation has (a limit counts them too), as a client sends them."""
    from chalicelib.openapi import OPERATIONS

    paths = [(operation.method.upper(), re.sub(r"\{[^}]+\}", "F-1", operation.path)) for operation in OPERATIONS]
    return [*paths, ("GET", "/filings/"), ("POST", "/filings/"), ("PATCH", "/filings/F-1"), ("HEAD", "/"),
            ("GET", "/filings/F%2F1"), ("POST", "/filings/F-1/documents/"), ("OPTIONS", "/filings")]


def test_each_route_class_has_a_per_address_and_a_per_token_limit_as_the_embedded_server(template: Template) -> None:
    """The WAF's rate rules: for every route class the embedded server limits, one per client
    address and one per token, scoped to just the requests the server puts in that class, each
    admitting what the server's token bucket admits in the rule's window, and answering 429
    with Retry-After and the server's own JSON error."""
    from chalicelib.config import Settings

    from beian.firewall import WINDOW_SECONDS, window_limit
    from beian.server import LIMITED_ROUTES, MESSAGES, EmbeddedServer, route_limits

    firewall = template["Resources"]["ApiFirewall"]["Properties"]
    rated = [rule for rule in firewall["Rules"] if "RateBasedStatement" in rule["Statement"]]
    assert len(rated) <= 10  # WAF's quota of rate-based rules in one web ACL
    limits = route_limits(Settings.from_env({}))  # the defaults: what the package was built with
    by_class: dict[str, dict[str, dict[str, Any]]] = {}
    for rule in rated:
        statement = rule["Statement"]["RateBasedStatement"]
        if statement["AggregateKeyType"] == "FORWARDED_IP":
            assert statement["ForwardedIPConfig"] == {"HeaderName": "X-Forwarded-For", "FallbackBehavior": "MATCH"}
            key = "address"
        else:
            assert statement["CustomKeys"] == [{"Header": {"Name": "authorization", "TextTransformations": [
                {"Priority": 0, "Type": "NONE"}]}}]
            key = "token"
        (route_class,) = [name for name, *_ in LIMITED_ROUTES if rule["Name"] == f"{name}-per-{key}"]
        by_class.setdefault(route_class, {})[key] = rule
        kind = next(kind for name, _, _, kind in LIMITED_ROUTES if name == route_class)
        assert statement["EvaluationWindowSec"] == WINDOW_SECONDS
        assert statement["Limit"] == window_limit(*limits[kind])
        response = rule["Action"]["Block"]["CustomResponse"]
        assert response["ResponseCode"] == 429
        assert {"Name": "Retry-After", "Value": str(WINDOW_SECONDS)} in response["ResponseHeaders"]
        body = firewall["CustomResponseBodies"][response["CustomResponseBodyKey"]]
        assert body["ContentType"] == "APPLICATION_JSON"
        zh, en = MESSAGES["rate_limited"]
        assert json.loads(body["Content"]) == {"code": "rate_limited", "message_zh": zh.format(WINDOW_SECONDS),
                                               "message_en": en.format(WINDOW_SECONDS)}
    assert {name: set(keys) for name, keys in by_class.items()} == {
        name: {"address", "token"} for name, *_ in LIMITED_ROUTES}
    requests = _requests()
    classes = set()
    for method, path in requests:
        expected = EmbeddedServer._route_class(method, path)
        classes.add(expected)
        matched = {rule["Name"] for rule in rated
                   if _holds(rule["Statement"]["RateBasedStatement"]["ScopeDownStatement"], method, "/api" + path)}
        assert matched == {f"{expected}-per-address", f"{expected}-per-token"}, (method, path)
    assert classes == set(by_class)  # every class was reached


def test_the_waf_limits_follow_the_embedded_server_s_settings() -> None:
    """One place: the settings the embedded server reads (BEIAN_RATE, BEIAN_BURST,
    BEIAN_ANONYMOUS_RATE, BEIAN_ANONYMOUS_BURST) are what ``beian package`` writes into the
    WAF; the merge template holds no rate rule of its own."""
    from chalicelib.config import Settings

    from beian.firewall import LEAST_LIMIT, WINDOW_SECONDS, rate_rules
    from beian.operator.deploy import MERGE_TEMPLATE

    settings = Settings.from_env({"BEIAN_RATE": "7", "BEIAN_BURST": "11",
                                  "BEIAN_ANONYMOUS_RATE": "0.5", "BEIAN_ANONYMOUS_BURST": "3"})
    limits = {rule["Name"]: rule["Statement"]["RateBasedStatement"]["Limit"] for rule in rate_rules(settings)}
    assert limits["read-per-token"] == limits["write-per-address"] == 7 * WINDOW_SECONDS + 11
    assert limits["create-per-address"] == limits["status-per-token"] == WINDOW_SECONDS // 2 + 3
    assert "RateBasedStatement" not in MERGE_TEMPLATE.read_text(encoding="utf-8")
    trickle = Settings.from_env({"BEIAN_ANONYMOUS_RATE": "0.01", "BEIAN_ANONYMOUS_BURST": "1"})
    assert {rule["Statement"]["RateBasedStatement"]["Limit"] for rule in rate_rules(trickle)
            if rule["Name"].startswith("create-")} == {LEAST_LIMIT}  # the least WAF accepts


def test_a_failed_sweep_lands_in_a_dead_letter_queue_that_raises_an_alarm(template: Template) -> None:
    sweep = template["Resources"]["RetentionSweep"]["Properties"]
    assert sweep["DeadLetterQueue"] == {"Type": "SQS", "TargetArn": {"Fn::GetAtt": ["SweepDeadLetters", "Arn"]}}
    stack = template_stack(template)
    arn, statements = role_of(template, stack, "RetentionSweep")
    queue = stack.arns["SweepDeadLetters"]
    assert allowed(Request(arn, "sqs:SendMessage", queue), statements, [], ROOT, key_policy=False)
    alarm = template["Resources"]["SweepDeadLettersWaiting"]["Properties"]
    assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["SweepDeadLetters", "QueueName"]}}]
    assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]


def test_the_archive_replicates_to_the_second_region_and_the_replicator_never_deletes(template: Template) -> None:
    replication = template["Resources"]["ArchiveBucket"]["Properties"]["ReplicationConfiguration"]
    (rule,) = replication["Rules"]
    assert rule["Status"] == "Enabled" and rule["Filter"] == {"Prefix": ""}
    assert rule["DeleteMarkerReplication"] == {"Status": "Disabled"}
    assert rule["Destination"]["Bucket"] == {"Fn::Sub": "arn:${AWS::Partition}:s3:::${ReplicaBucketName}"}
    assert rule["SourceSelectionCriteria"] == {"SseKmsEncryptedObjects": {"Status": "Enabled"}}
    role = template["Resources"]["ArchiveReplicationRole"]["Properties"]
    (policy,) = role["Policies"]
    actions = {action for statement in policy["PolicyDocument"]["Statement"] for action in
               (statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]])}
    assert "s3:GetObjectRetention" in actions and "s3:ReplicateObject" in actions  # the lock travels along
    assert not {action for action in actions if "Delete" in action}


def test_the_table_is_backed_up_into_a_locked_vault_for_the_retention(template: Template) -> None:
    vault = template["Resources"]["TableBackupVault"]
    lock = vault["Properties"]["LockConfiguration"]
    assert lock["MinRetentionDays"] == {"Ref": "ArchiveRetentionDays"}
    assert "ChangeableForDays" in lock  # compliance mode: after that, nobody can lift the lock
    assert vault["DeletionPolicy"] == "Retain"
    (rule,) = template["Resources"]["TableBackupPlan"]["Properties"]["BackupPlan"]["BackupPlanRule"]
    assert rule["TargetBackupVault"] == {"Ref": "TableBackupVault"}
    assert rule["Lifecycle"]["DeleteAfterDays"] == {"Ref": "ArchiveRetentionDays"}
    selection = template["Resources"]["TableBackupSelection"]["Properties"]["BackupSelection"]
    assert selection["Resources"] == [{"Fn::GetAtt": ["Table", "Arn"]}]
