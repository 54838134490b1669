"""The append-only, hash-chained audit log with signed checkpoints.

Every entry carries the hash of the one before it; a checkpoint entry signs the
head hash with the archive's Ed25519 checkpoint key. An export ends with a fresh
checkpoint, so ``verify_export`` detects any edited, deleted, inserted or reordered
entry offline, with nothing but the public checkpoint key.

Entries name objects by id and never hold ID numbers, tokens or keys.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from . import policy
from .auth import Principal
from .errors import Unavailable
from .ports import AuditStore, Blobs, StorageError, VersionConflict
from .rules import load_rules
from .vault import Vault

CHECKPOINT_KEY = "audit-checkpoint-key"
CHECKPOINT = "checkpoint"
CERTIFICATE = "archive.disposal_certificate"
GENESIS = "0" * 64
CHECKPOINT_EVERY = 100
APPEND_ATTEMPTS = 50


def canonical(entry: Mapping[str, Any]) -> bytes:
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(entry: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical({k: v for k, v in entry.items() if k != "hash"})).hexdigest()


def checkpoint_message(seq: int, head_hash: str) -> bytes:
    return f"beian-audit-checkpoint-v1\n{seq}\n{head_hash}".encode()


def _unavailable() -> Unavailable:
    return Unavailable("审计日志暂不可用，本次操作未执行，请稍后重试",
                       "The audit log is unavailable; nothing was done. Try again later")


ANCHORS = "audit/anchors/"
log = logging.getLogger("beian.audit")


def anchor_kept() -> timedelta:
    """As long as what the log is evidence for: the rules' retention period, and a year more."""
    return timedelta(days=366 * (load_rules().deadline("retention").amount + 1))


def anchor_of(checkpoint: Mapping[str, Any]) -> dict[str, Any]:
    """What is published of a checkpoint outside the log: enough to tell an export that ends
    before it (cut) or differs at it (rewritten)."""
    return {"seq": checkpoint["seq"], "hash": checkpoint["hash"], "at": checkpoint["at"],
            "head_seq": checkpoint["details"]["head_seq"]}


def key_fingerprint(public_key_pem: str) -> str:
    """SHA-256 of the key's DER SubjectPublicKeyInfo, hex: what the site publishes."""
    key = serialization.load_pem_public_key(public_key_pem.encode())
    return hashlib.sha256(key.public_bytes(serialization.Encoding.DER,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)).hexdigest()


class AuditLog:
    """``anchors`` (the archive's blob store: on AWS the Object Lock bucket) keeps every
    checkpoint outside the log, each locked for as long as the log is evidence."""

    def __init__(self, store: AuditStore, vault: Vault, anchors: Blobs | None = None) -> None:
        self._store = store
        self._vault = vault
        self._anchors = anchors

    def _key(self) -> Ed25519PrivateKey:
        return self._vault.ed25519_key(CHECKPOINT_KEY)

    def public_key_pem(self) -> str:
        return self._key().public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def record(self, actor: Principal, action: str, obj: str, *, purpose: str = "",
               details: Mapping[str, Any] | None = None, by_action: bool = False) -> dict[str, Any]:
        """Append one entry. Raises Unavailable if it could not be stored: callers
        do this before releasing anything, so a failed audit releases nothing. With
        ``by_action`` it is also listed under its action, for ``entries_of``."""
        content = {
            "action": action, "object": obj, "purpose": purpose,
            "actor": {"subject": actor.subject, "role": actor.role,
                      "provider": actor.provider, "province": actor.province},
            "details": dict(details or {}),
        }
        entry = self._append(lambda _seq, _prev: content, by_action=by_action)
        if entry["seq"] % CHECKPOINT_EVERY == 0:
            self.checkpoint()
        return entry

    def checkpoint(self) -> dict[str, Any]:
        """Sign the current head; the signature covers every entry before it."""
        key = self._key()

        def signed_head(seq: int, head: str) -> dict[str, Any]:
            signature = key.sign(checkpoint_message(seq - 1, head))
            return {
                "action": CHECKPOINT, "object": f"audit:{seq - 1}", "purpose": "",
                "actor": {"subject": "system", "role": "system", "provider": "", "province": ""},
                "details": {"head_seq": seq - 1, "head_hash": head,
                            "signature": base64.b64encode(signature).decode()},
            }

        entry = self._append(signed_head)
        self._anchor(entry)
        return entry

    def _anchor(self, checkpoint: Mapping[str, Any]) -> None:
        if self._anchors is None:
            return
        data = json.dumps(anchor_of(checkpoint), sort_keys=True).encode()
        try:
            self._anchors.put(f"{ANCHORS}{int(checkpoint['seq']):012d}.json", data,
                              retain_until=datetime.now(UTC) + anchor_kept())
        except StorageError:  # the next checkpoint anchors again; the log itself is intact
            log.exception("checkpoint %s could not be anchored outside the log", checkpoint["seq"])

    def latest_anchor(self) -> dict[str, Any] | None:
        """The newest checkpoint anchored outside the log, or None before the first."""
        if self._anchors is None:
            return None
        keys = sorted(blob.key for blob in self._anchors.list_archived(ANCHORS))
        if not keys:
            return None
        with self._anchors.open(keys[-1]) as stream:
            return dict(json.loads(stream.read()))

    def published(self) -> dict[str, Any]:
        """The checkpoint key, its fingerprint and the latest anchor: what the site publishes."""
        pem = self.public_key_pem()
        return {"public_key_pem": pem, "algorithm": "Ed25519", "fingerprint": key_fingerprint(pem),
                "anchor": self.latest_anchor()}

    def sign(self, statement: Mapping[str, Any]) -> str:
        """An Ed25519 signature (base64) over a statement's canonical JSON, e.g. a disposal
        certificate; ``verify_export`` checks it with the same public key."""
        return base64.b64encode(self._key().sign(canonical(statement))).decode()

    def entries(self, start: int = 1, end: int | None = None) -> list[dict[str, Any]]:
        try:
            return [dict(entry) for entry in self._store.read(start, end)]
        except StorageError as error:
            raise _unavailable() from error

    def entries_of(self, action: str, start: int = 1) -> list[dict[str, Any]]:
        """The entries recorded ``by_action`` under ``action`` from ``start`` on, read through
        their index and none other. Each must hash to what it holds and be of ``action``; one
        that does not is no signed fact, and is left out and logged (the reconciler reads the
        whole log, and ``beian audit verify`` its chain and signatures)."""
        try:
            found = [dict(entry) for entry in self._store.read_action(action, start)]
        except StorageError as error:
            raise _unavailable() from error
        intact = [entry for entry in found if entry.get("action") == action and entry.get("hash") == entry_hash(entry)]
        if len(intact) < len(found):
            log.error("%d entries listed under %s do not match their hash or action: left out",
                      len(found) - len(intact), action)
        return intact

    def list_by_action(self, seq: int) -> None:
        """List the log's entry ``seq`` under its action again (the reconciler's repair)."""
        try:
            self._store.list_by_action(seq)
        except StorageError as error:
            raise _unavailable() from error

    def export_for(self, principal: Principal) -> dict[str, Any]:
        """An export for an officer or inspector; the export itself is audited first."""
        policy.require(principal, "audit_export")
        self.record(principal, "audit.export", "audit")
        return self.export()

    def export(self) -> dict[str, Any]:
        """The whole log up to a checkpoint made now, verifiable offline with ``verify_export``."""
        closing = self.checkpoint()
        return {
            "format": "beian-audit-export-v1",
            "public_key": self.public_key_pem(),
            "entries": self.entries(1, closing["seq"]),
        }

    def _last(self) -> tuple[int, Mapping[str, Any]] | None:
        try:
            return self._store.last()
        except StorageError as error:
            raise _unavailable() from error

    def _append(self, content: Callable[[int, str], dict[str, Any]], *, by_action: bool = False) -> dict[str, Any]:
        """Chain an entry onto the head; ``content(seq, prev_hash)`` makes its body."""
        for _ in range(APPEND_ATTEMPTS):
            last = self._last()
            seq, prev = (last[0] + 1, str(last[1]["hash"])) if last else (1, GENESIS)
            entry = {"seq": seq, "at": datetime.now(UTC).isoformat(timespec="microseconds"),
                     "prev": prev, **content(seq, prev)}
            entry["hash"] = entry_hash(entry)
            try:
                self._store.append(seq, entry, by_action=by_action)
                return entry
            except VersionConflict:
                continue  # another writer took this seq: chain onto theirs
            except StorageError as error:
                raise _unavailable() from error
        raise _unavailable()


@dataclass
class Verification:
    ok: bool
    entries: int = 0
    checkpoints: int = 0
    problems: list[str] = field(default_factory=list)
    # What the last valid checkpoint signs: an export cut at an earlier checkpoint verifies
    # too, so this is what to compare with the head the reader knows of.
    signed_through: int = 0
    signed_at: str = ""


def verify_export(entries: Iterable[Mapping[str, Any]], public_key_pem: str,
                  anchor: Mapping[str, Any] | None = None) -> Verification:
    """Check a log export offline: hashes, links, sequence and checkpoint signatures.

    The export must end with a checkpoint, so nothing after the last signature can be
    cut off unnoticed; whether it was cut at an earlier checkpoint only ``signed_through``
    (compared with a head known from elsewhere) can tell.
    """
    try:
        key = serialization.load_pem_public_key(public_key_pem.encode())
    except (ValueError, TypeError, UnsupportedAlgorithm):
        key = None
    if not isinstance(key, Ed25519PublicKey):
        return Verification(False, problems=["the checkpoint key is not an Ed25519 public key in PEM"])
    result = Verification(ok=True)
    prev_hash, prev_seq, last_action = GENESIS, None, ""
    hashes: dict[int, str] = {}
    for entry in entries:
        result.entries += 1
        if not isinstance(entry, Mapping):
            result.problems.append(f"entry {result.entries}: not an object")
            continue
        seq = entry.get("seq")
        where = f"entry {seq}"
        if not isinstance(seq, int):
            result.problems.append(f"{where}: no sequence number")
            continue
        if prev_seq is not None and seq != prev_seq + 1:
            result.problems.append(f"{where}: follows {prev_seq} (missing, inserted or reordered)")
        if entry.get("prev") != prev_hash:
            result.problems.append(f"{where}: does not link to the entry before it")
        if entry.get("hash") != entry_hash(entry):
            result.problems.append(f"{where}: its content does not match its hash (edited)")
        if entry.get("action") == CHECKPOINT:
            result.checkpoints += 1
            details = entry.get("details") or {}
            try:
                signature = base64.b64decode(str(details.get("signature", "")))
                key.verify(signature, checkpoint_message(int(details["head_seq"]),
                                                         str(details["head_hash"])))
                if details["head_hash"] != prev_hash or details["head_seq"] != seq - 1:
                    result.problems.append(f"{where}: signs a head other than the entry before it")
                else:
                    result.signed_through, result.signed_at = seq - 1, str(entry.get("at", ""))
            except (InvalidSignature, KeyError, ValueError, TypeError):
                result.problems.append(f"{where}: the checkpoint signature does not verify")
        if entry.get("action") == CERTIFICATE:
            details = entry.get("details") or {}
            try:
                key.verify(base64.b64decode(str(details.get("signature", ""))),
                           canonical(details["certificate"]))
            except (InvalidSignature, KeyError, ValueError, TypeError):
                result.problems.append(f"{where}: the disposal certificate's signature does not verify")
        prev_hash, prev_seq = str(entry.get("hash")), seq
        hashes[seq] = prev_hash
        last_action = str(entry.get("action"))
    if anchor is not None:
        _check_anchor(anchor, hashes, result)
    if result.entries and last_action != CHECKPOINT:
        result.problems.append("the export does not end with a signed checkpoint")
    if result.entries == 0:
        result.problems.append("the export holds no entries")
    result.ok = not result.problems
    return result


def _check_anchor(anchor: Mapping[str, Any], hashes: Mapping[int, str], result: Verification) -> None:
    """The export must reach the checkpoint anchored outside the log, and hold it unchanged."""
    seq = anchor.get("seq")
    if not isinstance(seq, int) or seq not in hashes:
        result.problems.append(f"the export ends before checkpoint {seq}, anchored outside the log "
                               "(cut at an earlier checkpoint)")
    elif hashes[seq] != anchor.get("hash"):
        result.problems.append(f"entry {seq} differs from the checkpoint anchored outside the log (rewritten)")
