"""Write crypto/vectors/envelope-v2.json: test vectors for every implementation.

Run ``python -m crypto.vectors.generate``. Keys, file keys and nonce prefixes
are fixed; only RSA-OAEP's own random seed differs between runs, so running it
again changes the wrapped keys and commitments but nothing else. Keys are
kept from the existing files so that rerunning does not churn them.
crypto/vectors/envelope-v1.json holds version 1's vectors, frozen: version 1 is
read only, and no code writes it any more.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from crypto.envelope import _ChunkCipher, _seal, seal_v1_final_chunk, wrap_file_key_for
from crypto.errors import DecryptionError
from crypto.format import TAG_SIZE, Context, Header, read_header
from crypto.keys import FileKey, PrivateKey, Recipient

HERE = Path(__file__).parent
VECTORS = HERE / "envelope-v2.json"
V1_VECTORS = HERE / "envelope-v1.json"
CHUNK = 64  # the smallest chunk size: many chunks in a few bytes
WRAPPER_KEY = bytes(range(32))
# Stands for an AWS KMS key: what the AWS backend writes as a kind 0x02 key id.
WRAPPER_KEY_ID = "arn:aws-cn:kms:cn-north-1:111122223333:key/0f1e2d3c-test-only"


class FixedKeyWrapper:
    """A deterministic stand-in for a KMS key: AES-256-GCM, nonce = SHA-256(aad)[:12].

    Test-only: a real wrapper must never derive its nonce from the aad alone.
    """

    def __init__(self, key: bytes = WRAPPER_KEY, key_id: str = WRAPPER_KEY_ID) -> None:
        self._aead = AESGCM(key)
        self.key_id = key_id

    def wrap(self, file_key: bytes, aad: bytes) -> bytes:
        return self._aead.encrypt(hashlib.sha256(aad).digest()[:12], file_key, aad)

    def unwrap(self, wrapped: bytes, aad: bytes) -> bytes:
        try:
            return self._aead.decrypt(hashlib.sha256(aad).digest()[:12], wrapped, aad)
        except Exception:
            raise DecryptionError() from None


def _context(document_id: str = "doc-0001") -> Context:
    return Context("example-isp", "京ICP备11018762号-11", document_id, "id-card-front")


def _context_json(context: Context) -> dict[str, str]:
    return {
        "provider": context.provider,
        "filing": context.filing,
        "document_id": context.document_id,
        "document_type": context.document_type,
    }


def _file_key(name: str) -> bytes:
    return hashlib.sha256(b"file key " + name.encode()).digest()


def _prefix(name: str) -> bytes:
    return hashlib.sha256(b"nonce prefix " + name.encode()).digest()[:7]


def seal(
    plaintext: bytes,
    recipients: list[Recipient],
    *,
    name: str,
    context: Context,
    chunk_size: int = CHUNK,
) -> bytes:
    out = io.BytesIO()
    _seal(
        io.BytesIO(plaintext),
        out,
        recipients=recipients,
        context=context,
        file_key=_file_key(name),
        nonce_prefix=_prefix(name),
        chunk_size=chunk_size,
        progress=None,
    )
    return out.getvalue()


def _load_keys() -> dict[str, PrivateKey]:
    for path in (VECTORS, V1_VECTORS):
        if path.exists():
            stored = json.loads(path.read_text())["keys"]
            return {
                name: PrivateKey.load(stored[name]["private_key_pkcs8_pem"].encode(), None) for name in ("alice", "bob")
            }
    return {"alice": PrivateKey.generate(), "bob": PrivateKey.generate()}


def _positive(keys: dict[str, PrivateKey]) -> list[dict[str, Any]]:
    wrapper = FixedKeyWrapper()
    cases: list[tuple[str, bytes, list[str], int]] = [
        ("empty", b"", ["alice"], CHUNK),
        ("one-byte", b"\x00", ["alice"], CHUNK),
        ("chunk-minus-one", bytes(range(CHUNK - 1)), ["alice"], CHUNK),
        ("one-chunk", bytes(range(CHUNK)), ["alice"], CHUNK),
        ("chunk-plus-one", bytes(range(CHUNK + 1)), ["alice"], CHUNK),
        ("two-chunks", bytes(range(2 * CHUNK)), ["alice"], CHUNK),
        ("three-recipients", "备案材料 ".encode() * 20, ["alice", "bob", "wrapper"], CHUNK),
        ("default-chunk-size", b"hello, beian\n" * 100, ["alice"], 65536),
        ("key-wrapper-released", "由密钥服务封装 ".encode() * 9, ["wrapper"], CHUNK),
    ]
    vectors = []
    for name, plaintext, names, chunk_size in cases:
        recipients: list[Recipient] = [wrapper if n == "wrapper" else keys[n].public_key for n in names]
        context = _context()
        envelope = seal(plaintext, recipients, name=name, context=context, chunk_size=chunk_size)
        header = read_header(io.BytesIO(envelope))
        vector: dict[str, Any] = {
            "name": name,
            "chunk_size": chunk_size,
            "context": _context_json(context),
            "recipients": names,
            "file_key": _file_key(name).hex(),
            "nonce_prefix": _prefix(name).hex(),
            "plaintext": plaintext.hex(),
            "preamble_digest": header.preamble_digest.hex(),
            "commitment_salt": header.commitment_salt.hex(),
            "commitment": header.commitment.hex(),
            "header_length": header.length,
            "envelope": envelope.hex(),
        }
        if names == ["wrapper"]:
            # A key release (the container the API returns): the file key wrapped for Bob's
            # one-off key, though Bob is no recipient; it opens this document and no other.
            released = wrap_file_key_for(keys["bob"].public_key, FileKey(_file_key(name), header.preamble_digest))
            vector["release"] = {"identity": "bob", "wrapped_key": released.hex()}
        vectors.append(vector)
    return vectors


def _chunks(envelope: bytes, header: Header) -> list[bytes]:
    """Split a body into its sealed chunks (data chunks, then the final chunk)."""
    body = envelope[header.length :]
    step = header.chunk_size + TAG_SIZE
    final = len(body) % step
    data = body[: len(body) - final]
    return [data[i : i + step] for i in range(0, len(data), step)] + [body[len(body) - final :]]


def _negative(keys: dict[str, PrivateKey], positive: list[dict[str, Any]]) -> list[dict[str, Any]]:
    base = next(v for v in positive if v["name"] == "chunk-plus-one")
    envelope = bytes.fromhex(base["envelope"])
    header = read_header(io.BytesIO(envelope))
    head, chunks = envelope[: header.length], _chunks(envelope, header)
    cipher = _ChunkCipher(header, _file_key("chunk-plus-one"))
    plaintext = bytes.fromhex(base["plaintext"])

    def sealed(counter: int, data: bytes, last: bool = False) -> bytes:
        return cipher.seal(counter, data, last)

    def edit(offset: int, value: bytes) -> bytes:
        return envelope[:offset] + value + envelope[offset + len(value) :]

    other = seal(plaintext, [keys["alice"].public_key], name="other", context=_context("doc-2"))
    other_header = read_header(io.BytesIO(other))
    moved_context = Context(**base["context"] | {"document_id": "doc-0002"})
    relabelled = Header(2, header.chunk_size, moved_context, header.recipients, header.nonce_prefix, b"")
    relabelled_head = relabelled.preamble + relabelled.recipients_section + header.commitment
    recipients_at = len(header.preamble)
    alice = header.recipients[0]
    key_id_at = recipients_at + 3
    # Alice's entry again as kind 0x02: two entries, one key id, different kinds.
    twin = b"\x02" + bytes([len(alice.key_id)]) + alice.key_id.encode() + (32).to_bytes(2, "big") + bytes(32)
    duplicated = envelope[:recipients_at] + b"\x02" + alice.encode() + twin + header.commitment
    bad: list[tuple[str, bytes, str, Context | None]] = [
        ("bit-flip-in-first-chunk", edit(header.length, bytes([envelope[header.length] ^ 1])), "DecryptionError", None),
        ("bit-flip-in-final-chunk", edit(len(envelope) - 1, bytes([envelope[-1] ^ 0x80])), "DecryptionError", None),
        ("truncated-before-final-chunk", head + b"".join(chunks[:-1]), "DecryptionError", None),
        ("truncated-inside-chunk", envelope[: header.length + 10], "DecryptionError", None),
        ("final-chunk-cut-below-tag", envelope[:-2], "DecryptionError", None),
        ("chunks-reordered", head + chunks[1] + chunks[0], "DecryptionError", None),
        ("chunk-duplicated", head + chunks[0] + chunks[0] + chunks[1], "DecryptionError", None),
        ("bytes-appended", envelope + b"\x00", "DecryptionError", None),
        ("final-chunk-repeated", envelope + chunks[-1], "DecryptionError", None),
        ("empty-final-chunk-appended", envelope + sealed(2, b"", last=True), "DecryptionError", None),
        ("final-flag-on-a-full-chunk", head + sealed(0, plaintext[:CHUNK], last=True), "DecryptionError", None),
        ("short-chunk-without-final-flag", head + chunks[0] + sealed(1, plaintext[CHUNK:]), "DecryptionError", None),
        (
            "version-1-final-chunk",
            head + chunks[0] + sealed(1, plaintext[CHUNK:]) + seal_v1_final_chunk(
                cipher, 2, len(plaintext), hashlib.sha256(plaintext).digest()),
            "DecryptionError",
            None,
        ),
        (
            "commitment-edited",
            edit(header.length - 1, bytes([envelope[header.length - 1] ^ 1])),
            "DecryptionError",
            None,
        ),
        ("header-context-edited", relabelled_head + envelope[header.length :], "DecryptionError", moved_context),
        (
            "recipient-from-another-document",
            envelope[:recipients_at]
            + other[len(other_header.preamble) : other_header.length]
            + envelope[header.length :],
            "DecryptionError",
            None,
        ),
        ("moved-to-another-document", envelope, "DecryptionError", moved_context),
        ("bad-magic", edit(0, b"X"), "MalformedHeader", None),
        ("version-3", edit(8, b"\x03"), "UnsupportedVersion", None),
        ("version-0", edit(8, b"\x00"), "UnsupportedVersion", None),
        ("chunk-size-not-power-of-two", edit(9, (100).to_bytes(4, "big")), "MalformedHeader", None),
        ("hostile-context-length", edit(20, b"\xff\xff"), "MalformedHeader", None),
        ("context-not-utf-8", edit(22, b"\xff"), "MalformedHeader", None),
        ("context-overlong-utf-8", edit(22, b"\xc0\xaf"), "MalformedHeader", None),
        ("zero-recipients", envelope[:recipients_at] + b"\x00", "MalformedHeader", None),
        ("unknown-recipient-kind", edit(recipients_at + 1, b"\x03"), "MalformedHeader", None),
        ("key-id-with-space", edit(key_id_at + 6, b" "), "MalformedHeader", None),
        ("key-id-with-del", edit(key_id_at + 6, b"\x7f"), "MalformedHeader", None),
        ("key-id-not-ascii", edit(key_id_at + 6, b"\xa0"), "MalformedHeader", None),
        ("duplicate-key-id-across-kinds", duplicated, "MalformedHeader", None),
        ("rsa-wrapped-key-not-384-bytes", edit(key_id_at + len(alice.key_id), (383).to_bytes(2, "big")),
         "MalformedHeader", None),
        ("header-truncated", envelope[: header.length - 1], "MalformedHeader", None),
    ]
    bob_only = seal(plaintext, [keys["bob"].public_key], name="bob-only", context=_context())
    bad.append(("no-matching-recipient", bob_only, "NoMatchingRecipient", None))
    return [
        {
            "name": name,
            "identity": "alice",
            "context": _context_json(context or _context()),
            "envelope": data.hex(),
            "error": error,
        }
        for name, data, error, context in bad
    ]


def generate() -> dict[str, Any]:
    keys = _load_keys()
    positive = _positive(keys)
    return {
        "format": "beian-envelope",
        "version": 2,
        "spec": "site/developers/envelope-format.en.md",
        "notes": (
            "Hex strings are lowercase. RSA-OAEP is randomised, so an encryptor cannot "
            "reproduce the wrapped keys (and hence the commitment): compare the preamble "
            "and body bytes, and check the commitment from the given header bytes."
        ),
        "keys": {
            **{
                name: {
                    "kind": "rsa-oaep-3072-sha256",
                    "key_id": key.key_id,
                    "private_key_pkcs8_pem": key.dump_pem(None).decode(),
                    "public_key_spki_pem": key.public_key.dump_pem().decode(),
                }
                for name, key in keys.items()
            },
            "wrapper": {
                "kind": "key-wrapper",
                "key_id": WRAPPER_KEY_ID,
                "test_only_algorithm": "AES-256-GCM, nonce = SHA-256(aad)[0:12], aad = aad",
                "aes256_key": WRAPPER_KEY.hex(),
            },
        },
        "vectors": positive,
        "negative": _negative(keys, positive),
    }


def main() -> None:
    VECTORS.write_text(json.dumps(generate(), ensure_ascii=False, indent=1) + "\n")


if __name__ == "__main__":
    main()
