"""An Idempotency-Key cannot hijack a filing: it is bound to the caller and to a digest of
the body, a reuse with another body is a 409 that shows nothing of the first filing and
issues no token, and keys expire."""

from __future__ import annotations

import random
import time
import uuid

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from beian.synthetic import SUBJECT_TYPES, filing_payload
from benchmarks.stress_figures import record

pytestmark = pytest.mark.parametrize("backend_env", ["embedded"], indirect=True)


def submit(url: str, body: dict[str, object], key: str) -> requests.Response:
    return requests.post(f"{url}/api/filings", json=body, headers={"Idempotency-Key": key}, timeout=10)


def opens(url: str, filing_id: str, token: str) -> bool:
    reply = requests.get(f"{url}/api/filings/{filing_id}", headers={"Authorization": f"Bearer {token}"},
                         timeout=10)
    return reply.status_code == 200


@given(first_seed=st.integers(0, 10_000), second_seed=st.integers(0, 10_000),
       kinds=st.tuples(st.sampled_from(SUBJECT_TYPES), st.sampled_from(SUBJECT_TYPES)))
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
def test_a_key_reused_with_another_body_reveals_nothing_and_issues_no_token(
        live_server: str, first_seed: int, second_seed: int, kinds: tuple[str, str]) -> None:
    owner_body = filing_payload(random.Random(first_seed), kinds[0])
    # One website, one live filing: each example files a website of its own (seeds repeat).
    owner_body["website"]["domains"] = [f"idem-{uuid.uuid4().hex[:12]}.cn"]
    other_body = filing_payload(random.Random(second_seed + 20_000), kinds[1])
    key = f"key-{uuid.uuid4()}"
    created = submit(live_server, owner_body, key)
    assert created.status_code == 201, created.text
    filing_id, owner_token = created.json()["filing"]["id"], created.json()["token"]

    hijack = submit(live_server, other_body, key)
    assert hijack.status_code == 409, hijack.text
    assert hijack.json()["field"] == "Idempotency-Key" and "token" not in hijack.json()
    assert filing_id not in hijack.text
    assert opens(live_server, filing_id, owner_token), "the owner's token must keep working"

    retry = submit(live_server, owner_body, key)  # the owner's own retry still gets its filing back
    assert retry.status_code == 201 and retry.json()["filing"]["id"] == filing_id
    record("idempotency_reuses", 1, 0)


def test_keys_expire(monkeypatch: pytest.MonkeyPatch, backend_env: dict[str, str], live_server: str) -> None:
    monkeypatch.setenv("BEIAN_IDEMPOTENCY_SECONDS", "1")
    body = filing_payload(random.Random(7), "individual")
    key = f"key-{uuid.uuid4()}"
    first = submit(live_server, body, key).json()["filing"]["id"]
    assert submit(live_server, body, key).json()["filing"]["id"] == first
    time.sleep(1.5)
    # The key has expired: it no longer answers with the first filing. The same website is
    # still live in that filing, so the same body is refused (no token); another body is a
    # new filing under the freed key.
    again = submit(live_server, body, key)
    assert again.status_code == 409 and again.json()["field"] == "website.domains[0]", again.text
    assert "token" not in again.json() and first not in again.text
    other = filing_payload(random.Random(8), "individual")
    renewed = submit(live_server, other, key)
    assert renewed.status_code == 201, renewed.text
    assert renewed.json()["filing"]["id"] != first
    record("idempotency_reuses", 1, 0)
