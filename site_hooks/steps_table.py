"""The table of workflow steps, generated from the transition table (chalicelib.workflow).

The process page includes it as a snippet (written by ``rules_pages.py`` before each build),
and the README carries it between two markers: ``python site_hooks/steps_table.py --write``
rewrites that part, and a test fails when the committed README differs from what this
writes. A step changes in ``workflow.TRANSITIONS`` only.
"""

from __future__ import annotations

import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
if str(PROJECT / "api") not in sys.path:
    sys.path.insert(0, str(PROJECT / "api"))

from chalicelib.rules import Rules, load_rules  # noqa: E402  (needs api/ on the path)
from chalicelib.workflow import STATE_NAMES, SUBMIT, TRANSITIONS, Transition  # noqa: E402

README = PROJECT / "README.md"
BEGIN = "<!-- steps:begin: generated from workflow.TRANSITIONS by site_hooks/steps_table.py --write -->"
END = "<!-- steps:end -->"
STEPS = (SUBMIT, *TRANSITIONS.values())
ROLES = {"applicant": ("主办者", "applicant"), "verifier": ("接入服务单位核验人员", "verifier"),
         "reviewer": ("通信管理局审核人员", "reviewer")}
HEADERS = {"zh": ("步骤", "由谁", "状态", "时限", "短信", "依据"),
           "en": ("Step", "Who", "States", "Time limit", "SMS", "Notice")}


def _join(lang: str) -> str:
    return "、" if lang == "zh" else "; "


def _states(step: Transition, lang: str) -> str:
    pick = 0 if lang == "zh" else 1
    sources = _join(lang).join(STATE_NAMES[state][pick] for state in step.sources) if step.sources else "—"
    return f"{sources} → {STATE_NAMES[step.target][pick]}"


def _deadlines(rules: Rules, step: Transition, lang: str) -> str:
    from rules_pages import PUNCTUATION, deadline_text, tr  # the site's wording of a time limit

    parts = []
    if step.starts:
        deadline = rules.deadline(step.starts)
        own = ("（接入服务单位自定）" if lang == "zh" else " (the provider's own rule)") \
            if deadline.source == "provider" else ""
        parts.append(f"{'开始' if lang == 'zh' else 'starts'} {tr(deadline.label, lang)}{PUNCTUATION[lang][':']}"
                     f"{deadline_text(deadline, lang)}{own}")
    if step.stops:
        names = _join(lang).join(tr(rules.deadline(name).label, lang) for name in step.stops)
        parts.append(f"{'结束' if lang == 'zh' else 'ends'} {names}")
    return ("；" if lang == "zh" else "; ").join(parts) or "—"


def _sms(rules: Rules, step: Transition) -> str:
    return f"“{rules.sms_text(step.sms)}”" if step.sms else "—"


def process_steps(rules: Rules, lang: str) -> str:
    """The steps for the process page, in ``lang``."""
    from rules_pages import cell, cite_link

    pick = 0 if lang == "zh" else 1
    lines = ["| " + " | ".join(HEADERS[lang]) + " |", "|" + "---|" * len(HEADERS[lang])]
    for step in STEPS:
        who = _join(lang).join(ROLES[role][pick] for role in step.roles)
        cells = (step.summary[pick], who, _states(step, lang), _deadlines(rules, step, lang),
                 _sms(rules, step), cite_link(step.cite, lang))  # type: ignore[arg-type]
        lines.append("| " + " | ".join(cell(text) for text in cells) + " |")
    return "\n".join([*lines, ""])


def readme_table(rules: Rules) -> str:
    """The README's table of steps (English, with the evidence step and its command)."""
    lines = ["| step | who | states | time limit | SMS | evidence step | command | API action | notice |",
             "|---|---|---|---|---|---|---|---|---|"]
    for step in STEPS:
        api = "`POST /api/filings`" if not step.sources else f"`{step.action}`"
        evidence = f"`Steps.{step.step}`" if step.step else "`FilingService.submit`"
        if step.new_payload:
            evidence += " (new payload)"
        cells = (step.summary[1], ", ".join(step.roles), _states(step, "en"), _deadlines(rules, step, "en"),
                 _sms(rules, step), evidence, f"`{step.command}`" if step.command else "—", api, step.cite)
        lines.append("| " + " | ".join(text.replace("|", "\\|") for text in cells) + " |")
    return "\n".join(lines)


def readme_with_table(text: str, rules: Rules) -> str:
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    if not rest or END not in rest:
        raise ValueError("the README has no steps markers")
    return f"{head}{BEGIN}\n{readme_table(rules)}\n{END}{tail}"


def main(argv: list[str]) -> int:
    current = README.read_text(encoding="utf-8")
    wanted = readme_with_table(current, load_rules())
    if "--write" in argv:
        README.write_text(wanted, encoding="utf-8")
        return 0
    return 0 if wanted == current else 1


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    raise SystemExit(main(sys.argv[1:]))
