"""The log scan (tests/logscan.py) finds what it must, and fails a session whose tests all pass."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from beian.synthetic import resident_id_number
from tests.logscan import findings

PROJECT = Path(__file__).resolve().parents[1]
ID_NUMBER = resident_id_number(random.Random(7))


def test_a_valid_id_number_is_found_and_not_repeated(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text(f"submitted by {ID_NUMBER}\nnot one: {ID_NUMBER[:-1]}{'0' if ID_NUMBER[-1] != '0' else '1'}\n")
    found = findings(log)
    assert found == [f"{log}: 1 valid ID number(s)"]
    assert ID_NUMBER not in "".join(found)


def test_a_token_or_a_private_key_is_found(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text("Authorization: Bearer eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2ln\n-----BEGIN PRIVATE KEY-----\n")
    assert findings(log) == [f"{log}: 2 token(s) or private key(s)"]


SESSION = {
    "clean": "def test_nothing_logged():\n    pass\n",
    "in_process": ("import logging\n\ndef test_logs_a_number():\n"
                   f"    logging.getLogger('beian.api').info('applicant %s', '{ID_NUMBER}')\n"),
    "server_process": ("import os, pathlib\n\ndef test_a_server_process_logs_a_number():\n"
                       "    log = pathlib.Path(os.environ['BEIAN_SERVER_LOG_DIR'], 'server-1.log')\n"
                       f"    log.write_text('traceback: {ID_NUMBER}')\n"),
}


@pytest.mark.parametrize(("case", "status"), [("clean", 0), ("in_process", 1), ("server_process", 1)])
def test_the_session_fails_when_a_log_holds_an_id_number(tmp_path: Path, case: str, status: int) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_case.py").write_text(SESSION[case])
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "tests.logscan", "-p", "no:cacheprovider",
         "-c", str(tmp_path / "pytest.ini"), "--rootdir", str(tmp_path), str(tmp_path / "test_case.py")],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(PROJECT), str(PROJECT / "api")])})
    assert result.returncode == status, result.stdout + result.stderr
    assert "1 passed" in result.stdout
    assert ("log scan: the logs hold what they must not" in result.stdout) == bool(status)
    assert ID_NUMBER not in result.stdout
