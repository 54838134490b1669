"""Browser tests: the public site in Debian's Chromium, driven by Playwright for Python.

Chromium is the system's (``/usr/bin/chromium``), started headless with the flags the
field notes list; Playwright downloads no browser. Each test gets the embedded server
(``live_server`` from tests/conftest.py, on a fresh data folder; each module
parametrizes ``backend_env`` with "embedded" only, the AWS backend has its own suites) serving build/site,
which is built first if any of its sources is newer. A page fails its test on any
script error or Content-Security-Policy violation. Screenshots go to
test-artifacts/screenshots/.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support import require_file

PROJECT = Path(__file__).resolve().parents[2]
SITE_DIR = PROJECT / "build" / "site"
SCREENSHOTS = PROJECT / "test-artifacts" / "screenshots"
CHROMIUM = os.environ.get("BEIAN_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SITE_SOURCES = ("mkdocs.yml", "site", "site_hooks", "api/chalicelib/rules")


def mkdocs_build(site_dir: Path, config: Path = PROJECT / "mkdocs.yml", env: dict[str, str] | None = None) -> None:
    """``mkdocs build --strict``; fails the test with mkdocs' output if it does not pass."""
    mkdocs = Path(sys.executable).with_name("mkdocs")
    result = subprocess.run(
        [str(mkdocs), "build", "--strict", "--quiet", "-f", str(config), "-d", str(site_dir)],
        cwd=PROJECT,
        env={**os.environ, **(env or {}), "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode:
        pytest.fail(f"mkdocs build failed:\n{result.stdout}\n{result.stderr}")


def _newest_source() -> float:
    newest = 0.0
    for name in SITE_SOURCES:
        root = PROJECT / name
        skipped = {"generated", "__pycache__"}
        paths = [root] if root.is_file() else (p for p in root.rglob("*") if p.is_file() and not skipped & set(p.parts))
        newest = max([newest, *(p.stat().st_mtime for p in paths)])
    return newest


@pytest.fixture(scope="session")
def build_site() -> Callable[..., None]:
    """``build_site(site_dir, config, env)``: run ``mkdocs build --strict`` for a test."""
    return mkdocs_build


@pytest.fixture(scope="session", autouse=True)
def built_site() -> Path:
    """build/site, rebuilt when a source is newer than it (``make test`` builds it first)."""
    marker = SITE_DIR / "sitemap.xml"
    if not marker.is_file() or marker.stat().st_mtime < _newest_source():
        mkdocs_build(SITE_DIR)
    return SITE_DIR


@pytest.fixture
def serve_site(backend_env: dict[str, str]) -> Iterator[Callable[[Path], str]]:
    """``serve_site(site_dir)``: the embedded server for another build of the site, like
    ``live_server`` (tests/conftest.py) but with the site folder given; returns its URL."""
    import threading

    from app import app as chalice_app

    from beian.server import build_server, create_listener

    running: list[tuple[Any, threading.Thread]] = []

    def serve(site_dir: Path) -> str:
        listener = create_listener(build_server(chalice_app, site_dir), "127.0.0.1", 0)
        thread = threading.Thread(target=listener.run, daemon=True)
        thread.start()
        running.append((listener, thread))
        return f"http://127.0.0.1:{listener.port}"

    yield serve
    for listener, thread in running:
        listener.stop()
        thread.join(timeout=10)
        assert not thread.is_alive(), "the server did not stop"


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    require_file(Path(CHROMIUM), "chromium")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


class PageProblems:
    """Script errors and CSP violations seen by one page; the test fails if any occur."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def console(self, message: Any) -> None:
        # "Failed to load resource" is the browser logging an HTTP error status, which the
        # tests provoke on purpose (a wrong token, a refused upload) and check themselves.
        if message.type == "error" and "Failed to load resource" not in message.text:
            self.seen.append(f"console: {message.text}")

    def error(self, error: Any) -> None:
        self.seen.append(f"page error: {error}")


@contextmanager
def watched_page(browser: Any, live: str | None = None) -> Iterator[Any]:
    """A tab of its own in ``browser``; fails on any script error or CSP violation it saw, and,
    given the ``live`` server's URL, when that server stopped before the tab closed."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    problems = PageProblems()
    tab = context.new_page()
    tab.on("console", problems.console)
    tab.on("pageerror", problems.error)
    try:
        yield tab
        if live is not None:  # the order above holds: the server still answers as the page closes
            assert requests.get(f"{live}/api/health", timeout=10).ok, "the server stopped before the page closed"
    finally:
        context.close()
    assert not problems.seen, "\n".join(problems.seen)


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    # A page must close before the server it talks to stops (a request in flight, such as the
    # search worker's, would fail at teardown): pytest tears fixtures down in the reverse order
    # of their set-up, so the test's server is set up first.
    live = request.getfixturevalue("live_server") if "live_server" in request.fixturenames else None
    if "serve_site" in request.fixturenames:
        request.getfixturevalue("serve_site")
    with watched_page(browser, live) as tab:
        yield tab


@pytest.fixture
def screenshot() -> Callable[[Any, str], Path]:
    """``screenshot(page, name)``: a full-page PNG kept in test-artifacts/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(tab: Any, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        tab.evaluate("window.scrollTo(0, 0)")  # else the sticky header lands mid-page
        tab.screenshot(path=str(path), full_page=True)
        return path

    return take
