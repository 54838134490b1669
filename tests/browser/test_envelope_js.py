"""The browser's envelope implementation (site/assets/js/lib) against the format's test vectors.

The JavaScript side only encrypts, so it is held to what an encryptor can reproduce
(crypto/vectors/envelope-v1.json, "notes"): the preamble and body bytes exactly, the
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

VECTORS = json.loads((Path(crypto.__file__).parent / "vectors" / "envelope-v1.json").read_text())
KEYS = {
    name: PrivateKey.load(VECTORS["keys"][name]["private_key_pkcs8_pem"].encode(), None) for name in ("alice", "bob")
}


def spki(key: PrivateKey) -> dict[str, str]:
    """A recipient as the API describes it."""
    return {"key_id": key.key_id, "spki": base64.b64encode(key.public_key.spki).decode()}


def in_module(page: Any, live_server: str, body: str, arg: Any) -> Any:
    """Run ``body`` (async JS using ``envelope``, ``sha`` and ``arg``) on a page of the site."""
    page.goto(f"{live_server}/upload/")
    return page.evaluate(
        f"""async (arg) => {{
          const envelope = await import('/assets/js/lib/envelope.js');
          const sha = await import('/assets/js/lib/sha256.js');
          const hex = (b) => [...b].map(x => x.toString(16).padStart(2, '0')).join('');
          const bytes = (h) => Uint8Array.from(h.match(/../g) || [], x => parseInt(x, 16));
          {body}
        }}""",
        arg,
    )


def test_incremental_sha256_matches_webcrypto_and_the_vectors(page: Any, live_server: str) -> None:
    mismatches = in_module(
        page,
        live_server,
        """
        const wrong = [];
        const sizes = [0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000, 65536, 65537,
                       3 * 65536 + 17, 1 << 20];
        for (const size of sizes) {
          const data = new Uint8Array(size);
          for (let i = 0; i < size; i += 65536) crypto.getRandomValues(data.subarray(i, i + 65536));
          const expected = hex(new Uint8Array(await crypto.subtle.digest('SHA-256', data)));
          for (const step of [1, 7, 64, 100, 65536, size || 1]) {
            if (step === 1 && size > 4096) continue;
            const hash = new sha.Sha256();
            for (let i = 0; i < size; i += step) hash.update(data.subarray(i, i + step));
            const got = hex(hash.digest());
            if (got !== expected) wrong.push(`size ${size} step ${step}: ${got}`);
          }
        }
        for (const v of arg) {
          const got = hex(new sha.Sha256().update(bytes(v.plaintext)).digest());
          if (got !== v.plaintext_sha256) wrong.push(`vector ${v.name}: ${got}`);
        }
        return wrong;
    """,
        VECTORS["vectors"],
    )
    assert mismatches == []


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
          const sealed = await envelope.seal(new Blob([bytes(v.plaintext)]), {
            recipients, context: v.context, chunkSize: v.chunk_size, fileKey, noncePrefix });
          out.push({
            name: v.name,
            preamble: hex(preamble),
            preamble_digest: hex(await envelope.sha256(preamble)),
            commitment_salt: hex(await envelope.sha256(headerStart)),
            commitment: hex(await envelope.commitment(fileKey, headerStart)),
            header_length: sealed.headerLength,
            sealed: hex(new Uint8Array(await sealed.blob.arrayBuffer())),
          });
        }
        return out;
    """,
        {"vectors": VECTORS["vectors"], "keys": recipients},
    )
    assert [r["name"] for r in results] == [v["name"] for v in VECTORS["vectors"]]
    for vector, result in zip(VECTORS["vectors"], results, strict=True):
        envelope = bytes.fromhex(vector["envelope"])
        expected_header = crypto.read_header(io.BytesIO(envelope))
        assert envelope.startswith(bytes.fromhex(result["preamble"])), vector["name"]
        assert len(result["preamble"]) // 2 == len(expected_header.preamble), vector["name"]
        for name in ("preamble_digest", "commitment_salt", "commitment"):
            assert result[name] == vector[name], (vector["name"], name)

        sealed = bytes.fromhex(result["sealed"])
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
