"""Fixtures of the API tests."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest


@pytest.fixture
def utc_machine(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This machine's clock zone set to UTC, as the verifier's machine was when the photo stamp
    read 23:01 for a photo taken at 07:01 Beijing time."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()
