"""crypto/vectors/envelope-v2.json (shared with the JavaScript tests) and the frozen
envelope-v1.json hold for this code: it writes version 2 and reads both."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

import crypto
from crypto.envelope import _commitment, _seal
from crypto.vectors.generate import FixedKeyWrapper

VECTOR_DIR = Path(__file__).parents[2] / "crypto" / "vectors"
FILES = {version: json.loads((VECTOR_DIR / f"envelope-v{version}.json").read_text()) for version in (1, 2)}
V2 = FILES[2]


def _private(name: str) -> crypto.PrivateKey:
    return crypto.PrivateKey.load(V2["keys"][name]["private_key_pkcs8_pem"].encode(), None)


def _identity(vectors: dict[str, Any], name: str) -> crypto.Identity:
    if name == "wrapper":
        wrapper = vectors["keys"]["wrapper"]
        return FixedKeyWrapper(bytes.fromhex(wrapper["aes256_key"]), wrapper["key_id"])
    return _private(name)


def _decrypt(vectors: dict[str, Any], envelope: bytes, identity: str, context: dict[str, str]) -> bytes:
    out = io.BytesIO()
    crypto.decrypt_stream(
        io.BytesIO(envelope), out, context=crypto.Context(**context), identity=_identity(vectors, identity)
    )
    return out.getvalue()


def _cases(kind: str) -> list[Any]:
    return [
        pytest.param(FILES[version], vector, id=f"v{version}-{vector['name']}")
        for version in FILES
        for vector in FILES[version][kind]
    ]


@pytest.mark.parametrize(("vectors", "vector"), _cases("vectors"))
def test_positive_vector_decrypts(vectors: dict[str, Any], vector: dict[str, Any]) -> None:
    envelope = bytes.fromhex(vector["envelope"])
    plaintext = bytes.fromhex(vector["plaintext"])
    for name in vector["recipients"]:
        assert _decrypt(vectors, envelope, name, vector["context"]) == plaintext
    header = crypto.read_header(io.BytesIO(envelope))
    assert header.version == vectors["version"]
    assert header.length == vector["header_length"]
    assert header.preamble_digest.hex() == vector["preamble_digest"]
    assert header.commitment_salt.hex() == vector["commitment_salt"]
    assert header.commitment.hex() == vector["commitment"]
    assert _commitment(header, bytes.fromhex(vector["file_key"])) == header.commitment


@pytest.mark.parametrize("vector", V2["vectors"], ids=lambda v: v["name"])
def test_an_encryptor_reproduces_every_v2_vector(vector: dict[str, Any]) -> None:
    """Same randomness: every byte but the RSA-OAEP wrapped keys (and so the commitment)."""
    envelope = bytes.fromhex(vector["envelope"])
    header = crypto.read_header(io.BytesIO(envelope))
    out = io.BytesIO()
    _seal(
        io.BytesIO(bytes.fromhex(vector["plaintext"])),
        out,
        recipients=[_private("alice").public_key],
        context=crypto.Context(**vector["context"]),
        file_key=bytes.fromhex(vector["file_key"]),
        nonce_prefix=bytes.fromhex(vector["nonce_prefix"]),
        chunk_size=vector["chunk_size"],
        progress=None,
    )
    ours = out.getvalue()
    assert ours[: len(header.preamble)] == header.preamble
    assert ours[crypto.read_header(io.BytesIO(ours)).length :] == envelope[header.length :]


def test_a_released_key_opens_a_document_sealed_for_a_key_wrapper_only() -> None:
    """Steps 5 and 6 skipped: the one-off key is no recipient, the release opens the document."""
    vector = next(v for v in V2["vectors"] if "release" in v)
    envelope = bytes.fromhex(vector["envelope"])
    header = crypto.read_header(io.BytesIO(envelope))
    assert [entry.kind for entry in header.recipients] == [crypto.RecipientKind.KEY_WRAPPER]
    identity = _private(vector["release"]["identity"])
    context = crypto.Context(**vector["context"])
    wrapped = bytes.fromhex(vector["release"]["wrapped_key"])
    file_key = crypto.unwrap_released_file_key(wrapped, header=header, identity=identity, context=context)
    out = io.BytesIO()
    crypto.decrypt_stream(io.BytesIO(envelope), out, context=context, file_key=file_key)
    assert out.getvalue() == bytes.fromhex(vector["plaintext"])
    with pytest.raises(crypto.NoMatchingRecipient):
        crypto.decrypt_stream(io.BytesIO(envelope), io.BytesIO(), context=context, identity=identity)
    other = next(v for v in V2["vectors"] if v["name"] == "one-byte")
    other_header = crypto.read_header(io.BytesIO(bytes.fromhex(other["envelope"])))
    with pytest.raises(crypto.DecryptionError):  # the release opens that document only
        crypto.unwrap_released_file_key(wrapped, header=other_header, identity=identity, context=context)


@pytest.mark.parametrize(("vectors", "vector"), _cases("negative"))
def test_negative_vector(vectors: dict[str, Any], vector: dict[str, Any]) -> None:
    with pytest.raises(getattr(crypto, vector["error"])):
        _decrypt(vectors, bytes.fromhex(vector["envelope"]), vector["identity"], vector["context"])


def test_vector_keys_match_their_ids() -> None:
    for name in ("alice", "bob"):
        assert _private(name).key_id == V2["keys"][name]["key_id"]
        assert FILES[1]["keys"][name]["key_id"] == V2["keys"][name]["key_id"]


def test_rewrapping_a_version_1_document_keeps_it_version_1() -> None:
    """Re-wrapping copies the preamble and body: an archived v1 document stays v1 and opens."""
    vector = next(v for v in FILES[1]["vectors"] if v["name"] == "chunk-plus-one")
    out = io.BytesIO()
    header = crypto.rewrap_stream(
        io.BytesIO(bytes.fromhex(vector["envelope"])), out, identity=_private("alice"), add=[_private("bob").public_key]
    )
    assert header.version == 1
    assert _decrypt(FILES[1], out.getvalue(), "bob", vector["context"]) == bytes.fromhex(vector["plaintext"])
