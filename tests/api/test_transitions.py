"""The transition table is the one place a step is defined: each action has its evidence
step and each step an action, deadlines started are stopped, texts and commands exist, and
the README's table of steps is the one generated from it."""

from __future__ import annotations

import dataclasses
import sys
from datetime import datetime
from pathlib import Path

import pytest
import typer
from chalicelib import workflow
from chalicelib.rules import load_rules
from chalicelib.steps import Steps, step_methods

from beian.cli import app

PROJECT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(PROJECT / "site_hooks"))

import rules_pages  # noqa: E402
import steps_table  # noqa: E402


def test_every_action_has_a_step_and_every_step_an_action() -> None:
    named = {transition.step for transition in workflow.TRANSITIONS.values()}
    assert named == step_methods()
    for transition in workflow.TRANSITIONS.values():
        assert callable(getattr(Steps, transition.step)), transition.action


def test_an_action_naming_a_missing_step_stops_the_services(monkeypatch: pytest.MonkeyPatch) -> None:
    broken = dict(workflow.TRANSITIONS)
    broken["approve"] = dataclasses.replace(broken["approve"], step="no_such_step")
    monkeypatch.setattr(workflow, "TRANSITIONS", broken)
    with pytest.raises(TypeError, match="no_such_step"):
        Steps(*[None] * 7, clock=datetime.now)  # type: ignore[arg-type]


def test_a_deadline_started_on_arrival_is_stopped_by_every_way_out() -> None:
    steps = (workflow.SUBMIT, *workflow.TRANSITIONS.values())
    started = {(step.target, step.starts) for step in steps if step.starts}
    for state, deadline in started:
        for leaving in workflow.TRANSITIONS.values():
            if state in leaving.sources:
                assert deadline in leaving.stops, (leaving.action, state, deadline)


def test_deadlines_sms_and_states_named_in_the_table_exist() -> None:
    rules = load_rules()
    for step in (workflow.SUBMIT, *workflow.TRANSITIONS.values()):
        for name in (step.starts, *step.stops):
            if name:
                assert rules.deadline(name) and name in workflow.DEADLINE_SCOPE
        if step.sms:
            assert rules.sms_text(step.sms)
        assert step.target in workflow.STATE_NAMES and set(step.sources) <= set(workflow.STATE_NAMES)
        assert all(step.summary) and rules.cited_text(step.cite)
    assert not any(workflow.REFUSED in t.sources or workflow.CANCELLED in t.sources
                   for t in workflow.TRANSITIONS.values())  # final


def test_every_command_in_the_table_is_a_command_of_the_cli() -> None:
    names = {command.name for command in typer.main.get_command(app).commands.values()}  # type: ignore[attr-defined]
    for step in (workflow.SUBMIT, *workflow.TRANSITIONS.values()):
        assert step.command.split()[1] in names, step.command


def test_the_readme_table_of_steps_is_the_generated_one() -> None:
    readme = (PROJECT / "README.md").read_text(encoding="utf-8")
    assert steps_table.readme_with_table(readme, load_rules()) == readme, (
        "run: .venv/bin/python site_hooks/steps_table.py --write")
    for step in workflow.TRANSITIONS.values():
        assert f"`{step.action}`" in readme


def test_the_process_page_includes_the_generated_steps() -> None:
    rules = load_rules()
    for lang, page in (("zh", "process.md"), ("en", "process.en.md")):
        assert f'--8<-- "steps.{lang}.md"' in (PROJECT / "site" / page).read_text(encoding="utf-8")
        text = rules_pages.SNIPPETS["steps"](rules, lang)  # type: ignore[arg-type]
        for step in workflow.TRANSITIONS.values():
            assert step.summary[0 if lang == "zh" else 1] in text
        assert ("（本单位规则）" if lang == "zh" else "(The provider's rule)") in text


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_process_chart_draws_every_state_and_every_way_between_them(lang: str) -> None:
    rules = load_rules()
    pick = 0 if lang == "zh" else 1
    chart = rules_pages.SNIPPETS["flow"](rules, lang)  # type: ignore[arg-type]
    arrows = [line.strip() for line in chart.splitlines() if "-->" in line]
    expected = [f'{source} -->|"{step.headline[pick]}"| {step.target}'
                for step in (workflow.SUBMIT, *workflow.TRANSITIONS.values()) for source in step.sources or ("start",)]
    assert arrows == expected
    for state, names in workflow.STATE_NAMES.items():
        assert f'  {state}["{names[pick]}' in chart
    # Each box shows the time limits that start on arriving there; the provider's say so.
    for state, deadline_name in ((workflow.SUBMITTED_TO_PROVINCE, workflow.REVIEW),
                                 (workflow.APPROVED, workflow.FOLLOW_UP)):
        deadline = rules.deadline(deadline_name)
        limit = (f"{rules_pages.tr(deadline.label, lang)}{rules_pages.PUNCTUATION[lang][':']}"
                 f"{rules_pages.deadline_text(deadline, lang)}{rules_pages.provider_mark(deadline, lang)}")
        assert f'  {state}["{workflow.STATE_NAMES[state][pick]}<br/>{limit}"]' in chart
        assert (rules_pages.WORDS[lang]["provider_rule"] in limit) == (deadline.source == "provider")


def test_every_summary_opens_with_a_headline_for_the_chart() -> None:
    for step in (workflow.SUBMIT, *workflow.TRANSITIONS.values()):
        zh, en = step.headline
        assert zh != step.summary[0] and en != step.summary[1], step.action
        assert 2 <= len(zh) <= 12 and 4 <= len(en) <= 32, step.headline
