"""Streaming envelope encryption, decryption and re-wrapping (format version 1).

Body: data chunks of ``chunk_size`` plaintext bytes (the last one may be
shorter, never empty), then one final chunk holding the plaintext length and
SHA-256. Each chunk is AES-256-GCM with a STREAM nonce ``prefix || counter ||
last-flag`` and the preamble digest as associated data.
"""

from __future__ import annotations

import dataclasses
import os
import struct
import tempfile
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from queue import SimpleQueue
from typing import Protocol

from cryptography.exceptions import InvalidKey, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from crypto.errors import CryptoError, DecryptionError
from crypto.format import (
    BODY_KEY_INFO,
    COMMITMENT_INFO,
    DEFAULT_CHUNK_SIZE,
    FILE_KEY_SIZE,
    NONCE_PREFIX_SIZE,
    TAG_SIZE,
    VERSION,
    ByteSource,
    Context,
    Header,
    RecipientEntry,
    read_header,
    valid_chunk_size,
)
from crypto.keys import FileKey, Identity, PrivateKey, PublicKey, Recipient, unwrap_from, wrap_for

ProgressCallback = Callable[[int], None]
"""Called after each block with the number of plaintext bytes just processed."""

_BLOCK_SIZE = 1024 * 1024  # plaintext per read/write: few syscalls, little memory
_FINAL = struct.Struct(">Q32s")  # plaintext length, SHA-256 of the plaintext
SEALED_FINAL_SIZE = _FINAL.size + TAG_SIZE
_MAX_COUNTER = 2**32 - 1


class Source(ByteSource, Protocol):
    def readinto(self, buffer: memoryview, /) -> int | None: ...


class Sink(Protocol):
    def write(self, data: memoryview | bytes, /) -> int | None: ...


def _hkdf(salt: bytes, info: bytes) -> HKDF:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info)


def _commitment(header: Header, file_key: bytes) -> bytes:
    return _hkdf(header.commitment_salt, COMMITMENT_INFO).derive(file_key)


def _with_recipients(header: Header, recipients: tuple[RecipientEntry, ...], file_key: bytes) -> Header:
    draft = dataclasses.replace(header, recipients=recipients, commitment=b"")
    return dataclasses.replace(draft, commitment=_commitment(draft, file_key))


def _verify_commitment(header: Header, file_key: bytes) -> None:
    try:  # HKDF.verify compares in constant time
        _hkdf(header.commitment_salt, COMMITMENT_INFO).verify(file_key, header.commitment)
    except InvalidKey:
        raise DecryptionError() from None


class _ChunkCipher:
    """AES-256-GCM over the chunks of one body, with STREAM nonces."""

    def __init__(self, header: Header, file_key: bytes) -> None:
        self._aead = AESGCM(_hkdf(header.preamble_digest, BODY_KEY_INFO).derive(file_key))
        self._ad = header.preamble_digest
        self._prefix = header.nonce_prefix
        self.chunk_size = header.chunk_size

    def _nonce(self, counter: int, last: bool) -> bytes:
        if counter > _MAX_COUNTER:
            raise CryptoError("input too large for one envelope")
        return self._prefix + counter.to_bytes(4, "big") + (b"\x01" if last else b"\x00")

    def seal(self, counter: int, data: bytes, last: bool) -> bytes:
        return self._aead.encrypt(self._nonce(counter, last), data, self._ad)

    def open(self, counter: int, sealed: memoryview, last: bool) -> bytes:
        return self._aead.decrypt(self._nonce(counter, last), sealed, self._ad)

    def seal_block(self, plain: memoryview, out: memoryview, counter: int) -> tuple[int, int]:
        return self._apply(self._aead.encrypt_into, plain, out, counter, self.chunk_size, TAG_SIZE)

    def open_block(self, sealed: memoryview, out: memoryview, counter: int) -> tuple[int, int]:
        step = self.chunk_size + TAG_SIZE
        return self._apply(self._aead.decrypt_into, sealed, out, counter, step, -TAG_SIZE)

    def _apply(
        self,
        transform: Callable[[bytes, memoryview, bytes, memoryview], int],
        source: memoryview,
        target: memoryview,
        counter: int,
        step: int,
        growth: int,
    ) -> tuple[int, int]:
        """Transform consecutive chunks of ``step`` bytes; return (bytes written, next counter)."""
        pos = written = 0
        while pos < len(source):
            size = min(step, len(source) - pos)
            out = target[written : written + size + growth]
            transform(self._nonce(counter, False), source[pos : pos + size], self._ad, out)
            pos += size
            written += size + growth
            counter += 1
        return written, counter


def seal_final_chunk(cipher: _ChunkCipher, counter: int, length: int, digest: bytes) -> bytes:
    return cipher.seal(counter, _FINAL.pack(length, digest), last=True)


class _HashedBuffers:
    """Rotating buffers whose used parts are hashed with SHA-256 on a second thread.

    OpenSSL's hashing releases the GIL on large buffers, so hashing overlaps the
    main thread's I/O and AES instead of adding to it.
    """

    def __init__(self, size: int, count: int = 2) -> None:
        self._buffers = [memoryview(bytearray(size)) for _ in range(count)]
        self._next = 0
        self._pending = 0
        self._hash = hashes.Hash(hashes.SHA256())
        self._todo: SimpleQueue[memoryview | None] = SimpleQueue()
        self._done: SimpleQueue[None] = SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="envelope-sha256", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (view := self._todo.get()) is not None:
            self._hash.update(view)
            self._done.put(None)

    def take(self) -> memoryview:
        """The next buffer, once the hasher no longer reads it."""
        if self._pending == len(self._buffers):
            self._done.get()
            self._pending -= 1
        buffer = self._buffers[self._next]
        self._next = (self._next + 1) % len(self._buffers)
        return buffer

    def hash(self, view: memoryview) -> None:
        """Hash ``view`` (part of the buffer last taken) in order, in the background."""
        self._todo.put(view)
        self._pending += 1

    def digest(self) -> bytes:
        self.close()
        return self._hash.finalize()

    def close(self) -> None:
        if self._thread.is_alive():
            self._todo.put(None)
            self._thread.join()


def _read_full(src: Source, buffer: memoryview) -> int:
    """Fill ``buffer`` unless the stream ends first; return the bytes read."""
    filled = 0
    while filled < len(buffer):
        count = src.readinto(buffer[filled:])
        if not count:
            break
        filled += count
    return filled


def _write_all(dst: Sink, data: memoryview) -> None:
    # Raw files may write less than asked; None (as shutil.copyfileobj assumes) means all.
    while data:
        count = dst.write(data)
        data = data[len(data) if count is None else count :]


def _blocks_per_read(chunk_size: int) -> int:
    return max(1, _BLOCK_SIZE // chunk_size)


def _seal(
    src: Source,
    dst: Sink,
    *,
    recipients: Sequence[Recipient],
    context: Context,
    file_key: bytes,
    nonce_prefix: bytes,
    chunk_size: int,
    progress: ProgressCallback | None,
) -> Header:
    """Encrypt with the given randomness; only tests and the vector generator pass their own."""
    if len(file_key) != FILE_KEY_SIZE or len(nonce_prefix) != NONCE_PREFIX_SIZE or not valid_chunk_size(chunk_size):
        raise ValueError("bad file key, nonce prefix or chunk size")
    draft = Header(VERSION, chunk_size, context, (), nonce_prefix, b"")
    label = draft.preamble_digest
    header = _with_recipients(draft, tuple(wrap_for(r, file_key, label) for r in recipients), file_key)
    _write_all(dst, memoryview(header.encode()))
    cipher = _ChunkCipher(header, file_key)
    blocks = _blocks_per_read(chunk_size)
    sealed = memoryview(bytearray(blocks * (chunk_size + TAG_SIZE)))
    plain = _HashedBuffers(blocks * chunk_size)
    counter = total = 0
    try:
        while True:
            block = plain.take()
            size = _read_full(src, block)
            if size:
                plain.hash(block[:size])
                written, counter = cipher.seal_block(block[:size], sealed, counter)
                _write_all(dst, sealed[:written])
                total += size
                if progress:
                    progress(size)
            if size < len(block):
                break
        final = seal_final_chunk(cipher, counter, total, plain.digest())
        _write_all(dst, memoryview(final))
    finally:
        plain.close()
    return header


def _open_body(src: Source, dst: Sink, header: Header, file_key: bytes, progress: ProgressCallback | None) -> None:
    """Decrypt the body that follows ``header``.

    A block of plaintext is written once its chunks authenticate; the last block
    only once the final chunk (length and SHA-256) verifies as well.
    """
    cipher = _ChunkCipher(header, file_key)
    step = header.chunk_size + TAG_SIZE
    blocks = _blocks_per_read(header.chunk_size)
    full = blocks * step
    # Look ahead by one final chunk: whatever the stream holds, it must end with one.
    sealed = memoryview(bytearray(full + SEALED_FINAL_SIZE))
    plain = _HashedBuffers(blocks * header.chunk_size)
    counter = total = 0
    try:
        filled = _read_full(src, sealed)
        while filled == len(sealed):
            block = plain.take()
            written, counter = cipher.open_block(sealed[:full], block, counter)
            plain.hash(block[:written])
            _write_all(dst, block[:written])
            total += written
            if progress:
                progress(written)
            sealed[:SEALED_FINAL_SIZE] = sealed[full:]
            filled = SEALED_FINAL_SIZE + _read_full(src, sealed[SEALED_FINAL_SIZE:])
        body = filled - SEALED_FINAL_SIZE
        if body < 0 or 0 < body % step <= TAG_SIZE:
            raise DecryptionError()
        block = plain.take()
        written, counter = cipher.open_block(sealed[:body], block, counter)
        plain.hash(block[:written])
        total += written
        length, digest = _FINAL.unpack(cipher.open(counter, sealed[body:filled], last=True))
        # The final chunk has authenticated: a plain comparison leaks nothing an attacker can use.
        if length != total or digest != plain.digest():
            raise DecryptionError()
        _write_all(dst, block[:written])
        if progress and written:
            progress(written)
    except InvalidTag:
        raise DecryptionError() from None
    finally:
        plain.close()


def _verified(header: Header, context: Context, secret: bytes) -> FileKey:
    """Check the expected context and the key commitment before any plaintext exists."""
    if header.context != context or len(secret) != FILE_KEY_SIZE:
        raise DecryptionError()
    _verify_commitment(header, secret)
    return FileKey(secret, header.preamble_digest)


def unwrap_file_key(header: Header, identity: Identity, *, context: Context) -> FileKey:
    """The file key of the document whose header is ``header``, verified against it.

    Raises :class:`NoMatchingRecipient` if no recipient belongs to ``identity``,
    :class:`DecryptionError` on any authentication failure (including a context
    other than ``context``).
    """
    secret = unwrap_from(identity, header.recipients, header.preamble_digest)
    return _verified(header, context, secret)


def wrap_file_key_for(public_key: PublicKey, file_key: FileKey) -> bytes:
    """Release ``file_key`` to the holder of ``public_key`` (e.g. a browser's RSA key).

    The result is RSA-OAEP-SHA-256 with the document's preamble digest as label:
    byte for byte a recipient entry's wrapped key, so it opens that document only.
    """
    return public_key.wrap(file_key._secret, file_key._binding)


def unwrap_released_file_key(wrapped: bytes, *, header: Header, identity: PrivateKey, context: Context) -> FileKey:
    """The file key released by :func:`wrap_file_key_for`, verified against ``header``."""
    return _verified(header, context, identity.unwrap(wrapped, header.preamble_digest))


def encrypt_stream(
    src: Source,
    dst: Sink,
    *,
    recipients: Sequence[Recipient],
    context: Context,
    progress: ProgressCallback | None = None,
) -> Header:
    """Encrypt ``src`` to ``dst`` for ``recipients`` under ``context``, in constant memory."""
    return _seal(
        src,
        dst,
        recipients=recipients,
        context=context,
        file_key=os.urandom(FILE_KEY_SIZE),
        nonce_prefix=os.urandom(NONCE_PREFIX_SIZE),
        chunk_size=DEFAULT_CHUNK_SIZE,
        progress=progress,
    )


def decrypt_stream(
    src: Source,
    dst: Sink,
    *,
    context: Context,
    identity: Identity | None = None,
    file_key: FileKey | None = None,
    progress: ProgressCallback | None = None,
) -> Header:
    """Decrypt ``src`` to ``dst`` with exactly one of ``identity`` or ``file_key``.

    ``context`` is the context the caller expects. Plaintext is written as it
    authenticates, so if this raises, discard whatever reached ``dst`` (or use
    :func:`decrypt_file`, which does).
    """
    header = read_header(src)
    _open_body(src, dst, header, _file_key(header, context, identity, file_key)._secret, progress)
    return header


def _file_key(header: Header, context: Context, identity: Identity | None, file_key: FileKey | None) -> FileKey:
    if identity is not None and file_key is None:
        return unwrap_file_key(header, identity, context=context)
    if file_key is not None and identity is None:
        return _verified(header, context, file_key._secret)
    raise TypeError("pass exactly one of identity= and file_key=")


def rewrap_stream(
    src: Source,
    dst: Sink,
    *,
    identity: Identity,
    add: Sequence[Recipient] = (),
    remove: Collection[str] = (),
) -> Header:
    """Copy an envelope with a new recipient list; the body bytes stay identical.

    Entries whose key id is in ``remove`` or belongs to a recipient in ``add``
    are dropped, then ``add`` is wrapped and appended; other entries are kept
    as they are. ``identity`` must unwrap the current file key.
    """
    header = read_header(src)
    secret = unwrap_file_key(header, identity, context=header.context)._secret
    dropped = set(remove) | {recipient.key_id for recipient in add}
    kept = tuple(entry for entry in header.recipients if entry.key_id not in dropped)
    added = tuple(wrap_for(r, secret, header.preamble_digest) for r in add)
    new_header = _with_recipients(header, kept + added, secret)
    _write_all(dst, memoryview(new_header.encode()))
    buffer = memoryview(bytearray(_BLOCK_SIZE))
    while count := _read_full(src, buffer):
        _write_all(dst, buffer[:count])
    return new_header


@contextmanager
def _atomic_output(path: Path) -> Iterator[Sink]:
    """A new owner-only file that appears at ``path`` only if the block completes."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with open(fd, "wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def encrypt_file(
    src: Path,
    dst: Path,
    *,
    recipients: Sequence[Recipient],
    context: Context,
    progress: ProgressCallback | None = None,
) -> Header:
    """:func:`encrypt_stream` from file ``src`` to a new file ``dst``, written atomically."""
    with open(src, "rb") as source, _atomic_output(Path(dst)) as sink:
        return encrypt_stream(source, sink, recipients=recipients, context=context, progress=progress)


def decrypt_file(
    src: Path,
    dst: Path,
    *,
    context: Context,
    identity: Identity | None = None,
    file_key: FileKey | None = None,
    progress: ProgressCallback | None = None,
) -> Header:
    """:func:`decrypt_stream` into a temporary file renamed to ``dst`` only once all verifies."""
    with open(src, "rb") as source, _atomic_output(Path(dst)) as sink:
        return decrypt_stream(source, sink, context=context, identity=identity, file_key=file_key, progress=progress)


def rewrap_file(
    src: Path,
    dst: Path,
    *,
    identity: Identity,
    add: Sequence[Recipient] = (),
    remove: Collection[str] = (),
) -> Header:
    """:func:`rewrap_stream` between files; ``dst`` may be ``src`` (replaced atomically)."""
    with open(src, "rb") as source, _atomic_output(Path(dst)) as sink:
        return rewrap_stream(source, sink, identity=identity, add=add, remove=remove)
