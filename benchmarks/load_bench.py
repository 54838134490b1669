"""Load: applicants filing and uploading and verifiers pre-verifying at once, against `beian serve`.

    .venv/bin/python benchmarks/load_bench.py --applicants 16 --verifiers 4 --filings 10 --write

starts the embedded server on a loopback port with a fresh archive, runs the clients in
threads (bounded in count and time), then checks that every acknowledged filing and document
is there exactly once, in the state its client was told, and writes throughput and p50/p99
latency per operation into the "Load" section of RESULTS.md. The anonymous routes' rate
limit is raised for the run: it measures the server, not the limiter (which answers 429).

The pieces (ServerProcess, Ledger, the clients, check) are what the bounded load test and
the kill tests reuse.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from chalicelib.config import Settings
from chalicelib.services import Services, build_services

from beian.client import ApiError, BeianClient
from beian.synthetic import filing_payload

ROOT = Path(__file__).resolve().parents[1]
SECTION = "## Load"
STARTUP_SECONDS = 30
# The server's rate limit is per client address and every client here is 127.0.0.1.
UNTHROTTLED = {"BEIAN_ANONYMOUS_RATE": "100000", "BEIAN_ANONYMOUS_BURST": "100000",
               "BEIAN_RATE": "100000", "BEIAN_BURST": "100000"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ServerProcess:
    """`beian serve` in a process of its own, on loopback: started, killed (SIGKILL), restarted."""

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "BEIAN_BACKEND": "embedded", "BEIAN_DATA_DIR": str(data_dir),
                    "BEIAN_PUBLIC_URL": self.url, **(env or {})}
        # The test suite names a folder whose logs it scans for ID numbers and tokens at the end.
        log_dir = Path(os.environ.get("BEIAN_SERVER_LOG_DIR") or data_dir.parent)
        self._log = log_dir / f"server-{self.port}.log"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        beian = Path(sys.executable).with_name("beian")
        with self._log.open("ab") as log:
            self._process = subprocess.Popen(
                [str(beian), "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"beian serve exited with {self._process.returncode}; see {self._log}")
            try:
                if requests.get(f"{self.url}/api/health", timeout=2).status_code == 200:
                    return
            except (requests.ConnectionError, requests.Timeout):
                pass  # not listening yet, or its first request is slow on a loaded machine: ask again
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"beian serve did not answer within {STARTUP_SECONDS} s; see {self._log}")

    def kill(self) -> None:
        """SIGKILL: no handler runs, nothing is flushed; as a power cut is to the process."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGKILL)
            self._process.wait(timeout=10)

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGINT)
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def services(self) -> Services:
        """The domain services on the server's archive, in this process (to issue staff tokens)."""
        return build_services(Settings.from_env(self.env))

    def staff(self, role: str) -> BeianClient:
        settings = Settings.from_env(self.env)
        token = self.services().auth.issue(f"{role}-load", role, provider=settings.provider,
                                           province=settings.province)
        return BeianClient(self.url, token)


@contextmanager
def served(data_dir: Path, env: dict[str, str] | None = None) -> Iterator[ServerProcess]:
    server = ServerProcess(data_dir, env)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class Acked:
    """A filing as its clients were last told it was."""

    token: str
    state: str
    version: int
    documents: dict[str, str] = field(default_factory=dict)  # document id -> sha256 of the plaintext
    pending: str = ""  # a transition sent whose reply never came (the server died)


class Ledger:
    """What the clients were told, shared by their threads: the truth the server must keep."""

    def __init__(self) -> None:
        self.filings: dict[str, Acked] = {}
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.conflicts = 0
        self.problems: list[str] = []
        self._ahead: dict[str, Acked] = {}  # what verifiers were told of filings not yet in ``filings``
        self._lock = threading.Lock()

    @contextmanager
    def timed(self, operation: str) -> Iterator[None]:
        started = time.perf_counter()
        yield
        elapsed = time.perf_counter() - started
        with self._lock:
            self.latencies[operation].append(elapsed)

    def filed(self, filing: dict[str, Any], token: str) -> None:
        with self._lock:
            acked = Acked(token, filing["state"], filing["version"])
            # A verifier may act on the filing before its applicant hears back from the submission.
            ahead = self._ahead.pop(filing["id"], None)
            if ahead is not None:
                if ahead.version > acked.version:
                    acked.state, acked.version = ahead.state, ahead.version
                acked.pending = ahead.pending
            self.filings[filing["id"]] = acked

    def received(self, filing_id: str, document_id: str, plaintext: bytes) -> None:
        with self._lock:
            self.filings[filing_id].documents[document_id] = hashlib.sha256(plaintext).hexdigest()

    def moved(self, filing: dict[str, Any]) -> None:
        with self._lock:
            acked = self._entry(filing["id"])
            if filing["version"] > acked.version:
                acked.state, acked.version, acked.pending = filing["state"], filing["version"], ""

    def sent(self, filing_id: str, target: str) -> None:
        with self._lock:
            self._entry(filing_id).pending = target

    def _entry(self, filing_id: str) -> Acked:
        """The filing's entry, or the one kept for it until its applicant hears back."""
        if filing_id in self.filings:
            return self.filings[filing_id]
        return self._ahead.setdefault(filing_id, Acked("", "", 0))

    def conflict(self) -> None:
        with self._lock:
            self.conflicts += 1

    def failed(self, problem: str) -> None:
        with self._lock:
            self.problems.append(problem)

    @property
    def requests(self) -> int:
        return sum(len(values) for values in self.latencies.values())


TARGETS = {"pre_verify_pass": "pre_verified", "pre_verify_return": "returned_to_applicant"}
# The signature of a PDF, then noise: content that passes the client's type check.
PDF_HEAD = b"%PDF-1.4\n"


class Clients:
    """The client threads. Each stops at ``stop`` or at its first connection error (a dead server)."""

    def __init__(self, url: str, ledger: Ledger, staff: Callable[[str], BeianClient], seed: int,
                 document_bytes: int = 20_000) -> None:
        self.url, self.ledger, self.staff = url, ledger, staff
        self.seed, self.document_bytes = seed, document_bytes
        self.stop = threading.Event()
        self.applicants_done = threading.Event()
        self.work = Path(tempfile.mkdtemp(prefix="beian-load-"))

    def applicant(self, number: int, filings: int) -> None:
        rng = random.Random(self.seed * 1000 + number)
        anonymous = BeianClient(self.url)
        for index in range(filings):
            if self.stop.is_set():
                return
            with self.ledger.timed("submit"):
                filing, token = anonymous.submit(filing_payload(rng, "enterprise"))
            self.ledger.filed(filing, token)
            plaintext = PDF_HEAD + rng.randbytes(self.document_bytes - len(PDF_HEAD))
            source = self.work / f"{number}-{index}.pdf"
            source.write_bytes(plaintext)
            with self.ledger.timed("upload (encrypt, slot, post, complete)"):
                document = BeianClient(self.url, token).upload(filing["id"], "business_licence", source)
            source.unlink()
            if document["state"] != "received":
                self.ledger.failed(f"{filing['id']}: upload answered {document['state']}")
            self.ledger.received(filing["id"], document["id"], plaintext)

    def verifier(self, number: int) -> None:
        rng = random.Random(self.seed * 1000 + 500 + number)
        client = self.staff("verifier")
        while not self.stop.is_set():
            with self.ledger.timed("work queue"):
                queue = client.call("GET", "/filings?state=submitted")["filings"]
            if not queue and self.applicants_done.is_set():
                return
            rng.shuffle(queue)
            for filing in queue[:5]:
                action, params = (("pre_verify_pass", {"contact_verified_by": "phone"}) if rng.random() < 0.8
                                  else ("pre_verify_return", {"reasons": ["联系电话无法接通"]}))
                self.ledger.sent(filing["id"], TARGETS[action])
                try:
                    with self.ledger.timed("transition"):
                        self.ledger.moved(client.act(filing["id"], action, params, expected_version=filing["version"]))
                except ApiError as error:
                    if error.status != 409:
                        raise
                    self.ledger.conflict()  # another verifier took it first: expected
            if not queue:
                time.sleep(0.05)

    def run(self, applicants: int, filings: int, verifiers: int, seconds: float,
            extra: tuple[Callable[[], None], ...] = ()) -> float:
        """Run the clients (and ``extra`` threads) until done or ``seconds``; returns the wall time."""
        started = time.perf_counter()
        workers = [self._thread(functools.partial(self.applicant, n, filings)) for n in range(applicants)]
        helpers = [self._thread(functools.partial(self.verifier, n)) for n in range(verifiers)]
        helpers += [self._thread(action) for action in extra]
        deadline = time.monotonic() + seconds
        for worker in workers:
            worker.join(max(0.0, deadline - time.monotonic()))
        self.applicants_done.set()
        for helper in helpers:
            helper.join(max(0.0, deadline - time.monotonic()))
        self.stop.set()
        for thread in workers + helpers:
            thread.join(30)
        return time.perf_counter() - started

    def _thread(self, action: Callable[[], None]) -> threading.Thread:
        def guarded() -> None:
            try:
                action()
            except requests.ConnectionError:
                self.stop.set()  # the server is gone: what was acknowledged is in the ledger
            except ApiError as error:
                self.ledger.failed(f"unexpected {error.status}: {error.message}")
                self.stop.set()

        thread = threading.Thread(target=guarded, daemon=True)
        thread.start()
        return thread


def listed(server: ServerProcess) -> list[dict[str, Any]]:
    """Every filing of the provider, through the archive search (paged, audited)."""
    officer, found, cursor = server.staff("compliance_officer"), [], ""
    provider = Settings.from_env(server.env).provider
    while True:
        page = officer.call("GET", f"/archive/search?provider={provider}&purpose=internal_audit&reference=load-check"
                                   f"&cursor={cursor}")
        found += page["filings"]
        if not page["cursor"]:
            return found
        cursor = page["cursor"]


def check(server: ServerProcess, ledger: Ledger, *, settled: bool) -> tuple[int, list[str]]:
    """Every acknowledged filing and document, read back through the API: there exactly once, in
    the state its client was told (or, for a step whose reply never came, the state it asked for).
    ``settled``: nothing was in flight, so nothing may be pending and nothing unacknowledged may
    exist. Returns (records read back, problems)."""
    verifier = server.staff("verifier")
    problems = list(ledger.problems)
    ids = [filing["id"] for filing in listed(server)]
    problems += [f"{filing_id} is stored {ids.count(filing_id)} times" for filing_id in sorted(set(ids))
                 if ids.count(filing_id) > 1]
    if settled and set(ids) != set(ledger.filings):
        problems.append(f"{len(set(ids) - set(ledger.filings))} filings nobody was told of, "
                        f"{len(set(ledger.filings) - set(ids))} acknowledged ones missing")
    checked = 0
    for filing_id, acked in ledger.filings.items():
        filing = BeianClient(server.url, acked.token).call("GET", f"/filings/{filing_id}")
        allowed = {acked.state} | ({acked.pending} if acked.pending and not settled else set())
        if filing["state"] not in allowed or filing["version"] < acked.version:
            problems.append(f"{filing_id}: {filing['state']} v{filing['version']}, told {acked.state} "
                            f"v{acked.version} (pending {acked.pending or 'nothing'})")
        documents = {document["id"]: document["state"] for document in
                     verifier.call("GET", f"/filings/{filing_id}/documents")["documents"]}
        problems += [f"{filing_id}/{document_id}: acknowledged as received, now {documents.get(document_id)}"
                     for document_id in acked.documents if documents.get(document_id) != "received"]
        if settled and len(documents) != len(acked.documents):
            problems.append(f"{filing_id}: {len(documents)} documents, {len(acked.documents)} acknowledged")
        checked += 1 + len(acked.documents)
    return checked, problems


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def render(args: argparse.Namespace, ledger: Ledger, seconds: float, checked: int, problems: list[str]) -> str:
    rows = [f"| {operation} | {len(values):,} | {len(values) / seconds:,.1f} | "
            f"{statistics.median(values) * 1000:,.0f} | {percentile(values, 0.99) * 1000:,.0f} |"
            for operation, values in sorted(ledger.latencies.items())]
    cpu = os.cpu_count()
    return "\n".join([
        SECTION, "",
        f"Command: `.venv/bin/python benchmarks/load_bench.py --applicants {args.applicants} "
        f"--verifiers {args.verifiers} --filings {args.filings} --write` ({cpu} CPUs, loopback; the "
        "embedded server in its own process, 8 waitress threads, SQLite in WAL mode; the clients "
        "encrypt 20 kB documents before upload, as the CLI does; rate limits raised for the run).", "",
        f"{ledger.requests:,} operations in {seconds:.1f} s; {len(ledger.filings):,} filings and "
        f"{sum(len(a.documents) for a in ledger.filings.values()):,} documents acknowledged, "
        f"{checked:,} records read back: {len(problems)} lost or duplicated. "
        f"{ledger.conflicts} transitions lost a race to another verifier (409, as designed).", "",
        "| operation | count | per second | p50 ms | p99 ms |", "|---|---:|---:|---:|---:|", *rows, "",
    ])


def main() -> None:
    from benchmarks.results import write_section

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--applicants", type=int, default=16)
    parser.add_argument("--verifiers", type=int, default=4)
    parser.add_argument("--filings", type=int, default=10, help="filings per applicant")
    parser.add_argument("--seconds", type=float, default=600, help="stop the clients after this long")
    parser.add_argument("--write", action="store_true", help="write the section into benchmarks/RESULTS.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work, served(Path(work, "var"), UNTHROTTLED) as server:
        ledger = Ledger()
        clients = Clients(server.url, ledger, server.staff, seed=2010)
        seconds = clients.run(args.applicants, args.filings, args.verifiers, args.seconds)
        checked, problems = check(server, ledger, settled=True)
    section = render(args, ledger, seconds, checked, problems)
    print(section)
    print("\n".join(problems[:20]))
    if args.write:
        write_section(section)


if __name__ == "__main__":
    sys.path[:0] = [str(ROOT), str(ROOT / "api")]
    main()
