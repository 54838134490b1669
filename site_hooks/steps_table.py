"""The table of workflow steps, generated from the transition table (chalicelib.workflow).

The process page includes the same steps as a snippet (``rules_pages.steps``), and the README
carries them between two markers: ``python site_hooks/steps_table.py --write``
rewrites that part, and a test fails when the committed README differs from what this
writes. A step changes in ``workflow.TRANSITIONS`` only.
"""

from __future__ import annotations

import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
for _path in (PROJECT / "api", Path(__file__).parent):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from chalicelib.rules import Rules, load_rules  # noqa: E402  (needs api/ on the path)
from rules_pages import STEPS, step_deadlines, step_sms, step_states  # noqa: E402  (the site's wording)

README = PROJECT / "README.md"
BEGIN = "<!-- steps:begin: generated from workflow.TRANSITIONS by site_hooks/steps_table.py --write -->"
END = "<!-- steps:end -->"
def readme_table(rules: Rules) -> str:
    """The README's table of steps (English, with the evidence step and its command)."""
    lines = ["| step | who | states | time limit | SMS | evidence step | command | API action | notice |",
             "|---|---|---|---|---|---|---|---|---|"]
    for step in STEPS:
        api = "`POST /api/filings`" if not step.sources else f"`{step.action}`"
        evidence = f"`Steps.{step.step}`" if step.step else "`FilingService.submit`"
        if step.new_payload:
            evidence += " (new payload)"
        cells = (step.summary[1], ", ".join(step.roles), step_states(step, "en"),
                 step_deadlines(rules, step, "en"),
                 step_sms(rules, step), evidence, f"`{step.command}`" if step.command else "—", api, step.cite)
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
    raise SystemExit(main(sys.argv[1:]))
