"""Helpers shared by the fault, fuzz and load tests: encrypt as a client does, and drive the
domain services directly (as the API would) when a test breaks the storage underneath them."""

from __future__ import annotations

import base64
import io
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.auth import Principal
from chalicelib.filetypes import sniff
from chalicelib.services import Services

import crypto
from beian.client import BeianClient
from beian.synthetic import filing_payload


def standing(moment: datetime) -> Callable[[], datetime]:
    """A clock that stands still at ``moment``."""
    return lambda: moment


def pdf(rng: random.Random, size: int) -> bytes:
    """Synthetic document content that passes the type check (a PDF signature, then noise)."""
    head = b"%PDF-1.4\n"
    return head + rng.randbytes(max(0, size - len(head)))


def seal(envelope: Mapping[str, Any], plaintext: bytes) -> bytes:
    """``plaintext`` encrypted as a client encrypts it for an upload slot's ``envelope``."""
    sealed = io.BytesIO()
    recipients = [crypto.PublicKey.load(base64.b64decode(info["spki"])) for info in envelope["recipients"]]
    crypto.encrypt_stream(io.BytesIO(plaintext), sealed, recipients=recipients,
                          context=crypto.Context(**envelope["context"]))
    return sealed.getvalue()


def post_sealed(base_url: str, slot: Mapping[str, Any], plaintext: bytes) -> None:
    """Encrypt and upload to the slot (the embedded server's /blobs/upload, or S3)."""
    data = seal(slot["envelope"], plaintext)
    BeianClient(base_url).post_to_slot(slot["upload"], io.BytesIO(data), len(data))


@dataclass
class Desk:
    """An applicant's steps taken through the domain services, uploads through ``base_url``."""

    services: Services
    base_url: str
    rng: random.Random

    def filing(self) -> str:
        filing, _token = self.services.filings.submit(filing_payload(self.rng, "enterprise"))
        return str(filing["id"])

    @staticmethod
    def applicant(filing_id: str) -> Principal:
        return Principal(f"applicant:{filing_id}", "applicant", filing=filing_id)

    def staged(self, filing_id: str, plaintext: bytes, document_type: str = "business_licence") -> str:
        """A document uploaded but not yet completed; returns its id."""
        slot = self.services.documents.request_upload(
            self.applicant(filing_id), filing_id,
            {"document_type": document_type, "size": len(plaintext), "media_type": sniff(plaintext)})
        post_sealed(self.base_url, slot, plaintext)
        return str(slot["document"]["id"])

    def complete(self, filing_id: str, document_id: str) -> dict[str, Any]:
        return self.services.documents.complete_upload(self.applicant(filing_id), filing_id, document_id)

    def received(self, filing_id: str, plaintext: bytes, document_type: str = "business_licence") -> str:
        document_id = self.staged(filing_id, plaintext, document_type)
        self.complete(filing_id, document_id)
        return document_id

    def identity_copies(self, filing_id: str) -> None:
        """A scan of each identity document the filing names (the on-site copies check)."""
        payload = self.services.filings.load(filing_id).body["payload"]
        for holder in ("subject", "responsible_person"):
            self.received(filing_id, pdf(self.rng, 2000), str(payload[holder]["id_type"]))
