"""A deleted archive secret is never quietly replaced: once records depend on it, the vault
refuses to create a new one (both backends), and creates one only while nothing does."""

from __future__ import annotations

import random

import pytest
import requests
from chalicelib.auth import Principal
from chalicelib.config import Settings
from chalicelib.keyring import ARCHIVE_KEY
from chalicelib.sensitive import FIELD_KEY
from chalicelib.services import Services, build_services
from chalicelib.vault import SEALED, SecretMissing

from beian.synthetic import filing_payload


def cold() -> Services:
    """Services as a new process would build them: nothing unsealed yet."""
    return build_services(Settings.from_env())


def delete_secret(services: Services, name: str) -> None:
    raw = services.integrity.unverified
    stored = raw.get(SEALED, name)
    assert stored is not None, name
    raw.delete(stored)


def test_a_deleted_archive_key_is_not_replaced_once_a_document_exists(
        backend_env: dict[str, str], rng: random.Random) -> None:
    services = cold()
    fingerprint = services.keys.public_key_info()["fingerprint"]
    filing, _ = services.filings.submit(filing_payload(rng, "enterprise"))
    applicant = Principal(f"applicant:{filing['id']}", "applicant", filing=filing["id"])
    services.documents.request_upload(applicant, filing["id"], {
        "document_type": "business_licence", "size": 2000, "media_type": "application/pdf"})
    delete_secret(services, ARCHIVE_KEY)

    again = cold()
    with pytest.raises(SecretMissing):
        again.keys.public_key_info()
    assert again.integrity.unverified.get(SEALED, ARCHIVE_KEY) is None  # nothing new was sealed
    # The process that had it keeps serving from memory; the fingerprint never changed.
    assert services.keys.public_key_info()["fingerprint"] == fingerprint


def test_deleted_id_field_keys_are_not_replaced_once_a_filing_exists(
        backend_env: dict[str, str], rng: random.Random) -> None:
    services = cold()
    services.filings.submit(filing_payload(rng, "enterprise"))
    delete_secret(services, FIELD_KEY)
    again = cold()
    with pytest.raises(SecretMissing):
        again.filings.submit(filing_payload(rng, "enterprise"))
    assert again.integrity.unverified.get(SEALED, FIELD_KEY) is None


def test_a_secret_nothing_depends_on_yet_is_created(backend_env: dict[str, str]) -> None:
    services = cold()
    first = services.keys.public_key_info()["fingerprint"]
    delete_secret(services, ARCHIVE_KEY)  # no document was ever encrypted to it
    assert cold().keys.public_key_info()["fingerprint"] != first


def test_the_api_says_integrity_when_the_archive_key_is_gone(live_server: str, rng: random.Random) -> None:
    from chalicelib import services as services_module

    services = services_module.current_services()
    filing, _ = services.filings.submit(filing_payload(rng, "enterprise"))
    applicant = Principal(f"applicant:{filing['id']}", "applicant", filing=filing["id"])
    services.documents.request_upload(applicant, filing["id"], {
        "document_type": "business_licence", "size": 2000, "media_type": "application/pdf"})
    delete_secret(services, ARCHIVE_KEY)
    services_module.close_services()  # a new process: nothing in memory
    reply = requests.get(f"{live_server}/api/archive-key", timeout=30)
    assert reply.status_code == 500
    assert reply.json()["code"] == "integrity" and reply.json()["record"] == f"{SEALED}:{ARCHIVE_KEY}"
