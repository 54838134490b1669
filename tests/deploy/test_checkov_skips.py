"""The committed checkov skips: each names resources of the templates and gives its reason, and
deploy-check fails on a failure no skip names and on a skip that no longer fails."""

from __future__ import annotations

import json
from typing import Any

from beian.operator.deploy import CHECKOV_SKIPS, REPLICA_TEMPLATE, judge_checkov
from beian.provision import load_template


def test_every_skip_names_template_resources_and_says_why(template: dict[str, Any]) -> None:
    skips = {check: skip for check, skip in json.loads(CHECKOV_SKIPS.read_text(encoding="utf-8")).items()
             if not check.startswith("_")}
    resources = set(template["Resources"]) | set(load_template(REPLICA_TEMPLATE)["Resources"])
    assert skips
    for check, skip in skips.items():
        assert check.startswith("CKV_AWS_") and set(skip) == {"resources", "reason"}, check
        assert skip["resources"] and set(skip["resources"]) <= resources, check
        assert len(skip["reason"]) > 60, check  # a reason, not a label


def test_an_unlisted_failure_and_a_stale_skip_both_fail_the_check() -> None:
    skips = {"_about": "", "CKV_AWS_1": {"resources": ["A", "B"], "reason": "r"}}
    assert judge_checkov({("CKV_AWS_1", "A"), ("CKV_AWS_1", "B")}, skips) == []
    assert judge_checkov({("CKV_AWS_1", "A"), ("CKV_AWS_1", "B"), ("CKV_AWS_2", "A")}, skips) == [
        "CKV_AWS_2 fails on A"]
    assert judge_checkov({("CKV_AWS_1", "A")}, skips) == [
        f"CKV_AWS_1 on B is skipped but passes: remove it from {CHECKOV_SKIPS.name}"]
