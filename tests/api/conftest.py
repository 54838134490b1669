"""Clients for each role against the live embedded server, on either backend."""

from __future__ import annotations

import random

import pytest
from chalicelib.services import current_services

from beian.client import BeianClient


@pytest.fixture
def rng() -> random.Random:
    return random.Random(20101)


@pytest.fixture
def anonymous(live_server: str) -> BeianClient:
    return BeianClient(live_server)


@pytest.fixture
def staff(live_server: str):  # type: ignore[no-untyped-def]
    """``staff(role, **scope)``: a client holding a fresh staff token for ``role``."""

    def make(role: str, **scope: str) -> BeianClient:
        token = current_services().auth.issue(f"{role}-1", role, **scope) if scope else (
            current_services().auth.issue(
                f"{role}-1", role, provider=current_services().settings.provider,
                province=current_services().settings.province))
        return BeianClient(live_server, token)

    return make
