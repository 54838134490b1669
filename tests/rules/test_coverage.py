"""Fidelity to the notice: every clause accounted for, the provider's own rules labelled as
such, and required/optional the same wherever a field is described."""

from __future__ import annotations

import ast
import copy
import random
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from chalicelib.filing_schema import filing_schema
from chalicelib.rules import REQUIREMENT_LABELS, Rules, load_rules
from chalicelib.validation import validate_filing
from jsonschema import Draft202012Validator
from typer.testing import CliRunner

from beian.remote.rules import register
from beian.synthetic import filing_payload
from site_hooks.rules_pages import LANGS, SNIPPETS, WORDS, checklists, coverage

PROJECT = Path(__file__).resolve().parents[2]
NOTICE_LINK = re.compile(r"\]\(notice\.md#")


@cache
def functions_in(path: str) -> frozenset[str]:
    tree = ast.parse((PROJECT / path).read_text(encoding="utf-8"))
    return frozenset(node.name for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef))


def test_the_coverage_page_lists_all_31_clauses_none_unaccounted(rules: Rules) -> None:
    leaves = rules.notice.leaf_clauses()
    assert len(leaves) == 31
    assert [clause.cite for clause in rules.clauses] == list(leaves)
    for lang in LANGS:
        page = coverage(rules, lang)
        rows = [line for line in page.splitlines() if line.startswith("| [")]
        assert len(rows) == 31
        for cite, row in zip(leaves, rows, strict=True):
            assert f"{cite}](notice.md#" in row
            clause = rules.clause(cite)
            # Each row names its feature with pages and tests, or its reason for exclusion.
            assert (clause.feature is not None and all(test in row for test in clause.tests)) or (
                clause.excluded is not None and "`" not in row)


def test_every_named_test_and_page_exists(rules: Rules) -> None:
    for clause in rules.clauses:
        for test in clause.tests:
            path, _, name = test.partition("::")
            assert (PROJECT / path).is_file(), f"{clause.cite}: {path}"
            assert name in functions_in(path), f"{clause.cite}: {test} does not exist"
        for page in clause.pages:
            assert (PROJECT / "site" / page).is_file(), f"{clause.cite}: {page}"
            assert (PROJECT / "site" / page.replace(".md", ".en.md")).is_file(), f"{clause.cite}: {page} (en)"


def test_no_page_cites_the_notice_for_a_provider_rule(rules: Rules) -> None:
    """Wherever a generated page names a provider rule, the same line says it is the provider's
    and links no section of the notice."""
    provider = dict(rules.provider_rules())
    assert provider, "the rules name no provider rule"
    for lang in LANGS:
        label = WORDS[lang]["provider_rule"]
        for name, render in SNIPPETS.items():
            if name == "notice":  # the notice itself
                continue
            text = render(rules, lang)
            if name == "coverage":  # the clause table cites clauses; the provider rules come after it
                text = text.split(f"## {'本单位规则' if lang == 'zh' else 'The provider'}", 1)[1]
            for line in text.splitlines():
                stated = [where for where, rule in provider.items()
                          if (rule.zh if lang == "zh" else rule.en) in line]
                if stated and name == "steps":
                    # A step cites the notice for itself, in its own column; in the time-limit
                    # column every deadline the provider sets says whose rule it is, and that
                    # column cites nothing.
                    limits = line.split(" | ")[3]
                    assert not NOTICE_LINK.search(limits), (lang, line)
                    for part in re.split("[；、]|; ", limits):
                        if any((provider[where].zh if lang == "zh" else provider[where].en) in part
                               for where in stated):
                            assert label in part, (lang, part, line)
                elif stated and name == "flow" and "-->" in line:
                    # An arrow names a step, which the notice sets (the follow-up is 三.(一)5's
                    # 日常回访核查); the boxes carry the time limits, each marked if the provider's.
                    assert not NOTICE_LINK.search(line), (lang, line)
                elif stated and name != "coverage":
                    assert label in line and not NOTICE_LINK.search(line), (name, lang, stated, line)
                if name == "coverage":
                    assert not NOTICE_LINK.search(line), line
    # The narrowed fallbacks are stated, as the provider's rule, under each type they narrow.
    narrowed = rules.provider_note("narrowed_fallbacks").text.zh
    checklist = SNIPPETS["checklist"](rules, "zh")
    assert checklist.count(narrowed) == sum(t.provider_rule == "narrowed_fallbacks" for t in rules.subject_types) == 3
    # The wizard reads the same marker from the generated data.
    other = checklists(rules)["other_unit"]["cn"]["documents"][0]
    assert other["source"] == "provider" and other["anchor"] == ""


def test_the_follow_up_interval_and_the_agreement_points_are_labelled_on_their_pages(rules: Rules) -> None:
    deadlines = SNIPPETS["deadlines"](rules, "zh")
    (row,) = [line for line in deadlines.splitlines() if rules.deadline("follow_up").label.zh in line]
    assert "本单位规则" in row and "notice.md" not in row
    agreement = SNIPPETS["agreement"](rules, "en")
    points = [line for line in agreement.splitlines() if line[:1].isdigit()]
    assert len(points) == len(rules.security_agreement.points)
    assert all("The provider's rule" in line and "notice.md" not in line for line in points)


# -- required and optional agree everywhere ----------------------------------------------


def _without(payload: dict[str, Any], field_id: str) -> dict[str, Any]:
    section, _, key = field_id.partition(".")
    changed = copy.deepcopy(payload)
    changed.get(section, {}).pop(key, None)
    return changed


def _cli_requirements(subject_type: str) -> dict[str, str]:
    import typer

    app = typer.Typer()
    register(app)
    output = CliRunner(env={"COLUMNS": "400"}).invoke(app, ["rules", "show", "--subject-type", subject_type]).output
    found = {}
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.split("│")]
        if len(cells) > 3 and "." in cells[1]:
            found[cells[1]] = cells[3]
    return found


@pytest.mark.parametrize("subject_type", [t.id for t in load_rules().subject_types])
def test_required_and_optional_agree_everywhere(rules: Rules, subject_type: str) -> None:
    """``beian rules show``, the checklist page, the wizard's data, the API's validation at
    submission and the JSON Schema say the same of every field (the access information: the
    provider's to enter, so not required of the applicant)."""
    kind = rules.subject_type(subject_type).kind
    payload = filing_payload(random.Random(7), subject_type, consent=False)
    schema = Draft202012Validator(filing_schema(rules))
    assert not list(schema.iter_errors(filing_payload(random.Random(7), subject_type)))  # as sent, with consent
    assert validate_filing(payload, stage="submission").ok
    cli = _cli_requirements(subject_type)
    page = {lang: SNIPPETS["checklist"](rules, lang) for lang in LANGS}
    wizard = checklists(rules)[subject_type]["cn"]["requirement"]
    for field in rules.fields_for(subject_type):
        requirement = rules.requirement(field, kind)
        label = REQUIREMENT_LABELS[requirement]
        assert cli[field.id] == f"{label.zh} / {label.en}", field.id
        assert wizard[field.id] == requirement
        for lang in LANGS:
            name = field.label.zh if lang == "zh" else field.label.en
            row = f"| {name} | {label.zh if lang == 'zh' else label.en} |"
            assert row in page[lang], (lang, field.id)
        missing = _without(payload, field.id)
        api_says = any(e.field == field.id and e.code == "required"
                       for e in validate_filing(missing, stage="submission").errors)
        schema_says = any(e.validator == "required" and repr(field.key) in e.message
                          for e in schema.iter_errors(missing))
        assert api_says == schema_says == (requirement == "required"), (field.id, requirement)
        if requirement == "provider":  # required of the provider when it records the verification
            assert any(e.field == field.id for e in validate_filing(missing).errors)
    assert any(rules.requirement(f, kind) == "provider" for f in rules.fields_for(subject_type))
