"""Who a token belongs to (GET /session, the staff console's sign-in) and the working days
each pending deadline has left (the console's queue)."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest
from chalicelib.deadlines import china_day
from chalicelib.workdays import working_days_between

from beian.client import ApiError, BeianClient
from beian.synthetic import filing_payload


def test_a_staff_token_names_its_holder_role_and_scope(staff: Callable[..., BeianClient]) -> None:
    reviewer = staff("reviewer")
    session = reviewer.call("GET", "/session")
    assert session["role"] == "reviewer" and session["subject"] and session["province"]
    assert set(session) == {"subject", "role", "provider", "province"}


def test_an_applicant_token_or_none_is_not_a_staff_session(anonymous: BeianClient, live_server: str) -> None:
    _, token = anonymous.submit(filing_payload(random.Random(7), "individual"))
    with pytest.raises(ApiError) as applicant:
        BeianClient(live_server, token).call("GET", "/session")
    assert applicant.value.status == 403
    with pytest.raises(ApiError) as nobody:
        anonymous.call("GET", "/session")
    assert nobody.value.status == 401


def test_pending_deadlines_say_how_many_working_days_are_left(
        anonymous: BeianClient, staff: Callable[..., BeianClient]) -> None:
    filing, _ = anonymous.submit(filing_payload(random.Random(8), "enterprise"))
    verifier = staff("verifier")
    pending = verifier.call("GET", f"/filings/{filing['id']}")["deadlines"]["pre_verification"]
    today = china_day(datetime.now(UTC))
    assert pending["working_days_left"] == working_days_between(today, date.fromisoformat(pending["due"])).days
    assert pending["working_days_left"] > 0 and not pending["overdue"]
    met = verifier.act(filing["id"], "pre_verify_pass", {"contact_verified_by": "phone"})["deadlines"]
    assert "working_days_left" not in met["pre_verification"]  # met: nothing left to count
    assert met["on_site_verification"]["working_days_left"] > 0
