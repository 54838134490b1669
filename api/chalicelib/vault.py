"""The archive's own secrets, created on first use and stored sealed by key custody.

A secret is generated once, sealed (a local master key, or KMS on AWS) and kept as a
record; every process unseals it on first use and keeps it in memory. A secret is created
only while nothing depends on it: once records it protects exist, a missing secret is an
incident (restore it from a backup), never a reason to quietly make a new one.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable, Iterable

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .ports import KeyCustody, Record, Records, StorageError, VersionConflict

SEALED = "sealed-secret"
# In ``used_by``: every record (other than the vault's own) depends on the secret.
ANY_RECORD = "*"


class SecretMissing(StorageError):
    """A secret is gone while records that depend on it exist: someone deleted it."""

    message_zh = "归档密钥缺失，而依赖它的记录仍在；系统不会另建新密钥。请从备份恢复，并告知合规负责人"
    message_en = ("An archive secret is missing while records that depend on it exist; no new one is made. "
                  "Restore it from a backup and tell the compliance officer")

    def __init__(self, name: str) -> None:
        super().__init__(f"sealed secret {name} is missing while records depending on it exist")
        self.name = name

    def __reduce__(self) -> tuple[type[SecretMissing], tuple[str]]:
        return type(self), (self.name,)


class Vault:
    def __init__(self, records: Records, custody: KeyCustody) -> None:
        self._records = records
        self._custody = custody
        self._cache: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def secret(self, name: str, create: Callable[[], bytes], *, used_by: Iterable[str] = ()) -> bytes:
        """The secret called ``name``, made by ``create`` if it does not exist yet and no
        record of a kind in ``used_by`` exists (else SecretMissing)."""
        with self._lock:
            if name not in self._cache:
                self._cache[name] = self._load_or_create(name, create, frozenset(used_by))
            return self._cache[name]

    def ed25519_key(self, name: str) -> Ed25519PrivateKey:
        """The Ed25519 signing key kept as secret ``name``, generated on first use."""
        raw = self.secret(name, lambda: Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()))
        return Ed25519PrivateKey.from_private_bytes(raw)

    def _in_use(self, kinds: frozenset[str]) -> bool:
        """Whether a record of one of ``kinds`` exists: a scan, run only when a secret is missing."""
        cursor: str | None = None
        while kinds:
            page = self._records.scan(after=cursor)
            if any(record.kind != SEALED and (ANY_RECORD in kinds or record.kind in kinds)
                   for record in page.records):
                return True
            if page.cursor is None:
                return False
            cursor = page.cursor
        return False

    def _load_or_create(self, name: str, create: Callable[[], bytes], used_by: frozenset[str]) -> bytes:
        stored = self._records.get(SEALED, name)
        if stored is None:
            if self._in_use(used_by):
                raise SecretMissing(name)
            sealed = self._custody.seal(create(), purpose=name)
            body = {"sealed": base64.b64encode(sealed).decode(), "custody": self._custody.key_id}
            try:
                stored = self._records.save(Record(SEALED, name, body))
            except VersionConflict:  # another process created it first: use theirs
                stored = self._records.get(SEALED, name)
                assert stored is not None
        return self._custody.unseal(base64.b64decode(stored.body["sealed"]), purpose=name)
