"""Envelope encryption benchmark: crypto/ against a plain copy, raw AES-GCM, age and the AWS SDK.

    python benchmarks/crypto_bench.py [--sizes 256,1024] [--repeat 3] [--write]

Every measurement runs in a fresh interpreter that reports its own time and peak
RSS (VmHWM); an interpreter that only starts and reports is the
baseline RSS. Files live in /dev/shm, because disk-backed runs vary about 3x
here. ``--write`` replaces the "## Envelope encryption" section of
benchmarks/RESULTS.md. This is a benchmark, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # crypto/ from this tree, installed or not
SCRATCH = Path("/dev/shm/beian-crypto-bench")
CHUNK = 64 * 1024
MIB = 1024 * 1024
CONTEXT = ("bench-isp", "京ICP备11018762号-11", "doc-1", "id-card")

# Worker side: one operation per fresh interpreter ----------------------------------------


def _copy(src: Path, dst: Path) -> None:
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    with src.open("rb") as source, dst.open("wb") as sink:
        while count := source.readinto(buffer):
            sink.write(view[:count])


def _write_only(size: int, dst: Path) -> None:
    view = memoryview(bytearray(os.urandom(CHUNK)))
    with dst.open("wb") as sink:
        for _ in range(size // CHUNK):
            sink.write(view)


Operation = Callable[[], object]


def _sha256_in_memory(size: int) -> Operation:
    from cryptography.hazmat.primitives import hashes

    block = memoryview(bytearray(os.urandom(MIB)))

    def run() -> None:
        digest = hashes.Hash(hashes.SHA256())
        for _ in range(size // MIB):
            digest.update(block)
        digest.finalize()

    return run


def _aesgcm_in_memory(size: int) -> Operation:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    aead = AESGCM(os.urandom(32))
    plain = memoryview(bytearray(os.urandom(CHUNK)))
    sealed = bytearray(CHUNK + 16)

    def run() -> None:
        for counter in range(size // CHUNK):
            aead.encrypt_into(counter.to_bytes(12, "big"), plain, b"", sealed)

    return run


def _envelope(mode: str, src: Path, dst: Path) -> Operation:
    import crypto

    key = crypto.PrivateKey.load((SCRATCH / "key.pem").read_bytes(), None)
    context = crypto.Context(*CONTEXT)
    if mode == "encrypt":
        return lambda: crypto.encrypt_file(src, dst, recipients=[key.public_key], context=context)
    return lambda: crypto.decrypt_file(src, dst, context=context, identity=key)


def _age(mode: str, src: Path, dst: Path) -> Operation:
    import pyrage

    identity = pyrage.x25519.Identity.from_str((SCRATCH / "age.key").read_text().strip())
    if mode == "encrypt":
        return lambda: pyrage.encrypt_file(str(src), str(dst), [identity.to_public()])
    return lambda: pyrage.decrypt_file(str(src), str(dst), [identity])


def _aws(mode: str, src: Path, dst: Path, unsigned: bool) -> Operation:
    import aws_encryption_sdk
    from aws_encryption_sdk.identifiers import Algorithm, EncryptionKeyType, WrappingAlgorithm
    from aws_encryption_sdk.internal.crypto.wrapping_keys import WrappingKey
    from aws_encryption_sdk.key_providers.raw import RawMasterKey

    key = RawMasterKey(
        provider_id="bench",
        key_id=b"bench-key",
        wrapping_key=WrappingKey(
            wrapping_algorithm=WrappingAlgorithm.AES_256_GCM_IV12_TAG16_NO_PADDING,
            wrapping_key=b"\x01" * 32,
            wrapping_key_type=EncryptionKeyType.SYMMETRIC,
        ),
    )
    client = aws_encryption_sdk.EncryptionSDKClient()
    options: dict[str, Any] = {"key_provider": key}
    if mode == "encrypt" and unsigned:
        options |= {
            "algorithm": Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY,
            "frame_length": CHUNK,
        }

    def run() -> None:
        with (
            src.open("rb") as source,
            dst.open("wb") as sink,
            client.stream(mode=mode[0], source=source, **options) as stream,
        ):
            for data in stream:
                sink.write(data)

    return run


def _operation(name: str, size: int) -> Operation:
    """Import and load keys now; only the returned callable is timed."""
    tool, _, mode = name.partition("-")
    plain, sealed, back = (SCRATCH / f"{size}.{ext}" for ext in ("plain", tool, "out"))
    if tool == "baseline":
        return lambda: None
    if tool == "copy":
        return lambda: _copy(plain, back)
    if tool == "write":
        return lambda: _write_only(size, back)
    if tool == "sha256":
        return _sha256_in_memory(size)
    if tool == "aesgcm":
        return _aesgcm_in_memory(size)
    tools: dict[str, Callable[[str, Path, Path], Operation]] = {
        "envelope": _envelope,
        "age": _age,
        "aws": functools.partial(_aws, unsigned=False),
        "aws64k": functools.partial(_aws, unsigned=True),
    }
    src, dst = (plain, sealed) if mode == "encrypt" else (sealed, back)
    return tools[tool](mode, src, dst)


def worker(name: str, size: int) -> None:
    operation = _operation(name, size)
    ready_kib = _status_kib("VmRSS")
    start = time.perf_counter()
    operation()
    seconds = time.perf_counter() - start
    peak_kib = _status_kib("VmHWM")
    print(json.dumps({"seconds": seconds, "peak_mib": peak_kib / 1024, "operation_mib": (peak_kib - ready_kib) / 1024}))


def _status_kib(field: str) -> int:
    # VmHWM rather than getrusage's ru_maxrss: Linux carries the parent's peak across exec.
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


# Parent side ------------------------------------------------------------------------------

OPERATIONS = [
    ("copy", "plain Python copy, 64 KiB buffer"),
    ("write-memory", "write only (from memory), 64 KiB buffer"),
    ("aesgcm-memory", "AESGCM.encrypt_into, 64 KiB chunks, in memory"),
    ("envelope-encrypt", "crypto/ encrypt_file"),
    ("envelope-decrypt", "crypto/ decrypt_file"),
    ("age-encrypt", "pyrage (age) encrypt_file"),
    ("age-decrypt", "pyrage (age) decrypt_file"),
    ("aws-encrypt", "aws-encryption-sdk default suite (signed, 4 KiB frames)"),
    ("aws-decrypt", "aws-encryption-sdk default suite, decrypt"),
    ("aws64k-encrypt", "aws-encryption-sdk unsigned, 64 KiB frames"),
    ("aws64k-decrypt", "aws-encryption-sdk unsigned, 64 KiB frames, decrypt"),
]


COMPARISONS = [
    (("copy", "copy"), "plain copy", "≥ 0.85"),
    (("age-encrypt", "age-decrypt"), "pyrage (age)", "≥ 2"),
    (("aws-encrypt", "aws-decrypt"), "AWS SDK default suite", "≥ 15"),
    (("aws64k-encrypt", "aws64k-decrypt"), "AWS SDK unsigned, 64 KiB frames", "-"),
]


def run_once(name: str, size: int) -> dict[str, float]:
    # Every run writes a new file: freeing an old one's pages is not the tool's cost.
    (SCRATCH / f"{size}.out").unlink(missing_ok=True)
    if name.endswith("-encrypt"):
        (SCRATCH / f"{size}.{name.partition('-')[0]}").unlink(missing_ok=True)
    done = subprocess.run(
        [sys.executable, __file__, "--worker", name, "--size", str(size)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, float] = json.loads(done.stdout)
    return result


def measure_rounds(names: list[str], size: int, repeat: int) -> dict[str, list[dict[str, float]]]:
    """``repeat`` rounds, each running every operation once, back to back.

    Interleaving puts the operations a ratio compares close together in time, so a
    drift of the machine's speed between them cancels instead of landing on one side.
    """
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    for _ in range(repeat):
        for name in names:
            runs[name].append(run_once(name, size))
    return runs


def prepare(sizes: list[int]) -> None:
    import pyrage

    import crypto

    SCRATCH.mkdir(exist_ok=True)
    (SCRATCH / "key.pem").write_bytes(crypto.PrivateKey.generate().dump_pem(None))
    (SCRATCH / "age.key").write_text(str(pyrage.x25519.Identity.generate()))
    for size in sizes:
        plain = SCRATCH / f"{size}.plain"
        if not plain.exists() or plain.stat().st_size != size:
            with plain.open("wb") as out:
                for _ in range(size // (64 * MIB)):
                    out.write(os.urandom(64 * MIB))


def report(sizes: list[int], repeat: int, command: str, skip: tuple[str, ...] = ()) -> str:
    baseline = max(run_once("baseline", 0)["peak_mib"] for _ in range(repeat))
    lines = [
        "## Envelope encryption",
        "",
        f"Command: `{command}` ({repeat} rounds, each running every operation once in a fresh",
        "interpreter, back to back; files in /dev/shm; MB/s = 10^6 B/s, the median over the rounds;",
        "imports and key loading are not timed. A ratio is the median of the rounds' own ratios. Peak",
        f"RSS is the child's VmHWM minus a bare interpreter's ({baseline:.1f} MiB), so it includes",
        "imported libraries; 'during' is the growth while the operation runs; both the largest of the rounds).",
        "",
    ]
    operations = [(name, label) for name, label in OPERATIONS if not name.startswith(skip)]
    comparisons = [c for c in COMPARISONS if not c[0][0].startswith(skip)]
    load_before = os.getloadavg()[0]
    names = [name for name, _ in operations]
    for size in sizes:
        runs = measure_rounds(names, size, repeat)
        speeds = {name: [size / r["seconds"] / 1e6 for r in rounds] for name, rounds in runs.items()}
        lines += [f"### {size // MIB} MiB", ""]
        lines += ["| operation | MB/s | peak RSS over baseline | during |", "|---|---:|---:|---:|"]
        for name, label in operations:
            extra = max(r["peak_mib"] for r in runs[name]) - baseline
            during = max(r["operation_mib"] for r in runs[name])
            speed = statistics.median(speeds[name])
            lines.append(f"| {label} | {speed:,.0f} | {extra:+.1f} MiB | {during:+.1f} MiB |")
        lines += [
            "",
            "| ratio (crypto/ over ...) | target | encrypt | decrypt | each round, encrypt/decrypt |",
            "|---|---|---:|---:|---|",
        ]
        for (encrypt, decrypt), label, target in comparisons:
            enc = [ours / theirs for ours, theirs in zip(speeds["envelope-encrypt"], speeds[encrypt], strict=True)]
            dec = [ours / theirs for ours, theirs in zip(speeds["envelope-decrypt"], speeds[decrypt], strict=True)]
            every = " ".join(f"{e:.2f}/{d:.2f}" for e, d in zip(enc, dec, strict=True))
            lines.append(
                f"| {label} | {target} | {statistics.median(enc):.2f}x | {statistics.median(dec):.2f}x | {every} |"
            )
        lines += ["", _single_core_bound(speeds), ""]
    lines += [f"Machine during the run: load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after, "
              f"on {os.cpu_count()} cores.", ""]
    return "\n".join(lines)


def _single_core_bound(speeds: dict[str, list[float]]) -> str:
    """The fastest a single-threaded implementation of format v2 could encrypt here.

    Every byte must be written (the input could be mapped rather than read) and sealed
    with AES-GCM, one after the other on one core; version 2 hashes nothing.
    """
    parts = ("write-memory", "aesgcm-memory")
    bound = 1 / sum(1 / statistics.median(speeds[name]) for name in parts)
    copy = statistics.median(speeds["copy"])
    return (
        f"Single-core bound (write + AES-GCM, one after the other): {bound:,.0f} MB/s = {bound / copy:.2f}x the copy; "
        f"the 0.85x target is {0.85 * copy:,.0f} MB/s here."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="256,1024", help="file sizes in MiB")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="update benchmarks/RESULTS.md")
    parser.add_argument("--without-aws", action="store_true", help="skip the AWS Encryption SDK (slow)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.size)
        return
    sizes = [int(s) * MIB for s in args.sizes.split(",")]
    prepare(sizes)
    command = "python " + " ".join(["benchmarks/crypto_bench.py", *sys.argv[1:]])
    section = report(sizes, args.repeat, command, skip=("aws",) if args.without_aws else ())
    from benchmarks.results import publish

    publish(section, write=args.write)


if __name__ == "__main__":
    main()
