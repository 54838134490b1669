"""benchmarks/RESULTS.md: each benchmark owns one section, headed "## <name>", and rewrites
only that one."""

from __future__ import annotations

import re
from pathlib import Path

RESULTS = Path(__file__).resolve().with_name("RESULTS.md")


def replace_section(text: str, section: str) -> str:
    """``text`` with the section of the same heading (``section``'s first line) replaced, or appended."""
    heading = section.splitlines()[0]
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", re.DOTALL | re.MULTILINE)
    body = section.rstrip("\n") + "\n\n"
    if pattern.search(text):
        return pattern.sub(lambda _: body, text, count=1).rstrip("\n") + "\n"
    return text.rstrip("\n") + "\n\n" + body.rstrip("\n") + "\n"


def write_section(section: str) -> None:
    current = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    RESULTS.write_text(replace_section(current, section), encoding="utf-8")


def publish(section: str, *, write: bool) -> None:
    """Print a benchmark's ``section``; with ``write`` (its --write), store it in RESULTS.md too."""
    print(section)
    if write:
        write_section(section)
