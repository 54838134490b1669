"""CLI start-up: light `beian` commands against the CLI library's own import, side by side.

    python benchmarks/cli_bench.py [--rounds 7] [--write]

Each round runs every command once, back to back, in a fresh process (wall time of the
whole process, interpreter start included), so a drift of the machine's speed lands on
both sides of a ratio. The ratio is the median of the rounds' own ratios; peak RSS is the
process's maximum resident set (getrusage of the children). ``--write`` replaces the
"## CLI start-up" section of benchmarks/RESULTS.md. A benchmark: it asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
BASELINE = ("import typer, rich", [sys.executable, "-c", "import typer, rich"])
COMMANDS = [
    ("beian --help", [str(BIN / "beian"), "--help"]),
    ("beian workdays add 2026-12-25 20", [str(BIN / "beian"), "workdays", "add", "2026-12-25", "20"]),
    # No server listens on port 9: the command starts, tries, and says so; start-up is what counts.
    ("beian status F20260101-00000000", [str(BIN / "beian"), "status", "F20260101-00000000",
                                         "--url", "http://127.0.0.1:9"]),
]
TARGET = 2.0


def run(argv: list[str], env: dict[str, str]) -> float:
    """Wall seconds of one run."""
    start = time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def report(rounds: int, command: str) -> str:
    with tempfile.TemporaryDirectory() as data:
        env = {**os.environ, "BEIAN_DATA_DIR": data, "BEIAN_BACKEND": "embedded"}
        every = [BASELINE, *COMMANDS]
        times: dict[str, list[float]] = {name: [] for name, _ in every}
        peaks: dict[str, float] = {}
        for _, argv in every:  # one unmeasured run each: the page cache warm for all
            run(argv, env)
        for _ in range(rounds):
            for name, argv in every:
                times[name].append(run(argv, env))
        for name, argv in every:  # peak RSS in a process of its own: ru_maxrss only grows
            done = subprocess.run(
                [sys.executable, "-c", "import resource, subprocess, sys; subprocess.run(sys.argv[1:], "
                 "stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); "
                 "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)", *argv],
                env=env, capture_output=True, text=True, check=True)
            peaks[name] = int(done.stdout) / 1024
    base = times[BASELINE[0]]
    lines = [
        "## CLI start-up",
        "",
        f"Command: `{command}` ({rounds} rounds, each running every command once in a fresh process,",
        "back to back; wall time of the whole process, interpreter start included; the ratio is the",
        "median of the rounds' own ratios to `python -c \"import typer, rich\"` in the same round).",
        "",
        f"| command | median ms | peak RSS | ratio to the import | target ≤ {TARGET:.0f}x | each round |",
        "|---|---:|---:|---:|---|---|",
        f"| `python -c \"import typer, rich\"` | {statistics.median(base) * 1000:.0f} | "
        f"{peaks[BASELINE[0]]:.0f} MiB | 1.00x | | |",
    ]
    for name, _ in COMMANDS:
        ratios = [ours / theirs for ours, theirs in zip(times[name], base, strict=True)]
        ratio = statistics.median(ratios)
        verdict = "met" if ratio <= TARGET else f"not met (bound {TARGET * statistics.median(base) * 1000:.0f} ms)"
        lines.append(f"| `{name}` | {statistics.median(times[name]) * 1000:.0f} | {peaks[name]:.0f} MiB | "
                     f"{ratio:.2f}x | {verdict} | {' '.join(f'{r:.2f}' for r in ratios)} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--write", action="store_true", help="update benchmarks/RESULTS.md")
    args = parser.parse_args()
    command = "python " + " ".join(["benchmarks/cli_bench.py", *sys.argv[1:]])
    section = report(args.rounds, command)
    from benchmarks.results import publish

    publish(section, write=args.write)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))  # benchmarks.results, when run as a script
    main()
