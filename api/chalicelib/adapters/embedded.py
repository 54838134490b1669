"""The embedded backend: everything in one folder, no cloud account needed.

Records and the audit log live in SQLite (WAL, a connection per thread), blobs in
``blobs/`` with atomic writes and retention enforced in code, the master key in
``keys/`` and text messages in an outbox file.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import hmac
import json
import os
import secrets
import shutil
import sqlite3
import stat
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlencode

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from .. import ports
from ..config import Settings
from . import shared

# --- Files ---------------------------------------------------------------------------


# Same origin as the site and the API, whatever host name the browser used: the
# embedded server's CSP allows only 'self', and clients resolve the path against it.
LOCAL_BLOBS = "/blobs"
UNFINISHED_PARTS_SECONDS = 24 * 3600


class TooLargeUpload(ports.StorageError):
    """An upload passed its slot's max_bytes; nothing was kept."""


def _joined(folder: Path, count: int) -> Iterator[bytes]:
    for part in range(1, count + 1):
        with (folder / str(part)).open("rb") as stream:
            while chunk := stream.read(1024 * 1024):
                yield chunk


def _ensure_dir(path: Path) -> None:
    # Path.mkdir(parents=True) gives the parents default permissions: make each level 0700.
    missing = []
    while not path.is_dir():
        missing.append(path)
        path = path.parent
    for folder in reversed(missing):
        folder.mkdir(mode=0o700, exist_ok=True)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _atomic_write(target: Path, chunks: Iterable[bytes], *, mode: int, min_bytes: int = 0,
                  max_bytes: int | None = None, replace: bool = True, durable: bool = True) -> int:
    """Write to a temp file beside ``target``, fsync, then rename (or link, refusing to
    replace, when ``replace`` is false) and fsync the folder: readers never see half a file.
    ``durable=False`` skips the fsyncs, for what is copied and synced later anyway.
    Returns the size."""
    _ensure_dir(target.parent)
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    try:
        size = 0
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                size += len(chunk)
                if max_bytes is not None and size > max_bytes:
                    raise TooLargeUpload(f"upload larger than {max_bytes} bytes")
                out.write(chunk)
            out.flush()
            if durable:
                os.fsync(out.fileno())
        if size < min_bytes:
            raise ValueError("empty upload")
        os.chmod(temp, mode)
        if replace:
            os.replace(temp, target)
        else:
            os.link(temp, target)
            os.unlink(temp)
        if durable:
            _fsync_dir(target.parent)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    return size


# What opening a key's path raises when no blob is there: nothing, a folder of longer
# keys, or a blob where the key expects a folder.
_ABSENT = (FileNotFoundError, IsADirectoryError, NotADirectoryError)


def _file_size(path: Path) -> int | None:
    try:
        status = path.stat()
    except _ABSENT:
        return None
    return status.st_size if stat.S_ISREG(status.st_mode) else None


def _load_or_create(path: Path, make: Callable[[], bytes]) -> bytes:
    """The file's content, creating it owner-only with ``make()`` if missing. Threads and
    processes racing to create it all end up reading the winner's content."""
    if not path.exists():
        with suppress(FileExistsError):
            _atomic_write(path, [make()], mode=0o600, replace=False)
    return path.read_bytes()


# --- Records and audit (SQLite) -----------------------------------------------------

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    kind TEXT NOT NULL, key TEXT NOT NULL, version INTEGER NOT NULL,
    body TEXT NOT NULL, indexes TEXT NOT NULL,
    PRIMARY KEY (kind, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS entries (
    idx TEXT NOT NULL, value TEXT NOT NULL, sort TEXT NOT NULL,
    kind TEXT NOT NULL, key TEXT NOT NULL,
    PRIMARY KEY (idx, value, sort, kind, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS entries_by_record ON entries (kind, key);
CREATE TABLE IF NOT EXISTS audit (seq INTEGER PRIMARY KEY, entry TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit_by_action (
    action TEXT NOT NULL, seq INTEGER NOT NULL REFERENCES audit (seq),
    PRIMARY KEY (action, seq)
) WITHOUT ROWID;
"""
_BUSY_MS = 10_000
_DELETE_ENTRIES = "DELETE FROM entries WHERE kind = ? AND key = ?"


class _Database:
    """One SQLite file for records and audit: a connection per thread, WAL, FULL sync."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._local = threading.local()
        self._lock = threading.Lock()
        self._schema_ready = False
        # Every connection opened and its thread: ``close`` reaches them all, and a new one
        # closes those whose thread has ended (each would hold its descriptors until collected).
        self._opened: list[tuple[threading.Thread, sqlite3.Connection]] = []

    def connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._open()
        return conn

    def close(self) -> None:
        """Close every thread's connection; call it when no thread is using one."""
        with self._lock:
            opened, self._opened = self._opened, []
            self._local = threading.local()
        for _, conn in opened:
            conn.close()

    def _open(self) -> sqlite3.Connection:
        _ensure_dir(self._path.parent)
        _create_private(self._path)
        # Used only by the thread that opened it; ``close`` may come from another.
        conn = sqlite3.connect(self._path, timeout=_BUSY_MS / 1000, isolation_level=None,
                               check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {_BUSY_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        with self._lock:
            if not self._schema_ready:
                conn.executescript(_SCHEMA)
                self._schema_ready = True
            ended = [pair for pair in self._opened if not pair[0].is_alive()]
            self._opened = [pair for pair in self._opened if pair[0].is_alive()]
            self._opened.append((threading.current_thread(), conn))
        for _, stale in ended:
            stale.close()
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        conn = self.connection()
        # IMMEDIATE takes the write lock up front, so a version read inside stays true.
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


def _create_private(path: Path) -> None:
    """Create the database file owner-only (SQLite gives -wal and -shm the same mode).

    Never opens an existing one: closing any descriptor of the file drops every lock this
    process holds on it (POSIX locks are per process), and another process (the CLI beside the
    server) would then take itself for the last connection and delete the write-ahead log.
    """
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600))


def _row_record(kind: str, key: str, version: int, body: str, indexes: str) -> ports.Record:
    return ports.Record(kind, key, json.loads(body), version, shared.decode_indexes(indexes))


class SqliteRecords:
    def __init__(self, db: _Database) -> None:
        self._db = db

    def get(self, kind: str, key: str) -> ports.Record | None:
        row = self._db.connection().execute(
            "SELECT version, body, indexes FROM records WHERE kind = ? AND key = ?", (kind, key)
        ).fetchone()
        return None if row is None else _row_record(kind, key, *row)

    def lists(self, entry: ports.IndexEntry, kind: str, key: str) -> bool:
        return self._db.connection().execute(
            "SELECT 1 FROM entries WHERE idx = ? AND value = ? AND sort = ? AND kind = ? AND key = ?",
            (entry.index, entry.value, entry.sort, kind, key)).fetchone() is not None

    def save(self, record: ports.Record) -> ports.Record:
        shared.check_record_names(record.kind, record.key, record.indexes)
        with self._db.transaction() as conn:
            return self._write(conn, record)

    def insert_many(self, records: Iterable[ports.Record]) -> int:
        # One transaction (one fsync) for the lot: the difference between hours and
        # minutes for a million-record import.
        count = 0
        with self._db.transaction() as conn:
            for record in records:
                shared.check_record_names(record.kind, record.key, record.indexes)
                if record.version != 0:
                    raise ports.VersionConflict(f"{record.kind}/{record.key}: insert_many takes new records")
                self._write(conn, record)
                count += 1
        return count

    def _write(self, conn: sqlite3.Connection, record: ports.Record) -> ports.Record:
        self._check_version(conn, record, allow_new=True)
        saved = dataclasses.replace(record, version=record.version + 1)
        conn.execute(
            "INSERT OR REPLACE INTO records (kind, key, version, body, indexes)"
            " VALUES (?, ?, ?, ?, ?)",
            (saved.kind, saved.key, saved.version, shared.dump_json(saved.body),
             shared.encode_indexes(saved.indexes)),
        )
        conn.execute(_DELETE_ENTRIES, (record.kind, record.key))
        conn.executemany(
            "INSERT OR IGNORE INTO entries (idx, value, sort, kind, key)"
            " VALUES (?, ?, ?, ?, ?)",
            [(e.index, e.value, e.sort, record.kind, record.key) for e in record.indexes],
        )
        return saved

    def delete(self, record: ports.Record) -> None:
        with self._db.transaction() as conn:
            self._check_version(conn, record, allow_new=False)
            conn.execute("DELETE FROM records WHERE kind = ? AND key = ?",
                         (record.kind, record.key))
            conn.execute(_DELETE_ENTRIES, (record.kind, record.key))

    @staticmethod
    def _check_version(conn: sqlite3.Connection, record: ports.Record, *, allow_new: bool) -> None:
        row = conn.execute(
            "SELECT version FROM records WHERE kind = ? AND key = ?", (record.kind, record.key)
        ).fetchone()
        stored = row[0] if row else 0
        if stored != record.version or (row is None and not allow_new):
            raise ports.VersionConflict(f"{record.kind}/{record.key} is not at version {record.version}")

    def query(self, index: str, value: str, *, sort_from: str = "", sort_to: str = "\uffff",
              limit: int = 100, after: str | None = None) -> ports.Page:
        shared.check_query(index, sort_from, sort_to, limit)
        # Kinds are never empty, so every entry sorting at sort_from is after (sort_from, "", "").
        start = (sort_from, "", "")
        if after is not None:
            after_sort, after_kind, after_key = shared.decode_cursor(after, 3)
            start = max(start, (after_sort, after_kind, after_key))
        # The row value lets SQLite seek the primary key straight to the start, and reading
        # one row more than asked tells whether another page exists.
        rows = self._db.connection().execute(
            "SELECT e.sort, e.kind, e.key, r.version, r.body, r.indexes"
            " FROM entries AS e JOIN records AS r ON r.kind = e.kind AND r.key = e.key"
            " WHERE e.idx = ? AND e.value = ? AND (e.sort, e.kind, e.key) > (?, ?, ?)"
            " AND e.sort <= ? ORDER BY e.sort, e.kind, e.key LIMIT ?",
            (index, value, *start, sort_to, limit + 1),
        ).fetchall()
        page = rows[:limit]
        cursor = shared.encode_cursor(list(page[-1][:3])) if len(rows) > limit else None
        return ports.Page([_row_record(*row[1:]) for row in page], cursor, examined=len(rows))

    def scan(self, *, limit: int = 500, after: str | None = None) -> ports.Page:
        start = shared.decode_cursor(after, 2) if after is not None else ["", ""]
        rows = self._db.connection().execute(
            "SELECT kind, key, version, body, indexes FROM records WHERE (kind, key) > (?, ?)"
            " ORDER BY kind, key LIMIT ?", (*start, limit + 1)).fetchall()
        page = rows[:limit]
        cursor = shared.encode_cursor(list(page[-1][:2])) if len(rows) > limit else None
        return ports.Page([_row_record(*row) for row in page], cursor, examined=len(rows))


class SqliteAudit:
    def __init__(self, db: _Database) -> None:
        self._db = db

    def append(self, seq: int, entry: Mapping[str, Any], *, by_action: bool = False) -> None:
        shared.check_seq(seq)
        try:
            with self._db.transaction() as conn:
                conn.execute("INSERT INTO audit (seq, entry) VALUES (?, ?)",
                             (seq, shared.dump_json(entry)))
                if by_action:
                    conn.execute("INSERT INTO audit_by_action (action, seq) VALUES (?, ?)",
                                 (str(entry["action"]), seq))
        except sqlite3.IntegrityError as error:
            raise ports.VersionConflict(f"audit sequence number {seq} is taken") from error

    def last(self) -> tuple[int, Mapping[str, Any]] | None:
        row = self._db.connection().execute(
            "SELECT seq, entry FROM audit ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        return None if row is None else (row[0], json.loads(row[1]))

    def read(self, start: int = 1, end: int | None = None) -> Iterator[Mapping[str, Any]]:
        """Entries ``start`` to ``end`` inclusive, read a page at a time."""
        last = (1 << 63) - 1 if end is None else end
        return self._pages("SELECT seq, entry FROM audit WHERE seq <= ? AND seq >= ? ORDER BY seq LIMIT ?",
                           last, start)

    def list_by_action(self, seq: int) -> None:
        with self._db.transaction() as conn:
            listed = conn.execute("INSERT OR IGNORE INTO audit_by_action (action, seq) "
                                  "SELECT json_extract(entry, '$.action'), seq FROM audit WHERE seq = ?", (seq,))
            if not listed.rowcount and conn.execute("SELECT 1 FROM audit WHERE seq = ?", (seq,)).fetchone() is None:
                raise KeyError(f"no audit entry {seq}")

    def read_action(self, action: str, start: int = 1) -> Iterator[Mapping[str, Any]]:
        return self._pages("SELECT seq, audit.entry FROM audit_by_action JOIN audit USING (seq) "
                           "WHERE action = ? AND seq >= ? ORDER BY seq LIMIT ?", action, start)

    def _pages(self, query: str, bound: object, start: int) -> Iterator[Mapping[str, Any]]:
        """What ``query`` (its parameters: ``bound``, the first seq, the page size) finds, a page at a time."""
        while True:
            rows = self._db.connection().execute(query, (bound, start, shared.AUDIT_PAGE)).fetchall()
            yield from (json.loads(entry) for _, entry in rows)
            if len(rows) < shared.AUDIT_PAGE:
                return
            start = rows[-1][0] + 1


# --- Blobs (a folder) ---------------------------------------------------------------


class LocalBlobs:
    """Staging and archive folders; retention lives in a sidecar per archived blob, in
    ``retention/`` (a tree of its own, so no key can collide with a sidecar)."""

    def __init__(self, settings: Settings) -> None:
        root = settings.data_dir / "blobs"
        self._staging = root / "staging"
        self._archive = root / "archive"
        self._retention = root / "retention"
        self._parts = root / "parts"  # a tree of its own: parts are never staged objects
        self._lock_file = root / ".lock"
        self._signing_key_path = settings.data_dir / "keys" / "upload-signing.key"
        self._signing_key: bytes | None = None

    # The local presigned POST and GET: an HMAC binds the key, the expiry and (for uploads)
    # the size limit; the embedded server checks it.

    def upload_slot(self, key: str, *, max_bytes: int, expires_in: int) -> ports.UploadSlot:
        shared.check_upload_slot(key, max_bytes, expires_in)
        expires = int(time.time()) + expires_in
        fields = {"key": key, "expires": str(expires), "max_bytes": str(max_bytes),
                  "signature": self._sign("upload", key, expires, max_bytes)}
        return ports.UploadSlot(f"{LOCAL_BLOBS}/upload", fields, key, max_bytes,
                                datetime.fromtimestamp(expires, UTC))

    def upload_parts(self, key: str, *, max_bytes: int, part_size: int, expires_in: int) -> ports.PartsSlot:
        shared.check_upload_slot(key, max_bytes, expires_in)
        self._forget_unfinished_parts()
        expires = int(time.time()) + expires_in
        upload_id = secrets.randbits(62)
        urls = []
        for part in range(1, shared.part_count(max_bytes, part_size) + 1):
            query = {"key": key, "upload_id": upload_id, "part": part, "part_size": part_size,
                     "expires": expires,
                     "signature": self._sign("part", key, expires, upload_id, part, part_size)}
            urls.append(f"{LOCAL_BLOBS}/part?{urlencode(query)}")
        return ports.PartsSlot(str(upload_id), part_size, tuple(urls))

    def _forget_unfinished_parts(self) -> None:
        """Parts of uploads never completed, after a day: what S3's lifecycle rule
        (AbortIncompleteMultipartUpload) does for the staging bucket."""
        cutoff = time.time() - UNFINISHED_PARTS_SECONDS
        with suppress(*_ABSENT):
            for folder in self._parts.iterdir():
                with suppress(*_ABSENT):
                    if folder.stat().st_mtime < cutoff:
                        shutil.rmtree(folder, ignore_errors=True)

    def verify_part(self, query: Mapping[str, str]) -> tuple[str, int, int, int]:
        """The key, upload id, part number and size limit a part URL grants; ValueError if
        not signed here or expired."""
        upload_id, part, part_size = self._verify("part", query, "upload_id", "part", "part_size")
        return query["key"], upload_id, part, part_size

    def write_part(self, key: str, upload_id: int, part: int, chunks: Iterable[bytes], part_size: int) -> int:
        """Store one part (again, if retried); refused once the parts were joined."""
        if (self._staging / shared.check_blob_key(key)).exists():
            raise ValueError("this upload is complete")
        # Not synced: complete_parts joins the parts into the staged object, which is.
        return _atomic_write(self._parts / str(upload_id) / str(part), chunks, mode=0o600,
                             min_bytes=1, max_bytes=part_size, durable=False)

    def complete_parts(self, key: str, upload_id: str, *, max_bytes: int) -> bool:
        folder = self._parts / str(int(upload_id))
        try:
            sizes = {int(part.name): part.stat().st_size for part in folder.iterdir()
                     if not part.name.startswith(".")}
        except _ABSENT:
            return False
        try:
            shared.check_parts(sizes, max_bytes)
            self.write_staged(key, _joined(folder, len(sizes)), max_bytes)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return True

    def verify_upload_fields(self, fields: Mapping[str, str]) -> tuple[str, int]:
        """The slot's key and max_bytes; ValueError if not signed here or expired."""
        (max_bytes,) = self._verify("upload", fields, "max_bytes")
        return fields["key"], max_bytes

    def download_url(self, key: str, *, expires_in: int) -> str:
        shared.check_link(key, expires_in)
        expires = int(time.time()) + expires_in
        query = {"key": key, "expires": expires, "signature": self._sign("download", key, expires)}
        return f"{LOCAL_BLOBS}/download?{urlencode(query)}"

    def verify_download(self, query: Mapping[str, str]) -> str:
        """The key a download URL grants; ValueError if not signed here or expired."""
        self._verify("download", query)
        return query["key"]

    def _verify(self, purpose: str, fields: Mapping[str, str], *numbers: str) -> list[int]:
        """Checks the signature and expiry of ``fields``; returns the signed ``numbers``."""
        try:
            key, signature, expires = fields["key"], fields["signature"], int(fields["expires"])
            values = [int(fields[name]) for name in numbers]
        except (KeyError, ValueError) as error:
            raise ValueError(f"incomplete {purpose} fields") from error
        if not hmac.compare_digest(signature, self._sign(purpose, key, expires, *values)):
            raise ValueError(f"bad {purpose} signature")
        if time.time() >= expires:
            raise ValueError(f"{purpose} link expired")
        shared.check_blob_key(key)
        return values

    def write_staged(self, key: str, chunks: Iterable[bytes], max_bytes: int) -> int:
        """Stream an upload into staging; TooLargeUpload past max_bytes, ValueError if empty."""
        return _atomic_write(self._staging / shared.check_blob_key(key), chunks, mode=0o600,
                             min_bytes=1, max_bytes=max_bytes)

    def _sign(self, purpose: str, key: str, *numbers: int) -> str:
        if self._signing_key is None:
            self._signing_key = _load_or_create(self._signing_key_path, lambda: os.urandom(32))
        # The purpose comes first and keys hold no "|": no upload signature fits a download.
        message = "|".join([purpose, key, *map(str, numbers)]).encode()
        return hmac.new(self._signing_key, message, hashlib.sha256).hexdigest()

    # Staging

    def read_staged(self, key: str, length: int) -> tuple[int, bytes]:
        try:
            with (self._staging / shared.check_blob_key(key)).open("rb") as staged:
                return os.fstat(staged.fileno()).st_size, staged.read(length)
        except _ABSENT as error:
            raise ports.BlobMissing(f"nothing staged at {key}") from error

    def list_staged(self, prefix: str = "") -> Iterator[ports.StoredBlob]:
        return _listing(self._staging, prefix)

    def delete_staged(self, key: str) -> None:
        with suppress(*_ABSENT):
            (self._staging / shared.check_blob_key(key)).unlink()

    # Archive

    def list_archived(self, prefix: str = "") -> Iterator[ports.StoredBlob]:
        return _listing(self._archive, prefix)

    def promote(self, key: str, *, retain_until: datetime) -> ports.BlobInfo:
        staged = self._staging / shared.check_blob_key(key)
        until = shared.retention_date(retain_until)
        with self._exclusive():
            shared.refuse_if_locked(self.info(key))
            if not staged.is_file():
                raise ports.BlobMissing(f"nothing staged at {key}")
            info = ports.BlobInfo(key, staged.stat().st_size, until)
            # Retention first: a crash in between leaves a file more locked, never less.
            self._write_state(info)
            target = self._archive / key
            _ensure_dir(target.parent)
            os.chmod(staged, 0o444)
            os.replace(staged, target)
            _fsync_dir(target.parent)
            _fsync_dir(staged.parent)
        return info

    def put(self, key: str, data: bytes, *, retain_until: datetime) -> ports.BlobInfo:
        info = ports.BlobInfo(shared.check_blob_key(key), len(data), shared.retention_date(retain_until))
        with self._exclusive():
            shared.refuse_if_locked(self.info(key))
            self._write_state(info)
            _atomic_write(self._archive / key, [data], mode=0o444)
        return info

    def info(self, key: str) -> ports.BlobInfo | None:
        size = _file_size(self._archive / shared.check_blob_key(key))
        if size is None:
            return None
        try:
            state = json.loads(self._state_path(key).read_text())
        except FileNotFoundError as error:
            # Promote and put write the state first: a blob without one was tampered with.
            raise ports.StorageError(f"retention state of {key} is missing") from error
        until = state["retain_until"]
        return ports.BlobInfo(key, size, until and datetime.fromisoformat(until), state["legal_hold"])

    def open(self, key: str) -> BinaryIO:
        try:
            return (self._archive / shared.check_blob_key(key)).open("rb")
        except _ABSENT as error:
            raise ports.BlobMissing(f"nothing archived at {key}") from error

    def extend_retention(self, key: str, retain_until: datetime) -> ports.BlobInfo:
        until = shared.retention_date(retain_until)
        with self._exclusive():
            info = self._existing(key)
            if info.retain_until is not None and until < info.retain_until:
                raise ports.BlobLocked(f"{key} is retained until {info.retain_until}: cannot shorten")
            info = dataclasses.replace(info, retain_until=until)
            self._write_state(info)
        return info

    def set_legal_hold(self, key: str, on: bool) -> ports.BlobInfo:
        with self._exclusive():
            info = dataclasses.replace(self._existing(key), legal_hold=on)
            self._write_state(info)
        return info

    def delete(self, key: str) -> None:
        with self._exclusive():
            shared.refuse_if_locked(self._existing(key))
            # The blob goes first: a crash in between leaves a harmless orphan state.
            target = self._archive / key
            target.unlink()
            _fsync_dir(target.parent)
            self._state_path(key).unlink()

    def _existing(self, key: str) -> ports.BlobInfo:
        info = self.info(key)
        if info is None:
            raise ports.BlobMissing(f"nothing archived at {key}")
        return info

    def _state_path(self, key: str) -> Path:
        return self._retention / f"{key}.json"

    def _write_state(self, info: ports.BlobInfo) -> None:
        state = {"retain_until": info.retain_until and info.retain_until.isoformat(),
                 "legal_hold": info.legal_hold}
        _atomic_write(self._state_path(info.key), [shared.dump_json(state).encode()], mode=0o600)

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """Serialise read-check-write on the archive across threads and processes, so two
        concurrent extensions cannot leave the earlier date."""
        _ensure_dir(self._lock_file.parent)
        fd = os.open(self._lock_file, os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


def _listing(root: Path, prefix: str) -> Iterator[ports.StoredBlob]:
    """The files under ``root`` whose key starts with ``prefix``, in key order; an atomic write's
    temporary file (".tmp-...") is not a blob yet."""
    for folder, folders, files in os.walk(root):
        folders.sort()
        for name in sorted(files):
            path = Path(folder, name)
            key = path.relative_to(root).as_posix()
            if name.startswith(".") or not key.startswith(prefix):
                continue
            with suppress(*_ABSENT):
                status = path.stat()
                yield ports.StoredBlob(key, status.st_size, datetime.fromtimestamp(status.st_mtime, UTC))


# --- Key custody (a master key file) ------------------------------------------------

_SEALED_VERSION = b"\x01"
_SEALED_KEY_MAGIC = b"beian-master-key-scrypt-v1\n"


class FileKeyCustody:
    """AES-256-GCM under a random master key in ``keys/master.key``, optionally itself sealed
    by a passphrase (BEIAN_MASTER_PASSPHRASE, scrypt). The key loads when the backend is
    built, because ``key_id`` must be a plain attribute."""

    def __init__(self, settings: Settings) -> None:
        self._path = settings.data_dir / "keys" / "master.key"
        passphrase = os.environ.get("BEIAN_MASTER_PASSPHRASE")
        self._passphrase = passphrase.encode() if passphrase else None
        master = self._open_master(_load_or_create(self._path, self._new_master))
        self._aead = AESGCM(master)
        self.key_id = "local:" + hashlib.sha256(master).hexdigest()[:16]

    def seal(self, secret: bytes, purpose: str) -> bytes:
        nonce = os.urandom(12)
        return _SEALED_VERSION + nonce + self._aead.encrypt(nonce, secret, purpose.encode())

    def unseal(self, sealed: bytes, purpose: str) -> bytes:
        if sealed[:1] != _SEALED_VERSION:
            raise ports.StorageError("not sealed by this key custody")
        try:
            return self._aead.decrypt(sealed[1:13], sealed[13:], purpose.encode())
        except (InvalidTag, ValueError) as error:
            raise ports.StorageError("sealed data is foreign, tampered with, or for another purpose") \
                from error

    def _new_master(self) -> bytes:
        master = AESGCM.generate_key(bit_length=256)
        if self._passphrase is None:
            return master
        salt, nonce = os.urandom(16), os.urandom(12)
        sealed = AESGCM(_passphrase_key(self._passphrase, salt)).encrypt(
            nonce, master, _SEALED_KEY_MAGIC)
        return _SEALED_KEY_MAGIC + salt + nonce + sealed

    def _open_master(self, stored: bytes) -> bytes:
        if not stored.startswith(_SEALED_KEY_MAGIC):
            if self._passphrase is not None:
                raise ports.StorageError(f"{self._path} is not sealed but a passphrase is set")
            if len(stored) != 32:
                raise ports.StorageError(f"{self._path} is not a 256-bit key")
            return stored
        if self._passphrase is None:
            raise ports.StorageError(f"{self._path} is sealed: set BEIAN_MASTER_PASSPHRASE")
        body = stored[len(_SEALED_KEY_MAGIC):]
        try:
            return AESGCM(_passphrase_key(self._passphrase, body[:16])).decrypt(
                body[16:28], body[28:], _SEALED_KEY_MAGIC)
        except InvalidTag as error:
            raise ports.StorageError("wrong BEIAN_MASTER_PASSPHRASE") from error


def _passphrase_key(passphrase: bytes, salt: bytes) -> bytes:
    return Scrypt(salt=salt, length=32, n=2**15, r=8, p=1).derive(passphrase)


# --- Notifier (an outbox file) ------------------------------------------------------


class OutboxNotifier:
    """Appends each text message to ``outbox/sms.jsonl`` (personal data: owner-only)."""

    def __init__(self, settings: Settings) -> None:
        self._path = settings.data_dir / "outbox" / "sms.jsonl"

    def send_sms(self, phone: str, text: str) -> ports.SentMessage:
        shared.check_phone(phone)
        message = ports.SentMessage(uuid.uuid4().hex, phone, text, shared.now_iso())
        _ensure_dir(self._path.parent)
        fd = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            # One write of a whole line: O_APPEND keeps concurrent lines from interleaving.
            os.write(fd, (shared.dump_json(dataclasses.asdict(message)) + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        return message

    def sent(self) -> list[ports.SentMessage]:
        try:
            lines = self._path.read_text().splitlines()
        except FileNotFoundError:
            return []
        return [ports.SentMessage(**json.loads(line)) for line in lines]


def build(settings: Settings) -> ports.Backend:
    db = _Database(settings.data_dir / "beian.db")
    return ports.Backend(
        name="embedded",
        records=SqliteRecords(db),
        blobs=LocalBlobs(settings),
        custody=FileKeyCustody(settings),
        notifier=OutboxNotifier(settings),
        audit=SqliteAudit(db),
        close=db.close,
    )
