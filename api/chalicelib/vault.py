"""The archive's own secrets, created on first use and stored sealed by key custody.

A secret is generated once, sealed (a local master key, or KMS on AWS) and kept as a
record; every process unseals it on first use and keeps it in memory.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .ports import KeyCustody, Record, Records, VersionConflict

SEALED = "sealed-secret"


class Vault:
    def __init__(self, records: Records, custody: KeyCustody) -> None:
        self._records = records
        self._custody = custody
        self._cache: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def secret(self, name: str, create: Callable[[], bytes]) -> bytes:
        """The secret called ``name``, made by ``create`` if it does not exist yet."""
        with self._lock:
            if name not in self._cache:
                self._cache[name] = self._load_or_create(name, create)
            return self._cache[name]

    def ed25519_key(self, name: str) -> Ed25519PrivateKey:
        """The Ed25519 signing key kept as secret ``name``, generated on first use."""
        raw = self.secret(name, lambda: Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()))
        return Ed25519PrivateKey.from_private_bytes(raw)

    def _load_or_create(self, name: str, create: Callable[[], bytes]) -> bytes:
        stored = self._records.get(SEALED, name)
        if stored is None:
            sealed = self._custody.seal(create(), purpose=name)
            body = {"sealed": base64.b64encode(sealed).decode(), "custody": self._custody.key_id}
            try:
                stored = self._records.save(Record(SEALED, name, body))
            except VersionConflict:  # another process created it first: use theirs
                stored = self._records.get(SEALED, name)
                assert stored is not None
        return self._custody.unseal(base64.b64decode(stored.body["sealed"]), purpose=name)
