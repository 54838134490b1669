"""`beian decrypt` killed mid-way leaves no plaintext file: the process is really killed.

The source is a FIFO, so the test decides how far decryption gets: it sends the header and
a few blocks, waits until plaintext has been written to the output file, then signals.
With O_TMPFILE the output has no name until it is complete; where the filesystem lacks
it (simulated by removing os.O_TMPFILE), a 0600 part file is removed on SIGTERM/SIGINT,
and after SIGKILL by the next run.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import crypto

PASSPHRASE = "correct horse battery staple"
CONTEXT = crypto.Context("isp", "京ICP备11018762号-11", "doc-1", "id-card")
RECORD = ["--provider", CONTEXT.provider, "--filing", CONTEXT.filing,
          "--document-id", CONTEXT.document_id, "--document-type", CONTEXT.document_type]
BLOCK = 1024 * 1024


@pytest.fixture(scope="module")
def material(tmp_path_factory: pytest.TempPathFactory, alice: crypto.PrivateKey) -> tuple[Path, bytes]:
    folder = tmp_path_factory.mktemp("key")
    key = folder / "alice.pem"
    alice.save(key, PASSPHRASE.encode())
    sealed = io.BytesIO()
    crypto.encrypt_stream(io.BytesIO(os.urandom(8 * BLOCK)), sealed, recipients=[alice.public_key], context=CONTEXT)
    return key, sealed.getvalue()


def _command(key: Path, source: Path, target: Path, *, unnamed: bool) -> list[str]:
    # Ctrl-C interrupts, as in a terminal, even where the test runs in the background (whose
    # children inherit SIGINT ignored).
    prelude = "import signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
    prelude += "" if unnamed else "import os; del os.O_TMPFILE; "
    code = f"{prelude}import sys; from beian.cli import main; sys.argv[0] = 'beian'; main()"
    return [sys.executable, "-c", code, "decrypt", str(source), str(target), *RECORD, "--key", str(key)]


def _written_output(pid: int, folder: Path) -> bool:
    """Whether the process holds an output file in ``folder`` with plaintext in it."""
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            if os.readlink(fd).startswith(f"{folder}/") and fd.stat().st_size >= BLOCK:
                return True
        except OSError:
            continue
    return False


def _feed(fifo: Path, data: bytes) -> None:
    with contextlib.suppress(BrokenPipeError), fifo.open("wb") as out:  # the reader is killed
        out.write(data)
        out.flush()
        time.sleep(120)  # never the end of the stream while the test runs


def _start(key: Path, envelope: bytes, folder: Path, *, unnamed: bool) -> tuple[subprocess.Popen[bytes], Path]:
    source = folder / "in.fifo"
    os.mkfifo(source)
    target = folder / "plain.pdf"
    env = {**os.environ, "BEIAN_KEY_PASSPHRASE": PASSPHRASE}
    process = subprocess.Popen(_command(key, source, target, unnamed=unnamed), env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # All but the last block, and the FIFO kept open: decryption writes, then waits.
    threading.Thread(target=_feed, args=(source, envelope[:-BLOCK]), daemon=True).start()
    deadline = time.monotonic() + 60
    while not _written_output(process.pid, folder):
        assert process.poll() is None, "decrypt ended before it was killed"
        assert time.monotonic() < deadline, "no plaintext was written"
        time.sleep(0.05)
    return process, target


def _left(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir() if path.name != "in.fifo")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL], ids=lambda s: s.name)
def test_unnamed_output_leaves_nothing(tmp_path: Path, material: tuple[Path, bytes], sig: signal.Signals) -> None:
    process, _ = _start(*material, tmp_path, unnamed=True)
    process.send_signal(sig)
    assert process.wait(timeout=30) != 0
    assert _left(tmp_path) == []


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
def test_part_file_is_removed_on_termination(tmp_path: Path, material: tuple[Path, bytes], sig: signal.Signals) -> None:
    process, _ = _start(*material, tmp_path, unnamed=False)
    assert len(_left(tmp_path)) == 1  # the part file, while decrypting
    process.send_signal(sig)
    assert process.wait(timeout=30) != 0
    assert _left(tmp_path) == []


def test_part_file_after_sigkill_is_private_and_removed_by_the_next_run(
    tmp_path: Path, material: tuple[Path, bytes]
) -> None:
    key, envelope = material
    process, target = _start(key, envelope, tmp_path, unnamed=False)
    process.kill()
    process.wait(timeout=30)
    (part,) = (tmp_path / name for name in _left(tmp_path))
    assert part.name.startswith(f".{target.name}.") and part.name.endswith(".part")
    assert stat.S_IMODE(part.stat().st_mode) == 0o600
    (tmp_path / "in.fifo").unlink()
    sealed = tmp_path / "in.beian"
    sealed.write_bytes(envelope)
    env = {**os.environ, "BEIAN_KEY_PASSPHRASE": PASSPHRASE}
    subprocess.run(_command(key, sealed, target, unnamed=False), env=env, check=True, capture_output=True)
    assert _left(tmp_path) == ["in.beian", target.name]
