"""Each function's hand-written IAM policy grants what its code calls, and nothing it does not.

The application runs against moto (the API over HTTP, the authorizer inside it, the retention
sweep in process) while every boto3 call is recorded with the function it belongs to. Each
call is turned into the IAM actions AWS checks for it, on the template resource it touches,
and compared with the role the template gives that function.
"""

from __future__ import annotations

import contextvars
import fnmatch
import functools
import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from chalicelib.adapters import aws
from chalicelib.audit import CHECKPOINT_EVERY
from chalicelib.auth import Authenticator, Principal
from chalicelib.config import Settings
from chalicelib.services import Services, build_services, current_services

from beian.client import ApiError, BeianClient
from beian.synthetic import filing_payload
from tests.api.evidence import upload_identity_copies, verify_on_site
from tests.deploy.support import received_long_ago

T = TypeVar("T")
Grant = tuple[str, str]  # (IAM action, logical id of the resource it is on)
pytestmark = pytest.mark.parametrize("backend_env", ["aws"], indirect=True)
FUNCTION = contextvars.ContextVar("function", default="APIHandler")
LOCK_SECONDS = 3
# S3 uses the storage key (the archive's SSE-KMS) with the API function's credentials to
# write the promoted copy and to serve the presigned download; moto shows no such call.
THROUGH_S3: set[Grant] = {("kms:GenerateDataKey", "StorageKey"), ("kms:Decrypt", "StorageKey")}
# Lambda itself sends a failed scheduled run to the sweep's dead-letter queue, with its role.
THROUGH_LAMBDA: set[Grant] = {("sqs:SendMessage", "SweepDeadLetters")}


def _statements_of(template: dict[str, Any], function: str) -> list[dict[str, Any]]:
    role = template["Resources"][function]["Properties"]["Role"]["Fn::GetAtt"][0]
    (policy,) = template["Resources"][role]["Properties"]["Policies"]
    statements: list[dict[str, Any]] = policy["PolicyDocument"]["Statement"]
    return statements


def _grants_of(template: dict[str, Any], function: str) -> set[Grant]:
    """What the function's role allows, on which resource (its log group left out; a Deny
    narrows an Allow and is judged in test_worm.py and test_custody.py)."""
    granted = set()
    for statement in _statements_of(template, function):
        if statement["Effect"] != "Allow":
            continue
        resource = statement["Resource"]
        target = "*" if resource == "*" else (
            resource.get("Fn::GetAtt", [None])[0] or resource["Fn::Sub"][2:].split(".")[0])
        if template["Resources"].get(target, {}).get("Type") != "AWS::Logs::LogGroup":
            granted |= {(action, target) for action in statement["Action"]}
    return granted


def _custody_purposes_of(template: dict[str, Any], function: str) -> set[Grant]:
    """(KMS action, purpose or purpose pattern) the role allows on the custody key, from its
    StringEquals or StringLike (a document key's purpose names the document's header)."""
    granted = set()
    for statement in _statements_of(template, function):
        if statement["Effect"] == "Allow" and statement["Resource"] == {"Fn::GetAtt": ["CustodyKey", "Arn"]}:
            condition = statement["Condition"]
            purposes = (condition.get("StringEquals") or condition["StringLike"])["kms:EncryptionContext:purpose"]
            granted |= {(action, purpose) for action in statement["Action"]
                        for purpose in (purposes if isinstance(purposes, list) else [purposes])}
    return granted


def _covered(grant: Grant, allowed: set[Grant]) -> bool:
    action, purpose = grant
    return any(action == allowed_action and fnmatch.fnmatchcase(purpose, pattern)
               for allowed_action, pattern in allowed)


class Recorder:
    """The IAM actions each function's boto3 calls need, keyed by the function, and the
    purposes it states to the custody key."""

    def __init__(self, settings: Settings) -> None:
        self.used: dict[str, set[Grant]] = {}
        self.purposes: dict[str, set[Grant]] = {}
        self._names = {settings.table: "Table", settings.archive_bucket: "ArchiveBucket",
                       settings.staging_bucket: "StagingBucket", settings.kms_key_id: "CustodyKey"}

    def __call__(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.used.setdefault(FUNCTION.get(), set()).update(self._needs(model.service_model.service_name,
                                                                       model.name, params))

    def _needs(self, service: str, operation: str, params: dict[str, Any]) -> set[Grant]:
        if service == "dynamodb" and operation == "TransactWriteItems":
            return {(f"dynamodb:{kind}Item", "Table") for item in params["TransactItems"] for kind in item}
        if service == "dynamodb":
            return {(f"dynamodb:{operation}", "Table")}
        if service == "kms":
            self.purposes.setdefault(FUNCTION.get(), set()).add(
                (f"kms:{operation}", params["EncryptionContext"]["purpose"]))
            return {(f"kms:{operation}", self._names[params["KeyId"]])}
        if service == "sns":
            return {("sns:Publish", "*")}
        bucket = self._names[params["Bucket"]]
        actions = {"HeadObject": ["s3:GetObject", "s3:GetObjectRetention", "s3:GetObjectLegalHold"],
                   "ListObjectVersions": ["s3:ListBucketVersions"],
                   # botocore signs a presigned POST (the browser's upload) as CreateBucket
                   "CreateBucket": ["s3:PutObject"],
                   # A multipart upload is authorised as s3:PutObject, but for listing its parts.
                   "CreateMultipartUpload": ["s3:PutObject"], "UploadPart": ["s3:PutObject"],
                   "CompleteMultipartUpload": ["s3:PutObject"], "ListParts": ["s3:ListMultipartUploadParts"],
                   "DeleteObject": ["s3:DeleteObjectVersion" if "VersionId" in params else "s3:DeleteObject"],
                   }.get(operation, [f"s3:{operation}"])
        needs = {(action, bucket) for action in actions}
        if operation == "CopyObject":
            needs = {("s3:GetObject", self._names[params["CopySource"]["Bucket"]]), ("s3:PutObject", bucket)}
        if operation in ("PutObject", "CopyObject") and "ObjectLockMode" in params:
            needs.add(("s3:PutObjectRetention", bucket))
        return needs


@pytest.fixture
def recorder(backend_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Recorder]:
    recorder = Recorder(Settings.from_env())
    events = aws._session().events
    events.register("provide-client-params.*.*", recorder)
    authenticate = Authenticator.authenticate

    def as_the_authorizer(self: Authenticator, authorization: str) -> Principal:
        token = FUNCTION.set("Bearer")
        try:
            return authenticate(self, authorization)
        finally:
            FUNCTION.reset(token)

    monkeypatch.setattr(Authenticator, "authenticate", as_the_authorizer)
    try:
        yield recorder
    finally:
        events.unregister("provide-client-params.*.*", recorder)


def _authenticate(authorization: str, services: Services) -> Principal:
    return services.auth.authenticate(authorization)


def _cold(function: str, run: Callable[[Services], T]) -> T:
    """``run`` as ``function`` in a fresh Lambda container would: new services, nothing cached."""
    token = FUNCTION.set(function)
    try:
        return run(build_services(Settings.from_env()))
    finally:
        FUNCTION.reset(token)


def _next_entry_closes_a_checkpoint() -> None:
    """Entries from the API until the next one appended is a checkpoint's."""
    services = current_services()
    while ((services.backend.audit.last() or (0, {}))[0] + 1) % CHECKPOINT_EVERY:
        services.audit.record(Principal("admin-1", "admin"), "test.padding", "audit")


def _staff_token_function(services: Services) -> str:
    """The deployment's staff-token function, as ``beian users add`` invokes it."""
    import app

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(app, "current_services", lambda: services)
        reply = app.staff_tokens({"operator": "ops-1", "name": "verifier-9", "role": "verifier"}, None)
    return str(reply["token"])


def test_each_role_grants_what_its_function_calls_and_no_more(
        recorder: Recorder, template: dict[str, Any], anonymous: BeianClient, staff: Callable[..., BeianClient],
        live_server: str, rng: random.Random, tmp_path: Path) -> None:
    filing, token = anonymous.submit(filing_payload(rng, "enterprise"))
    applicant = BeianClient(live_server, token)
    applicant.call("GET", f"/filings/{filing['id']}")
    scan = tmp_path / "licence.pdf"
    scan.write_bytes(b"%PDF-1.7\n" + rng.randbytes(3000))
    document = applicant.upload(filing["id"], "business_licence", scan)
    verifier, officer = staff("verifier"), staff("compliance_officer")
    filing = verifier.act(filing["id"], "pre_verify_pass", {"contact_verified_by": "phone"})  # sends an SMS
    verifier.retrieve(filing["id"], document["id"], "verification", "预核验：核对营业执照", tmp_path / "copy")
    upload_identity_copies(verifier, filing, tmp_path)
    verified = verify_on_site(verifier, filing, tmp_path)  # the form's key is sealed for the custody key
    verifier.retrieve(filing["id"], verified["on_site"]["form_document_id"], "verification", "核对核验单",
                      tmp_path / "form.pdf")
    officer.call("POST", f"/filings/{filing['id']}/holds", {"case_id": "C-1", "reason": "监管检查调取"})
    officer.call("DELETE", f"/filings/{filing['id']}/holds/C-1")
    with pytest.raises(ApiError):  # no hold, but retained: S3 refuses every version, and that is audited
        staff("admin").call("DELETE", f"/filings/{filing['id']}/documents/{document['id']}")
    for client in (applicant, verifier):
        _cold("Bearer", functools.partial(_authenticate, f"Bearer {client.token}"))
    received_long_ago(rng, live_server, LOCK_SECONDS)
    time.sleep(LOCK_SECONDS + 1)
    assert _cold("RetentionSweep", lambda services: services.archive.sweep()).disposed
    _next_entry_closes_a_checkpoint()  # so the issuer's own audit entry signs one, as in time it will
    token = _cold("StaffTokens", _staff_token_function)
    BeianClient(live_server, token).call("GET", "/deadlines")  # a token the API takes

    used = recorder.used
    used["APIHandler"] |= THROUGH_S3
    used["StaffTokens"] |= THROUGH_S3  # its audit entry closes a checkpoint, anchored in the archive bucket
    used["RetentionSweep"] |= THROUGH_LAMBDA
    assert set(used) == {"APIHandler", "Bearer", "RetentionSweep", "StaffTokens"}
    for function, grants in used.items():
        granted = _grants_of(template, function)
        assert (function, grants - granted) == (function, set()), "used but not granted"
        assert (function, granted - grants) == (function, set()), "granted but never used"
        stated, allowed = recorder.purposes[function], _custody_purposes_of(template, function)
        assert (function, {grant for grant in stated if not _covered(grant, allowed)}) == (function, set()), \
            "purpose stated but not allowed"
        assert (function, {grant for grant in allowed if not any(_covered(used, {grant}) for used in stated)}) \
            == (function, set()), "purpose allowed but never stated"
