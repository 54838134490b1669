"""Runs last (by name): the whole suite's log holds no valid ID number, token or key.

Every test before this one logged through the session's log file (tests/conftest.py), the
embedded server and the API included, and the suite uses ID numbers on every filing.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from chalicelib.validators import resident_id

CANDIDATE = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
SECRETS = re.compile(r"bft_F\d{8}-[0-9A-F]{8}\.|eyJ[A-Za-z0-9_-]{10,}\.eyJ|-----BEGIN [A-Z ]*PRIVATE KEY")


def test_the_suite_log_holds_no_id_number_token_or_key(suite_log: Path) -> None:
    logging.getLogger("beian.canary").warning("log scan canary")
    for handler in logging.getLogger().handlers:
        handler.flush()
    text = suite_log.read_text(encoding="utf-8")
    assert "log scan canary" in text, "the suite log is not being written"
    numbers = [match for match in CANDIDATE.findall(text) if resident_id.is_valid(match)]
    assert numbers == [], f"{len(numbers)} valid ID numbers in {suite_log}"
    assert SECRETS.findall(text) == []
