"""Write crypto/vectors/envelope-v1.json: test vectors for every implementation.

Run ``python -m crypto.vectors.generate``. Keys, file keys and nonce prefixes
are fixed; only RSA-OAEP's own random seed differs between runs, so running it
again changes the wrapped keys and commitments but nothing else. Keys are
kept from an existing file so that rerunning does not churn them.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from crypto.envelope import SEALED_FINAL_SIZE, _ChunkCipher, _seal, seal_final_chunk
from crypto.errors import DecryptionError
from crypto.format import TAG_SIZE, Context, Header, read_header
from crypto.keys import PrivateKey, Recipient

VECTORS = Path(__file__).with_name("envelope-v1.json")
CHUNK = 64  # the smallest chunk size: many chunks in a few bytes
WRAPPER_KEY = bytes(range(32))


class FixedKeyWrapper:
    """A deterministic stand-in for a KMS key: AES-256-GCM, nonce = SHA-256(aad)[:12].

    Test-only: a real wrapper must never derive its nonce from the aad alone.
    """

    key_id = "test-wrapper"

    def __init__(self, key: bytes = WRAPPER_KEY) -> None:
        self._aead = AESGCM(key)

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
    if VECTORS.exists():
        stored = json.loads(VECTORS.read_text())["keys"]
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
        ("three-recipients", "备案材料 ".encode() * 20, ["alice", "bob", "wrapper"], CHUNK),
        ("default-chunk-size", b"hello, beian\n" * 100, ["alice"], 65536),
    ]
    vectors = []
    for name, plaintext, names, chunk_size in cases:
        recipients: list[Recipient] = [wrapper if n == "wrapper" else keys[n].public_key for n in names]
        context = _context()
        envelope = seal(plaintext, recipients, name=name, context=context, chunk_size=chunk_size)
        header = read_header(io.BytesIO(envelope))
        vectors.append(
            {
                "name": name,
                "chunk_size": chunk_size,
                "context": _context_json(context),
                "recipients": names,
                "file_key": _file_key(name).hex(),
                "nonce_prefix": _prefix(name).hex(),
                "plaintext": plaintext.hex(),
                "plaintext_sha256": hashlib.sha256(plaintext).hexdigest(),
                "preamble_digest": header.preamble_digest.hex(),
                "commitment_salt": header.commitment_salt.hex(),
                "commitment": header.commitment.hex(),
                "header_length": header.length,
                "envelope": envelope.hex(),
            }
        )
    return vectors


def _chunks(envelope: bytes, header: Header) -> list[bytes]:
    """Split a body into its sealed chunks (data chunks, then the final chunk)."""
    body = envelope[header.length :]
    data, final = body[:-SEALED_FINAL_SIZE], body[-SEALED_FINAL_SIZE:]
    step = header.chunk_size + TAG_SIZE
    return [data[i : i + step] for i in range(0, len(data), step)] + [final]


def _negative(keys: dict[str, PrivateKey], positive: list[dict[str, Any]]) -> list[dict[str, Any]]:
    base = next(v for v in positive if v["name"] == "chunk-plus-one")
    envelope = bytes.fromhex(base["envelope"])
    header = read_header(io.BytesIO(envelope))
    head, chunks = envelope[: header.length], _chunks(envelope, header)
    cipher = _ChunkCipher(header, _file_key("chunk-plus-one"))
    plaintext = bytes.fromhex(base["plaintext"])

    def final(counter: int, length: int, digest: bytes) -> bytes:
        return seal_final_chunk(cipher, counter, length, digest)

    def data_chunk(counter: int, data: bytes, last: bool = False) -> bytes:
        return cipher.seal(counter, data, last)

    def edit(offset: int, value: bytes) -> bytes:
        return envelope[:offset] + value + envelope[offset + len(value) :]

    other = seal(plaintext, [keys["alice"].public_key], name="other", context=_context("doc-2"))
    other_header = read_header(io.BytesIO(other))
    moved_context = Context(**base["context"] | {"document_id": "doc-0002"})
    relabelled = Header(1, header.chunk_size, moved_context, header.recipients, header.nonce_prefix, b"")
    relabelled_head = relabelled.preamble + relabelled.recipients_section + header.commitment
    digest = hashlib.sha256(plaintext).digest()
    recipients_at = len(header.preamble)
    bad: list[tuple[str, bytes, str, Context | None]] = [
        (
            "bit-flip-in-first-chunk",
            edit(header.length, bytes([envelope[header.length] ^ 1])),
            "DecryptionError",
            None,
        ),
        (
            "bit-flip-in-final-chunk",
            edit(len(envelope) - 1, bytes([envelope[-1] ^ 0x80])),
            "DecryptionError",
            None,
        ),
        ("truncated-before-final-chunk", head + b"".join(chunks[:-1]), "DecryptionError", None),
        ("truncated-inside-chunk", envelope[: header.length + 10], "DecryptionError", None),
        ("chunks-reordered", head + chunks[1] + chunks[0] + chunks[2], "DecryptionError", None),
        (
            "chunk-duplicated",
            head + chunks[0] + chunks[0] + chunks[1] + chunks[2],
            "DecryptionError",
            None,
        ),
        ("bytes-appended", envelope + b"\x00", "DecryptionError", None),
        ("final-chunk-repeated", envelope + chunks[-1], "DecryptionError", None),
        (
            "empty-data-chunk-before-final",
            head + chunks[0] + chunks[1] + data_chunk(2, b"") + final(3, len(plaintext), digest),
            "DecryptionError",
            None,
        ),
        (
            "no-final-chunk-last-flag-on-data",
            head + chunks[0] + data_chunk(1, plaintext[CHUNK:], True),
            "DecryptionError",
            None,
        ),
        (
            "final-chunk-wrong-length",
            head + chunks[0] + chunks[1] + final(2, len(plaintext) + 1, digest),
            "DecryptionError",
            None,
        ),
        (
            "final-chunk-wrong-digest",
            head + chunks[0] + chunks[1] + final(2, len(plaintext), bytes(32)),
            "DecryptionError",
            None,
        ),
        (
            "commitment-edited",
            edit(header.length - 1, bytes([envelope[header.length - 1] ^ 1])),
            "DecryptionError",
            None,
        ),
        (
            "header-context-edited",
            relabelled_head + envelope[header.length :],
            "DecryptionError",
            moved_context,
        ),
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
        ("version-2", edit(8, b"\x02"), "UnsupportedVersion", None),
        ("chunk-size-not-power-of-two", edit(9, (100).to_bytes(4, "big")), "MalformedHeader", None),
        ("hostile-context-length", edit(20, b"\xff\xff"), "MalformedHeader", None),
        ("zero-recipients", envelope[:recipients_at] + b"\x00", "MalformedHeader", None),
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
        "version": 1,
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
                "key_id": FixedKeyWrapper.key_id,
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
