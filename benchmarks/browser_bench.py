"""The upload page in real Chromium: encryption and upload against their bounds, side by side.

    python benchmarks/browser_bench.py [--sizes 1,10,100] [--rounds 3] [--write]

One embedded server and one Chromium session (Debian's, headless, the test suite's flags).
Each round, at each size, runs back to back:

* **webcrypto**: AES-256-GCM in memory over the same number of bytes, in 64 KiB chunks with
  16 in flight (how the page seals), nothing read from a file: the bound for encryption;
* **seal**: the page's own `seal()` over the chosen `File`, the sealed bytes consumed and
  dropped: the page's file-to-ciphertext rate;
* **upload**: a click on "Encrypt and upload" until the row says received (slot, encryption
  and upload in parts, the server's check): click-to-received;
* **post**: the same file, already encrypted (by Python, for a slot the page requested),
  posted from the page to the same server (one presigned POST, then the same check; the
  slot request timed too): the bound for the upload.

Memory: every Chromium process (browser, renderer, network, ...) is sampled every 50 ms
during each run; the growth is the largest sum of their proportional set sizes (Pss, so
shared pages count once) minus the sum just before the run. MB/s = 10^6 B/s of the file.
A ratio is the median of the rounds' own ratios. ``--write`` replaces the "## Browser
upload" section of benchmarks/RESULTS.md. A benchmark: it asserts nothing.
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "api")]
MIB = 1024 * 1024
SITE = ROOT / "build" / "site"
CHROMIUM = os.environ.get("BEIAN_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--js-flags=--expose-gc"]  # the test suite's flags, and gc() so a run starts without garbage
PDF = b"%PDF-1.7\n"
TARGETS = {"seal": 0.5, "upload": 0.8}
MEMORY_TARGET_MIB = 48


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        for child in children.get(pid, []):
            found.append(child)
            todo.append(child)
    return found


def chromium_pss_mib() -> float:
    """The summed Pss of every Chromium process this benchmark started."""
    total = 0
    for pid in _descendants(os.getpid()):
        try:
            if "chromium" not in os.readlink(f"/proc/{pid}/exe"):
                continue
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except OSError:
            continue  # a process that just ended
    return total / 1024


@contextmanager
def memory_growth() -> Iterator[list[float]]:
    """Samples Chromium's memory while the block runs; yields a list that gets the growth."""
    before = chromium_pss_mib()
    peak = [before]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.05):
            peak[0] = max(peak[0], chromium_pss_mib())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    result: list[float] = []
    try:
        yield result
    finally:
        stop.set()
        sampler.join()
        result.append(max(peak[0], chromium_pss_mib()) - before)


class Bench:
    def __init__(self, base: str, page: Any, work: Path) -> None:
        from beian.client import BeianClient

        self.base = base
        self.page = page
        self.work = work
        self.client_class = BeianClient

    def new_filing(self) -> tuple[str, str]:
        from beian.synthetic import filing_payload

        filing, token = self.client_class(self.base).submit(filing_payload(random.Random()))
        return str(filing["id"]), token

    def open_upload_page(self, filing_id: str, token: str) -> None:
        self.page.goto(f"{self.base}/upload/")
        self.page.fill("#filing-id", filing_id)
        self.page.fill("#filing-token", token)
        self.page.click("#access-form button[type=submit]")
        self.page.wait_for_selector("#upload-form")
        self.page.select_option("#document-type", "business_licence")
        self.webcrypto(MIB)  # untimed: WebCrypto and the page's modules warm, as for a second file

    def webcrypto(self, size: int) -> float:
        return float(self.page.evaluate(
            """async (size) => {
              const key = await crypto.subtle.generateKey({name: 'AES-GCM', length: 256}, false, ['encrypt']);
              const data = new Uint8Array(size);
              for (let i = 0; i < size; i += 65536) crypto.getRandomValues(data.subarray(i, i + 65536));
              const iv = new Uint8Array(12);
              const start = performance.now();
              for (let block = 0; block < size; block += 16 * 65536) {
                const sealing = [];
                for (let at = block; at < Math.min(size, block + 16 * 65536); at += 65536) {
                  sealing.push(crypto.subtle.encrypt({name: 'AES-GCM', iv, additionalData: iv}, key,
                                                     data.subarray(at, at + 65536)));
                }
                await Promise.all(sealing);
              }
              return (performance.now() - start) / 1000;
            }""", size))

    def seal(self, file: Path, recipient: dict[str, str]) -> float:
        self.page.set_input_files("#document-file", str(file))
        return float(self.page.evaluate(
            """async (recipient) => {
              const envelope = await import('/assets/js/lib/envelope.js');
              const file = document.querySelector('#document-file').files[0];
              const start = performance.now();
              const sealed = await envelope.seal(file, {
                recipients: [await envelope.importRecipient(recipient)],
                context: {provider: 'p', filing: 'f', document_id: 'd', document_type: 't'}});
              for await (const piece of sealed.chunks) piece.length;
              return (performance.now() - start) / 1000;
            }""", recipient))

    def upload(self, file: Path) -> float:
        self.page.set_input_files("#document-file", str(file))
        done = self.page.locator(".beian-upload[data-state=received], .beian-upload[data-state=failed]")
        before = done.count()
        start = time.perf_counter()
        self.page.click("#upload-button")
        self.page.wait_for_function(
            "n => document.querySelectorAll('.beian-upload[data-state=received], "
            ".beian-upload[data-state=failed]').length > n", arg=before, timeout=600_000, polling=20)
        seconds = time.perf_counter() - start
        if self.page.locator(".beian-upload").last.get_attribute("data-state") != "received":
            raise RuntimeError("the page's upload failed: " + self.page.locator(".beian-upload").last.inner_text())
        self.page.wait_for_selector("#upload-button:not([disabled])")
        return seconds

    def post(self, file: Path, filing_id: str, token: str) -> float:
        """The same file encrypted beforehand, posted from the page, then checked: the slot
        request, the post and the check are timed, as the page's own upload times them."""
        import crypto

        requested = self.page.evaluate(
            """async ({token, filing, size}) => {
              const start = performance.now();
              const reply = await fetch(`/api/filings/${filing}/documents`, {method: 'POST',
                headers: {Authorization: `Bearer ${token}`, 'Content-Type': 'application/json'},
                body: JSON.stringify({document_type: 'business_licence', size, media_type: 'application/pdf'})});
              return {slot: await reply.json(), seconds: (performance.now() - start) / 1000};
            }""", {"token": token, "filing": filing_id, "size": file.stat().st_size})
        slot = requested["slot"]
        recipients = [crypto.PublicKey.load(base64.b64decode(r["spki"])) for r in slot["envelope"]["recipients"]]
        sealed = self.work / "sealed.beian"
        crypto.encrypt_file(file, sealed, recipients=recipients, context=crypto.Context(**slot["envelope"]["context"]))
        self.page.set_input_files("#document-file", str(sealed))
        seconds = float(self.page.evaluate(
            """async ({slot, token, filing}) => {
              const file = document.querySelector('#document-file').files[0];
              const start = performance.now();
              const form = new FormData();
              for (const [name, value] of Object.entries(slot.upload.fields)) form.append(name, value);
              form.append('file', file, 'document.beianenv');
              const sent = await fetch(slot.upload.url, {method: 'POST', body: form});
              if (!sent.ok) throw new Error(`upload ${sent.status}`);
              const checked = await fetch(`/api/filings/${filing}/documents/${slot.document.id}/complete`,
                                          {method: 'POST', headers: {Authorization: `Bearer ${token}`}});
              if (!checked.ok) throw new Error(`check ${checked.status}`);
              return (performance.now() - start) / 1000;
            }""", {"slot": slot, "token": token, "filing": filing_id}))
        sealed.unlink()
        return float(requested["seconds"]) + seconds


def measure(bench: Bench, sizes: list[int], rounds: int) -> dict[int, dict[str, list[tuple[float, float]]]]:
    """Per size, per operation: (seconds, memory growth MiB) of every round."""
    from chalicelib.services import current_services

    info = current_services().keys.public_key_info()
    recipient = {"key_id": info["key_id"], "spki": info["spki"]}
    runs: dict[int, dict[str, list[tuple[float, float]]]] = {}
    for size in sizes:
        file = bench.work / f"{size}.pdf"
        with file.open("wb") as out:
            out.write(PDF)
            remaining = size - len(PDF)
            while remaining:
                out.write(os.urandom(min(remaining, 4 * MIB)))
                remaining -= min(remaining, 4 * MIB)
        runs[size] = {name: [] for name in ("webcrypto", "seal", "upload", "post")}
        for _ in range(rounds):
            filing_id, token = bench.new_filing()
            bench.open_upload_page(filing_id, token)
            operations: dict[str, Callable[[], float]] = {
                "webcrypto": lambda: bench.webcrypto(size),  # noqa: B023 (called in this iteration)
                "seal": lambda: bench.seal(file, recipient),  # noqa: B023
                "upload": lambda: bench.upload(file),  # noqa: B023
                "post": lambda: bench.post(file, filing_id, token),  # noqa: B023
            }
            for name, operation in operations.items():
                bench.page.evaluate("gc()")
                with memory_growth() as growth:
                    seconds = operation()
                runs[size][name].append((seconds, growth[0]))
        file.unlink()
    return runs


LABELS = {
    "webcrypto": "WebCrypto AES-GCM in memory (64 KiB chunks, 16 in flight)",
    "seal": "the page's seal(): file to ciphertext",
    "upload": "the page: click to received (encrypt and upload in parts)",
    "post": "the same ciphertext, already made, posted from the page",
}


def report(runs: dict[int, dict[str, list[tuple[float, float]]]], rounds: int, command: str, load: str) -> str:
    lines = [
        "## Browser upload",
        "",
        f"Command: `{command}` ({rounds} rounds per size in one Chromium session, each running the four",
        "operations back to back; MB/s = 10^6 B/s of the file, the median of the rounds; memory is the",
        "largest growth over the rounds of the summed Pss of every Chromium process, sampled every 50 ms).",
        f"Machine during the run: {load}.",
        "",
    ]
    for size, by_name in runs.items():
        speeds = {name: [size / seconds / 1e6 for seconds, _ in values] for name, values in by_name.items()}
        lines += [f"### {size // MIB} MiB", "", "| operation | MB/s | Chromium memory growth |", "|---|---:|---:|"]
        for name, label in LABELS.items():
            growth = max(memory for _, memory in by_name[name])
            lines.append(f"| {label} | {statistics.median(speeds[name]):,.1f} | {growth:+.1f} MiB |")
        lines += ["", "| ratio | target | median | each round |", "|---|---|---:|---|"]
        for ours, theirs, label in (("seal", "webcrypto", "encryption: seal() over WebCrypto in memory"),
                                    ("upload", "post", "click-to-received over posting the ciphertext")):
            ratios = [a / b for a, b in zip(speeds[ours], speeds[theirs], strict=True)]
            median = statistics.median(ratios)
            target = TARGETS[ours]
            verdict = "met" if median >= target else "not met"
            bound = target * statistics.median(speeds[theirs])
            lines.append(f"| {label} | ≥ {target} ({bound:,.1f} MB/s here) | {median:.2f}x, {verdict} | "
                         + " ".join(f"{r:.2f}" for r in ratios) + " |")
        growth = max(memory for _, memory in by_name["upload"])
        verdict = "met" if growth <= MEMORY_TARGET_MIB else "not met"
        lines += ["", f"Memory while the page encrypts and uploads: {growth:+.1f} MiB "
                      f"(target ≤ {MEMORY_TARGET_MIB} MiB at 100 MiB: {verdict}).", ""]
    return "\n".join(lines)


@contextmanager
def server(data_dir: Path, largest: int) -> Iterator[str]:
    os.environ.update(BEIAN_DATA_DIR=str(data_dir), BEIAN_BACKEND="embedded",
                      BEIAN_MAX_DOCUMENT_BYTES=str(max(largest, 20 * MIB)),
                      BEIAN_ANONYMOUS_BURST="1000")
    from app import app as chalice_app

    from beian.server import build_server, create_listener

    listener = create_listener(build_server(chalice_app, SITE), "127.0.0.1", 0)
    os.environ["BEIAN_PUBLIC_URL"] = f"http://127.0.0.1:{listener.port}"
    thread = threading.Thread(target=listener.run, daemon=True)
    thread.start()
    try:
        yield os.environ["BEIAN_PUBLIC_URL"]
    finally:
        listener.stop()
        thread.join(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,10,100", help="file sizes in MiB")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="update benchmarks/RESULTS.md")
    args = parser.parse_args()
    sizes = [int(s) * MIB for s in args.sizes.split(",")]
    from playwright.sync_api import sync_playwright

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as scratch, server(Path(scratch) / "var", max(sizes) + MIB) as base, \
            sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        page = browser.new_page()
        runs = measure(Bench(base, page, Path(scratch)), sizes, args.rounds)
        browser.close()
    load = f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after, on {os.cpu_count()} cores"
    command = "python " + " ".join(["benchmarks/browser_bench.py", *sys.argv[1:]])
    section = report(runs, args.rounds, command, load)
    from benchmarks.results import publish

    publish(section, write=args.write)


if __name__ == "__main__":
    main()
