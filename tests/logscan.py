"""The suite's logs hold no valid ID number, token or key: checked when the session ends.

A pytest plugin (``tests/conftest.py`` loads it). While the session runs, everything logged in
the test process goes to one file, the embedded server and the API included, and servers the
tests start as processes of their own (the load and kill tests) write their output into a
folder named by ``BEIAN_SERVER_LOG_DIR``. When the session finishes, every one of those files
is scanned; a finding fails the run (exit status 1) however many tests passed, and whichever
tests were selected.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from pathlib import Path

import pytest
from chalicelib.validators import resident_id

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
SERVER_LOG_DIR = "BEIAN_SERVER_LOG_DIR"
CANARY = "log scan canary"
CANDIDATE = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
SECRETS = re.compile(r"bft_F\d{8}-[0-9A-F]{8}\.|eyJ[A-Za-z0-9_-]{10,}\.eyJ|-----BEGIN [A-Z ]*PRIVATE KEY")
_HANDLER = pytest.StashKey[logging.Handler]()
_PREVIOUS_LEVEL = pytest.StashKey[int]()


def findings(path: Path) -> list[str]:
    """What ``path`` must not hold: valid ID numbers (counted, never shown) and secrets."""
    text = path.read_text(encoding="utf-8", errors="replace")
    found = []
    numbers = sum(resident_id.is_valid(match) for match in CANDIDATE.findall(text))
    if numbers:
        found.append(f"{path}: {numbers} valid ID number(s)")
    secrets = len(SECRETS.findall(text))
    if secrets:
        found.append(f"{path}: {secrets} token(s) or private key(s)")
    return found


def suite_log_path() -> Path:
    # One file per session: two suites running at once on one machine must not truncate each other's.
    return ARTIFACTS / f"test-suite-{os.getpid()}.log"


def server_log_dir() -> Path:
    return ARTIFACTS / f"server-logs-{os.getpid()}"


def pytest_sessionstart(session: pytest.Session) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.rmtree(server_log_dir(), ignore_errors=True)
    server_log_dir().mkdir()
    os.environ[SERVER_LOG_DIR] = str(server_log_dir())
    handler = logging.FileHandler(suite_log_path(), mode="w", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    session.stash[_HANDLER], session.stash[_PREVIOUS_LEVEL] = handler, root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's request lines


@pytest.hookimpl(trylast=True)  # after the runner has torn down every fixture (and its servers)
def pytest_sessionfinish(session: pytest.Session) -> None:
    handler = session.stash[_HANDLER]
    logging.getLogger("beian.canary").warning(CANARY)
    root = logging.getLogger()
    root.removeHandler(handler)
    root.setLevel(session.stash[_PREVIOUS_LEVEL])
    handler.close()
    os.environ.pop(SERVER_LOG_DIR, None)
    suite_log = suite_log_path()
    problems = [] if CANARY in suite_log.read_text(encoding="utf-8") else [f"{suite_log} is not being written"]
    for path in [suite_log, *sorted(server_log_dir().glob("*.log"))]:
        problems += findings(path)
    if problems:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_sep("=", "log scan: the logs hold what they must not", red=True)
            for problem in problems:
                reporter.write_line(problem)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
