"""The custody key: every role x KMS action x purpose, judged by evaluating the key policy and the
role's own policy together (as KMS does), on the merged template as CloudFormation gets it.

Only the functions unseal, each only the purposes its code states (tests/deploy/test_iam.py
proves the code states no others); nobody, administrators and the break-glass role included,
may re-encrypt under another key or create a grant, the two ways around a Decrypt deny.
"""

from __future__ import annotations

from typing import Any

import pytest
from chalicelib.audit import CHECKPOINT_KEY
from chalicelib.auth import SIGNING_KEY
from chalicelib.integrity import MAC_KEY
from chalicelib.keyring import ARCHIVE_KEY, ENVELOPE_PURPOSE
from chalicelib.sensitive import FIELD_KEY, INDEX_KEY

from beian.provision import Stack
from tests.deploy.policies import ACCOUNT, ROOT, Request, allowed, role_of, template_stack

Template = dict[str, Any]
# A document's file key sealed for the custody key (envelope kind 0x02) states the document's
# header digest: one example stands for all of them.
DOCUMENT_KEY = f"{ENVELOPE_PURPOSE}:{'ab' * 32}"
PURPOSES = (ARCHIVE_KEY, CHECKPOINT_KEY, SIGNING_KEY, MAC_KEY, FIELD_KEY, INDEX_KEY, DOCUMENT_KEY)
ACTIONS = ("kms:Decrypt", "kms:Encrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:CreateGrant",
           "kms:GenerateDataKey")
FUNCTIONS = ("APIHandler", "Bearer", "RetentionSweep", "StaffTokens")
# What each caller may unseal and seal; everything else is refused.
UNSEALS = {"APIHandler": set(PURPOSES), "Bearer": {SIGNING_KEY, MAC_KEY},
           "RetentionSweep": {CHECKPOINT_KEY, MAC_KEY}, "StaffTokens": {SIGNING_KEY, CHECKPOINT_KEY}}
# Only the API seals: it creates every secret when the archive is initialised (services.py).
SEALS = {"APIHandler": set(PURPOSES)}
# Callers outside the functions, each holding AdministratorAccess in IAM.
ADMINISTRATORS = {"administrator": f"arn:aws-cn:iam::{ACCOUNT}:role/administrator",
                  "break-glass": f"arn:aws-cn:iam::{ACCOUNT}:role/beian-break-glass",
                  "deployer": f"arn:aws-cn:iam::{ACCOUNT}:user/deployer"}
ADMINISTRATOR_POLICY = [{"Effect": "Allow", "Action": "*", "Resource": "*"}]


def callers(template: Template, stack: Stack) -> dict[str, tuple[str, list[dict[str, Any]]]]:
    every = {function: role_of(template, stack, function) for function in FUNCTIONS}
    every.update({who: (arn, ADMINISTRATOR_POLICY) for who, arn in ADMINISTRATORS.items()})
    return every


def expected(caller: str, action: str, purpose: str | None) -> bool:
    if action == "kms:Decrypt":
        return purpose in UNSEALS.get(caller, set())
    if action in ("kms:Encrypt", "kms:GenerateDataKey"):
        # Sealing reveals nothing; administrators may, the functions only as their code does.
        return caller in ADMINISTRATORS or (action == "kms:Encrypt" and purpose in SEALS.get(caller, set()))
    return False  # re-encryption and grants: nobody


def test_every_role_action_and_purpose_on_the_custody_key(template: Template) -> None:
    stack = template_stack(template)
    key = stack.arns["CustodyKey"]
    key_policy = stack.resolve(template["Resources"]["CustodyKey"]["Properties"]["KeyPolicy"]["Statement"])
    outcomes = {}
    for caller, (arn, statements) in callers(template, stack).items():
        for action in ACTIONS:
            for purpose in (*PURPOSES, "some-other-purpose", None):
                context = {} if purpose is None else {"kms:EncryptionContext:purpose": purpose}
                outcomes[caller, action, purpose] = allowed(Request(arn, action, key, context), statements,
                                                            key_policy, ROOT)
    wrong = {case: outcome for case, outcome in outcomes.items() if outcome != expected(*case)}
    assert wrong == {}
    assert len(outcomes) == len(FUNCTIONS + tuple(ADMINISTRATORS)) * len(ACTIONS) * (len(PURPOSES) + 2)


def test_a_function_role_given_kms_star_by_mistake_still_unseals_only_its_purposes(template: Template) -> None:
    """The key policy holds on its own: a widened IAM policy does not widen what is unsealed."""
    stack = template_stack(template)
    key = stack.arns["CustodyKey"]
    key_policy = stack.resolve(template["Resources"]["CustodyKey"]["Properties"]["KeyPolicy"]["Statement"])
    for function in FUNCTIONS:
        arn, _ = role_of(template, stack, function)
        for purpose in PURPOSES:
            request = Request(arn, "kms:Decrypt", key, {"kms:EncryptionContext:purpose": purpose})
            assert allowed(request, ADMINISTRATOR_POLICY, key_policy, ROOT) is (purpose in UNSEALS[function]), \
                (function, purpose)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_each_function_role_is_named_as_the_key_policy_names_it(template: Template, function: str) -> None:
    stack = template_stack(template)
    arn, _ = role_of(template, stack, function)
    key_policy = stack.resolve(template["Resources"]["CustodyKey"]["Properties"]["KeyPolicy"]["Statement"])
    (only_functions,) = [statement for statement in key_policy if statement["Sid"] == "OnlyTheFunctionsUnseal"]
    assert arn in only_functions["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]
