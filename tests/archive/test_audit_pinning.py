"""`beian audit verify` with no options trusts nothing inside the export: the key is pinned
(this archive's own, a file, or the published fingerprint) and the export must reach the
latest checkpoint anchored outside the log. A re-signed or cut export fails."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from chalicelib.audit import CHECKPOINT, checkpoint_message, entry_hash, key_fingerprint
from chalicelib.auth import Principal
from chalicelib.services import current_services
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from beian.cli import app as cli
from benchmarks.stress_figures import record

pytestmark = pytest.mark.parametrize("backend_env", ["embedded"], indirect=True)
OFFICER = Principal("officer-1", "compliance_officer", provider="P")


def resigned(export: dict[str, Any], key: Ed25519PrivateKey, edit_seq: int) -> dict[str, Any]:
    """The export with one entry edited and the whole chain re-hashed and re-signed by ``key``,
    which the export then carries: it verifies on its own word."""
    entries, prev = [], "0" * 64
    for original in export["entries"]:
        entry = {k: v for k, v in original.items() if k != "hash"}
        entry["prev"] = prev
        if entry["seq"] == edit_seq and entry["action"] != CHECKPOINT:
            entry["purpose"] = "nothing to see"
        if entry["action"] == CHECKPOINT:
            head_seq = entry["seq"] - 1
            signature = key.sign(checkpoint_message(head_seq, prev))
            entry["details"] = {"head_seq": head_seq, "head_hash": prev,
                                "signature": base64.b64encode(signature).decode()}
        entry["hash"] = entry_hash(entry)
        entries.append(entry)
        prev = entry["hash"]
    pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return {**export, "public_key": pem, "entries": entries}


def verify(tmp_path: Path, export: dict[str, Any], *options: str) -> Any:
    path = tmp_path / "export.json"
    path.write_text(json.dumps(export))
    return CliRunner().invoke(cli, ["audit", "verify", str(path), *options])


@pytest.fixture
def exports(backend_env: dict[str, str]) -> list[dict[str, Any]]:
    """Three exports of a growing log: each later one anchors a later checkpoint."""
    audit = current_services().audit
    made = []
    for round_ in range(3):
        for step in range(4):
            audit.record(OFFICER, "archive.search", f"index:{round_}-{step}", purpose="核对")
        made.append(audit.export())
    return made


def test_the_latest_export_verifies_with_no_options(exports: list[dict[str, Any]], tmp_path: Path) -> None:
    ok = verify(tmp_path, exports[-1])
    assert ok.exit_code == 0, ok.output
    assert current_services().audit.latest_anchor()["seq"] == exports[-1]["entries"][-1]["seq"]


def test_an_export_cut_at_an_earlier_checkpoint_fails_with_no_options(
        exports: list[dict[str, Any]], tmp_path: Path) -> None:
    for earlier in exports[:-1]:
        assert verify(tmp_path, earlier, "--public-key", str(_key_file(tmp_path, earlier))).exit_code == 0
        cut = verify(tmp_path, earlier)
        assert cut.exit_code == 1 and "anchored outside the log" in " ".join(cut.output.split())
        record("audit_forgeries", 1, 0)


@given(edit=st.integers(1, 14), seed=st.binary(min_size=32, max_size=32))
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_a_re_signed_export_fails_with_no_options_and_against_the_published_fingerprint(
        exports: list[dict[str, Any]], tmp_path: Path, edit: int, seed: bytes) -> None:
    forged = resigned(exports[-1], Ed25519PrivateKey.from_private_bytes(seed), edit)
    on_its_own_word = verify(tmp_path, forged, "--public-key", str(_key_file(tmp_path, forged)))
    assert on_its_own_word.exit_code == 0, "the forgery must be self-consistent for the test to mean anything"
    refused = verify(tmp_path, forged)
    assert refused.exit_code == 1 and "re-signed" in " ".join(refused.output.split())
    published = key_fingerprint(current_services().audit.public_key_pem())
    assert verify(tmp_path, forged, "--fingerprint", published).exit_code == 1
    record("audit_forgeries", 1, 0)
    assert verify(tmp_path, exports[-1], "--fingerprint", published).exit_code == 0


def test_the_anchor_is_published_with_its_sequence_number(exports: list[dict[str, Any]], live_server: str) -> None:
    import requests

    published = requests.get(f"{live_server}/api/audit/public-key", timeout=10).json()
    assert published["anchor"]["seq"] >= exports[-1]["entries"][-1]["seq"]
    assert published["fingerprint"] == key_fingerprint(published["public_key_pem"])


def _key_file(tmp_path: Path, export: dict[str, Any]) -> Path:
    path = tmp_path / "key.pem"
    path.write_text(export["public_key"])
    return path


def test_with_no_archive_here_the_key_must_be_pinned(exports: list[dict[str, Any]], tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BEIAN_DATA_DIR", str(tmp_path / "nothing-here"))
    refused = verify(tmp_path, exports[-1])
    assert refused.exit_code == 2 and "--public-key" in refused.output
    assert not (tmp_path / "nothing-here").exists()
