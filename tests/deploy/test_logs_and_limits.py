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


def test_every_route_is_throttled_and_each_client_rate_limited_by_the_regional_waf(template: Template) -> None:
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
    rule = rules["per-client-rate"]
    assert rule["Action"] == {"Block": {}}
    assert rule["Statement"]["RateBasedStatement"] == {
        "Limit": {"Ref": "ClientRateLimit"}, "AggregateKeyType": "FORWARDED_IP",
        "ForwardedIPConfig": {"HeaderName": "X-Forwarded-For", "FallbackBehavior": "MATCH"}}
    association = template["Resources"]["ApiFirewallOnTheStage"]["Properties"]
    assert association["WebACLArn"] == {"Fn::GetAtt": ["ApiFirewall", "Arn"]}
    assert association["ResourceArn"]["Fn::Sub"].endswith("/restapis/${RestAPI}/stages/api")


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
