"""Envelope encryption for beian documents (format ``beian-envelope`` version 1).

A small, hard-to-misuse layer in the style of pyca/cryptography's recipes:
every document gets a random 256-bit file key, its body is AES-256-GCM in
64 KiB chunks with STREAM nonces, and the file key is wrapped for each
recipient (RSA-OAEP-3072-SHA-256 or a caller-supplied :class:`KeyWrapper`).
The byte format is specified in ``site/developers/envelope-format.en.md``.

Errors: :class:`DecryptionError` for every authentication failure (one
message), :class:`MalformedHeader`, :class:`UnsupportedVersion` and
:class:`NoMatchingRecipient` for the cases a caller must tell apart; all
derive from :class:`CryptoError`.
"""

from crypto.envelope import (
    ProgressCallback,
    decrypt_file,
    decrypt_stream,
    encrypt_file,
    encrypt_stream,
    rewrap_file,
    rewrap_stream,
    unwrap_file_key,
    unwrap_released_file_key,
    wrap_file_key_for,
)
from crypto.errors import (
    CryptoError,
    DecryptionError,
    MalformedHeader,
    NoMatchingRecipient,
    UnsupportedVersion,
)
from crypto.format import Context, Header, RecipientEntry, RecipientKind, read_header
from crypto.keys import FileKey, Identity, KeyRing, KeyWrapper, PrivateKey, PublicKey, Recipient

__all__ = [
    "Context",
    "CryptoError",
    "DecryptionError",
    "FileKey",
    "Header",
    "Identity",
    "KeyRing",
    "KeyWrapper",
    "MalformedHeader",
    "NoMatchingRecipient",
    "PrivateKey",
    "ProgressCallback",
    "PublicKey",
    "Recipient",
    "RecipientEntry",
    "RecipientKind",
    "UnsupportedVersion",
    "decrypt_file",
    "decrypt_stream",
    "encrypt_file",
    "encrypt_stream",
    "read_header",
    "rewrap_file",
    "rewrap_stream",
    "unwrap_file_key",
    "unwrap_released_file_key",
    "wrap_file_key_for",
]
