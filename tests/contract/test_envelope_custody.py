"""Kind 0x02 for real: a document sealed for key custody (KMS on AWS, in moto) opens after a
key release, with no RSA private key involved, and for that one document only."""

from __future__ import annotations

import base64
import io
import os

import boto3
import pytest
from chalicelib.keyring import ArchiveKeys, CustodyRecipient
from chalicelib.ports import Backend
from chalicelib.vault import Vault

import crypto

CONTEXT = crypto.Context("example-isp", "京ICP备11018762号-11", "D0A1B2C3D4E5F", "verification_form")


def _seal(recipients: list[crypto.Recipient], plaintext: bytes, context: crypto.Context = CONTEXT) -> bytes:
    sealed = io.BytesIO()
    crypto.encrypt_stream(io.BytesIO(plaintext), sealed, recipients=recipients, context=context)
    return sealed.getvalue()


def _release_and_open(keys: ArchiveKeys, envelope: bytes) -> bytes:
    requester = crypto.PrivateKey.generate()  # the caller's one-off key
    wrapped = base64.b64decode(keys.release(envelope, requester.public_key))
    header = crypto.read_header(io.BytesIO(envelope))
    file_key = crypto.unwrap_released_file_key(wrapped, header=header, identity=requester, context=CONTEXT)
    out = io.BytesIO()
    crypto.decrypt_stream(io.BytesIO(envelope), out, context=CONTEXT, file_key=file_key)
    return out.getvalue()


def test_a_document_sealed_for_custody_opens_after_a_key_release(backend: Backend) -> None:
    keys = ArchiveKeys(Vault(backend.records, backend.custody), backend.custody)
    plaintext = os.urandom(200_000)
    envelope = _seal(keys.system_recipients(), plaintext)
    header = crypto.read_header(io.BytesIO(envelope))
    custody_entry = header.recipients[0]
    assert (custody_entry.kind, custody_entry.key_id) == (crypto.RecipientKind.KEY_WRAPPER, backend.custody.key_id)
    assert _release_and_open(keys, envelope) == plaintext
    # Custody alone suffices: no RSA entry at all, and the release still opens it.
    assert _release_and_open(keys, _seal([CustodyRecipient(backend.custody)], plaintext)) == plaintext


def test_the_custody_entry_opens_its_own_document_only(backend: Backend) -> None:
    recipient = CustodyRecipient(backend.custody)
    envelope = _seal([recipient], b"form")
    header = crypto.read_header(io.BytesIO(envelope))
    other = crypto.read_header(io.BytesIO(_seal([recipient], b"form", crypto.Context("p", "f", "other", "t"))))
    with pytest.raises(crypto.DecryptionError):
        recipient.unwrap(header.recipients[0].wrapped_key, other.preamble_digest)
    assert len(recipient.unwrap(header.recipients[0].wrapped_key, header.preamble_digest)) == 32


@pytest.mark.parametrize("backend_env", ["aws"], indirect=True)
def test_on_aws_the_wrapped_key_is_kms_bound_to_the_preamble_digest(backend: Backend) -> None:
    """What the spec says of kind 0x02 on AWS: KMS Decrypt with {"purpose": "beian-envelope:<hex H_P>"}."""
    envelope = _seal([CustodyRecipient(backend.custody)], b"form")
    header = crypto.read_header(io.BytesIO(envelope))
    kms = boto3.client("kms", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
    entry = header.recipients[0]
    purpose = f"beian-envelope:{header.preamble_digest.hex()}"
    opened = kms.decrypt(CiphertextBlob=entry.wrapped_key, KeyId=entry.key_id, EncryptionContext={"purpose": purpose})
    assert len(opened["Plaintext"]) == 32
    with pytest.raises(kms.exceptions.InvalidCiphertextException):
        kms.decrypt(CiphertextBlob=entry.wrapped_key, KeyId=entry.key_id, EncryptionContext={"purpose": "other"})
