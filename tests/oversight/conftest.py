"""Services over a fresh archive (both backends, or the embedded one alone for heavy tests)."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

import pytest
from chalicelib.config import Settings
from chalicelib.oversight.idcheck import IdChecker
from chalicelib.services import Services, build_services

NOW = datetime(2024, 7, 10, 2, 0, tzinfo=UTC)


@pytest.fixture
def rng() -> random.Random:
    return random.Random(20100222)


@pytest.fixture
def services(backend_env: dict[str, str]) -> Services:
    """Services on each backend, with the clock stopped at ``NOW``."""
    return build_services(Settings.from_env(), clock=lambda: NOW)


@pytest.fixture
def embedded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Services:
    """Services on the embedded backend only (for seeding and worker processes)."""
    monkeypatch.setenv("BEIAN_BACKEND", "embedded")
    monkeypatch.setenv("BEIAN_DATA_DIR", str(tmp_path / "var"))
    return build_services(Settings.from_env(), clock=lambda: NOW)


@pytest.fixture
def now() -> datetime:
    return NOW


@pytest.fixture
def checker(services: Services) -> IdChecker:
    return IdChecker(services.backend.records, services.sensitive, lambda: NOW)


@pytest.fixture
def embedded_checker(embedded: Services) -> IdChecker:
    return IdChecker(embedded.backend.records, embedded.sensitive, lambda: NOW)
