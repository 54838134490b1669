"""WORM from the first byte, judged by evaluating the merged template's policies: every write to
the archive is locked in COMPLIANCE mode for at least the rules file's retention, the functions
cannot delete what they do not dispose of, and the text messages go to phone numbers only."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from chalicelib.documents import retain_until
from chalicelib.rules import load_rules

from tests.deploy.policies import ROOT, Request, allowed, role_of, template_stack

Template = dict[str, Any]


def _shortest_span_days(years: int) -> int:
    """The fewest days any ``years`` calendar years hold (a start on 29 February skipped)."""
    starts = (date(2001, 1, 1) + timedelta(days=offset) for offset in range(4 * 366))
    return min((start.replace(year=start.year + years) - start).days
               for start in starts if (start.month, start.day) != (2, 29))


def test_the_retention_parameters_are_the_rules_file_s(template: Template) -> None:
    years = load_rules().deadline("retention").amount
    parameters = template["Parameters"]
    now = datetime.now(UTC)
    locked_days = (retain_until(now) - now).days
    assert parameters["ArchiveRetentionDays"]["Default"] == locked_days
    assert parameters["ArchiveRetentionFloorDays"]["Default"] == _shortest_span_days(years)
    assert _shortest_span_days(years) <= locked_days
    for name in ("ArchiveRetentionDays", "ArchiveRetentionFloorDays"):  # a stack may raise them, never lower
        assert parameters[name]["MinValue"] == parameters[name]["Default"]


def _archive_request(template: Template, action: str, context: dict[str, str], key: str = "documents/F1/D1") -> bool:
    stack = template_stack(template)
    arn, statements = role_of(template, stack, "APIHandler")
    bucket_policy = stack.resolve(template["Resources"]["ArchiveBucketPolicy"]["Properties"]["PolicyDocument"][
        "Statement"])
    request = Request(arn, action, f"{stack.arns['ArchiveBucket']}/{key}",
                      {"aws:SecureTransport": "true", **context})
    return allowed(request, statements, bucket_policy, ROOT, key_policy=False)


@pytest.mark.parametrize(("headers", "admitted"), [
    ({}, False),  # no lock headers: refused, even though the bucket's default would lock it
    ({"s3:object-lock-mode": "COMPLIANCE", "s3:object-lock-remaining-retention-days": "1827"}, True),
    ({"s3:object-lock-mode": "GOVERNANCE", "s3:object-lock-remaining-retention-days": "1827"}, False),
    ({"s3:object-lock-mode": "COMPLIANCE", "s3:object-lock-remaining-retention-days": "1825"}, False),
    ({"s3:object-lock-mode": "COMPLIANCE", "s3:object-lock-remaining-retention-days": "1"}, False),
])
def test_the_archive_takes_only_writes_locked_in_compliance_mode_for_the_retention(
        template: Template, headers: dict[str, str], admitted: bool) -> None:
    assert _archive_request(template, "s3:PutObject", headers) is admitted


@pytest.mark.parametrize(("mode", "admitted"), [("COMPLIANCE", True), ("GOVERNANCE", False), (None, False)])
def test_a_retention_change_stays_in_compliance_mode(template: Template, mode: str | None, admitted: bool) -> None:
    # An extension may be short (a hold's case ends soon); S3 itself refuses to shorten COMPLIANCE.
    headers = {} if mode is None else {"s3:object-lock-mode": mode, "s3:object-lock-remaining-retention-days": "30"}
    assert _archive_request(template, "s3:PutObjectRetention", headers) is admitted


@pytest.mark.parametrize("function", ["APIHandler", "RetentionSweep"])
def test_the_functions_delete_only_document_versions(template: Template, function: str) -> None:
    stack = template_stack(template)
    arn, statements = role_of(template, stack, function)
    archive = stack.arns["ArchiveBucket"]
    for key, admitted in (("documents/F1/D1", True), ("audit-export/2026.json", False), ("x", False)):
        request = Request(arn, "s3:DeleteObjectVersion", f"{archive}/{key}")
        assert allowed(request, statements, [], ROOT, key_policy=False) is admitted, key
    assert not allowed(Request(arn, "s3:DeleteObject", f"{archive}/documents/F1/D1"), statements, [], ROOT,
                       key_policy=False)


@pytest.mark.parametrize("function", ["APIHandler", "RetentionSweep", "Bearer"])
def test_no_function_deletes_the_audit_log_or_a_sealed_secret(template: Template, function: str) -> None:
    stack = template_stack(template)
    arn, statements = role_of(template, stack, function)
    table = stack.arns["Table"]
    disposes = function != "Bearer"
    for partition, admitted in (("audit", False), ("audit#staff.revoke", False),
                                ("sealed-secret#archive-key-v1", False), ("sealed-secret#record-mac-key", False),
                                ("filing#F1", disposes), ("idx#retain_until#document", disposes)):
        request = Request(arn, "dynamodb:DeleteItem", table, {"dynamodb:LeadingKeys": [partition]})
        assert allowed(request, statements, [], ROOT, key_policy=False) is admitted, (function, partition)


def test_the_api_texts_phone_numbers_and_never_a_topic(template: Template) -> None:
    stack = template_stack(template)
    arn, statements = role_of(template, stack, "APIHandler")
    # A text to a phone number names no resource; a topic (or an application endpoint) does.
    assert allowed(Request(arn, "sns:Publish", "*"), statements, [], ROOT, key_policy=False)
    for target in ("arn:aws-cn:sns:cn-north-1:111122223333:beian-alarms",
                   "arn:aws-cn:sns:cn-northwest-1:444455556666:someone-else",
                   "arn:aws-cn:sns:cn-north-1:111122223333:endpoint/GCM/app/1"):
        assert not allowed(Request(arn, "sns:Publish", target), statements, [], ROOT, key_policy=False), target
    for function in ("Bearer", "RetentionSweep"):
        other_arn, other = role_of(template, stack, function)
        assert not allowed(Request(other_arn, "sns:Publish", "*"), other, [], ROOT, key_policy=False)
