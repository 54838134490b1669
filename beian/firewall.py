"""The regional WAF's rate rules on AWS, made from the embedded server's route classes and limits.

The embedded server limits every API route class per client address and per token (a token
bucket: so many requests a second, with a burst). ``beian package`` writes the same classes
into the API's web ACL: for each, one rate-based rule keyed on the client address (the first
``X-Forwarded-For`` address: API Gateway sees CloudFront's) and one keyed on the
``Authorization`` header, scoped down to the class's method and path. WAF counts requests in a
window rather than a bucket, so each rule admits what the bucket admits in any such window:
the rate times the window, and the burst. A blocked request gets 429, a Retry-After of the
window, and the server's own bilingual JSON error.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from chalicelib.config import Settings

from .server import LIMITED_ROUTES, MESSAGES, route_limits

WINDOW_SECONDS = 60  # the shortest evaluation window WAF offers
LEAST_LIMIT = 10  # WAF refuses a rate-based rule with a lower limit
API_PREFIX = "/api"  # the stage: the path WAF sees, from CloudFront or on the stage's own address
RATE_LIMITED_BODY = "rate_limited"
FORWARDED_IP = {"HeaderName": "X-Forwarded-For", "FallbackBehavior": "MATCH"}
NO_TRANSFORMATION = [{"Priority": 0, "Type": "NONE"}]
KEYS: dict[str, dict[str, Any]] = {
    "per-address": {"AggregateKeyType": "FORWARDED_IP", "ForwardedIPConfig": FORWARDED_IP},
    # A request without the header is not counted by this rule (the address rule still counts it).
    "per-token": {"AggregateKeyType": "CUSTOM_KEYS", "CustomKeys": [
        {"Header": {"Name": "authorization", "TextTransformations": NO_TRANSFORMATION}}]},
}


def window_limit(rate: float, burst: int) -> int:
    """The most a token bucket of ``rate`` a second and ``burst`` admits in one WAF window (at
    least what WAF accepts)."""
    return max(LEAST_LIMIT, math.ceil(rate * WINDOW_SECONDS) + burst)


def _all(statements: list[dict[str, Any]]) -> dict[str, Any]:
    return statements[0] if len(statements) == 1 else {"AndStatement": {"Statements": statements}}


def _any(statements: list[dict[str, Any]]) -> dict[str, Any]:
    return statements[0] if len(statements) == 1 else {"OrStatement": {"Statements": statements}}


def _matches(method: str, pattern: re.Pattern[str]) -> list[dict[str, Any]]:
    """The class's own conditions, as the server tests them: the method, then the path."""
    conditions = []
    if method:
        conditions.append({"ByteMatchStatement": {"FieldToMatch": {"Method": {}}, "PositionalConstraint": "EXACTLY",
                                                  "SearchString": method, "TextTransformations": NO_TRANSFORMATION}})
    if pattern.pattern:
        conditions.append({"RegexMatchStatement": {"FieldToMatch": {"UriPath": {}},
                                                   "RegexString": "^" + API_PREFIX + pattern.pattern.removeprefix("^"),
                                                   "TextTransformations": NO_TRANSFORMATION}})
    return conditions


def scope_downs() -> dict[str, dict[str, Any]]:
    """Each route class's requests: its own conditions, and none of an earlier class that may
    share its method (the server takes the first class that matches)."""
    scopes = {}
    for number, (name, method, pattern, _) in enumerate(LIMITED_ROUTES):
        earlier = [_all(_matches(other_method, other)) for _, other_method, other, _ in LIMITED_ROUTES[:number]
                   if not method or other_method in ("", method)]
        scopes[name] = _all(_matches(method, pattern) + ([{"NotStatement": {"Statement": _any(earlier)}}]
                                                         if earlier else []))
    return scopes


def rate_rules(settings: Settings, first_priority: int = 0) -> list[dict[str, Any]]:
    """Two rate-based rules for each route class, from ``first_priority`` on."""
    limits = route_limits(settings)
    scopes = scope_downs()
    rules: list[dict[str, Any]] = []
    for name, _, _, kind in LIMITED_ROUTES:
        for key, aggregation in KEYS.items():
            rule_name = f"{name}-{key}"
            rules.append({
                "Name": rule_name,
                "Priority": first_priority + len(rules),
                "Action": {"Block": {"CustomResponse": {
                    "ResponseCode": 429, "CustomResponseBodyKey": RATE_LIMITED_BODY,
                    "ResponseHeaders": [{"Name": "Retry-After", "Value": str(WINDOW_SECONDS)},
                                        {"Name": "X-Content-Type-Options", "Value": "nosniff"}]}}},
                "Statement": {"RateBasedStatement": {
                    "Limit": window_limit(*limits[kind]), "EvaluationWindowSec": WINDOW_SECONDS,
                    **aggregation, "ScopeDownStatement": scopes[name]}},
                "VisibilityConfig": {"SampledRequestsEnabled": False, "CloudWatchMetricsEnabled": True,
                                     "MetricName": {"Fn::Sub": f"${{AWS::StackName}}-{rule_name}"}},
            })
    return rules


def rate_limited_body() -> dict[str, str]:
    """The body of a 429 from WAF: the embedded server's, with the window as the wait."""
    zh, en = MESSAGES["rate_limited"]
    content = {"code": "rate_limited", "message_zh": zh.format(WINDOW_SECONDS), "message_en": en.format(WINDOW_SECONDS)}
    return {"ContentType": "APPLICATION_JSON", "Content": json.dumps(content, ensure_ascii=False)}


def add_rate_rules(template_path: Path, settings: Settings) -> None:
    """Add the rate rules to the packaged template's API web ACL, after the rules it was written with."""
    template = json.loads(template_path.read_text(encoding="utf-8"))
    firewall = template["Resources"]["ApiFirewall"]["Properties"]
    firewall["Rules"] = firewall["Rules"] + rate_rules(settings, first_priority=len(firewall["Rules"]))
    firewall["CustomResponseBodies"] = {RATE_LIMITED_BODY: rate_limited_body()}
    template_path.write_text(json.dumps(template, indent=2, ensure_ascii=False), encoding="utf-8")
