"""Byte layout of the envelope header (format versions 1 and 2) and its bounded parser.

Everything here works without any key: the server uses :func:`read_header` to
check an upload. The layout is specified in site/developers/envelope-format.en.md.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import IntEnum
from functools import cached_property
from typing import Protocol

from cryptography.hazmat.primitives import hashes

from crypto.errors import MalformedHeader, UnsupportedVersion


def sha256(data: bytes) -> bytes:
    """SHA-256 from cryptography's OpenSSL: crypto/ never imports hashlib, which would load a
    second copy of OpenSSL (about 4 MiB of memory) for the same function."""
    digest = hashes.Hash(hashes.SHA256())
    digest.update(data)
    return digest.finalize()

MAGIC = b"BEIANENV"
VERSION = 2  # what encryptors write
LEGACY_VERSION = 1  # read only: the archive holds documents written before version 2
SUPPORTED_VERSIONS = (LEGACY_VERSION, VERSION)
DEFAULT_CHUNK_SIZE = 64 * 1024
MIN_CHUNK_SIZE = 64
MAX_CHUNK_SIZE = 1024 * 1024
NONCE_PREFIX_SIZE = 7
FILE_KEY_SIZE = 32
COMMITMENT_SIZE = 32
TAG_SIZE = 16
MAX_CONTEXT_FIELD = 1024
MAX_RECIPIENTS = 16
MAX_KEY_ID = 255
MAX_WRAPPED_KEY = 4096
RSA_WRAPPED_KEY_SIZE = 384

# Unchanged in version 2: the version byte is in the preamble, so the derived keys differ anyway.
BODY_KEY_INFO = b"beian-envelope/v1 body key"
COMMITMENT_INFO = b"beian-envelope/v1 commitment"

_FIXED = struct.Struct(">8sBI7s")  # magic, version, chunk size, nonce prefix
_U8 = struct.Struct(">B")
_U16 = struct.Struct(">H")


class ByteSource(Protocol):
    def read(self, size: int, /) -> bytes: ...


class RecipientKind(IntEnum):
    """How a recipient entry wraps the file key."""

    RSA_OAEP_3072_SHA256 = 1
    KEY_WRAPPER = 2


@dataclass(frozen=True)
class Context:
    """Where a document belongs; bound to its ciphertext as associated data.

    The decryptor passes the context it *expects*; any difference from the one
    the document was encrypted under is an authentication failure.
    """

    provider: str
    filing: str
    document_id: str
    document_type: str

    def __post_init__(self) -> None:
        for name, value in self._fields():
            if not isinstance(value, str):
                raise TypeError(f"Context.{name} must be a str")
            try:
                size = len(value.encode("utf-8"))
            except UnicodeEncodeError:
                raise ValueError(f"Context.{name} is not encodable as UTF-8") from None
            if not 1 <= size <= MAX_CONTEXT_FIELD:
                raise ValueError(f"Context.{name} must be 1 to {MAX_CONTEXT_FIELD} UTF-8 bytes")

    def _fields(self) -> tuple[tuple[str, str], ...]:
        return (
            ("provider", self.provider),
            ("filing", self.filing),
            ("document_id", self.document_id),
            ("document_type", self.document_type),
        )

    def encode(self) -> bytes:
        """The context as it appears in the header: four u16-length-prefixed UTF-8 strings."""
        parts = []
        for _, value in self._fields():
            data = value.encode("utf-8")
            parts.append(_U16.pack(len(data)) + data)
        return b"".join(parts)


@dataclass(frozen=True)
class RecipientEntry:
    """One recipient of a document: who can unwrap its file key, and the wrapped key."""

    kind: RecipientKind
    key_id: str
    wrapped_key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        key_id = self.key_id
        if not 1 <= len(key_id) <= MAX_KEY_ID or not all("!" <= c <= "~" for c in key_id):
            raise ValueError(f"a key id must be 1 to {MAX_KEY_ID} printable ASCII characters")
        if not 1 <= len(self.wrapped_key) <= MAX_WRAPPED_KEY:
            raise ValueError(f"a wrapped key must be 1 to {MAX_WRAPPED_KEY} bytes")
        if self.kind is RecipientKind.RSA_OAEP_3072_SHA256 and len(self.wrapped_key) != RSA_WRAPPED_KEY_SIZE:
            raise ValueError(f"an RSA-OAEP-3072 wrapped key is {RSA_WRAPPED_KEY_SIZE} bytes")

    def encode(self) -> bytes:
        key_id = self.key_id.encode("ascii")
        return (
            _U8.pack(self.kind) + _U8.pack(len(key_id)) + key_id + _U16.pack(len(self.wrapped_key)) + self.wrapped_key
        )


@dataclass(frozen=True)
class Header:
    """A parsed envelope header; its encoding is canonical (``encode()`` gives the bytes read)."""

    version: int
    chunk_size: int
    context: Context
    recipients: tuple[RecipientEntry, ...]
    nonce_prefix: bytes = field(repr=False)
    commitment: bytes = field(repr=False)

    @property
    def length(self) -> int:
        """Size of the header in bytes; the body starts at this offset."""
        return len(self.preamble) + len(self.recipients_section) + COMMITMENT_SIZE

    @cached_property
    def preamble(self) -> bytes:
        """Magic, version, chunk size, nonce prefix and context: what rewrapping never changes."""
        return encode_preamble(self.version, self.chunk_size, self.nonce_prefix, self.context)

    @cached_property
    def recipients_section(self) -> bytes:
        return encode_recipients(self.recipients)

    @cached_property
    def preamble_digest(self) -> bytes:
        """SHA-256 of the preamble: the chunks' associated data, HKDF salt and wrap label."""
        return sha256(self.preamble)

    @cached_property
    def commitment_salt(self) -> bytes:
        """SHA-256 of every header byte before the commitment."""
        return sha256(self.preamble + self.recipients_section)

    def encode(self) -> bytes:
        return self.preamble + self.recipients_section + self.commitment


def encode_preamble(version: int, chunk_size: int, nonce_prefix: bytes, context: Context) -> bytes:
    return _FIXED.pack(MAGIC, version, chunk_size, nonce_prefix) + context.encode()


def encode_recipients(recipients: tuple[RecipientEntry, ...]) -> bytes:
    _check_recipients(recipients, ValueError)
    return _U8.pack(len(recipients)) + b"".join(entry.encode() for entry in recipients)


def _check_recipients(recipients: tuple[RecipientEntry, ...], error: type[Exception]) -> None:
    if not 1 <= len(recipients) <= MAX_RECIPIENTS:
        raise error(f"a document has 1 to {MAX_RECIPIENTS} recipients")
    if len({entry.key_id for entry in recipients}) != len(recipients):
        raise error("two recipients share a key id")


def valid_chunk_size(size: int) -> bool:
    return MIN_CHUNK_SIZE <= size <= MAX_CHUNK_SIZE and size & (size - 1) == 0


class _BoundedReader:
    """Reads exact, small, pre-checked lengths; any short read is a malformed header."""

    def __init__(self, stream: ByteSource) -> None:
        self._stream = stream

    def exact(self, size: int) -> bytes:
        parts = []
        remaining = size
        while remaining:
            data = self._stream.read(remaining)
            if not data:
                raise MalformedHeader("header is truncated")
            parts.append(data)
            remaining -= len(data)
        return b"".join(parts)

    def u8(self) -> int:
        value: int = _U8.unpack(self.exact(1))[0]
        return value

    def u16(self) -> int:
        value: int = _U16.unpack(self.exact(2))[0]
        return value

    def sized(self, limit: int, what: str) -> bytes:
        """A u16-length-prefixed field; the length is checked before anything is read."""
        size = self.u16()
        if not 1 <= size <= limit:
            raise MalformedHeader(f"{what} length {size} is outside 1..{limit}")
        return self.exact(size)


def read_header(stream: ByteSource) -> Header:
    """Parse an envelope header from ``stream``, leaving it positioned at the body.

    No key is needed. Reads at most about 75 KB whatever the input claims.
    Raises :class:`MalformedHeader` or :class:`UnsupportedVersion`.
    """
    reader = _BoundedReader(stream)
    magic = reader.exact(len(MAGIC))
    if magic != MAGIC:
        raise MalformedHeader("not a beian envelope (bad magic)")
    version = reader.u8()
    if version not in SUPPORTED_VERSIONS:
        raise UnsupportedVersion(f"envelope version {version} is not supported")
    chunk_size, nonce_prefix = struct.unpack(">I7s", reader.exact(4 + NONCE_PREFIX_SIZE))
    if not valid_chunk_size(chunk_size):
        raise MalformedHeader(f"invalid chunk size {chunk_size}")
    strings = []
    for name in ("provider", "filing", "document id", "document type"):
        try:
            strings.append(reader.sized(MAX_CONTEXT_FIELD, name).decode("utf-8"))
        except UnicodeDecodeError:
            raise MalformedHeader(f"{name} is not valid UTF-8") from None
    context = Context(*strings)
    count = reader.u8()
    if not 1 <= count <= MAX_RECIPIENTS:
        raise MalformedHeader(f"recipient count {count} is outside 1..{MAX_RECIPIENTS}")
    recipients = tuple(_read_recipient(reader) for _ in range(count))
    _check_recipients(recipients, MalformedHeader)
    commitment = reader.exact(COMMITMENT_SIZE)
    return Header(version, chunk_size, context, recipients, nonce_prefix, commitment)


def _read_recipient(reader: _BoundedReader) -> RecipientEntry:
    try:
        kind = RecipientKind(reader.u8())
    except ValueError:
        raise MalformedHeader("unknown recipient kind") from None
    key_id_size = reader.u8()
    key_id = reader.exact(key_id_size).decode("latin-1")  # validated as ASCII below
    wrapped = reader.sized(MAX_WRAPPED_KEY, "wrapped key")
    try:
        return RecipientEntry(kind, key_id, wrapped)
    except ValueError as exc:
        raise MalformedHeader(str(exc)) from None
