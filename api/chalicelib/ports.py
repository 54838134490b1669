"""The five ports every backend implements. The domain talks only to these.

Each has two adapters: ``adapters/embedded.py`` (SQLite, a local folder, a key
file, an outbox) and ``adapters/aws.py`` (DynamoDB, S3, KMS, SNS). One contract
test suite runs against both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, BinaryIO, Protocol


class StorageError(Exception):
    """Base of the errors adapters raise; the domain turns them into DomainErrors."""


class VersionConflict(StorageError):
    """Someone else saved this record (or audit sequence number) first."""


class BlobLocked(StorageError):
    """Deleting or overwriting a blob before its retain-until date, or under legal hold."""


class BlobMissing(StorageError):
    pass


class BadCursor(ValueError):
    """An ``after`` that no query of this index handed out: the caller's mistake, not storage's."""


@dataclass(frozen=True)
class IndexEntry:
    """One way to find a record: all records with ``value`` in ``index``, ordered by ``sort``."""

    index: str
    value: str
    sort: str = ""


@dataclass(frozen=True)
class Record:
    kind: str
    key: str
    body: Mapping[str, Any]
    version: int = 0  # 0: never saved; saving increments it
    indexes: tuple[IndexEntry, ...] = ()


@dataclass(frozen=True)
class Page:
    records: list[Record]
    cursor: str | None = None  # pass back as ``after`` for the next page
    examined: int = 0  # index entries the backend read to answer: the cost of the query


class Records(Protocol):
    def get(self, kind: str, key: str) -> Record | None: ...

    def save(self, record: Record) -> Record:
        """Insert (version 0) or replace the stored ``record.version``, with its index entries,
        atomically. Returns the saved record (version + 1). Raises VersionConflict."""
        ...

    def insert_many(self, records: Iterable[Record]) -> int:
        """Insert new records (version 0) in bulk, for imports: all of them, or on the first
        that already exists VersionConflict (the embedded backend then stores none, DynamoDB
        those before it). Returns how many were inserted."""
        ...

    def delete(self, record: Record) -> None:
        """Delete the stored ``record.version`` and its index entries. Raises VersionConflict."""
        ...

    def query(self, index: str, value: str, *, sort_from: str = "", sort_to: str = "\uffff",
              limit: int = 100, after: str | None = None) -> Page: ...

    def lists(self, entry: IndexEntry, kind: str, key: str) -> bool:
        """Whether index ``entry`` lists the record (``kind``, ``key``): one point read, however
        many other records share the entry (a day's due date is shared by thousands)."""
        ...

    def scan(self, *, limit: int = 500, after: str | None = None) -> Page:
        """Every record, of every kind, a page at a time in no promised order (the reconciler's
        signature check: a batch job, never a request). Raises BadCursor."""
        ...


@dataclass(frozen=True)
class UploadSlot:
    """A presigned POST: the client sends ``fields`` then the file as multipart/form-data.
    ``url`` is absolute (S3) or a path on the API's own origin (the embedded server)."""

    url: str
    fields: dict[str, str]
    key: str
    max_bytes: int
    expires_at: datetime


@dataclass(frozen=True)
class PartsSlot:
    """A multipart upload into the same staged object: the client PUTs part n (from 1; every
    part but the last exactly ``part_size`` bytes) to ``urls[n - 1]``, then the domain calls
    ``complete_parts``. A browser streams this way in bounded memory: no request holds more
    than one part. ``upload_id`` is the backend's handle; the domain keeps it."""

    upload_id: str
    part_size: int
    urls: tuple[str, ...]


class BadUpload(StorageError):
    """The uploaded parts do not make one object within the slot: missing, or too large."""


@dataclass(frozen=True)
class StoredBlob:
    """An object as a listing shows it: for the reconciler, which looks for leftovers."""

    key: str
    size: int
    modified: datetime


@dataclass(frozen=True)
class BlobInfo:
    key: str
    size: int
    retain_until: datetime | None = None
    legal_hold: bool = False


class Blobs(Protocol):
    def upload_slot(self, key: str, *, max_bytes: int, expires_in: int) -> UploadSlot:
        """A one-off slot to upload ciphertext into the staging area under ``key``."""
        ...

    def upload_parts(self, key: str, *, max_bytes: int, part_size: int, expires_in: int) -> PartsSlot:
        """The same slot as parts: enough part URLs for ``max_bytes``, each valid ``expires_in``."""
        ...

    def complete_parts(self, key: str, upload_id: str, *, max_bytes: int) -> bool:
        """Join the uploaded parts into the staged object ``key``; False if no part came (the
        client used the POST). Raises BadUpload if parts are missing or exceed ``max_bytes``.
        Single use: afterwards the part URLs no longer upload anything."""
        ...

    def read_staged(self, key: str, length: int) -> tuple[int, bytes]:
        """The staged object's size and its first ``length`` bytes. Raises BlobMissing."""
        ...

    def list_staged(self, prefix: str = "") -> Iterator[StoredBlob]:
        """Every object in the staging area whose key starts with ``prefix``."""
        ...

    def delete_staged(self, key: str) -> None:
        """Remove a staged object (staging is never locked); nothing happens if it is gone."""
        ...

    def list_archived(self, prefix: str = "") -> Iterator[StoredBlob]:
        """Every archived key (its current version) that starts with ``prefix``."""
        ...

    def promote(self, key: str, *, retain_until: datetime) -> BlobInfo:
        """Move a staged object into the archive, locked until ``retain_until``."""
        ...

    def put(self, key: str, data: bytes, *, retain_until: datetime) -> BlobInfo:
        """Write a server-made artefact (already encrypted) straight into the archive."""
        ...

    def info(self, key: str) -> BlobInfo | None: ...

    def open(self, key: str) -> BinaryIO:
        """Read an archived object. Raises BlobMissing."""
        ...

    def download_url(self, key: str, *, expires_in: int) -> str:
        """A short-lived URL from which a client fetches an archived object's ciphertext, as an
        attachment: a presigned GET on S3; on the embedded backend a path on the API's own origin,
        signed, that the embedded server checks with ``verify_download``."""
        ...

    def verify_download(self, query: Mapping[str, str]) -> str:
        """The key that a URL from ``download_url``, whose query is ``query``, grants: for a server
        that serves those URLs itself. ValueError if this store did not sign it or it has expired.
        S3 checks its own presigned URLs, so the AWS store refuses every query."""
        ...

    def extend_retention(self, key: str, retain_until: datetime) -> BlobInfo:
        """Move retain-until later; an earlier date is refused with BlobLocked."""
        ...

    def set_legal_hold(self, key: str, on: bool) -> BlobInfo: ...

    def delete(self, key: str) -> None:
        """Delete every version. Raises BlobLocked before retain-until or under legal hold."""
        ...


class KeyCustody(Protocol):
    """Seals small secrets (private keys, data keys) under a key the backend guards."""

    key_id: str

    def seal(self, secret: bytes, purpose: str) -> bytes: ...

    def unseal(self, sealed: bytes, purpose: str) -> bytes:
        """Raises StorageError if ``sealed`` was not made by ``seal`` for ``purpose``."""
        ...


@dataclass(frozen=True)
class SentMessage:
    message_id: str
    phone: str
    text: str
    sent_at: str = field(default="")


class Notifier(Protocol):
    def send_sms(self, phone: str, text: str) -> SentMessage: ...


class AuditStore(Protocol):
    """Append-only storage for the audit chain; the chain logic lives in the domain."""

    def append(self, seq: int, entry: Mapping[str, Any], *, by_action: bool = False) -> None:
        """Store ``entry`` at ``seq``; raises VersionConflict if ``seq`` is taken. With
        ``by_action`` the entry is also listed under its action, in the same transaction, for
        ``read_action``."""
        ...

    def last(self) -> tuple[int, Mapping[str, Any]] | None: ...

    def read(self, start: int = 1, end: int | None = None) -> Iterator[Mapping[str, Any]]: ...

    def read_action(self, action: str, start: int = 1) -> Iterator[Mapping[str, Any]]:
        """The entries appended ``by_action`` under ``action`` from sequence number ``start`` on,
        in order, found through their index without reading any other entry."""
        ...

    def list_by_action(self, seq: int) -> None:
        """List the stored entry ``seq`` under its action, as ``append`` with ``by_action`` does:
        the reconciler's repair of a listing deleted or changed. Raises KeyError if no entry
        ``seq`` is stored."""
        ...


@dataclass(frozen=True)
class Backend:
    name: str
    records: Records
    blobs: Blobs
    custody: KeyCustody
    notifier: Notifier
    audit: AuditStore
    # Lets go of what the adapters hold open (database connections, connection pools); a port
    # used afterwards opens them again.
    close: Callable[[], None]
