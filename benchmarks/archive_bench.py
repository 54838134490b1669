"""Archive search and retention sweep at scale (issue: the confidential archive).

Targets: a search by any key on 1,000,000 records stays within 2x its time on 10,000; a
sweep's cost grows with the records due, not with the archive's size.

Embedded backend: times measured (SQLite in /dev/shm, so the disk's noise stays out).
AWS backend: moto's Query walks its whole table in Python (field notes), so its times say
nothing about DynamoDB; what is measured there is what each request examines (ScannedCount,
the number DynamoDB bills and waits for), which must follow the results, not the table.

    python benchmarks/archive_bench.py --sizes 10000,1000000 --aws-sizes 1000,5000
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from chalicelib.auth import Principal
from chalicelib.config import Settings
from chalicelib.documents import DOCUMENT, RECEIVED, retention_entry
from chalicelib.filings import FILING, filing_indexes
from chalicelib.ports import IndexEntry, Record
from chalicelib.services import Services, build_services

from beian.synthetic import resident_id_number

PROVINCES = "京沪粤浙苏川鄂鲁"
PROVIDERS = tuple(f"idc-{n:02d}" for n in range(20))
DUE = 100
QUERIES = 200
INSPECTOR = Principal("bench-inspector", "inspector")
START = datetime(2022, 1, 1, tzinfo=UTC)


def filing(n: int, rng: random.Random, services: Services) -> Record:
    created = (START + timedelta(seconds=n * 97)).isoformat()
    number = resident_id_number(random.Random(n))
    body: dict[str, Any] = {
        "id": f"F{n:09d}", "state": "approved", "provider": PROVIDERS[n % len(PROVIDERS)],
        "province": PROVINCES[n % len(PROVINCES)], "created_at": created, "deadlines": {},
        "filing_number": f"{PROVINCES[n % len(PROVINCES)]}ICP备{2022 + n % 4}{n % 1_000_000:06d}号",
        "payload": {"website": {"domains": [f"site{n}.example.cn"]}},
        "id_hashes": [services.sensitive.index_value(number)],
    }
    return Record(FILING, body["id"], body, indexes=filing_indexes(body))


def document(n: int, now: datetime, due: bool) -> Record:
    # Retain-until spread over the next five years; exactly DUE of them already passed.
    until = now - timedelta(days=1 + n % 30) if due else now + timedelta(days=1 + n % 1800)
    body = {"id": f"D{n:09d}", "filing": f"F{n:09d}", "document_type": "business_licence",
            "state": RECEIVED, "archive_key": f"documents/F{n:09d}/D{n:09d}",
            "retain_until": until.isoformat()}
    return Record(DOCUMENT, f"F{n:09d}/D{n:09d}", body,
                  indexes=(IndexEntry("documents", f"F{n:09d}", until.isoformat()), retention_entry(until)))


def seed(services: Services, size: int, now: datetime) -> float:
    rng = random.Random(size)
    services.sensitive.index_value("warm")  # create the index key before the bulk transaction
    started = time.perf_counter()
    due_every = max(1, size // DUE)

    def records() -> Iterator[Record]:
        for n in range(size):
            yield filing(n, rng, services)
            yield document(n, now, due=n % due_every == 0)

    services.backend.records.insert_many(records())
    return time.perf_counter() - started


def timed(run: Callable[[int], Any], count: int = QUERIES) -> tuple[float, float]:
    times = []
    for i in range(count):
        started = time.perf_counter()
        run(i)
        times.append(time.perf_counter() - started)
    times.sort()
    return statistics.median(times) * 1000, times[int(len(times) * 0.95)] * 1000


def searches(size: int) -> dict[str, Callable[[Services, int], dict[str, str]]]:
    pick = random.Random(7)
    targets = [pick.randrange(size) for _ in range(QUERIES)]

    def day(i: int) -> str:
        return (START + timedelta(seconds=targets[i] * 97)).date().isoformat()

    return {
        "filing_number": lambda s, i: {"filing_number": f"{PROVINCES[targets[i] % 8]}ICP备"
                                       f"{2022 + targets[i] % 4}{targets[i] % 1_000_000:06d}号"},
        "domain": lambda s, i: {"domain": f"site{targets[i]}.example.cn"},
        "id_number": lambda s, i: {"id_number": resident_id_number(random.Random(targets[i]))},
        "provider + one day": lambda s, i: {"provider": PROVIDERS[targets[i] % 20], "from": day(i), "to": day(i)},
        "province + one day": lambda s, i: {"province": PROVINCES[targets[i] % 8], "from": day(i), "to": day(i)},
    }


def embedded_run(size: int) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="beian-bench-", dir="/dev/shm"))
    try:
        services = build_services(Settings.from_env({"BEIAN_DATA_DIR": str(work)}))
        now = datetime.now(UTC)
        seconds = seed(services, size, now)
        result: dict[str, Any] = {"size": size, "seed_s": seconds}
        for name, criteria in searches(size).items():
            found: list[int] = []

            def search(i: int, criteria: Callable[[Services, int], dict[str, str]] = criteria,
                       found: list[int] = found) -> None:
                found.append(len(services.archive.search(INSPECTOR, {**criteria(services, i), "purpose": "inspection",
                                                                     "reference": "benchmark"})["filings"]))

            result[name] = (*timed(search), statistics.mean(found))
        due: list[int] = []
        result["sweep (due query)"] = (*timed(lambda _: due.append(len(list(services.archive.due(now)))), 20),
                                       statistics.mean(due))
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def aws_run(sizes: list[int]) -> list[tuple[int, str, float, float]]:
    """What each Query examines on DynamoDB (moto), per result, at two table sizes."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

    from moto.server import ThreadedMotoServer

    from beian.provision import provision_aws

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request lines
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench",
                      AWS_DEFAULT_REGION="us-east-1", AWS_ENDPOINT_URL=f"http://{host}:{port}")
    rows = []
    try:
        for size in sizes:
            settings = Settings.from_env({**os.environ, "BEIAN_BACKEND": "aws", "BEIAN_TABLE": f"bench-{size}",
                                          "BEIAN_ARCHIVE_BUCKET": f"bench-archive-{size}",
                                          "BEIAN_STAGING_BUCKET": f"bench-staging-{size}",
                                          "BEIAN_KMS_KEY_ID": f"alias/bench-{size}"})
            provision_aws(settings)
            services = build_services(settings)
            now = datetime.now(UTC)
            seed(services, size, now)
            records = services.backend.records
            sample = filing(7, random.Random(7), services).body
            for label, index, value in (("domain", "domain", sample["payload"]["website"]["domains"][0]),
                                        ("filing_number", "filing_number", sample["filing_number"])):
                page = records.query(index, value)
                rows.append((size, label, page.examined, len(page.records)))
            page = records.query("retain_until", DOCUMENT, sort_to=now.isoformat(), limit=1000)
            rows.append((size, "sweep (due query)", page.examined, len(page.records)))
    finally:
        server.stop()
    return rows


NOTE = (
    "The targets: a search by any key on 1,000,000 records within 2x its time on 10,000, and a sweep whose "
    "cost follows what is due, not the archive's size. On the AWS backend each Query should examine what it "
    "returns whatever the table holds: DynamoDB bills and waits for that, not for the table. moto writes about "
    "two records a second through TransactWriteItems (it copies the table on each), so the AWS sizes are small.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,1000000")
    parser.add_argument("--aws-sizes", default="1000,5000")
    parser.add_argument("--write", action="store_true", help="write the section into benchmarks/RESULTS.md")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    runs = [embedded_run(size) for size in sizes]
    small, large = runs[0], runs[-1]
    names = [key for key in small if key not in ("size", "seed_s")]
    ratios = {name: large[name][0] / small[name][0] for name in names}
    write = " --write" if args.write else ""
    lines = [
        "## Archive search and sweep", "",
        f"Command: `python benchmarks/archive_bench.py --sizes {args.sizes} --aws-sizes {args.aws_sizes}{write}` "
        f"({datetime.now(UTC):%Y-%m-%d}, {os.cpu_count()} cores, SQLite in /dev/shm)", "",
        f"Seeding: {small['size']:,} filings + documents in {small['seed_s']:.1f} s; "
        f"{large['size']:,} in {large['seed_s']:.1f} s.", "",
        f"| embedded: search by | p50 at {small['size']:,} (ms) | p50 at {large['size']:,} (ms) | ratio "
        f"(target <= 2) | p95 at {large['size']:,} (ms) | results per query |",
        "|---|---|---|---|---|---|",
    ]
    lines += [f"| {name} | {small[name][0]:.2f} | {large[name][0]:.2f} | {ratios[name]:.2f} | {large[name][1]:.2f} | "
              f"{small[name][2]:.0f} / {large[name][2]:.0f} |" for name in names]
    lines += ["", f"The sweep reads only what is due ({DUE} documents at both sizes): its query's time is the "
              "'sweep (due query)' row.", "",
              "| AWS (moto): query | table size (filings) | items examined | results |", "|---|---|---|---|"]
    aws = aws_run([int(size) for size in args.aws_sizes.split(",")])
    lines += [f"| {label} | {size:,} | {examined} | {found} |" for size, label, examined, found in aws]
    worst = max(ratios, key=ratios.__getitem__)
    lines += ["", f"Largest ratio: {ratios[worst]:.2f}x ({worst}); every AWS query examined "
              f"{'exactly what it returned' if all(e == f for _, _, e, f in aws) else 'more than it returned'}. "
              + NOTE]
    section = "\n".join(lines)
    from benchmarks.results import publish

    publish(section, write=args.write)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks.results, when run as a script
    main()
