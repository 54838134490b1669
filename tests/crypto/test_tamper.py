"""Every tamper class is rejected, and with the error the spec names."""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Callable

import pytest

import crypto

Seal = Callable[..., bytes]  # fixtures from conftest.py
Open = Callable[..., bytes]
CHUNK = 64
PLAINTEXT = bytes(range(256)) * 2 + b"tail"  # 8 data chunks and a short final chunk


@pytest.fixture(scope="module")
def envelope(seal: Seal) -> bytes:
    return seal(PLAINTEXT, chunk_size=CHUNK)


@pytest.fixture(scope="module")
def header(envelope: bytes) -> crypto.Header:
    return crypto.read_header(io.BytesIO(envelope))


@pytest.fixture(scope="module")
def file_key(header: crypto.Header, alice: crypto.PrivateKey, context: crypto.Context) -> crypto.FileKey:
    return crypto.unwrap_file_key(header, alice, context=context)


def chunks(envelope: bytes, header: crypto.Header) -> list[bytes]:
    """Version 2: full data chunks, then the final chunk (shorter than a full one)."""
    body = envelope[header.length :]
    step = CHUNK + 16
    final = len(body) - len(body) % step
    return [body[i : i + step] for i in range(0, final, step)] + [body[final:]]


def test_bit_flip_anywhere_is_rejected(
    envelope: bytes, header: crypto.Header, open_: Open, file_key: crypto.FileKey
) -> None:
    assert open_(envelope, file_key=file_key) == PLAINTEXT
    for offset in range(len(envelope)):
        for bit in (0, 7):
            tampered = bytearray(envelope)
            tampered[offset] ^= 1 << bit
            expected: type[crypto.CryptoError] = (
                crypto.DecryptionError if offset >= header.length else crypto.CryptoError
            )
            with pytest.raises(expected):
                # file_key skips RSA for speed; header flips are covered with a key below
                open_(bytes(tampered), file_key=file_key)


def test_bit_flip_in_header_with_identity(envelope: bytes, header: crypto.Header, open_: Open) -> None:
    for offset in range(0, header.length, 7):
        tampered = bytearray(envelope)
        tampered[offset] ^= 0x10
        with pytest.raises(crypto.CryptoError):
            open_(bytes(tampered))


def test_truncation_anywhere_is_rejected(
    envelope: bytes, header: crypto.Header, open_: Open, file_key: crypto.FileKey
) -> None:
    for size in range(len(envelope)):
        error = crypto.DecryptionError if size >= header.length else crypto.MalformedHeader
        with pytest.raises(error):
            open_(envelope[:size], file_key=file_key)


def test_truncation_at_each_chunk_boundary(
    envelope: bytes, header: crypto.Header, open_: Open, file_key: crypto.FileKey
) -> None:
    parts = chunks(envelope, header)
    head = envelope[: header.length]
    for count in range(len(parts)):
        with pytest.raises(crypto.DecryptionError):
            open_(head + b"".join(parts[:count]), file_key=file_key)


@pytest.mark.parametrize(
    "rearrange",
    [
        lambda p: [p[1], p[0], *p[2:]],  # reordered
        lambda p: [p[0], *p],  # duplicated
        lambda p: [*p[:3], *p[4:]],  # dropped
        lambda p: [*p, p[-1]],  # final chunk appended again
        lambda p: [*p[:-1], p[0], p[-1]],  # a data chunk appended
        lambda p: [*p[:-2], p[-1], p[-2]],  # final chunk moved before the last data chunk
        lambda p: [*p, b"\x00"],  # one byte appended
    ],
    ids=["reordered", "duplicated", "dropped", "final-twice", "appended", "final-early", "byte"],
)
def test_chunk_rearrangements_are_rejected(
    rearrange: Callable[[list[bytes]], list[bytes]],
    envelope: bytes,
    header: crypto.Header,
    open_: Open,
    file_key: crypto.FileKey,
) -> None:
    tampered = envelope[: header.length] + b"".join(rearrange(chunks(envelope, header)))
    with pytest.raises(crypto.DecryptionError):
        open_(tampered, file_key=file_key)


def _replace_header(envelope: bytes, header: crypto.Header, new: crypto.Header) -> bytes:
    return new.encode() + envelope[header.length :]


def test_edited_context_in_header(
    envelope: bytes, header: crypto.Header, open_: Open, other_context: crypto.Context
) -> None:
    moved = _replace_header(envelope, header, dataclasses.replace(header, context=other_context))
    for ctx in (other_context, header.context):
        with pytest.raises(crypto.DecryptionError):
            open_(moved, ctx=ctx)


def test_edited_commitment(envelope: bytes, header: crypto.Header, open_: Open) -> None:
    edited = dataclasses.replace(header, commitment=bytes(32))
    with pytest.raises(crypto.DecryptionError):
        open_(_replace_header(envelope, header, edited))


def test_swapped_recipients(seal: Seal, open_: Open, alice: crypto.PrivateKey, bob: crypto.PrivateKey) -> None:
    envelope = seal(b"data", recipients=[alice.public_key, bob.public_key])
    header = crypto.read_header(io.BytesIO(envelope))
    other = crypto.read_header(io.BytesIO(seal(b"data", recipients=[alice.public_key])))
    reordered = dataclasses.replace(header, recipients=header.recipients[::-1])
    foreign = dataclasses.replace(header, recipients=(other.recipients[0], header.recipients[1]))
    dropped = dataclasses.replace(header, recipients=header.recipients[:1])
    for edited in (reordered, foreign, dropped):
        with pytest.raises(crypto.DecryptionError):
            open_(_replace_header(envelope, header, edited))


def test_ciphertext_moved_to_another_document(envelope: bytes, open_: Open, other_context: crypto.Context) -> None:
    with pytest.raises(crypto.DecryptionError):
        open_(envelope, ctx=other_context)


def test_body_spliced_under_another_header(seal: Seal, open_: Open) -> None:
    first, second = seal(b"a" * 100, chunk_size=CHUNK), seal(b"b" * 100, chunk_size=CHUNK)
    length = crypto.read_header(io.BytesIO(first)).length
    with pytest.raises(crypto.DecryptionError):
        open_(first[:length] + second[length:])


def test_wrapped_key_of_key_wrapper_edited(seal: Seal, open_: Open, wrapper: crypto.KeyWrapper) -> None:
    envelope = seal(b"data", recipients=[wrapper])
    header = crypto.read_header(io.BytesIO(envelope))
    entry = header.recipients[0]
    bad = dataclasses.replace(entry, wrapped_key=entry.wrapped_key[:-1] + b"\x00")
    edited = _replace_header(envelope, header, dataclasses.replace(header, recipients=(bad,)))
    with pytest.raises(crypto.DecryptionError):
        open_(edited, identity=wrapper)


def test_one_opaque_message(
    envelope: bytes, open_: Open, other_context: crypto.Context, file_key: crypto.FileKey
) -> None:
    messages = set()
    for tampered, ctx in ((envelope[:-1], None), (envelope, other_context)):
        with pytest.raises(crypto.DecryptionError) as raised:
            open_(tampered, ctx=ctx)
        messages.add(str(raised.value))
    assert messages == {"decryption failed"}
