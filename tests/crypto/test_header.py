"""The header parser: fields, canonical encoding, and bounded parsing of hostile input."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import crypto
from crypto.format import MAGIC

Seal = Callable[..., bytes]  # fixture from conftest.py
MAX_HEADER = 20 + 4 * (2 + 1024) + 1 + 16 * (1 + 1 + 255 + 2 + 4096) + 32


class CountingStream(io.BytesIO):
    """Records the largest single read, to prove hostile lengths never drive allocation."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.largest = 0

    def read(self, size: int | None = -1, /) -> bytes:
        assert size is not None and 0 <= size <= 4096
        self.largest = max(self.largest, size)
        return super().read(size)


def test_read_header_needs_no_key(
    seal: Seal, alice: crypto.PrivateKey, bob: crypto.PrivateKey, context: crypto.Context
) -> None:
    envelope = seal(b"x", recipients=[alice.public_key, bob.public_key])
    stream = io.BytesIO(envelope)
    header = crypto.read_header(stream)
    assert header.version == 2 and header.chunk_size == 65536 and header.context == context
    assert [(r.kind, r.key_id) for r in header.recipients] == [
        (crypto.RecipientKind.RSA_OAEP_3072_SHA256, alice.key_id),
        (crypto.RecipientKind.RSA_OAEP_3072_SHA256, bob.key_id),
    ]
    assert stream.tell() == header.length and header.encode() == envelope[: header.length]
    assert "wrapped_key" not in repr(header)


@pytest.mark.parametrize(
    ("prefix", "error"),
    [
        (b"", crypto.MalformedHeader),
        (b"BEIANEN", crypto.MalformedHeader),
        (b"NOTBEIAN\x01", crypto.MalformedHeader),
        (MAGIC + b"\x00", crypto.UnsupportedVersion),
        (MAGIC + b"\x00", crypto.UnsupportedVersion),
        (MAGIC + b"\x03", crypto.UnsupportedVersion),
        (MAGIC + b"\x01" + (1000).to_bytes(4, "big") + bytes(7), crypto.MalformedHeader),
        (MAGIC + b"\x01" + (1 << 21).to_bytes(4, "big") + bytes(7), crypto.MalformedHeader),
        (MAGIC + b"\x01" + (32).to_bytes(4, "big") + bytes(7), crypto.MalformedHeader),
        (
            MAGIC + b"\x01" + (65536).to_bytes(4, "big") + bytes(7) + b"\xff\xff",
            crypto.MalformedHeader,
        ),
        (
            MAGIC + b"\x01" + (65536).to_bytes(4, "big") + bytes(7) + b"\x00\x00",
            crypto.MalformedHeader,
        ),
        (
            MAGIC + b"\x01" + (65536).to_bytes(4, "big") + bytes(7) + b"\x00\x01\xff",
            crypto.MalformedHeader,
        ),
    ],
)
def test_malformed_prefixes(prefix: bytes, error: type[crypto.CryptoError]) -> None:
    with pytest.raises(error):
        crypto.read_header(io.BytesIO(prefix + bytes(100)))


def _header_with(seal: Seal, recipients_section: bytes) -> bytes:
    envelope = seal(b"")
    header = crypto.read_header(io.BytesIO(envelope))
    return header.preamble + recipients_section + bytes(32)


@pytest.mark.parametrize(
    "section",
    [
        b"\x00",  # no recipient
        b"\x11",  # 17 recipients
        b"\x01\x03\x04test\x00\x01x",  # unknown kind
        b"\x01\x02\x00\x00\x01x",  # empty key id
        b"\x01\x02\x04te t\x00\x01x",  # key id with a space
        b"\x01\x02\x04t\xe9st\x00\x01x",  # key id not ASCII
        b"\x01\x02\x04test\x00\x00",  # empty wrapped key
        b"\x01\x02\x04test\x10\x01",  # wrapped key over 4096 bytes
        b"\x01\x01\x04test\x00\x01x",  # RSA wrapped key not 384 bytes
        b"\x02\x02\x04test\x00\x01x\x02\x04test\x00\x01y",  # duplicate key id
        b"\x01\x03\x04test\x00\x01x",  # unknown kind
        b"\x01\x02\x04te\x7ft\x00\x01x",  # key id with DEL
    ],
)
def test_malformed_recipients(seal: Seal, section: bytes) -> None:
    with pytest.raises(crypto.MalformedHeader):
        crypto.read_header(io.BytesIO(_header_with(seal, section)))


def test_largest_valid_header_is_bounded(seal: Seal) -> None:
    entry = b"\x02\xff" + b"k" * 254 + b"%c" + b"\x10\x00" + b"w" * 4096
    section = bytes([16]) + b"".join(entry % (65 + i) for i in range(16))
    header = crypto.read_header(CountingStream(_header_with(seal, section)))
    assert header.length <= MAX_HEADER and len(header.recipients) == 16


def header_bytes() -> st.SearchStrategy[bytes]:
    """Well-formed headers built field by field (random contexts, recipients, chunk sizes),
    so that what follows the random bytes below is often a header that parses."""
    text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=40)
    key_id = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=30)
    recipient = st.one_of(
        st.builds(crypto.RecipientEntry, st.just(crypto.RecipientKind.RSA_OAEP_3072_SHA256), key_id,
                  st.binary(min_size=384, max_size=384)),
        st.builds(crypto.RecipientEntry, st.just(crypto.RecipientKind.KEY_WRAPPER), key_id,
                  st.binary(min_size=1, max_size=80)))
    recipients = st.lists(recipient, min_size=1, max_size=4, unique_by=lambda entry: entry.key_id)
    return st.builds(lambda chunk, context, entries, nonce, commitment: crypto.Header(
        1, chunk, context, tuple(entries), nonce, commitment).encode(),
        st.sampled_from([64, 1024, 65536, 1024 * 1024]), st.builds(crypto.Context, text, text, text, text),
        recipients, st.binary(min_size=7, max_size=7), st.binary(min_size=32, max_size=32))


def test_fuzz_random_bytes() -> None:
    """Random bytes after the magic, and well-formed headers with random bytes cut, flipped or
    appended: both outcomes (rejected, and parsed then re-encoded identically) must occur."""
    reached = {"rejected": 0, "round_trip": 0}

    @settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
    @given(st.one_of(st.binary(max_size=600).map(lambda data: MAGIC + b"\x01" + data),
                     st.tuples(header_bytes(), st.binary(max_size=40), st.integers(0, 3)).map(_damaged)))
    def fuzz(data: bytes) -> None:
        reached["round_trip" if _parse_or_reject(data) else "rejected"] += 1

    fuzz()
    assert all(count >= 200 for count in reached.values()), reached


def _damaged(parts: tuple[bytes, bytes, int]) -> bytes:
    """A header with ``tail`` appended (0), cut short (1), one byte flipped (2), or left whole (3)."""
    header, tail, how = parts
    if how == 1 and tail:
        return header[: len(header) - 1 - tail[0] % len(header)]
    if how == 2 and tail:
        position = int.from_bytes(tail[:2].rjust(2, b"\0"), "big") % len(header)
        return header[:position] + bytes([header[position] ^ 0xFF]) + header[position + 1:]
    return header + tail if how == 0 else header


@pytest.fixture(scope="module")
def valid_header(seal: Seal, alice: crypto.PrivateKey, wrapper: crypto.KeyWrapper) -> bytes:
    return seal(b"", recipients=[alice.public_key, wrapper])


@settings(max_examples=3000, deadline=None)
@given(st.data())
def test_fuzz_mutated_valid_header(valid_header: bytes, data: st.DataObject) -> None:
    raw = bytearray(valid_header)
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(raw) - 1))
        raw[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    _parse_or_reject(bytes(raw[:cut]))


def _parse_or_reject(data: bytes) -> bool:
    """Whether ``data`` parsed (and then re-encoded to exactly its own bytes)."""
    stream = CountingStream(data)
    try:
        header = crypto.read_header(stream)
    except (crypto.MalformedHeader, crypto.UnsupportedVersion):
        return False
    assert header.encode() == data[: header.length]  # canonical: parse then encode is identity
    return True
