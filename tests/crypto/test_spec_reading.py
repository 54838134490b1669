"""A second decoder, written from site/developers/envelope-format.en.md alone, against the v2 vectors.

It imports nothing from crypto/: only the primitives the spec names (pyca/cryptography's
AES-GCM, HKDF, RSA-OAEP; hashlib's SHA-256). It follows the spec's steps in order and
names the error each step gives; every positive vector must open and every negative one
must fail with the error the vectors list. Where the spec is unclear, this is where it shows.
"""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VECTORS = json.loads((Path(__file__).parents[2] / "crypto" / "vectors" / "envelope-v2.json").read_text())
CONTEXT_FIELDS = ("provider", "filing", "document_id", "document_type")


class Refused(Exception):
    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


def take(data: bytes, at: int, size: int, error: str = "MalformedHeader") -> tuple[bytes, int]:
    if at + size > len(data):
        raise Refused(error)
    return data[at : at + size], at + size


def hkdf(file_key: bytes, salt: bytes, info: bytes) -> bytes:
    return HKDF(hashes.SHA256(), 32, salt, info).derive(file_key)


def parse_header(data: bytes) -> dict[str, Any]:
    """Steps 1-3."""
    magic, at = take(data, 0, 8)
    if magic != b"BEIANENV":
        raise Refused("MalformedHeader")
    version, at = take(data, at, 1)
    if version != b"\x02":
        raise Refused("UnsupportedVersion")
    fixed, at = take(data, at, 11)
    chunk_size, prefix = struct.unpack(">I7s", fixed)
    if not (64 <= chunk_size <= 1 << 20 and chunk_size & (chunk_size - 1) == 0):
        raise Refused("MalformedHeader")
    context = {}
    for name in CONTEXT_FIELDS:
        length, at = take(data, at, 2)
        size = int.from_bytes(length, "big")
        if not 1 <= size <= 1024:
            raise Refused("MalformedHeader")
        raw, at = take(data, at, size)
        try:
            context[name] = raw.decode("utf-8", errors="strict")
        except UnicodeDecodeError:
            raise Refused("MalformedHeader") from None
    preamble_end = at
    count, at = take(data, at, 1)
    if not 1 <= count[0] <= 16:
        raise Refused("MalformedHeader")
    entries = []
    for _ in range(count[0]):
        kind, at = take(data, at, 1)
        if kind[0] not in (1, 2):
            raise Refused("MalformedHeader")
        id_length, at = take(data, at, 1)
        if id_length[0] < 1:
            raise Refused("MalformedHeader")
        key_id, at = take(data, at, id_length[0])
        if not all(0x21 <= byte <= 0x7E for byte in key_id):
            raise Refused("MalformedHeader")
        wrapped_length, at = take(data, at, 2)
        size = int.from_bytes(wrapped_length, "big")
        if not 1 <= size <= 4096 or (kind[0] == 1 and size != 384):
            raise Refused("MalformedHeader")
        wrapped, at = take(data, at, size)
        entries.append((kind[0], key_id.decode("ascii"), wrapped))
    if len({key_id for _, key_id, _ in entries}) != len(entries):
        raise Refused("MalformedHeader")
    commitment, at = take(data, at, 32)
    return {"chunk_size": chunk_size, "prefix": prefix, "context": context, "entries": entries,
            "H_P": hashlib.sha256(data[:preamble_end]).digest(), "H_R": hashlib.sha256(data[: at - 32]).digest(),
            "commitment": commitment, "body": data[at:]}


def unwrap(identity: str, kind: int, wrapped: bytes, label: bytes) -> bytes:
    """Step 6 with the vectors' keys: RSA-OAEP-SHA-256, or the test-only AES-GCM wrapper."""
    try:
        if kind == 2:
            aead = AESGCM(bytes.fromhex(VECTORS["keys"]["wrapper"]["aes256_key"]))
            return aead.decrypt(hashlib.sha256(label).digest()[:12], wrapped, label)
        pem = VECTORS["keys"][identity]["private_key_pkcs8_pem"].encode()
        key = serialization.load_pem_private_key(pem, None)
        assert isinstance(key, rsa.RSAPrivateKey)
        oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=label)
        return key.decrypt(wrapped, oaep)
    except (InvalidTag, ValueError):
        raise Refused("DecryptionError") from None


def decrypt(data: bytes, expected: dict[str, str], identity: str, released: bytes | None = None) -> bytes:
    header = parse_header(data)
    if header["context"] != expected:  # step 4, before any unwrapping
        raise Refused("DecryptionError")
    if released is not None:  # steps 5 and 6 skipped; the released key is RSA-OAEP to the client
        file_key = unwrap(identity, 1, released, header["H_P"])
    else:
        kind = 2 if identity == "wrapper" else 1
        key_id = VECTORS["keys"][identity]["key_id"]
        mine = [entry for entry in header["entries"] if entry[:2] == (kind, key_id)]
        if not mine:
            raise Refused("NoMatchingRecipient")
        file_key = unwrap(identity, kind, mine[0][2], header["H_P"])
    if len(file_key) != 32 or hkdf(file_key, header["H_R"], b"beian-envelope/v1 commitment") != header["commitment"]:
        raise Refused("DecryptionError")  # step 7
    aead = AESGCM(hkdf(file_key, header["H_P"], b"beian-envelope/v1 body key"))
    body, step = header["body"], header["chunk_size"] + 16
    final = len(body) % step
    if final < 16:
        raise Refused("DecryptionError")
    plain = []
    for counter, at in enumerate(range(0, len(body) - final + 1, step)):
        last = at == len(body) - final
        nonce = header["prefix"] + counter.to_bytes(4, "big") + (b"\x01" if last else b"\x00")
        try:
            plain.append(aead.decrypt(nonce, body[at : at + (final if last else step)], header["H_P"]))
        except InvalidTag:
            raise Refused("DecryptionError") from None
    return b"".join(plain)


@pytest.mark.parametrize("vector", VECTORS["vectors"], ids=lambda v: v["name"])
def test_every_positive_vector_opens(vector: dict[str, Any]) -> None:
    data = bytes.fromhex(vector["envelope"])
    for identity in vector["recipients"]:
        assert decrypt(data, vector["context"], identity) == bytes.fromhex(vector["plaintext"])
    if "release" in vector:
        release = vector["release"]
        opened = decrypt(data, vector["context"], release["identity"], bytes.fromhex(release["wrapped_key"]))
        assert opened == bytes.fromhex(vector["plaintext"])
    header = parse_header(data)
    assert header["H_P"].hex() == vector["preamble_digest"]
    assert header["H_R"].hex() == vector["commitment_salt"]
    assert len(data) - len(header["body"]) == vector["header_length"]


@pytest.mark.parametrize("vector", VECTORS["negative"], ids=lambda v: v["name"])
def test_every_negative_vector_fails_with_its_error(vector: dict[str, Any]) -> None:
    with pytest.raises(Refused) as refused:
        decrypt(bytes.fromhex(vector["envelope"]), vector["context"], vector["identity"])
    assert refused.value.error == vector["error"]
