"""Every route x every role x own or foreign object: allowed, 403 (wrong role) or 404 (out
of scope). The table below is the specification, written by hand, not derived from policy.py."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any
from urllib.parse import quote

from chalicelib.filings import FILING, filing_indexes
from chalicelib.ports import Record
from chalicelib.services import current_services

import crypto
from beian.client import ApiError, BeianClient
from beian.synthetic import filing_payload

ROLES = ("applicant", "verifier", "reviewer", "filing_center", "compliance_officer", "inspector", "admin")
NATIONAL = {"filing_center", "inspector"}  # see every provider and province
EVERYONE = set(ROLES)
# Which roles may use each route on a filing in their scope.
ON_FILINGS: dict[str, set[str]] = {
    "view": EVERYONE,
    "list_documents": EVERYONE,
    "request_upload": {"applicant", "verifier"},
    "pre_verify": {"verifier"},
    "key_release": {"verifier", "reviewer", "compliance_officer", "inspector"},
    "hold": {"compliance_officer"},
    "delete_document": {"compliance_officer", "admin"},  # allowed to ask; retention refuses (409)
    "findings": EVERYONE - {"applicant"},
}
# Routes without a filing: role -> expected status class.
WITHOUT_FILING: dict[str, dict[str, int]] = {
    "queue": {"applicant": 403, "verifier": 200, "reviewer": 200, "filing_center": 400,
              "compliance_officer": 200, "inspector": 400, "admin": 200},
    "deadlines": {"applicant": 403, **dict.fromkeys(ROLES[1:], 200)},
    "search": {role: 200 if role in {"filing_center", "compliance_officer", "inspector"} else 403
               for role in ROLES},
    "sweep": {role: 200 if role in {"compliance_officer", "admin"} else 403 for role in ROLES},
    "audit_export": {role: 200 if role in {"compliance_officer", "inspector", "admin"} else 403
                     for role in ROLES},
    "findings": {"applicant": 403, **dict.fromkeys(ROLES[1:], 200)},
    "connected_sites": {role: 200 if role in {"compliance_officer", "admin"} else 403 for role in ROLES},
}


def status_of(call: Any, *args: Any) -> int:
    try:
        call(*args)
    except ApiError as error:
        return error.status
    return 200


def test_route_role_scope_matrix(live_server: str, rng: random.Random, tmp_path: Path) -> None:
    services = current_services()
    anonymous = BeianClient(live_server)
    own, own_token = anonymous.submit(filing_payload(rng, "enterprise"))
    _, foreign_token = anonymous.submit(filing_payload(rng, "individual"))
    scan = tmp_path / "scan.bin"
    scan.write_bytes(b"%PDF-1.4 synthetic")
    document = BeianClient(live_server, own_token).upload(own["id"], "business_licence", scan)
    key = crypto.PrivateKey.generate().public_key.dump_pem().decode()
    settings = services.settings

    def client(role: str, scope: str) -> BeianClient:
        if role == "applicant":
            return BeianClient(live_server, own_token if scope == "own" else foreign_token)
        where = ({"provider": settings.provider, "province": settings.province} if scope == "own"
                 else {"provider": "other-idc", "province": "沪"})
        return BeianClient(live_server, services.auth.issue(f"{role}-{scope}", role, **where))

    filing_routes = {
        "view": lambda c, f: c.call("GET", f"/filings/{f}"),
        "list_documents": lambda c, f: c.call("GET", f"/filings/{f}/documents"),
        "request_upload": lambda c, f: c.call("POST", f"/filings/{f}/documents",
                                              {"document_type": "business_licence", "size": 10,
                                               "media_type": "application/pdf"}),
        "pre_verify": lambda c, f: c.act(f, "pre_verify_pass", {"contact_verified_by": "phone"}),
        "key_release": lambda c, f: c.call("POST", f"/filings/{f}/documents/{document['id']}/key-release",
                                           {"purpose": "internal_audit", "reference": "matrix check",
                                            "public_key": key}),
        "hold": lambda c, f: c.call("POST", f"/filings/{f}/holds", {"case_id": "M-1", "reason": "matrix"}),
        "delete_document": lambda c, f: c.call("DELETE", f"/filings/{f}/documents/{document['id']}"),
        "findings": lambda c, f: c.call("GET", f"/filings/{f}/findings"),
    }
    mismatches = []
    # Roles are checked before state, so the verifier's one successful step changes no other row.
    for route, call in filing_routes.items():
        for role in ROLES:
            for scope in ("own", "foreign"):
                caller = client(role, scope)
                in_scope = scope == "own" or role in NATIONAL
                expected = (404 if not in_scope else 409 if route == "delete_document" and role in
                            ON_FILINGS[route] else 200 if role in ON_FILINGS[route] else 403)
                got = status_of(call, caller, own["id"])
                if got != expected:
                    mismatches.append((route, role, scope, expected, got))

    other_routes = {
        "queue": lambda c: c.call("GET", "/filings?state=submitted"),
        "deadlines": lambda c: c.call("GET", "/deadlines?within_days=10"),
        "search": lambda c: c.call("GET", "/archive/search?provider=demo-idc&purpose=internal_audit&reference=matrix"),
        "sweep": lambda c: c.call("POST", "/archive/sweep", {"dry_run": True}),
        "audit_export": lambda c: c.call("GET", "/audit/export"),
        "findings": lambda c: c.call("GET", "/findings?month=2024-01"),
        "connected_sites": lambda c: c.call("POST", "/connected-sites", {"sites": [
            {"domain": "matrix.example.cn", "province": "京", "connected_at": "2024-01-02T03:04:05Z"}]}),
    }
    for route, call_ in other_routes.items():
        for role in ROLES:
            got = status_of(call_, client(role, "own"))
            if got != WITHOUT_FILING[route][role]:
                mismatches.append((route, role, "-", WITHOUT_FILING[route][role], got))
    assert mismatches == []


def test_search_never_shows_another_providers_filings(live_server: str, rng: random.Random) -> None:
    services = current_services()
    anonymous = BeianClient(live_server)
    filing, _ = anonymous.submit(filing_payload(rng, "enterprise"))
    domain = filing["payload"]["website"]["domains"][0]
    mine = BeianClient(live_server, services.auth.issue(
        "officer", "compliance_officer", provider=services.settings.provider, province="京"))
    theirs = BeianClient(live_server, services.auth.issue(
        "officer2", "compliance_officer", provider="other-idc", province="京"))
    query = f"/archive/search?domain={domain}&purpose=internal_audit&reference=check"
    found = mine.call("GET", query)["filings"]
    assert [item["id"] for item in found] == [filing["id"]]
    assert theirs.call("GET", query)["filings"] == []


def test_search_states_a_purpose_takes_real_dates_and_finds_a_name_however_written(
        live_server: str, rng: random.Random) -> None:
    services = current_services()
    filing, _ = BeianClient(live_server).submit(filing_payload(rng, "enterprise"))
    record = services.backend.records.get(FILING, filing["id"])
    assert record is not None
    numbered = {**record.body, "filing_number": "京ICP备2026000001号"}  # as an approval would give it
    services.backend.records.save(Record(FILING, record.key, numbered, record.version, filing_indexes(numbered)))
    officer = BeianClient(live_server, services.auth.issue(
        "officer", "compliance_officer", provider=services.settings.provider, province="京"))
    domain = filing["payload"]["website"]["domains"][0]

    def search(query: str) -> list[str]:
        return [item["id"] for item in officer.call("GET", f"/archive/search?{query}")["filings"]]

    stated = "purpose=inspection&reference=检查函-1"
    assert search(f"domain={domain.upper()}.&{stated}") == [filing["id"]]
    assert search(f"filing_number={quote('京ICP备2026000001号-2')}&{stated}") == [filing["id"]]
    for query, field in ((f"domain={domain}", "purpose"), (f"domain={domain}&purpose=%20", "purpose"),
                         (f"domain={domain}&purpose=inspection", "reference"),
                         (f"domain={domain}&purpose=inspection&reference=%20%20%20%20%20", "reference"),
                         (f"domain={domain}&{stated}&from=2026-13-01", "from"),
                         (f"domain={domain}&{stated}&from=2026-12-01&to=2026-01-01", "from")):
        try:
            search(query)
        except ApiError as refused:
            assert (refused.status, refused.body["field"]) == (400, field), query
        else:
            raise AssertionError(f"accepted: {query}")
