"""The figures the scale-and-cost page builds on, measured on moto: what one filing's life
and one document's disposal cost in DynamoDB request units, S3 requests and items.

Request units are computed as DynamoDB bills them (on-demand, consistent reads): a read
unit per 4 KB a GetItem returns or a Query returns in total, a write unit per 1 KB written,
and twice that inside a transaction (a delete in one is counted as one small item).
"""

from __future__ import annotations

import collections
import math
import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from chalicelib import steps
from chalicelib.adapters import aws
from chalicelib.config import Settings
from chalicelib.rules import load_rules
from chalicelib.services import build_services

from beian.client import BeianClient
from beian.synthetic import filing_payload
from tests.api.evidence import (
    on_site_params,
    on_site_photo,
    open_spot_check_documents,
    review_trail,
    upload_signed_papers,
)
from tests.deploy.support import received_long_ago

pytestmark = pytest.mark.parametrize("backend_env", ["aws"], indirect=True)
# The page's figures for this walk (two uploads, the face photo and the form: four
# documents; one status view; one retrieval; the review, with the spot-check's openings; a
# follow-up).
FILING_WRITE_UNITS = 300
FILING_READ_UNITS = 250
AUDIT_ENTRIES = 25
LARGEST_ITEM = 8 * 1024
DISPOSAL_WRITE_UNITS = 6
DISPOSAL_READ_UNITS = 8


def item_size(item: dict[str, Any]) -> int:
    """An item's size as DynamoDB counts it: attribute names plus values."""
    size = 0
    for name, value in item.items():
        ((kind, content),) = value.items()
        size += len(name.encode()) + (len(content.encode()) if kind == "S" else len(str(content)))
    return size


class Meter:
    """Request units and calls, counted from what boto3 sends and receives."""

    def __init__(self) -> None:
        self.counts: collections.Counter[str] = collections.Counter()

    def sent(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        operation = f"{model.service_model.service_name}:{model.name}"
        self.counts[operation] += 1
        if operation == "dynamodb:PutItem":
            self.counts["write_units"] += math.ceil(item_size(params["Item"]) / 1024)
        elif operation == "dynamodb:TransactWriteItems":
            self.counts["write_units"] += sum(
                2 * (math.ceil(item_size(change["Put"]["Item"]) / 1024) if "Put" in change else 1)
                for change in params["TransactItems"])

    def received(self, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name in ("GetItem", "Query"):
            items = parsed.get("Items", [parsed.get("Item", {})])
            self.counts["read_units"] += max(1, math.ceil(sum(map(item_size, items)) / 4096))
        elif model.name == "BatchGetItem":
            self.counts["read_units"] += sum(max(1, math.ceil(item_size(item) / 4096))
                                             for items in parsed["Responses"].values() for item in items)


@pytest.fixture
def meter(backend_env: dict[str, str]) -> Iterator[Meter]:
    meter = Meter()
    events = aws._session().events
    events.register("provide-client-params.*.*", meter.sent)
    events.register("after-call.dynamodb.*", meter.received)
    try:
        yield meter
    finally:
        events.unregister("provide-client-params.*.*", meter.sent)
        events.unregister("after-call.dynamodb.*", meter.received)


def test_a_filing_s_life_costs_what_the_scale_page_says(
        meter: Meter, anonymous: BeianClient, staff: Callable[..., BeianClient], live_server: str,
        rng: random.Random, tmp_path: Path) -> None:
    settings = Settings.from_env()
    verifier, reviewer = staff("verifier"), staff("reviewer")
    build_services(settings).initialise()  # the archive exists before anyone files
    table = boto3.client("dynamodb", region_name=settings.region)
    before = {(item["pk"]["S"], item["sk"]["S"]) for item in table.scan(TableName=settings.table)["Items"]}
    meter.counts.clear()

    filing, token = anonymous.submit(filing_payload(rng, "enterprise"))
    applicant = BeianClient(live_server, token)
    documents = []
    for kind in ("business_licence", "resident_id_card"):
        scan = tmp_path / f"{kind}.pdf"
        scan.write_bytes(b"%PDF-1.7\n" + rng.randbytes(300_000))
        documents.append(applicant.upload(filing["id"], kind, scan))
    applicant.call("GET", f"/filings/{filing['id']}")
    filing = verifier.act(filing["id"], "pre_verify_pass", {"contact_verified_by": "phone"})
    photo, info = on_site_photo(tmp_path)
    uploaded = verifier.upload(filing["id"], "face_photo", photo, extra={"photo": info})
    filing = verifier.act(filing["id"], "record_on_site", on_site_params(filing, uploaded["id"]))
    verifier.retrieve(filing["id"], documents[0]["id"], "verification", "核对营业执照", tmp_path / "copy")
    upload_signed_papers(verifier, filing["id"], tmp_path)
    filing = verifier.act(filing["id"], "submit_to_province")
    trail = review_trail(reviewer, filing, tmp_path)
    if not steps.spot_check_due(filing["id"], load_rules().review.spot_check.rate):
        open_spot_check_documents(reviewer, filing, tmp_path)  # the costlier case, every run
    reviewer.act(filing["id"], "approve", trail)
    verifier.call("POST", f"/filings/{filing['id']}/follow-ups", {"outcome": "confirmed"})

    counts = dict(meter.counts)
    assert counts["write_units"] <= FILING_WRITE_UNITS, sorted(counts.items())
    assert counts["read_units"] <= FILING_READ_UNITS, sorted(counts.items())
    assert not any(operation.endswith(":Scan") for operation in counts)  # no Scan in any request
    new = [item for item in table.scan(TableName=settings.table)["Items"]
           if (item["pk"]["S"], item["sk"]["S"]) not in before]
    assert max(map(item_size, new)) <= LARGEST_ITEM
    assert sum(item["pk"]["S"] == "audit" for item in new) <= AUDIT_ENTRIES


def test_disposing_of_a_document_costs_what_the_scale_page_says(
        meter: Meter, live_server: str, rng: random.Random) -> None:
    lock_seconds = 3
    received_long_ago(rng, live_server, lock_seconds)
    time.sleep(lock_seconds + 1)
    sweep = build_services(Settings.from_env())
    sweep.audit.public_key_pem()  # the signing key is loaded once per container, not per document
    meter.counts.clear()
    assert len(sweep.archive.sweep().disposed) == 1
    assert meter.counts["write_units"] <= DISPOSAL_WRITE_UNITS, meter.counts
    assert meter.counts["read_units"] <= DISPOSAL_READ_UNITS, meter.counts
