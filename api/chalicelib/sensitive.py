"""ID numbers at rest: sealed per field, found through a keyed hash, shown masked.

An operator reading the database sees neither the numbers nor anything that can be
brute-forced offline without the index key (an 18-digit ID has little entropy, so
a plain hash would not do).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .errors import Unavailable
from .vault import Vault

FIELD_KEY = "id-field-key"
INDEX_KEY = "id-index-key"
# The record kind holding sealed ID numbers and their index hashes (filings.FILING, which
# imports this module): while one exists, lost field keys are never replaced by new ones.
SEALED_IN = "filing"


def mask(value: str) -> str:
    """Enough for a person to recognise their own number, not enough to use it."""
    if len(value) <= 4:
        return "*" * len(value)
    return value[:2] + "*" * (len(value) - 4) + value[-2:]


class SensitiveFields:
    def __init__(self, vault: Vault) -> None:
        self._vault = vault

    def _field_key(self) -> bytes:
        return self._vault.secret(FIELD_KEY, lambda: AESGCM.generate_key(bit_length=256), used_by=(SEALED_IN,))

    def _index_key(self) -> bytes:
        return self._vault.secret(INDEX_KEY, lambda: os.urandom(32), used_by=(SEALED_IN,))

    def prepare(self) -> None:
        """Load (or, before the first filing, create) both keys now."""
        self._field_key()
        self._index_key()

    def seal(self, value: str, *, filing_id: str, path: str) -> dict[str, str]:
        nonce = os.urandom(12)
        aad = f"{filing_id}|{path}".encode()
        sealed = nonce + AESGCM(self._field_key()).encrypt(nonce, value.encode(), aad)
        return {"sealed": base64.b64encode(sealed).decode(), "masked": mask(value)}

    def reveal(self, stored: dict[str, str], *, filing_id: str, path: str) -> str:
        raw = base64.b64decode(stored["sealed"])
        try:
            plain = AESGCM(self._field_key()).decrypt(raw[:12], raw[12:],
                                                      f"{filing_id}|{path}".encode())
        except InvalidTag as error:
            raise Unavailable("证件号码无法解密", "An ID number could not be decrypted") from error
        return plain.decode()

    def index_value(self, value: str) -> str:
        """The keyed hash under which a filing is found by an ID number."""
        return hmac.new(self._index_key(), value.upper().encode(), hashlib.sha256).hexdigest()
