"""Helpers the deployment tests share."""

from __future__ import annotations

import base64
import io
import random
from datetime import UTC, datetime, timedelta

from chalicelib.auth import Principal
from chalicelib.config import Settings
from chalicelib.documents import retain_until
from chalicelib.services import build_services

import crypto
from beian.client import BeianClient
from beian.synthetic import filing_payload


def received_long_ago(rng: random.Random, live_server: str, lock_seconds: int) -> None:
    """A document whose retention ends ``lock_seconds`` from now: the clock is moved, not S3's."""
    start = datetime.now(UTC)
    lead = start + timedelta(seconds=lock_seconds) - retain_until(start)
    past = build_services(Settings.from_env(), clock=lambda: datetime.now(UTC) + lead)
    filing, _ = past.filings.submit(filing_payload(rng, "enterprise"))
    applicant = Principal(f"applicant:{filing['id']}", "applicant", filing=filing["id"])
    slot = past.documents.request_upload(applicant, filing["id"], {
        "document_type": "business_licence", "size": 2000, "media_type": "application/pdf"})
    sealed = io.BytesIO()
    crypto.encrypt_stream(io.BytesIO(b"%PDF-" + rng.randbytes(1995)), sealed,
                          recipients=[crypto.PublicKey.load(base64.b64decode(
                              slot["envelope"]["recipients"][0]["spki"]))],
                          context=crypto.Context(**slot["envelope"]["context"]))
    size = sealed.tell()
    sealed.seek(0)
    BeianClient(live_server).post_to_slot(slot["upload"], sealed, size)
    past.documents.complete_upload(applicant, filing["id"], slot["document"]["id"])
