"""Records signed by the archive, so that editing the table outside it breaks a check.

Without a signature, anyone who can write the table (an operator, a leaked role) could
move a filing to another state, change a deadline, a retention date or a verifier's name,
and nothing would notice. Every record saved through :class:`SignedRecords` carries an
HMAC-SHA256 over its kind, key, version, body and index entries, under a key the vault
keeps sealed; a record whose tag is missing or wrong is refused on every read
(:class:`RecordTampered`), and ``beian reconcile`` lists such records without stopping.

Not detected here: putting back an earlier signed version of the same record, or deleting
a record whole. The audit chain records every step and every disposal, so both show there;
the reconciler compares records with the audit log (reconcile.py): a filing at or below the
version a step was taken from (the last step rolled back too), a filing deleted whole, a
staff revocation deleted.
The vault's own records are exempt: key custody already authenticates them, and the
signing key is one of them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import os
from collections.abc import Iterable

from .ports import Backend, IndexEntry, Page, Record, Records, StorageError
from .vault import ANY_RECORD, SEALED, Vault

MAC_FIELD = "_mac"
MAC_KEY = "record-mac-key"


class RecordTampered(StorageError):
    """A stored record's signature does not match it: it was written outside the archive."""

    message_zh = "该记录未通过完整性校验，可能已在系统之外被修改；本次操作未完成，请告知合规负责人"
    message_en = ("This record fails its integrity check: it may have been changed outside the system. "
                  "Nothing was done; tell the compliance officer")

    def __init__(self, kind: str, key: str) -> None:
        super().__init__(f"record {kind}/{key} fails its integrity check")
        self.kind = kind
        self.key = key

    def __reduce__(self) -> tuple[type[RecordTampered], tuple[str, str]]:
        # Raised in a report's worker process, it must reach the parent whole (a pool whose
        # result could not be unpickled waits for ever).
        return RecordTampered, (self.kind, self.key)


class SignedRecords:
    """The records port with every record signed on the way in and checked on the way out."""

    def __init__(self, records: Records, vault: Vault) -> None:
        self.unverified = records  # for the reconciler, which reports bad records instead of stopping
        self._vault = vault

    def _tag(self, record: Record, version: int) -> str:
        entries = [[entry.index, entry.value, entry.sort] for entry in record.indexes]
        signed = json.dumps([record.kind, record.key, version, record.body, entries],
                            sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hmac.new(self._key(), signed.encode(), hashlib.sha256).hexdigest()

    def _key(self) -> bytes:
        return self._vault.secret(MAC_KEY, lambda: os.urandom(32), used_by=(ANY_RECORD,))

    def prepare(self) -> None:
        """Load (or, in an empty archive, create) the signing key now."""
        self._key()

    def _signed(self, record: Record) -> Record:
        """``record`` as it is stored: saving gives it the next version."""
        if record.kind == SEALED:
            return record
        body = {name: value for name, value in record.body.items() if name != MAC_FIELD}
        unsigned = dataclasses.replace(record, body=body)
        return dataclasses.replace(record, body={**body, MAC_FIELD: self._tag(unsigned, record.version + 1)})

    def verified(self, stored: Record) -> Record:
        """``stored`` without its tag; raises RecordTampered if the tag does not match."""
        if stored.kind == SEALED:
            return stored
        body = dict(stored.body)
        tag = body.pop(MAC_FIELD, None)
        unsigned = dataclasses.replace(stored, body=body)
        if not isinstance(tag, str) or not hmac.compare_digest(tag, self._tag(unsigned, stored.version)):
            raise RecordTampered(stored.kind, stored.key)
        return unsigned

    def get(self, kind: str, key: str) -> Record | None:
        stored = self.unverified.get(kind, key)
        return None if stored is None else self.verified(stored)

    def save(self, record: Record) -> Record:
        saved = self.unverified.save(self._signed(record))
        return self.verified(saved)

    def insert_many(self, records: Iterable[Record]) -> int:
        self._key()  # the vault may read or create it: not inside the adapter's bulk transaction
        return self.unverified.insert_many(self._signed(record) for record in records)

    def delete(self, record: Record) -> None:
        self.unverified.delete(record)

    def query(self, index: str, value: str, *, sort_from: str = "", sort_to: str = "\uffff",
              limit: int = 100, after: str | None = None) -> Page:
        page = self.unverified.query(index, value, sort_from=sort_from, sort_to=sort_to, limit=limit, after=after)
        return dataclasses.replace(page, records=[self.verified(record) for record in page.records])

    def lists(self, entry: IndexEntry, kind: str, key: str) -> bool:
        return self.unverified.lists(entry, kind, key)

    def scan(self, *, limit: int = 500, after: str | None = None) -> Page:
        page = self.unverified.scan(limit=limit, after=after)
        return dataclasses.replace(page, records=[self.verified(record) for record in page.records])


def signed_backend(backend: Backend) -> tuple[Backend, SignedRecords, Vault]:
    """``backend`` with its records signed, the signed port itself, and the vault behind both."""
    vault = Vault(backend.records, backend.custody)
    records = SignedRecords(backend.records, vault)
    return dataclasses.replace(backend, records=records), records, vault
