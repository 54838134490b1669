"""The browser's envelope implementation (site/assets/js/lib) against the format's test vectors.

The JavaScript side only encrypts, so it is held to what an encryptor can reproduce
(crypto/vectors/envelope-v2.json, "notes"): the preamble and body bytes exactly, the
commitment from the vector's header, and a whole envelope that the Python
implementation decrypts. The negative vectors are for decryptors.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pytest

import crypto
from crypto.keys import PrivateKey

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("backend_env", ["embedded"], indirect=True)]

VECTORS = json.loads((Path(crypto.__file__).parent / "vectors" / "envelope-v2.json").read_text())
KEYS = {
    name: PrivateKey.load(VECTORS["keys"][name]["private_key_pkcs8_pem"].encode(), None) for name in ("alice", "bob")
}


def spki(key: PrivateKey) -> dict[str, str]:
    """A recipient as the API describes it."""
    return {"key_id": key.key_id, "spki": base64.b64encode(key.public_key.spki).decode()}


def in_module(page: Any, live_server: str, body: str, arg: Any) -> Any:
    """Run ``body`` (async JS using ``envelope``, ``collect`` and ``arg``) on a page of the site."""
    page.goto(f"{live_server}/upload/")
    return page.evaluate(
        f"""async (arg) => {{
          const envelope = await import('/assets/js/lib/envelope.js');
          const collect = async (sealed) => {{
            const parts = [];
            for await (const part of sealed.chunks) parts.push(part);
            return envelope.concat(parts);
          }};
          const hex = (b) => [...b].map(x => x.toString(16).padStart(2, '0')).join('');
          const bytes = (h) => Uint8Array.from(h.match(/../g) || [], x => parseInt(x, 16));
          {body}
        }}""",
        arg,
    )


def test_the_javascript_envelope_reproduces_every_vector(page: Any, live_server: str) -> None:
    recipients = {"alice": spki(KEYS["alice"]), "bob": spki(KEYS["bob"])}
    results = in_module(
        page,
        live_server,
        """
        const out = [];
        for (const v of arg.vectors) {
          const envelopeBytes = bytes(v.envelope);
          const fileKey = bytes(v.file_key);
          const noncePrefix = bytes(v.nonce_prefix);
          const preamble = envelope.encodePreamble(v.chunk_size, noncePrefix, v.context);
          const headerStart = envelopeBytes.subarray(0, v.header_length - 32);
          const recipients = await Promise.all(v.recipients.filter(r => r in arg.keys)
                                               .map(r => envelope.importRecipient(arg.keys[r])));
          if (!recipients.length) continue;  // sealed for a key wrapper only: browsers do not
          const sealed = await envelope.seal(new Blob([bytes(v.plaintext)]), {
            recipients, context: v.context, chunkSize: v.chunk_size, fileKey, noncePrefix });
          out.push({
            name: v.name,
            preamble: hex(preamble),
            preamble_digest: hex(await envelope.sha256(preamble)),
            commitment_salt: hex(await envelope.sha256(headerStart)),
            commitment: hex(await envelope.commitment(fileKey, headerStart)),
            header_length: sealed.headerLength,
            size: sealed.size,
            sealed: hex(await collect(sealed)),
          });
        }
        return out;
    """,
        {"vectors": VECTORS["vectors"], "keys": recipients},
    )
    vectors = [v for v in VECTORS["vectors"] if set(v["recipients"]) & set(KEYS)]
    assert [r["name"] for r in results] == [v["name"] for v in vectors]
    for vector, result in zip(vectors, results, strict=True):
        envelope = bytes.fromhex(vector["envelope"])
        expected_header = crypto.read_header(io.BytesIO(envelope))
        assert envelope.startswith(bytes.fromhex(result["preamble"])), vector["name"]
        assert len(result["preamble"]) // 2 == len(expected_header.preamble), vector["name"]
        for name in ("preamble_digest", "commitment_salt", "commitment"):
            assert result[name] == vector[name], (vector["name"], name)

        sealed = bytes.fromhex(result["sealed"])
        assert len(sealed) == result["size"], vector["name"]
        header = crypto.read_header(io.BytesIO(sealed))
        assert header.length == result["header_length"]
        assert header.preamble == expected_header.preamble, vector["name"]
        assert sealed[header.length :] == envelope[expected_header.length :], vector["name"]
        context = crypto.Context(**vector["context"])
        for name in vector["recipients"]:
            if name in KEYS:
                plain = io.BytesIO()
                crypto.decrypt_stream(io.BytesIO(sealed), plain, context=context, identity=KEYS[name])
                assert plain.getvalue() == bytes.fromhex(vector["plaintext"]), (vector["name"], name)


def test_the_javascript_refuses_a_key_that_is_not_what_it_claims(page: Any, live_server: str) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    small = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    der = small.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    cases = {
        # Bob's key under Alice's key id: a swapped key must not be encrypted to.
        "swapped": {"key_id": KEYS["alice"].key_id, "spki": spki(KEYS["bob"])["spki"]},
        "rsa-2048": {
            "key_id": "SHA256:" + base64.b32encode(hashlib.sha256(der).digest()).decode().rstrip("="),
            "spki": base64.b64encode(der).decode(),
        },
    }
    codes = in_module(
        page,
        live_server,
        """
        const codes = {};
        for (const [name, recipient] of Object.entries(arg)) {
          try { await envelope.importRecipient(recipient); codes[name] = 'accepted'; }
          catch (error) { codes[name] = error.code; }
        }
        return codes;
    """,
        cases,
    )
    assert codes == {"swapped": "key_mismatch", "rsa-2048": "key_size"}


def test_seal_refuses_duplicate_and_too_many_recipients(page: Any, live_server: str) -> None:
    codes = in_module(
        page,
        live_server,
        """
        const alice = await envelope.importRecipient(arg);
        const attempt = async (recipients) => {
          try {
            await envelope.seal(new Blob([new Uint8Array(10)]), {
              recipients, context: {provider: 'p', filing: 'f', document_id: 'd', document_type: 't'} });
            return 'sealed';
          } catch (error) { return error.code; }
        };
        const many = Array.from({length: 17}, (_, i) => ({keyId: `k${i}`, key: alice.key}));
        return [await attempt([]), await attempt([alice, alice]), await attempt(many),
                await attempt(many.slice(0, 16))];
    """,
        spki(KEYS["alice"]),
    )
    assert codes == ["recipients", "recipients", "recipients", "sealed"]


def test_large_files_stream_in_blocks_and_decrypt(page: Any, live_server: str) -> None:
    """A file over several blocks, a size on a block boundary: the pieces stay block-sized."""
    results = in_module(
        page,
        live_server,
        """
        const alice = await envelope.importRecipient(arg);
        const out = [];
        for (const size of [16 * 65536, 16 * 65536 * 2 + 5]) {
          const data = new Uint8Array(size);
          for (let i = 0; i < size; i += 65536) crypto.getRandomValues(data.subarray(i, i + 65536));
          const sealed = await envelope.seal(new Blob([data]), {
            recipients: [alice], context: {provider: 'p', filing: 'f', document_id: 'd', document_type: 't'} });
          const pieces = [];
          for await (const part of sealed.chunks) pieces.push(part);
          out.push({plain: hex(data), sealed: hex(envelope.concat(pieces)), size: sealed.size,
                    largest: Math.max(...pieces.map(p => p.length))});
        }
        return out;
    """,
        spki(KEYS["alice"]),
    )
    context = crypto.Context("p", "f", "d", "t")
    for result in results:
        sealed = bytes.fromhex(result["sealed"])
        assert len(sealed) == result["size"]
        assert result["largest"] <= 16 * (65536 + 16) + 16  # a block, and an empty final chunk
        plain = io.BytesIO()
        crypto.decrypt_stream(io.BytesIO(sealed), plain, context=context, identity=KEYS["alice"])
        assert plain.getvalue() == bytes.fromhex(result["plain"])
