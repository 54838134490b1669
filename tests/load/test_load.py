"""Many applicants uploading and verifiers transitioning at once, against `beian serve` in its
own process: no acknowledged record lost, none duplicated (the bounded version of
benchmarks/load_bench.py; `make stress` runs a larger one)."""

from __future__ import annotations

import random
import threading
from pathlib import Path

from beian.client import ApiError, BeianClient
from beian.synthetic import filing_payload
from benchmarks.load_bench import UNTHROTTLED, Clients, Ledger, check, served
from benchmarks.stress_figures import record, scaled


def test_concurrent_clients_lose_and_duplicate_nothing(tmp_path: Path) -> None:
    applicants, filings = scaled(8, 24), scaled(5, 10)
    with served(tmp_path / "var", UNTHROTTLED) as server:
        ledger = Ledger()
        clients = Clients(server.url, ledger, server.staff, seed=8, document_bytes=5000)
        clients.run(applicants, filings, verifiers=scaled(2, 6), seconds=scaled(120, 600))
        checked, problems = check(server, ledger, settled=True)
    record("load_requests", ledger.requests, len(problems))
    assert problems == []
    assert len(ledger.filings) == applicants * filings
    assert {acked.state for acked in ledger.filings.values()} <= {"pre_verified", "returned_to_applicant"}
    assert checked == 2 * applicants * filings


def test_concurrent_requests_never_run_as_another_caller(tmp_path: Path) -> None:
    """Applicants ask for someone else's filing (always 404) while staff, in scope of it, read
    it: a reply of 200 to an applicant would be a request run with a staff member's identity."""
    rng = random.Random(9)
    with served(tmp_path / "var", UNTHROTTLED) as server:
        anonymous = BeianClient(server.url)
        (own, token), (other, _) = (anonymous.submit(filing_payload(rng, "enterprise")) for _ in range(2))
        applicant, verifier = BeianClient(server.url, token), server.staff("verifier")
        replies: list[str] = []

        def ask(client: BeianClient, filing_id: str, expected: int) -> None:
            for _ in range(scaled(40, 400)):
                try:
                    client.call("GET", f"/filings/{filing_id}")
                    status = 200
                except ApiError as error:
                    status = error.status
                if status != expected:
                    replies.append(f"{filing_id}: {status}, expected {expected}")

        threads = [threading.Thread(target=ask, args=(applicant, other["id"], 404)) for _ in range(4)]
        threads += [threading.Thread(target=ask, args=(verifier, own["id"], 200)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
    record("load_requests", 8 * scaled(40, 400), len(replies))
    assert replies == []
