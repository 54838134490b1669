"""Offline envelope encryption: keys, encrypt and decrypt for an officer holding a key file.

Messages are Chinese first, then English. Keys and passphrases are never printed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

if TYPE_CHECKING:  # cryptography loads in the commands that encrypt or decrypt
    import crypto

console = Console()
err = Console(stderr=True)
T = TypeVar("T")
_PROGRESS_FROM = 8 * 1024 * 1024  # smaller files finish before a bar is worth drawing

keys_app = typer.Typer(
    help="密钥：生成、指纹、轮换、重新封装 / Keys: generate, fingerprint, rotate, rewrap",
    no_args_is_help=True,
)


def _passphrase_option(confirm: bool) -> Any:
    return typer.Option(
        envvar="BEIAN_KEY_PASSPHRASE",
        prompt="密钥口令 / Key passphrase",
        hide_input=True,
        confirmation_prompt=confirm,
        show_envvar=False,
        help="密钥口令（或 BEIAN_KEY_PASSPHRASE）/ Key passphrase (or BEIAN_KEY_PASSPHRASE)",
    )


Passphrase = Annotated[str, _passphrase_option(confirm=False)]
NewPassphrase = Annotated[str, _passphrase_option(confirm=True)]


def _run(action: Callable[[], T]) -> T:
    """One clear line and a non-zero exit for every expected failure; never a traceback."""
    import crypto

    try:
        return action()
    except crypto.DecryptionError:
        message = (
            "解密失败：文件已损坏、被篡改，或不属于该记录 / "
            "decryption failed: the file is damaged, altered, or belongs to another record"
        )
    except crypto.NoMatchingRecipient:
        message = "此密钥不是该文件的接收方 / this key is not a recipient of the file"
    except crypto.UnsupportedVersion:
        message = "不支持的文件格式版本，请升级 / unsupported format version, please upgrade"
    except crypto.MalformedHeader:
        message = "不是有效的加密文件 / not a valid encrypted file"
    except crypto.CryptoError as error:
        message = f"密钥或口令错误 / key error: {error}"
    except (OSError, ValueError) as error:
        message = f"操作失败 / failed: {error}"
    err.print(f"[red]{message}[/red]", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


@contextmanager
def _progress(label: str, total: int) -> Iterator[Callable[[int], None] | None]:
    if total < _PROGRESS_FROM:
        yield None
        return
    columns = (BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with Progress(*Progress.get_default_columns()[:1], *columns, console=err) as bar:
        task = bar.add_task(label, total=total)
        yield lambda done: bar.advance(task, done)


def _load_private(path: Path, passphrase: str) -> crypto.PrivateKey:
    import crypto

    return crypto.PrivateKey.load(path.read_bytes(), passphrase.encode())


def _identity(key: Path | None, ring: Path | None, passphrase: str) -> crypto.Identity:
    import crypto

    if ring is not None and key is None:
        return crypto.KeyRing.open(ring, passphrase.encode())
    if key is not None and ring is None:
        return _load_private(key, passphrase)
    raise ValueError("请给出 --key 或 --ring 之一 / give exactly one of --key or --ring")


KeyFile = Annotated[Path | None, typer.Option(help="私钥文件 / Private key file")]
RingDir = Annotated[Path, typer.Option(help="密钥环目录 / Key ring directory")]
OptionalRingDir = Annotated[Path | None, typer.Option(help="密钥环目录 / Key ring directory")]
Provider = Annotated[str, typer.Option(help="接入服务商 / Access provider")]
Filing = Annotated[str, typer.Option(help="备案号或申请号 / Filing number or application id")]
DocumentId = Annotated[str, typer.Option(help="材料编号 / Document id")]
DocumentType = Annotated[str, typer.Option(help="材料类型 / Document type")]


@keys_app.command("generate")
def generate(
    out: Annotated[
        Path,
        typer.Argument(help="私钥文件，公钥写入 .pub.pem / Private key file; public in .pub.pem"),
    ],
    passphrase: NewPassphrase,
) -> None:
    """生成密钥对 / Generate a key pair."""
    import crypto


    def action() -> crypto.PrivateKey:
        key = crypto.PrivateKey.generate()
        key.save(out, passphrase.encode())
        out.with_suffix(".pub.pem").write_bytes(key.public_key.dump_pem())
        return key

    key = _run(action)
    console.print(f"指纹 / fingerprint: {key.fingerprint}", highlight=False)


@keys_app.command("fingerprint")
def fingerprint(
    public_key: Annotated[Path, typer.Argument(help="公钥文件 / Public key file (PEM/DER)")],
) -> None:
    """显示公钥指纹 / Show a public key's fingerprint."""
    import crypto

    key = _run(lambda: crypto.PublicKey.load(public_key.read_bytes()))
    console.print(key.fingerprint, highlight=False)


@keys_app.command("rotate")
def rotate(
    ring: Annotated[Path, typer.Argument(help="密钥环目录 / Key ring directory")],
    passphrase: NewPassphrase,
) -> None:
    """轮换：生成新版本，旧版本仍可解密 / Rotate: add a new version; old ones still decrypt.

    The new version's public key is written beside it (archive-vN.pub.pem), to encrypt to."""
    import crypto


    def action() -> tuple[int, crypto.PrivateKey, Path]:
        if any(ring.glob("archive-v*.pem")):
            keyring = crypto.KeyRing.open(ring, passphrase.encode())
            key = keyring.rotate()
        else:
            keyring = crypto.KeyRing.create(ring, passphrase.encode())
            key = keyring.current
        version = keyring.versions[-1]
        public = ring / f"archive-v{version}.pub.pem"
        public.write_bytes(key.public_key.dump_pem())
        return version, key, public

    version, key, public = _run(action)
    console.print(f"版本 / version {version}: {key.fingerprint}\n公钥 / public key: {public}", highlight=False)


@keys_app.command("rewrap")
def rewrap(
    ring: RingDir,
    files: Annotated[
        list[Path],
        typer.Argument(help="加密文件（原地改写）/ Encrypted files (rewritten in place)"),
    ],
    passphrase: Passphrase,
) -> None:
    """把文件移到当前密钥版本，正文不变 / Move files to the current key version; body unchanged."""
    import crypto

    keyring = _run(lambda: crypto.KeyRing.open(ring, passphrase.encode()))
    current = keyring.current
    older = [keyring.version(n).key_id for n in keyring.versions[:-1]]
    move = functools.partial(crypto.rewrap_file, identity=keyring, add=[current.public_key], remove=older)
    for path in files:
        _run(functools.partial(move, path, path))
        console.print(f"{path}: {current.fingerprint}", highlight=False)


def encrypt(
    source: Annotated[Path, typer.Argument(help="明文文件 / Plaintext file")],
    target: Annotated[Path, typer.Argument(help="加密后的文件 / Encrypted file to write")],
    to: Annotated[list[Path], typer.Option(help="接收方公钥，可重复 / Recipient public key, repeatable")],
    provider: Provider,
    filing: Filing,
    document_id: DocumentId,
    document_type: DocumentType,
) -> None:
    """加密文件 / Encrypt a file."""
    import crypto


    def action() -> crypto.Header:
        recipients = [crypto.PublicKey.load(path.read_bytes()) for path in to]
        context = crypto.Context(provider, filing, document_id, document_type)
        with _progress("加密 / encrypt", source.stat().st_size) as progress:
            return crypto.encrypt_file(source, target, recipients=recipients, context=context, progress=progress)

    header = _run(action)
    for recipient in header.recipients:
        console.print(f"接收方 / recipient: {recipient.key_id}", highlight=False)


def decrypt(
    source: Annotated[Path, typer.Argument(help="加密文件 / Encrypted file")],
    target: Annotated[Path, typer.Argument(help="解密后的文件 / Plaintext file to write")],
    provider: Provider,
    filing: Filing,
    document_id: DocumentId,
    document_type: DocumentType,
    passphrase: Passphrase,
    key: KeyFile = None,
    ring: OptionalRingDir = None,
) -> None:
    """解密文件（须给出该材料所属的记录）/ Decrypt a file (give the record it belongs to)."""
    import crypto


    def action() -> None:
        identity = _identity(key, ring, passphrase)
        context = crypto.Context(provider, filing, document_id, document_type)
        with _progress("解密 / decrypt", source.stat().st_size) as progress:
            crypto.decrypt_file(source, target, context=context, identity=identity, progress=progress)

    _run(action)
    console.print(f"已解密 / decrypted: {target}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``keys``, ``encrypt`` and ``decrypt`` to the ``beian`` command."""
    app.add_typer(keys_app, name="keys")
    app.command("encrypt")(encrypt)
    app.command("decrypt")(decrypt)
