"""Record signing: what checking each record's HMAC adds to a read, side by side.

    python benchmarks/integrity_bench.py [--filings 2000] [--rounds 7] [--write]

Submits synthetic filings to a fresh embedded archive in /dev/shm, then reads every one of
them, in rounds, through the unverified port and through the signed one (the one every
service uses), by key and a page of 100 at a time. A ratio is the median of the rounds' own
ratios. ``--write`` replaces the "## Record signing" section of benchmarks/RESULTS.md. This
is a benchmark, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from chalicelib.config import Settings
from chalicelib.filings import FILING
from chalicelib.ports import Records
from chalicelib.services import Services, build_services

from beian.synthetic import filing_payload

SECTION = "## Record signing"
PAGE = 100


def seeded(data_dir: Path, filings: int) -> tuple[Services, list[str]]:
    os.environ.update(BEIAN_BACKEND="embedded", BEIAN_DATA_DIR=str(data_dir))
    services = build_services(Settings.from_env())
    rng = random.Random(2010)
    keys = [str(services.filings.submit(filing_payload(rng, "enterprise"))[0]["id"]) for _ in range(filings)]
    return services, keys


def per_record(read: Callable[[], int]) -> float:
    """Microseconds per record for one pass of ``read`` (which returns how many it read)."""
    start = time.perf_counter()
    count = read()
    return (time.perf_counter() - start) / count * 1e6


def by_key(records: Records, keys: list[str]) -> Callable[[], int]:
    return lambda: sum(records.get(FILING, key) is not None for key in keys)


def by_page(records: Records, provider: str) -> Callable[[], int]:
    def read() -> int:
        count, cursor = 0, None
        while True:
            page = records.query("provider", provider, limit=PAGE, after=cursor)
            count += len(page.records)
            if page.cursor is None:
                return count
            cursor = page.cursor

    return read


def report(filings: int, rounds: int, command: str) -> str:
    with tempfile.TemporaryDirectory(dir="/dev/shm", prefix="beian-integrity-") as scratch:
        services, keys = seeded(Path(scratch) / "var", filings)
        raw, signed = services.integrity.unverified, services.backend.records
        provider = services.settings.provider
        reads = {"by key (get)": (by_key(raw, keys), by_key(signed, keys)),
                 f"a page of {PAGE} (query)": (by_page(raw, provider), by_page(signed, provider))}
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in reads}
        for unverified, verified in reads.values():  # warm: caches, the signing key, the page cache
            unverified(), verified()
        for _ in range(rounds):
            for name, (unverified, verified) in reads.items():
                times[name].append((per_record(unverified), per_record(verified)))
    lines = [
        SECTION,
        "",
        f"Command: `{command}` ({filings:,} synthetic filings in a fresh embedded archive in /dev/shm; "
        f"one warm-up pass, then {rounds} rounds, each reading every filing through the unverified port "
        "and then through the signed one; µs per record, medians over the rounds).",
        "",
        "| read | unverified µs/record | signed µs/record | added µs/record | ratio |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, pairs in times.items():
        plain = statistics.median(p for p, _ in pairs)
        checked = statistics.median(s for _, s in pairs)
        ratio = statistics.median(s / p for p, s in pairs)
        lines.append(f"| {name} | {plain:.1f} | {checked:.1f} | {checked - plain:+.1f} | {ratio:.2f}x |")
    return "\n".join([*lines, ""])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--filings", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--write", action="store_true", help="update benchmarks/RESULTS.md")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks.results, when run as a script
    command = "python " + " ".join(["benchmarks/integrity_bench.py", *sys.argv[1:]])
    section = report(args.filings, args.rounds, command)
    from benchmarks.results import publish

    publish(section, write=args.write)


if __name__ == "__main__":
    main()
