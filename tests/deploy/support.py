"""Helpers the deployment tests share."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from chalicelib.auth import Principal
from chalicelib.config import Settings
from chalicelib.documents import retain_until
from chalicelib.services import build_services

from beian.synthetic import filing_payload
from tests.faults.support import post_sealed


def received_long_ago(rng: random.Random, live_server: str, lock_seconds: int) -> None:
    """A document whose retention ends ``lock_seconds`` from now: the clock is moved, not S3's."""
    start = datetime.now(UTC)
    lead = start + timedelta(seconds=lock_seconds) - retain_until(start)
    past = build_services(Settings.from_env(), clock=lambda: datetime.now(UTC) + lead)
    filing, _ = past.filings.submit(filing_payload(rng, "enterprise"))
    applicant = Principal(f"applicant:{filing['id']}", "applicant", filing=filing["id"])
    slot = past.documents.request_upload(applicant, filing["id"], {
        "document_type": "business_licence", "size": 2000, "media_type": "application/pdf"})
    post_sealed(live_server, slot, b"%PDF-" + rng.randbytes(1995))
    past.documents.complete_upload(applicant, filing["id"], slot["document"]["id"])
