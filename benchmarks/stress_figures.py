"""Reliability figures: what the stress run tried, and how much of it failed (the goal is zero).

Tests call ``record(figure, tried, failed)``; it writes nothing unless BEIAN_FIGURES names a
file. ``scaled(bounded, stress)`` is how long a test runs: ``make test`` takes the bounded
count, ``make stress`` (BEIAN_STRESS=1) the long one.

    BEIAN_STRESS=1 .venv/bin/python benchmarks/stress_figures.py --write

runs the suite as ``make stress`` does (every test but the browser ones), with BEIAN_FIGURES
and a JUnit report, and writes the "Reliability figures" section of RESULTS.md. Like ``make
stress``, it needs the built site (``make site``) and Zensical's environment (``make
zensical-deps``): some tests read or build them.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SECTION = "## Reliability figures"
# The figures, in the table's order: what was tried, and what counts as a failure.
FIGURES: dict[str, tuple[str, str]] = {
    "requests_fuzzed": ("API requests fuzzed (schemathesis, stateless and stateful)",
                        "a 5xx, or a response the OpenAPI document does not allow"),
    "server_kills": ("server processes killed (SIGKILL) during uploads, transitions and sweeps",
                     "a run after which any check below failed"),
    "storage_faults": ("storage calls failed on purpose (S3, DynamoDB, SQLite, files) between paired writes",
                       "a guarantee broken after reconciling and retrying"),
    "records_checked": ("records checked after faults (filings, documents, envelopes decrypted)",
                        "lost, corrupt, half written, or an orphan neither repaired nor flagged"),
    "damage_cases": ("damage at rest tried on the reconciler (lost, stray or edited envelopes and entries)",
                     "damage neither repaired nor flagged"),
    "load_requests": ("requests under concurrent load", "a lost or duplicated record"),
    # One row per class of bad input the outside test found (issue: hardening, second round).
    "edge_bad_input": ("bad input at the edge (deep or repeated-key JSON, other scripts' digits, calendar-edge "
                       "times, lists or objects for text, non-JSON bodies, unsupported methods)",
                       "a 5xx, or a refusal that does not name the field"),
    "forged_tokens": ("staff tokens in another algorithm, and names issued, revoked and looked up in "
                      "other forms or with the revocation record deleted", "a token accepted"),
    "idempotency_reuses": ("Idempotency-Keys reused with another body, and expired",
                           "a filing shown or a token issued"),
    "upload_slot_cases": ("upload slots expired, withdrawn, or posted to twice", "a slot counted or used twice, "
                          "or a second upload left in staging"),
    "purpose_cases": ("key releases and searches stating a purpose not on the rules file's list (other text, a "
                      "list, an object, a number, null) or a reference too short, blank or not text",
                      "a key released, a search run, or a refusal that does not name the field"),
    "rate_limit_cases": ("requests past a limit, per route class, per address and per token",
                         "one served without 429 and Retry-After"),
    "audit_forgeries": ("audit exports re-signed with another key, cut at an earlier checkpoint, or records "
                        "rolled back or deleted behind the log", "one passing `beian audit verify` with no "
                        "options, or the reconciler"),
}
# Tests that tamper with envelopes or the audit log, counted from the JUnit report.
TAMPER_TESTS = re.compile(r"tests\.crypto\.test_(tamper|header)|tests\.crypto\.test_vectors.*negative|"
                          r"tests\.archive\.test_lifecycle")


def stressed() -> bool:
    return os.environ.get("BEIAN_STRESS") == "1"


def scaled(bounded: int, stress: int) -> int:
    """``stress`` under ``make stress``, else ``bounded``."""
    return stress if stressed() else bounded


def record(figure: str, tried: int, failed: int) -> None:
    """Add to a figure of this run (a no-op unless BEIAN_FIGURES is set)."""
    target = os.environ.get("BEIAN_FIGURES")
    if not target:
        return
    assert figure in FIGURES, figure
    line = json.dumps({"figure": figure, "tried": tried, "failed": failed,
                       "test": os.environ.get("PYTEST_CURRENT_TEST", "")}) + "\n"
    fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line.encode())  # one write: lines from parallel tests do not interleave
    finally:
        os.close(fd)


def totals(figures_file: Path) -> dict[str, tuple[int, int]]:
    sums: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for line in figures_file.read_text().splitlines():
        entry = json.loads(line)
        sums[entry["figure"]][0] += entry["tried"]
        sums[entry["figure"]][1] += entry["failed"]
    return {name: (tried, failed) for name, (tried, failed) in sums.items()}


def junit_counts(report: Path) -> tuple[int, int, int, int]:
    """(tests, failed) over the whole run and (tests, failed) over the tamper tests."""
    tests = failed = tamper = tamper_failed = 0
    for case in ElementTree.parse(report).iter("testcase"):
        if case.find("skipped") is not None:
            continue
        broken = case.find("failure") is not None or case.find("error") is not None
        tests += 1
        failed += broken
        if TAMPER_TESTS.search(case.get("classname", "")):
            tamper += 1
            tamper_failed += broken
    return tests, failed, tamper, tamper_failed


def render(command: str, seconds: float, figures: dict[str, tuple[int, int]],
           junit: tuple[int, int, int, int]) -> str:
    tests, failed, tamper, tamper_failed = junit
    rows = [f"| {label} | {figures.get(name, (0, 0))[0]:,} | {figures.get(name, (0, 0))[1]:,} | {counts_as} |"
            for name, (label, counts_as) in FIGURES.items()]
    rows.append(f"| tamper tests (envelopes bit-flipped, truncated, spliced, re-bound; audit log edited, "
                f"deleted, inserted, reordered, truncated), each trying many cases | {tamper:,} | "
                f"{tamper_failed:,} | a tampered input accepted |")
    return "\n".join([
        SECTION, "",
        f"Command: `{command}` ({seconds / 60:.0f} min; the whole suite but the browser tests, "
        f"{tests:,} tests, {failed:,} failed).", "",
        "| tried | count | failed | a failure is |", "|---|---:|---:|---|", *rows, "",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help="write the section into benchmarks/RESULTS.md")
    args = parser.parse_args()
    if not (ROOT / "build" / "site" / "index.html").exists():
        sys.exit("build/site is missing: run `make site` first")
    with tempfile.TemporaryDirectory() as work:
        figures_file, junit = Path(work, "figures.jsonl"), Path(work, "junit.xml")
        figures_file.touch()
        env = {**os.environ, "BEIAN_FIGURES": str(figures_file)}
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "pytest", "-q", "-m", "not browser", f"--junitxml={junit}", "tests"],
                       cwd=ROOT, env=env, check=False)
        section = render(f"BEIAN_STRESS={os.environ.get('BEIAN_STRESS', '0')} .venv/bin/python "
                         "benchmarks/stress_figures.py --write", time.monotonic() - started,
                         totals(figures_file), junit_counts(junit))
    from benchmarks.results import publish

    publish(section, write=args.write)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))  # benchmarks.results, when run as a script
    main()
