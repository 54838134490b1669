"""beian keys / encrypt / decrypt through Typer's runner, on a private app."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

import crypto
from beian.remote import envelope  # the remote door: no server, no domain

PASSPHRASE = "correct horse battery staple"
RECORD = [
    "--provider",
    "isp",
    "--filing",
    "京ICP备11018762号-11",
    "--document-id",
    "doc-1",
    "--document-type",
    "id-card",
]


@pytest.fixture(scope="module")
def cli() -> typer.Typer:
    app = typer.Typer()
    envelope.register(app)
    return app


def run(cli: typer.Typer, *args: str, passphrase: str = PASSPHRASE) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [str(a) for a in args], env={"BEIAN_KEY_PASSPHRASE": passphrase})
    assert passphrase not in result.output
    return result.exit_code, result.output


def test_generate_encrypt_decrypt(cli: typer.Typer, tmp_path: Path) -> None:
    key = tmp_path / "officer.pem"
    code, out = run(cli, "keys", "generate", str(key))
    assert code == 0 and "SHA256:" in out and "PRIVATE" not in out
    public = key.with_suffix(".pub.pem")
    fingerprint = crypto.PublicKey.load(public.read_bytes()).fingerprint
    assert run(cli, "keys", "fingerprint", str(public)) == (0, fingerprint + "\n")
    plain, sealed, back = tmp_path / "scan.jpg", tmp_path / "scan.beian", tmp_path / "back.jpg"
    plain.write_bytes(b"\xff\xd8 scan" * 2_000_000)  # large enough for a progress bar
    code, out = run(cli, "encrypt", str(plain), str(sealed), "--to", str(public), *RECORD)
    assert code == 0 and fingerprint in out
    code, out = run(cli, "decrypt", str(sealed), str(back), "--key", str(key), *RECORD)
    assert code == 0 and back.read_bytes() == plain.read_bytes()


def test_errors_are_one_line_and_non_zero(cli: typer.Typer, tmp_path: Path) -> None:
    key = tmp_path / "k.pem"
    run(cli, "keys", "generate", str(key))
    plain, sealed = tmp_path / "p", tmp_path / "p.beian"
    plain.write_bytes(b"secret")
    run(cli, "encrypt", str(plain), str(sealed), "--to", str(key.with_suffix(".pub.pem")), *RECORD)
    wrong_record = [*RECORD[:-1], "passport"]
    code, out = run(cli, "decrypt", str(sealed), str(tmp_path / "o"), "--key", str(key), *wrong_record)
    assert code == 1 and "解密失败" in out and "decryption failed" in out
    code, out = run(
        cli,
        "decrypt",
        str(sealed),
        str(tmp_path / "o"),
        "--key",
        str(key),
        *RECORD,
        passphrase="not-it-42",
    )
    assert code == 1 and "口令" in out and len(out.strip().splitlines()) == 1
    code, out = run(cli, "decrypt", str(plain), str(tmp_path / "o"), "--key", str(key), *RECORD)
    assert code == 1 and "not a valid encrypted file" in out
    assert not (tmp_path / "o").exists()


def test_rotate_and_rewrap(cli: typer.Typer, tmp_path: Path) -> None:
    ring = tmp_path / "ring"
    assert run(cli, "keys", "rotate", str(ring))[0] == 0
    v1 = ring / "archive-v1.pem"
    plain, sealed = tmp_path / "p", tmp_path / "p.beian"
    plain.write_bytes(b"archived")
    public = ring / "archive-v1.pub.pem"  # written beside each version, to encrypt to
    assert public.read_bytes() == crypto.PrivateKey.load(v1.read_bytes(), PASSPHRASE.encode()).public_key.dump_pem()
    run(cli, "encrypt", str(plain), str(sealed), "--to", str(public), *RECORD)
    code, out = run(cli, "keys", "rotate", str(ring))
    assert code == 0 and "version 2" in out and (ring / "archive-v2.pub.pem").exists()
    assert run(cli, "keys", "rewrap", "--ring", str(ring), str(sealed))[0] == 0
    v2 = crypto.PrivateKey.load((ring / "archive-v2.pem").read_bytes(), PASSPHRASE.encode())
    header = crypto.read_header(sealed.open("rb"))
    assert [r.key_id for r in header.recipients] == [v2.key_id]
    code, _ = run(cli, "decrypt", str(sealed), str(tmp_path / "o"), "--ring", str(ring), *RECORD)
    assert code == 0 and (tmp_path / "o").read_bytes() == b"archived"
