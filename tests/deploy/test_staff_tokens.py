"""The operator bootstrap on AWS: `beian users add` asks the deployment's staff-token function,
which alone (with the API) may unseal the signing key; the operator needs nothing but the right
to invoke it."""

from __future__ import annotations

import getpass
import io
import json
from typing import Any

import app
import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from chalicelib.services import current_services
from typer.testing import CliRunner

from beian.cli import app as main_app
from beian.operator.admin import STAFF_TOKEN_FUNCTION

FUNCTION = "beian-prod-staff-tokens"


def test_the_function_issues_a_token_the_api_takes_and_audits_it_under_the_operator(
        backend_env: dict[str, str]) -> None:
    reply = app.staff_tokens({"operator": "ops-1", "name": "verifier-9", "role": "verifier", "hours": 2}, None)
    services = current_services()
    principal = services.auth.authenticate(f"Bearer {reply['token']}")
    assert (principal.subject, principal.role, principal.provider) == ("verifier-9", "verifier",
                                                                       services.settings.provider)
    last = services.backend.audit.last()
    assert last is not None
    _, entry = last
    assert (entry["action"], entry["object"], entry["actor"]["subject"]) == (
        "staff.issue", "staff:verifier-9", "operator:ops-1")
    assert reply["token"] not in json.dumps(entry)


def test_the_function_refuses_an_unknown_role_in_the_api_s_words(backend_env: dict[str, str]) -> None:
    reply = app.staff_tokens({"operator": "ops-1", "name": "x", "role": "superuser"}, None)
    assert set(reply) == {"code", "message_zh", "message_en"} and "superuser" in reply["message_en"]


def _lambda_answering(monkeypatch: pytest.MonkeyPatch, request: dict[str, Any], answer: dict[str, str]) -> Stubber:
    client = boto3.client("lambda", region_name="cn-north-1", aws_access_key_id="testing",
                          aws_secret_access_key="testing")
    stubber = Stubber(client)
    data = json.dumps(answer).encode()
    stubber.add_response("invoke", {"StatusCode": 200, "Payload": StreamingBody(io.BytesIO(data), len(data))},
                         {"FunctionName": FUNCTION, "Payload": json.dumps(request).encode()})
    monkeypatch.setattr(boto3, "client", lambda service, **_: client)
    stubber.activate()
    return stubber


def test_users_add_on_aws_invokes_the_function_and_prints_its_token(monkeypatch: pytest.MonkeyPatch) -> None:
    request = {"operator": getpass.getuser(), "name": "alice", "role": "verifier", "provider": "",
               "province": "", "hours": 12}
    stubber = _lambda_answering(monkeypatch, request, {"token": "eyJ.token"})
    result = CliRunner().invoke(main_app, ["users", "add", "--role", "verifier", "--name", "alice"],
                                env={STAFF_TOKEN_FUNCTION: FUNCTION, "BEIAN_BACKEND": "aws"})
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "eyJ.token"
    stubber.assert_no_pending_responses()


def test_users_add_shows_the_function_s_refusal_and_exits_2(monkeypatch: pytest.MonkeyPatch) -> None:
    request = {"operator": getpass.getuser(), "name": "bob", "role": "root", "provider": "", "province": "",
               "hours": 12}
    _lambda_answering(monkeypatch, request, {"code": "invalid", "message_zh": "未知角色：root",
                                             "message_en": "Unknown role: root"})
    result = CliRunner().invoke(main_app, ["users", "add", "--role", "root", "--name", "bob"],
                                env={STAFF_TOKEN_FUNCTION: FUNCTION, "BEIAN_BACKEND": "aws"})
    assert result.exit_code == 2 and "Unknown role: root" in result.output
