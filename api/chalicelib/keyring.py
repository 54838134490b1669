"""The archive's envelope keys: what uploads are encrypted to, and what releases unwrap.

The RSA-3072 private key exists only sealed by key custody (a local master key, or
KMS on AWS) and in the memory of the process that releases a key. Documents the system
makes itself are also sealed for key custody directly (a kind 0x02 recipient: KMS on
AWS), so releasing them needs one KMS Decrypt, bound to that document, and no RSA key.
"""

from __future__ import annotations

import base64
import binascii
import io
import threading
from collections.abc import Mapping
from typing import Any

import crypto
from crypto.format import DEFAULT_CHUNK_SIZE, TAG_SIZE

from .errors import Invalid
from .ports import KeyCustody, StorageError
from .vault import Vault

ARCHIVE_KEY = "archive-key-v1"
ENVELOPE_PURPOSE = "beian-envelope"
# The record kind whose envelopes are encrypted to the archive key (documents.DOCUMENT, which
# imports this module): while one exists, a lost archive key is never replaced by a new one.
ENCRYPTS = "document"
# A header is at most about 75 KB (16 recipients, 1 KiB context fields): read this much.
HEADER_READ_BYTES = 80 * 1024
TRAILER_ALLOWANCE = 256


def ciphertext_bound(plaintext_size: int) -> int:
    """The largest envelope a plaintext of this size can produce: the upload slot's cap."""
    chunks = plaintext_size // DEFAULT_CHUNK_SIZE + 2
    return plaintext_size + HEADER_READ_BYTES + chunks * TAG_SIZE + TRAILER_ALLOWANCE


class EnvelopeRejected(Exception):
    def __init__(self, message_zh: str, message_en: str) -> None:
        super().__init__(message_en)
        self.message_zh = message_zh
        self.message_en = message_en


class CustodyRecipient:
    """Key custody as an envelope recipient (kind 0x02, a :class:`crypto.KeyWrapper`).

    The file key is sealed for the purpose ``beian-envelope:<hex of the preamble digest>``:
    on AWS that is KMS Encrypt with the encryption context {"purpose": ...}, so KMS opens
    it for that one document only, and CloudTrail names the document each Decrypt was for.
    """

    def __init__(self, custody: KeyCustody) -> None:
        self._custody = custody
        self.key_id = custody.key_id

    @staticmethod
    def purpose(aad: bytes) -> str:
        return f"{ENVELOPE_PURPOSE}:{aad.hex()}"

    def wrap(self, file_key: bytes, aad: bytes) -> bytes:
        return self._custody.seal(file_key, self.purpose(aad))

    def unwrap(self, wrapped: bytes, aad: bytes) -> bytes:
        try:
            return self._custody.unseal(wrapped, self.purpose(aad))
        except StorageError:  # foreign, altered, or for another document
            raise crypto.DecryptionError() from None


class ArchiveKeys:
    def __init__(self, vault: Vault, custody: KeyCustody) -> None:
        self._vault = vault
        self._custody = CustodyRecipient(custody)
        self._key: crypto.PrivateKey | None = None
        self._lock = threading.Lock()

    def _private(self) -> crypto.PrivateKey:
        # Parsing and checking an RSA-3072 key costs 0.1-0.4 s of CPU: once per process, like
        # the vault's own cache of the PEM it comes from.
        with self._lock:
            if self._key is None:
                pem = self._vault.secret(ARCHIVE_KEY, lambda: crypto.PrivateKey.generate().dump_pem(None),
                                         used_by=(ENCRYPTS,))
                self._key = crypto.PrivateKey.load(pem, None)
            return self._key

    def public_key(self) -> crypto.PublicKey:
        return self._private().public_key

    def system_recipients(self) -> list[crypto.Recipient]:
        """Whom documents the system makes are sealed for: key custody, and the archive key."""
        return [self._custody, self.public_key()]

    def public_key_info(self) -> dict[str, Any]:
        public = self.public_key()
        return {
            "key_id": public.key_id,
            "fingerprint": public.fingerprint,
            "algorithm": "RSA-OAEP-3072-SHA-256",
            "public_key_pem": public.dump_pem().decode(),
            "spki": base64.b64encode(public.spki).decode(),
            "chunk_size": DEFAULT_CHUNK_SIZE,
            "format": "beian-envelope v2",
        }

    def check_upload(self, head: bytes, size: int, context: Mapping[str, str],
                     declared_size: int) -> dict[str, Any]:
        """Check an uploaded envelope by its header alone (the server never decrypts)."""
        try:
            header = crypto.read_header(io.BytesIO(head))
        except crypto.UnsupportedVersion as error:
            raise EnvelopeRejected("加密格式版本不受支持", "unsupported envelope version") from error
        except crypto.CryptoError as error:
            raise EnvelopeRejected("文件头无法解析", "the envelope header does not parse") from error
        if header.context != crypto.Context(**context):
            raise EnvelopeRejected("文件加密时绑定的备案或材料信息不符",
                                   "it was encrypted for another filing or document")
        if self._private().key_id not in {entry.key_id for entry in header.recipients}:
            raise EnvelopeRejected("文件未加密给本单位档案密钥",
                                   "the archive key is not among its recipients")
        if header.chunk_size != DEFAULT_CHUNK_SIZE:
            raise EnvelopeRejected("分块大小不符合要求", "the chunk size must be 64 KiB")
        if not header.length < size <= ciphertext_bound(declared_size):
            raise EnvelopeRejected("文件大小与申报不符", "its size does not match the declared size")
        return {"version": header.version, "chunk_size": header.chunk_size,
                "header_bytes": header.length,
                "recipients": [entry.key_id for entry in header.recipients]}

    def release(self, head: bytes, requester: crypto.PublicKey) -> str:
        """The document's file key wrapped to the requester's RSA-3072 public key (base64)."""
        header = crypto.read_header(io.BytesIO(head))
        sealed_for_custody = any(entry.kind is crypto.RecipientKind.KEY_WRAPPER and entry.key_id == self._custody.key_id
                                 for entry in header.recipients)
        identity: crypto.Identity = self._custody if sealed_for_custody else self._private()
        file_key = crypto.unwrap_file_key(header, identity, context=header.context)
        return base64.b64encode(crypto.wrap_file_key_for(requester, file_key)).decode()


def requester_key(text: object) -> crypto.PublicKey:
    """The caller's RSA-3072 public key: PEM, or base64 SPKI DER as WebCrypto exports it."""
    try:
        if not isinstance(text, str):
            raise ValueError("not text")
        data = text.encode() if "-----BEGIN" in text else base64.b64decode(text, validate=True)
        return crypto.PublicKey.load(data)
    except (ValueError, binascii.Error, crypto.CryptoError) as error:
        raise Invalid("接收方公钥须为 RSA-3072 公钥（PEM 或 SPKI base64）",
                      "public_key must be an RSA-3072 public key (PEM or base64 SPKI)",
                      field="public_key") from error
