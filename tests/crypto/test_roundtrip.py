"""Round trips: sizes around chunk and block boundaries, files, recipients, key release."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import subprocess
import sys
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given, settings
from hypothesis import strategies as st

import crypto
from crypto.vectors.generate import FixedKeyWrapper

Seal = Callable[..., bytes]  # fixtures from conftest.py
Open = Callable[..., bytes]
CHUNK = 65536
MIB = 1024 * 1024


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, MIB - 1, MIB, MIB + 1, 3 * MIB + 17])
def test_round_trip_sizes(size: int, seal: Seal, open_: Open) -> None:
    data = os.urandom(size)
    envelope = seal(data)
    assert open_(envelope) == data


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=3000), chunk_size=st.sampled_from([64, 128, 1024]))
def test_round_trip_random_sizes(data: bytes, chunk_size: int, seal: Seal, open_: Open) -> None:
    assert open_(seal(data, chunk_size=chunk_size)) == data


def test_ciphertext_size_is_header_plus_tags(seal: Seal) -> None:
    for size, chunks in ((200, 4), (256, 5), (0, 1)):  # 3 data chunks and a final one of 8 bytes ...
        envelope = seal(b"x" * size, chunk_size=64)
        header = crypto.read_header(io.BytesIO(envelope))
        assert len(envelope) == header.length + size + chunks * 16


def test_public_api_uses_64k_chunks_and_fresh_randomness(alice: crypto.PrivateKey, context: crypto.Context) -> None:
    outs = []
    for _ in range(2):
        out = io.BytesIO()
        header = crypto.encrypt_stream(io.BytesIO(b"same"), out, recipients=[alice.public_key], context=context)
        assert header.chunk_size == CHUNK
        outs.append(out.getvalue())
    assert outs[0][header.length :] != outs[1][header.length :]


def test_files_and_progress(tmp_path: Path, alice: crypto.PrivateKey, context: crypto.Context) -> None:
    data = os.urandom(2 * MIB + 5)
    plain, sealed, back = tmp_path / "in.jpg", tmp_path / "in.jpg.beian", tmp_path / "out.jpg"
    plain.write_bytes(data)
    seen: list[int] = []
    crypto.encrypt_file(plain, sealed, recipients=[alice.public_key], context=context, progress=seen.append)
    assert sum(seen) == len(data)
    seen.clear()
    header = crypto.decrypt_file(sealed, back, context=context, identity=alice, progress=seen.append)
    assert back.read_bytes() == data and sum(seen) == len(data)
    assert header.context == context
    assert back.stat().st_mode & 0o077 == 0  # plaintext of an ID scan is owner-only


def test_failed_decryption_leaves_no_file(
    tmp_path: Path, seal: Seal, alice: crypto.PrivateKey, context: crypto.Context
) -> None:
    envelope = bytearray(seal(os.urandom(3 * MIB)))
    envelope[-100] ^= 1  # the last block fails only after earlier blocks were written
    sealed, out = tmp_path / "x.beian", tmp_path / "x"
    sealed.write_bytes(envelope)
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt_file(sealed, out, context=context, identity=alice)
    assert list(tmp_path.iterdir()) == [sealed]


def test_stream_releases_last_block_only_after_final_chunk(
    seal: Seal, context: crypto.Context, alice: crypto.PrivateKey
) -> None:
    envelope = seal(b"short secret")[:-1]
    out = io.BytesIO()
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt_stream(io.BytesIO(envelope), out, context=context, identity=alice)
    assert out.getvalue() == b""


def test_constant_memory(seal: Seal, alice: crypto.PrivateKey, context: crypto.Context) -> None:
    envelope = seal(os.urandom(24 * MIB))
    tracemalloc.start()
    try:
        crypto.decrypt_stream(io.BytesIO(envelope), _Discard(), context=context, identity=alice)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * MIB


def test_importing_crypto_loads_one_openssl_only() -> None:
    """hashlib (and hmac, which imports it) would load Python's own OpenSSL beside the one in
    cryptography: about 4 MiB more in every process that encrypts."""
    loaded = subprocess.run([sys.executable, "-c", "import sys, crypto; print(sorted({'hashlib', 'hmac', '_hashlib'}"
                             " & set(sys.modules)))"], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


class _Discard:
    def write(self, data: memoryview | bytes) -> int:
        return len(data)


def test_every_recipient_decrypts(
    seal: Seal,
    open_: Open,
    alice: crypto.PrivateKey,
    bob: crypto.PrivateKey,
    wrapper: FixedKeyWrapper,
) -> None:
    envelope = seal(b"data", recipients=[alice.public_key, bob.public_key, wrapper])
    for identity in (alice, bob, wrapper):
        assert open_(envelope, identity=identity) == b"data"


def test_no_matching_recipient(seal: Seal, open_: Open, bob: crypto.PrivateKey) -> None:
    with pytest.raises(crypto.NoMatchingRecipient):
        open_(seal(b"data"), identity=bob)


def test_identity_or_file_key_exactly_one(seal: Seal, context: crypto.Context) -> None:
    with pytest.raises(TypeError):
        crypto.decrypt_stream(io.BytesIO(seal(b"x")), io.BytesIO(), context=context)


def test_key_release_to_a_client(
    seal: Seal,
    open_: Open,
    alice: crypto.PrivateKey,
    bob: crypto.PrivateKey,
    context: crypto.Context,
) -> None:
    envelope = seal(b"scan")
    header = crypto.read_header(io.BytesIO(envelope))
    file_key = crypto.unwrap_file_key(header, alice, context=context)
    assert "secret" in repr(file_key) and file_key._secret.hex() not in repr(file_key)
    released = crypto.wrap_file_key_for(bob.public_key, file_key)
    client_key = crypto.unwrap_released_file_key(released, header=header, identity=bob, context=context)
    assert open_(envelope, file_key=client_key) == b"scan"


def test_file_key_of_another_document_fails(
    seal: Seal, open_: Open, alice: crypto.PrivateKey, context: crypto.Context
) -> None:
    first, second = seal(b"one"), seal(b"two")
    key = crypto.unwrap_file_key(crypto.read_header(io.BytesIO(first)), alice, context=context)
    with pytest.raises(crypto.DecryptionError):
        open_(second, file_key=key)


def test_released_key_is_bound_to_its_document(
    seal: Seal, alice: crypto.PrivateKey, bob: crypto.PrivateKey, context: crypto.Context
) -> None:
    first, second = (crypto.read_header(io.BytesIO(seal(b"x"))) for _ in range(2))
    released = crypto.wrap_file_key_for(bob.public_key, crypto.unwrap_file_key(first, alice, context=context))
    with pytest.raises(crypto.DecryptionError):
        crypto.unwrap_released_file_key(released, header=second, identity=bob, context=context)


def test_rewrap_changes_only_the_recipients(
    seal: Seal,
    open_: Open,
    alice: crypto.PrivateKey,
    bob: crypto.PrivateKey,
    wrapper: FixedKeyWrapper,
) -> None:
    envelope = seal(os.urandom(200_000), recipients=[alice.public_key, wrapper])
    out = io.BytesIO()
    new_header = crypto.rewrap_stream(
        io.BytesIO(envelope), out, identity=alice, add=[bob.public_key], remove=[alice.key_id]
    )
    rewrapped = out.getvalue()
    old_header = crypto.read_header(io.BytesIO(envelope))
    assert [r.key_id for r in new_header.recipients] == [wrapper.key_id, bob.key_id]
    assert rewrapped[new_header.length :] == envelope[old_header.length :]
    assert new_header.preamble == old_header.preamble
    assert open_(rewrapped, identity=bob) == open_(envelope)
    assert open_(rewrapped, identity=wrapper) == open_(envelope)
    with pytest.raises(crypto.NoMatchingRecipient):
        open_(rewrapped, identity=alice)


def test_rewrap_cannot_remove_every_recipient(seal: Seal, alice: crypto.PrivateKey) -> None:
    with pytest.raises(ValueError):
        crypto.rewrap_stream(io.BytesIO(seal(b"x")), io.BytesIO(), identity=alice, remove=[alice.key_id])


def test_key_ring_rotation_and_in_place_rewrap(tmp_path: Path, context: crypto.Context) -> None:
    ring = crypto.KeyRing.create(tmp_path / "ring", b"ring passphrase")
    v1 = ring.current
    doc, plain = tmp_path / "doc.beian", tmp_path / "doc"
    plain.write_bytes(b"archived scan")
    crypto.encrypt_file(plain, doc, recipients=[v1.public_key], context=context)
    v2 = ring.rotate()
    reopened = crypto.KeyRing.open(tmp_path / "ring", b"ring passphrase")
    assert reopened.versions == (1, 2) and reopened.current.key_id == v2.key_id
    body = doc.read_bytes()[crypto.read_header(io.BytesIO(doc.read_bytes())).length :]
    crypto.rewrap_file(doc, doc, identity=reopened, add=[v2.public_key], remove=[v1.key_id])
    data = doc.read_bytes()
    header = crypto.read_header(io.BytesIO(data))
    assert [r.key_id for r in header.recipients] == [v2.key_id]
    assert data[header.length :] == body
    crypto.decrypt_file(doc, plain, context=context, identity=v2)
    assert plain.read_bytes() == b"archived scan"
    assert sorted(p.name for p in (tmp_path / "ring").iterdir()) == [
        "archive-v1.pem",
        "archive-v2.pem",
    ]
    with pytest.raises(crypto.CryptoError):
        crypto.KeyRing.open(tmp_path / "ring", b"wrong")


def test_keys_pem_and_fingerprint(alice: crypto.PrivateKey) -> None:
    pem = alice.dump_pem(b"pass")
    assert b"ENCRYPTED" in pem
    assert crypto.PrivateKey.load(pem, b"pass").key_id == alice.key_id
    with pytest.raises(crypto.CryptoError):
        crypto.PrivateKey.load(pem, b"wrong")
    public = crypto.PublicKey.load(alice.public_key.dump_pem())
    assert public == alice.public_key == crypto.PublicKey.load(alice.public_key.spki)
    digest = hashlib.sha256(public.spki).digest()
    assert public.fingerprint.startswith("SHA256:") and len(public.fingerprint) == 7 + 52
    assert base64.b32decode(public.fingerprint[7:] + "====") == digest


def test_only_rsa_3072() -> None:
    with pytest.raises(crypto.CryptoError):
        crypto.PrivateKey(rsa.generate_private_key(public_exponent=65537, key_size=2048))


@pytest.mark.parametrize(
    "fields",
    [("", "f", "d", "t"), ("p" * 1025, "f", "d", "t"), ("p", "f", "\ud800", "t")],
)
def test_context_is_validated(fields: tuple[str, str, str, str]) -> None:
    with pytest.raises(ValueError):
        crypto.Context(*fields)
