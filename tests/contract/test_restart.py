"""What a restart (and, on AWS, provisioning again) must keep."""

from __future__ import annotations

import os
import threading
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from chalicelib.adapters import embedded
from chalicelib.backend import build_backend
from chalicelib.config import Settings
from chalicelib.ports import BlobLocked, IndexEntry, Record, StorageError

from beian.provision import provision_aws

SECRET = b"-----BEGIN PRIVATE KEY----- not really"


def test_provisioning_again_and_restarting_keep_everything(backend_env: dict[str, str]) -> None:
    settings = Settings.from_env()
    first = build_backend(settings)
    saved = first.records.save(Record("filing", "f-1", {"a": 1}, indexes=(IndexEntry("p", "x"),)))
    until = (datetime.now(UTC) + timedelta(days=400)).replace(microsecond=0)
    archived = first.blobs.put("exports/e-1.enc", b"data", retain_until=until)
    first.audit.append(1, {"seq": 1})
    if first.name != "embedded":
        provision_aws(settings)  # a second run finds everything in place
    restarted = build_backend.__wrapped__(settings)
    assert restarted.records.get("filing", "f-1") == saved
    assert restarted.records.query("p", "x").records == [saved]
    assert restarted.blobs.info("exports/e-1.enc") == archived
    with pytest.raises(BlobLocked):
        restarted.blobs.delete("exports/e-1.enc")
    assert restarted.audit.last() == (1, {"seq": 1})


def test_sealed_secrets_survive_a_restart(backend_env: dict[str, str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """With a passphrase sealing the embedded master key (the AWS backend ignores it)."""
    monkeypatch.setenv("BEIAN_MASTER_PASSPHRASE", "correct horse battery staple")
    settings = Settings.from_env()
    first = build_backend(settings)
    sealed = first.custody.seal(SECRET, "p")
    restarted = build_backend.__wrapped__(settings)
    assert restarted.custody.key_id == first.custody.key_id
    assert restarted.custody.unseal(sealed, "p") == SECRET
    if first.name == "embedded":
        stored = (settings.data_dir / "keys" / "master.key").read_bytes()
        assert stored.startswith(b"beian-master-key-scrypt")
        monkeypatch.setenv("BEIAN_MASTER_PASSPHRASE", "wrong")
        with pytest.raises(StorageError):
            embedded.build(settings)
        monkeypatch.delenv("BEIAN_MASTER_PASSPHRASE")
        with pytest.raises(StorageError):
            embedded.build(settings)


def open_files_under(directory: Path) -> list[str]:
    """What this process has open under ``directory`` (Linux's /proc/self/fd)."""
    found = []
    for link in Path("/proc/self/fd").iterdir():
        with suppress(FileNotFoundError):
            target = os.readlink(link)
            if target.startswith(str(directory)):
                found.append(target)
    return found


def test_a_closed_backend_lets_go_of_its_files_and_opens_them_again_on_use(
        backend_env: dict[str, str]) -> None:
    settings = Settings.from_env()
    backend = build_backend.__wrapped__(settings)
    saved = backend.records.save(Record("filing", "f-1", {"a": 1}))
    workers = [threading.Thread(target=backend.records.get, args=("filing", "f-1")) for _ in range(4)]
    for worker in workers:
        worker.start()
        worker.join()
    if backend.name == "embedded":
        assert open_files_under(settings.data_dir)  # the database, from five threads
    backend.close()
    assert open_files_under(settings.data_dir) == []
    assert backend.records.get("filing", "f-1") == saved
    backend.close()
