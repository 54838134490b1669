"""crypto/vectors/envelope-v1.json, shared with the JavaScript tests, holds for this code."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pytest

import crypto
from crypto.envelope import _commitment, _seal
from crypto.vectors.generate import FixedKeyWrapper

VECTORS = json.loads((Path(__file__).parents[2] / "crypto" / "vectors" / "envelope-v1.json").read_text())


def _private(name: str) -> crypto.PrivateKey:
    return crypto.PrivateKey.load(VECTORS["keys"][name]["private_key_pkcs8_pem"].encode(), None)


def _identity(name: str) -> crypto.Identity:
    if name == "wrapper":
        return FixedKeyWrapper(bytes.fromhex(VECTORS["keys"]["wrapper"]["aes256_key"]))
    return _private(name)


def _decrypt(envelope: bytes, identity: str, context: dict[str, str]) -> bytes:
    out = io.BytesIO()
    crypto.decrypt_stream(io.BytesIO(envelope), out, context=crypto.Context(**context), identity=_identity(identity))
    return out.getvalue()


@pytest.mark.parametrize("vector", VECTORS["vectors"], ids=lambda v: v["name"])
def test_positive_vector(vector: dict[str, Any]) -> None:
    envelope = bytes.fromhex(vector["envelope"])
    plaintext = bytes.fromhex(vector["plaintext"])
    for name in vector["recipients"]:
        assert _decrypt(envelope, name, vector["context"]) == plaintext
    header = crypto.read_header(io.BytesIO(envelope))
    assert header.length == vector["header_length"]
    assert header.preamble_digest.hex() == vector["preamble_digest"]
    assert header.commitment.hex() == vector["commitment"]
    assert hashlib.sha256(plaintext).hexdigest() == vector["plaintext_sha256"]
    file_key = bytes.fromhex(vector["file_key"])
    assert _commitment(header, file_key) == header.commitment
    # Same randomness: an encryptor reproduces every byte but the RSA-OAEP wrapped keys.
    out = io.BytesIO()
    _seal(
        io.BytesIO(plaintext),
        out,
        recipients=[_private("alice").public_key],
        context=crypto.Context(**vector["context"]),
        file_key=file_key,
        nonce_prefix=bytes.fromhex(vector["nonce_prefix"]),
        chunk_size=vector["chunk_size"],
        progress=None,
    )
    ours = out.getvalue()
    assert ours[: len(header.preamble)] == header.preamble
    assert ours[crypto.read_header(io.BytesIO(ours)).length :] == envelope[header.length :]


@pytest.mark.parametrize("vector", VECTORS["negative"], ids=lambda v: v["name"])
def test_negative_vector(vector: dict[str, Any]) -> None:
    with pytest.raises(getattr(crypto, vector["error"])):
        _decrypt(bytes.fromhex(vector["envelope"]), vector["identity"], vector["context"])


def test_vector_keys_match_their_ids() -> None:
    for name in ("alice", "bob"):
        assert _private(name).key_id == VECTORS["keys"][name]["key_id"]
