"""Streaming envelope encryption, decryption and re-wrapping (format version 2; reads 1).

Body (version 2): data chunks of exactly ``chunk_size`` plaintext bytes, then one
final chunk with the last-chunk flag holding the remaining 0 to ``chunk_size - 1``
bytes. Each chunk is AES-256-GCM with a STREAM nonce ``prefix || counter ||
last-flag`` and the preamble digest as associated data. Version 1 (read only) ends
instead with a final chunk holding the plaintext's length and SHA-256.
"""

from __future__ import annotations

import dataclasses
import errno
import glob
import os
import re
import struct
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Protocol

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
    LEGACY_VERSION,
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
_V1_FINAL = struct.Struct(">Q32s")  # version 1's final chunk: plaintext length, SHA-256
V1_SEALED_FINAL_SIZE = _V1_FINAL.size + TAG_SIZE
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
    """AES-256-GCM over the chunks of one body, with STREAM nonces.

    Every chunk is sealed or opened straight between preallocated buffers
    (``encrypt_into``/``decrypt_into`` on memoryviews): no per-chunk copies.
    """

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

    def open(self, counter: int, sealed: memoryview | bytes, last: bool) -> bytes:
        return self._aead.decrypt(self._nonce(counter, last), sealed, self._ad)

    def seal_into(self, counter: int, plain: memoryview, out: memoryview, last: bool) -> int:
        """Seal one chunk into ``out``; return the bytes written."""
        self._aead.encrypt_into(self._nonce(counter, last), plain, self._ad, out[: len(plain) + TAG_SIZE])
        return len(plain) + TAG_SIZE

    def open_into(self, counter: int, sealed: memoryview, out: memoryview, last: bool) -> int:
        """Open one chunk into ``out``; return the plaintext bytes written."""
        size = len(sealed) - TAG_SIZE
        self._aead.decrypt_into(self._nonce(counter, last), sealed, self._ad, out[:size])
        return size

    def seal_block(self, plain: memoryview, out: memoryview, counter: int) -> tuple[int, int]:
        """Seal consecutive data chunks; return (bytes written, next counter)."""
        step = self.chunk_size
        written = 0
        for pos in range(0, len(plain), step):
            written += self.seal_into(counter, plain[pos : pos + step], out[written:], last=False)
            counter += 1
        return written, counter

    def open_block(self, sealed: memoryview, out: memoryview, counter: int) -> tuple[int, int]:
        """Open consecutive data chunks; return (plaintext bytes written, next counter)."""
        step = self.chunk_size + TAG_SIZE
        written = 0
        for pos in range(0, len(sealed), step):
            written += self.open_into(counter, sealed[pos : pos + step], out[written:], last=False)
            counter += 1
        return written, counter


def seal_v1_final_chunk(cipher: _ChunkCipher, counter: int, length: int, digest: bytes) -> bytes:
    """Version 1's final chunk; only the vector generator still writes one (as a negative case)."""
    return cipher.seal(counter, _V1_FINAL.pack(length, digest), last=True)


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


def _chunks_per_block(chunk_size: int) -> int:
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
    chunks = _chunks_per_block(chunk_size)
    plain = memoryview(bytearray(chunks * chunk_size))
    sealed = memoryview(bytearray(chunks * (chunk_size + TAG_SIZE)))
    _stream_chunks(src, dst, _ChunkCipher(header, file_key), plain, sealed, sealing=True, progress=progress)
    return header


def _stream_chunks(src: Source, dst: Sink, cipher: _ChunkCipher, source: memoryview, target: memoryview, *,
                   sealing: bool, progress: ProgressCallback | None) -> None:
    """Seal or open a version 2 body, a block at a time, between two preallocated buffers.

    A full ``source`` block is all data chunks; a short one ends the stream: its whole chunks
    are data chunks and the rest is the final chunk (0 to chunk_size - 1 plaintext bytes, so
    sealed it is at least a tag: an opened stream that ends without one has lost its end).
    Each block is written once all its chunks are sealed or have authenticated.
    """
    unit = cipher.chunk_size if sealing else cipher.chunk_size + TAG_SIZE
    block, final = (cipher.seal_block, cipher.seal_into) if sealing else (cipher.open_block, cipher.open_into)
    counter = 0
    while True:
        size = _read_full(src, source)
        ending = size < len(source)
        whole = size - size % unit if ending else size
        if ending and not sealing and size - whole < TAG_SIZE:
            raise DecryptionError()  # no final chunk
        written, counter = block(source[:whole], target, counter)
        if ending:
            written += final(counter, source[whole:size], target[written:], last=True)
        _write_all(dst, target[:written])
        plaintext = size if sealing else written
        if progress and plaintext:
            progress(plaintext)
        if ending:
            return


def _open_body(src: Source, dst: Sink, header: Header, file_key: bytes, progress: ProgressCallback | None) -> None:
    """Decrypt a version 2 body: each block is written once all its chunks authenticate.

    A full chunk is always a data chunk (the final chunk is shorter), so nothing is held
    back; a stream that ends without a final chunk fails at its end.
    """
    sealed = memoryview(bytearray(_chunks_per_block(header.chunk_size) * (header.chunk_size + TAG_SIZE)))
    plain = memoryview(bytearray(len(sealed)))
    try:
        _stream_chunks(src, dst, _ChunkCipher(header, file_key), sealed, plain, sealing=False, progress=progress)
    except InvalidTag:
        raise DecryptionError() from None


def _open_v1_body(src: Source, dst: Sink, header: Header, file_key: bytes, progress: ProgressCallback | None) -> None:
    """Decrypt a version 1 body, which ends with the plaintext's length and SHA-256.

    Each block is written once its chunks authenticate, except the last block, which
    is held back until the final chunk's length and digest match it too.
    """
    cipher = _ChunkCipher(header, file_key)
    step = header.chunk_size + TAG_SIZE
    full = _chunks_per_block(header.chunk_size) * step
    # Look ahead by one final chunk: whatever the stream holds, it must end with one.
    sealed = memoryview(bytearray(full + V1_SEALED_FINAL_SIZE))
    block = memoryview(bytearray(full))
    digest = hashes.Hash(hashes.SHA256())
    counter = total = 0
    try:
        filled = _read_full(src, sealed)
        while filled == len(sealed):
            written, counter = cipher.open_block(sealed[:full], block, counter)
            digest.update(block[:written])
            _write_all(dst, block[:written])
            total += written
            if progress:
                progress(written)
            sealed[:V1_SEALED_FINAL_SIZE] = sealed[full:]
            filled = V1_SEALED_FINAL_SIZE + _read_full(src, sealed[V1_SEALED_FINAL_SIZE:])
        body = filled - V1_SEALED_FINAL_SIZE
        if body < 0 or 0 < body % step <= TAG_SIZE:
            raise DecryptionError()
        written, counter = cipher.open_block(sealed[:body], block, counter)
        digest.update(block[:written])
        total += written
        length, expected = _V1_FINAL.unpack(cipher.open(counter, sealed[body:filled], last=True))
        # The final chunk has authenticated: a plain comparison leaks nothing an attacker can use.
        if length != total or expected != digest.finalize():
            raise DecryptionError()
        _write_all(dst, block[:written])
        if progress and written:
            progress(written)
    except InvalidTag:
        raise DecryptionError() from None


def _expect_context(header: Header, context: Context) -> None:
    """Step 4: the header must be bound to the record being opened, before any unwrapping."""
    if header.context != context:
        raise DecryptionError()


def _verified(header: Header, secret: bytes) -> FileKey:
    """Check the key commitment before any plaintext exists."""
    if len(secret) != FILE_KEY_SIZE:
        raise DecryptionError()
    _verify_commitment(header, secret)
    return FileKey(secret, header.preamble_digest)


def unwrap_file_key(header: Header, identity: Identity, *, context: Context) -> FileKey:
    """The file key of the document whose header is ``header``, verified against it.

    Raises :class:`DecryptionError` on any authentication failure (including a
    context other than ``context``, checked first), :class:`NoMatchingRecipient`
    if no recipient belongs to ``identity``.
    """
    _expect_context(header, context)
    return _verified(header, unwrap_from(identity, header.recipients, header.preamble_digest))


def wrap_file_key_for(public_key: PublicKey, file_key: FileKey) -> bytes:
    """Release ``file_key`` to the holder of ``public_key`` (e.g. a browser's RSA key).

    The result is RSA-OAEP-SHA-256 with the document's preamble digest as label:
    byte for byte a recipient entry's wrapped key, so it opens that document only.
    """
    return public_key.wrap(file_key._secret, file_key._binding)


def unwrap_released_file_key(wrapped: bytes, *, header: Header, identity: PrivateKey, context: Context) -> FileKey:
    """The file key released by :func:`wrap_file_key_for`, verified against ``header``."""
    _expect_context(header, context)
    return _verified(header, identity.unwrap(wrapped, header.preamble_digest))


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
    secret = _file_key(header, context, identity, file_key)._secret
    open_body = _open_v1_body if header.version == LEGACY_VERSION else _open_body
    open_body(src, dst, header, secret, progress)
    return header


def _file_key(header: Header, context: Context, identity: Identity | None, file_key: FileKey | None) -> FileKey:
    if identity is not None and file_key is None:
        return unwrap_file_key(header, identity, context=context)
    if file_key is not None and identity is None:
        _expect_context(header, context)
        return _verified(header, file_key._secret)
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


_PART = re.compile(r"^\.(?P<name>.+)\.(?P<pid>[0-9]+)\.part$")


def _part_path(path: Path) -> Path:
    """Where the fallback writes: named after this process, so a later run knows it is stale."""
    return path.with_name(f".{path.name}.{os.getpid()}.part")


def _remove_stale_parts(path: Path) -> None:
    """Part files for ``path`` left by a process that no longer runs (killed with SIGKILL)."""
    for part in path.parent.glob(f".{glob.escape(path.name)}.*.part"):
        match = _PART.match(part.name)
        if match is None or match["name"] != path.name:
            continue
        pid = int(match["pid"])
        try:
            if pid != os.getpid():
                os.kill(pid, 0)
                continue
        except ProcessLookupError:
            pass
        except PermissionError:  # alive, another user's
            continue
        part.unlink(missing_ok=True)


def _open_unnamed(directory: Path) -> int | None:
    """An unnamed owner-only file in ``directory`` (O_TMPFILE), or None where unsupported."""
    flag = getattr(os, "O_TMPFILE", None)
    if flag is None:
        return None
    try:
        return os.open(directory, flag | os.O_RDWR, 0o600)
    except OSError as error:
        if error.errno in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL, errno.ENOENT):
            return None  # the filesystem (or kernel) does not do unnamed files
        raise


def _link(fd: int, path: Path) -> None:
    """Give the unnamed file ``fd`` the name ``path``, replacing any file already there."""
    unnamed = f"/proc/self/fd/{fd}"
    # A directory fd makes os.link call linkat(AT_SYMLINK_FOLLOW); plain link() would not
    # follow the /proc link and fail with EXDEV.
    directory = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        try:
            os.link(unnamed, path.name, dst_dir_fd=directory, follow_symlinks=True)
        except FileExistsError:
            staged = _part_path(path)
            os.link(unnamed, staged.name, dst_dir_fd=directory, follow_symlinks=True)
            os.replace(staged, path)
    finally:
        os.close(directory)


@contextmanager
def _private_output(path: Path, verify: Callable[[BinaryIO], None] | None = None) -> Iterator[BinaryIO]:
    """A new owner-only file that appears at ``path`` only if the block (and ``verify``) completes.

    While written, the file is unnamed (O_TMPFILE) where the filesystem allows, so no
    kill of any kind leaves it behind. Elsewhere it is a 0600 part file named after this
    process, removed on any exception (the CLI turns SIGTERM into one) and, after a
    SIGKILL, by the next run writing the same path.
    """
    _remove_stale_parts(path)
    fd = _open_unnamed(path.parent)
    temporary = None
    if fd is None:
        temporary = _part_path(path)
        fd = os.open(temporary, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with open(fd, "w+b") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
            if verify is not None:
                out.seek(0)
                verify(out)
            if temporary is None:
                _link(out.fileno(), path)
            else:
                os.replace(temporary, path)
    except BaseException:
        if temporary is not None:
            temporary.unlink(missing_ok=True)
        raise


def encrypt_file(src: Path, dst: Path, *, recipients: Sequence[Recipient], context: Context,
                 progress: ProgressCallback | None = None) -> Header:
    """:func:`encrypt_stream` from file ``src`` to a new file ``dst``, written atomically."""
    with open(src, "rb") as source, _private_output(Path(dst)) as sink:
        return encrypt_stream(source, sink, recipients=recipients, context=context, progress=progress)


def decrypt_file(src: Path, dst: Path, *, context: Context, identity: Identity | None = None,
                 file_key: FileKey | None = None, progress: ProgressCallback | None = None,
                 verify: Callable[[BinaryIO], None] | None = None) -> Header:
    """:func:`decrypt_stream` into a new owner-only file that appears at ``dst`` only once all
    authenticates and ``verify`` (given the plaintext file, if any) returns without raising.

    No plaintext file is left behind on an error, nor when the process is killed (see
    :func:`_private_output`)."""
    with open(src, "rb") as source, _private_output(Path(dst), verify) as sink:
        return decrypt_stream(source, sink, context=context, identity=identity, file_key=file_key, progress=progress)


def rewrap_file(src: Path, dst: Path, *, identity: Identity, add: Sequence[Recipient] = (),
                remove: Collection[str] = ()) -> Header:
    """:func:`rewrap_stream` between files; ``dst`` may be ``src`` (replaced atomically)."""
    with open(src, "rb") as source, _private_output(Path(dst)) as sink:
        return rewrap_stream(source, sink, identity=identity, add=add, remove=remove)
