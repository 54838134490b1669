"""The console's envelope opener (site/assets/js/lib/unseal.js) against the format's test vectors.

Every vector file in crypto/vectors (each format version the archive may hold) is opened in
the browser with the recipient's private key imported into WebCrypto and the recipient
entry's wrapped key, which is byte for byte what a key release returns: the plaintext must
come back exactly, and every negative vector must be refused with no plaintext.
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

import pytest

import crypto

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("backend_env", ["embedded"], indirect=True)]

VECTOR_FILES = sorted((Path(crypto.__file__).parent / "vectors").glob("envelope-v*.json"))


def pkcs8(pem: str) -> str:
    return "".join(line for line in pem.splitlines() if "-----" not in line)


def released_key(envelope: bytes, key_id: str) -> str | None:
    """The wrapped key of ``key_id``'s recipient entry, as a key release would send it."""
    try:
        header = crypto.read_header(io.BytesIO(envelope))
    except crypto.CryptoError:
        return None
    entry = next((r for r in header.recipients if r.key_id == key_id), None)
    return base64.b64encode(entry.wrapped_key).decode() if entry else None


def open_in_page(page: Any, cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return page.evaluate(
        """async (cases) => {
          const { unseal } = await import('/assets/js/lib/unseal.js');
          const bytes = (h) => Uint8Array.from(h.match(/../g) || [], (x) => parseInt(x, 16));
          const hex = (b) => [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
          const results = [];
          for (const c of cases) {
            const der = Uint8Array.from(atob(c.pkcs8), (ch) => ch.charCodeAt(0));
            const algorithm = { name: 'RSA-OAEP', hash: 'SHA-256' };
            const privateKey = await crypto.subtle.importKey('pkcs8', der, algorithm, false, ['decrypt']);
            try {
              const options = { wrappedKey: c.wrapped || 'AA==', privateKey, context: c.context };
              const plain = await unseal(bytes(c.envelope), options);
              results.push({ name: c.name, plaintext: hex(plain) });
            } catch (error) {
              results.push({ name: c.name, error: error.code || String(error) });
            }
          }
          return results;
        }""",
        cases,
    )


@pytest.mark.parametrize("vectors", VECTOR_FILES, ids=lambda path: path.stem)
def test_the_page_opens_every_vector_and_refuses_every_negative_one(page: Any, live_server: str, vectors: Path) -> None:
    data = json.loads(vectors.read_text())
    keys = {name: key for name, key in data["keys"].items() if "private_key_pkcs8_pem" in key}

    def case(vector: dict[str, Any], identity: str) -> dict[str, Any]:
        key = keys[identity]
        envelope = bytes.fromhex(vector["envelope"])
        return {"name": vector["name"], "envelope": vector["envelope"], "context": vector["context"],
                "pkcs8": pkcs8(key["private_key_pkcs8_pem"]), "wrapped": released_key(envelope, key["key_id"])}

    page.goto(f"{live_server}/staff/")
    positive = [case(v, next(r for r in v["recipients"] if r in keys)) for v in data["vectors"]
                if any(r in keys for r in v["recipients"])]
    opened = {r["name"]: r for r in open_in_page(page, positive)}
    for vector in data["vectors"]:
        if vector["name"] in opened:
            assert opened[vector["name"]].get("plaintext") == vector["plaintext"], vector["name"]
    assert opened, "no vector has an RSA recipient the page can open"

    negative = [case(v, v["identity"]) for v in data["negative"] if v.get("identity") in keys]
    refused = open_in_page(page, negative)
    assert refused and all("error" in r for r in refused), [r["name"] for r in refused if "error" not in r]
