"""The embedded server killed (SIGKILL) at random moments during uploads, transitions and
sweeps, then restarted on the same archive: every acknowledged record is there and intact
(envelopes decrypt to what was uploaded), nothing half written is visible, the audit log
verifies, and the reconciler repairs what the crash left half done.

One client at a time, so that what a crash can do is the only thing tested (concurrency is
tests/load's). ``make test`` kills a few times, ``make stress`` hundreds.
"""

from __future__ import annotations

import hashlib
import random
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests
from chalicelib.audit import verify_export
from chalicelib.config import Settings
from chalicelib.documents import retain_until
from chalicelib.services import build_services, reconciler_for

from beian.client import ApiError, BeianClient
from beian.synthetic import filing_payload
from benchmarks.load_bench import PDF_HEAD, UNTHROTTLED, Ledger, ServerProcess, check
from benchmarks.stress_figures import record, scaled
from tests.faults.support import Desk, pdf

RUNS_PER_ARCHIVE = 20


def due_soon(server: ServerProcess, rng: random.Random, count: int) -> None:
    """Documents whose retention ends three seconds from now, received "long ago" through services
    in this process whose clock stands at each receipt: the server's sweeps take them."""
    receipt = [datetime.now(UTC)]
    desk = Desk(build_services(Settings.from_env(server.env), clock=lambda: receipt[0]), server.url, rng)
    for _ in range(count):
        due = datetime.now(UTC) + timedelta(seconds=3)
        receipt[0] = due - (retain_until(due) - due)
        desk.received(desk.filing(), pdf(rng, 2000))


class Traffic:
    """Submit, upload, pre-verify, sweep, over and over, until the server dies."""

    def __init__(self, server: ServerProcess, ledger: Ledger, rng: random.Random, work: Path) -> None:
        self.server, self.ledger, self.rng, self.work = server, ledger, rng, work
        self.disposed: set[str] = set()  # "filing/document" a sweep reply acknowledged

    def run(self) -> None:
        verifier, officer = self.server.staff("verifier"), self.server.staff("compliance_officer")
        try:
            while True:
                self.step(verifier, officer)
        except requests.ConnectionError:
            return  # killed: what was acknowledged is in the ledger
        except ApiError as error:
            self.ledger.failed(f"unexpected {error.status}: {error.message}")

    def step(self, verifier: BeianClient, officer: BeianClient) -> None:
        filing, token = BeianClient(self.server.url).submit(filing_payload(self.rng, "enterprise"))
        self.ledger.filed(filing, token)
        plaintext = PDF_HEAD + self.rng.randbytes(self.rng.randrange(1000, 200_000))
        source = self.work / "upload.pdf"
        source.write_bytes(plaintext)
        document = BeianClient(self.server.url, token).upload(filing["id"], "business_licence", source)
        self.ledger.received(filing["id"], document["id"], plaintext)
        self.ledger.sent(filing["id"], "pre_verified")
        self.ledger.moved(verifier.act(filing["id"], "pre_verify_pass", {"contact_verified_by": "phone"}))
        try:
            swept = officer.call("POST", "/archive/sweep", {"dry_run": False})
        except ApiError as error:
            if error.status != 503:  # 503: a due envelope's lock has a second to go
                raise
            return
        self.disposed |= {f"{item['filing']}/{item['document']}" for item in swept["disposed"]}


def after_restart(server: ServerProcess, ledger: Ledger, traffic: Traffic, rng: random.Random,
                  work: Path) -> tuple[int, list[str]]:
    """Check what the clients were told, reconcile, and check again; returns (records, problems)."""
    checked, problems = check(server, ledger, settled=False)
    services = server.services()
    records = services.backend.records
    for name in traffic.disposed:
        document = records.get("document", name)
        if document is None or document.body["state"] != "disposed" or services.backend.blobs.info(
                f"documents/{name}"):
            problems.append(f"{name}: a sweep acknowledged its disposal, it is not disposed")
    reconciler = reconciler_for(services)
    reconciler.run(repair=True)
    left = reconciler.run(repair=False)
    problems += [f"after repair: {finding.kind} {finding.subject} ({finding.outcome})" for finding in left.findings]
    verifier = server.staff("verifier")
    received = [(filing_id, document_id, digest) for filing_id, acked in ledger.filings.items()
                for document_id, digest in acked.documents.items() if f"{filing_id}/{document_id}" not in
                traffic.disposed]
    sampled = rng.sample(received, min(1, len(received)))  # one decrypted per run: RSA is slow here
    for filing_id, document_id, digest in sampled:
        copy = verifier.retrieve(filing_id, document_id, "verification", "崩溃后核对", work / "copy.pdf")
        if hashlib.sha256(copy.read_bytes()).hexdigest() != digest:
            problems.append(f"{filing_id}/{document_id} does not decrypt to what was uploaded")
    export = server.staff("inspector").call("GET", "/audit/export")
    if not verify_export(export["entries"], export["public_key"]).ok:
        problems.append("the audit log does not verify")
    return checked + left.filings + left.documents + len(sampled), problems


def test_a_killed_server_loses_nothing_and_shows_nothing_half_written(tmp_path: Path) -> None:
    rng = random.Random(2010)
    runs, failed, checked = scaled(3, 200), 0, 0
    problems: list[str] = []
    # A fresh archive every RUNS_PER_ARCHIVE kills: the reconciler reads the whole archive, and a
    # long run on one archive would spend its time there rather than on crashes.
    for first in range(0, runs, RUNS_PER_ARCHIVE):
        server = ServerProcess(tmp_path / f"var-{first}", UNTHROTTLED)
        server.start()
        try:
            for run in range(first, min(runs, first + RUNS_PER_ARCHIVE)):
                ledger = Ledger()
                due_soon(server, rng, 2)
                traffic = Traffic(server, ledger, random.Random(run), tmp_path)
                client = threading.Thread(target=traffic.run, daemon=True)
                client.start()
                client.join(rng.uniform(0.2, 2.5))
                server.kill()
                client.join(30)
                server.start()
                examined, found = after_restart(server, ledger, traffic, rng, tmp_path)
                checked += examined
                failed += bool(found)
                problems += [f"run {run}: {problem}" for problem in found]
        finally:
            server.stop()
    record("server_kills", runs, failed)
    record("records_checked", checked, failed)
    assert problems == []
