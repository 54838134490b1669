"""IAM policy evaluation, as much of it as the template's policies use, so that the template
tests judge what a request would be allowed to do rather than how a statement is spelled.

Same-account rules: an explicit Deny in any policy wins; otherwise a resource policy (a key
policy, a bucket policy) must allow, either the principal itself or the account root, and in
the latter case the principal's own IAM policy must allow too; for S3 and DynamoDB the
principal's own IAM policy is enough (``key_policy=False``).
Condition operators: the String, Arn and Numeric families with their ``Not`` forms, ``Null``,
``Bool``, and the ``ForAnyValue:`` prefix (``ForAllValues:`` is not used).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from beian.provision import Stack

Statement = Mapping[str, Any]
Context = Mapping[str, str | Sequence[str]]


def _listed(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _like(pattern: str, value: str) -> bool:
    return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]"))


def _operator_holds(operator: str, wanted: list[Any], present: list[str] | None) -> bool:
    operator = operator.removeprefix("ForAnyValue:")  # every key here is single-valued or ForAnyValue
    if operator == "Null":
        (flag,) = wanted
        return (present is None) == (str(flag).lower() == "true")
    if operator == "Bool":
        return present is not None and any(str(flag).lower() == value.lower()
                                           for flag in wanted for value in present)
    negated = "Not" in operator
    base = operator.replace("Not", "")
    if present is None:  # a missing key matches no value: the negated forms hold
        return negated
    if base.startswith("Numeric"):
        comparisons = {"NumericEquals": lambda a, b: a == b, "NumericLessThan": lambda a, b: a < b,
                       "NumericLessThanEquals": lambda a, b: a <= b,
                       "NumericGreaterThan": lambda a, b: a > b,
                       "NumericGreaterThanEquals": lambda a, b: a >= b}
        compare = comparisons[base]
        matches = [any(compare(float(value), float(item)) for item in wanted) for value in present]
    else:
        if base in ("StringEquals", "ArnEquals"):
            test = (lambda a, b: a == b) if base == "StringEquals" else _like
        elif base in ("StringLike", "ArnLike"):
            test = _like
        else:
            raise ValueError(f"no evaluation for condition operator {operator}")
        matches = [any(test(str(item), value) for item in wanted) for value in present]
    hit = any(matches)
    return not hit if negated else hit


def conditions_hold(condition: Mapping[str, Mapping[str, Any]], context: Context) -> bool:
    for operator, keys in condition.items():
        for key, wanted in keys.items():
            value = context.get(key)
            present = None if value is None else _listed(value)
            if not _operator_holds(operator, _listed(wanted), present):
                return False
    return True


def _matches(patterns: Any, value: str) -> bool:
    return any(_like(str(pattern).lower(), value.lower()) for pattern in _listed(patterns))


def _principal_named(principal: Any, arn: str, account_root: str) -> str | None:
    """How a resource policy's Principal names the caller: "self", "account", or None."""
    if principal == "*":
        return "self"
    names = _listed(principal.get("AWS", [])) if isinstance(principal, dict) else []
    if arn in names:
        return "self"
    if account_root in names:
        return "account"
    return None


@dataclass(frozen=True)
class Request:
    principal: str  # the caller's ARN (a role's, for an assumed role)
    action: str
    resource: str
    context: Mapping[str, str | Sequence[str]] = field(default_factory=dict)

    def full_context(self) -> dict[str, str | Sequence[str]]:
        return {"aws:PrincipalArn": self.principal, **self.context}


def _applies(statement: Statement, request: Request, context: Context) -> bool:
    actions = statement.get("Action")
    if actions is None or not _matches(actions, request.action):
        return False
    if "NotResource" in statement or "NotAction" in statement:
        raise ValueError("no evaluation for NotResource or NotAction")
    return _matches(statement.get("Resource", "*"), request.resource) and \
        conditions_hold(statement.get("Condition", {}), context)


def allowed(request: Request, identity: Iterable[Statement], resource_policy: Iterable[Statement],
            account_root: str, *, key_policy: bool = True) -> bool:
    """Whether ``request`` is allowed by the caller's IAM policy and the resource's policy (a
    key policy must allow; a bucket policy need not where the caller's own policy does)."""
    context = request.full_context()
    identity = list(identity)
    resource_statements = list(resource_policy)
    for statement in [*identity, *resource_statements]:
        if statement["Effect"] == "Deny" and _applies(statement, request, context) and (
                statement in identity
                or _principal_named(statement.get("Principal", "*"), request.principal, account_root)):
            return False
    identity_allows = any(statement["Effect"] == "Allow" and _applies(statement, request, context)
                          for statement in identity)
    if identity_allows and not key_policy:
        return True
    for statement in resource_statements:
        if statement["Effect"] != "Allow" or not _applies(statement, request, context):
            continue
        named = _principal_named(statement.get("Principal", {}), request.principal, account_root)
        if named == "self":
            return True
        if named in ("self", "account") and identity_allows:
            return True
    return False


ACCOUNT = "111122223333"
PSEUDO = {"AWS::Partition": "aws-cn", "AWS::Region": "cn-north-1", "AWS::AccountId": ACCOUNT,
          "AWS::URLSuffix": "amazonaws.com.cn", "AWS::StackName": "beian-prod"}
ROOT = f"arn:aws-cn:iam::{ACCOUNT}:root"


def template_stack(template: Mapping[str, Any]) -> Stack:
    """The template's values in a cn-north-1 stack: parameters at their defaults (or a
    placeholder), and an ARN for every resource (the real shape for keys and buckets)."""
    parameters = {name: str(spec.get("Default", f"{name.lower()}-value"))
                  for name, spec in template["Parameters"].items()}
    stack = Stack({**parameters, **PSEUDO})
    for logical, resource in template["Resources"].items():
        stack.refs[logical] = logical.lower()
        stack.arns[logical] = {
            "AWS::KMS::Key": f"arn:aws-cn:kms:cn-north-1:{ACCOUNT}:key/{logical.lower()}",
            "AWS::S3::Bucket": f"arn:aws-cn:s3:::{logical.lower()}",
            "AWS::DynamoDB::Table": f"arn:aws-cn:dynamodb:cn-north-1:{ACCOUNT}:table/{logical.lower()}",
        }.get(resource["Type"], f"arn:aws-cn:service:cn-north-1:{ACCOUNT}:{logical.lower()}")
    return stack


def role_of(template: Mapping[str, Any], stack: Stack, function: str) -> tuple[str, list[dict[str, Any]]]:
    """The ARN of the function's role and the statements of its policy, resolved."""
    resources = template["Resources"]
    role = resources[resources[function]["Properties"]["Role"]["Fn::GetAtt"][0]]
    (policy,) = role["Properties"]["Policies"]
    name = stack.resolve(role["Properties"]["RoleName"])
    return f"arn:aws-cn:iam::{ACCOUNT}:role/{name}", stack.resolve(policy["PolicyDocument"]["Statement"])
