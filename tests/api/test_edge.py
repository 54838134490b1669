"""One schema at the edge, and tokens that cannot be turned: one property per class of bad
input the outside test found. Each answers a 4xx in the project's JSON error naming the
field, never a 5xx, and the server keeps serving."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable
from typing import Any

import jwt
import pytest
import requests
from chalicelib.auth import Principal, staff_name
from chalicelib.edge import MAX_JSON_DEPTH, json_depth
from chalicelib.errors import Invalid
from chalicelib.rules import load_rules
from chalicelib.services import current_services
from chalicelib.staff import REVOCATION
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import crypto
from beian.client import BeianClient
from beian.synthetic import filing_payload, resident_id_number
from benchmarks.stress_figures import record, scaled

pytestmark = [pytest.mark.parametrize("backend_env", ["embedded"], indirect=True),
              pytest.mark.usefixtures("unthrottled")]  # hundreds of requests from one address
PROPERTY = settings(max_examples=scaled(25, 200), deadline=None, suppress_health_check=list(HealthCheck))
JSON_HEADERS = {"Content-Type": "application/json"}
ADMIN = Principal("admin-1", "admin", provider="P")


def refused(reply: requests.Response, status: int, field: str | None = None) -> dict[str, Any]:
    assert reply.status_code == status, reply.text
    body = reply.json()
    assert body["code"] and body["message_zh"] and body["message_en"]
    if field is not None:
        assert body["field"] == field, body
    return dict(body)


def serving(url: str) -> None:
    assert requests.get(f"{url}/api/health", timeout=10).status_code == 200


@pytest.fixture
def verifier_token(live_server: str) -> str:
    settings_ = current_services().settings
    return current_services().auth.issue("verifier-edge", "verifier", provider=settings_.provider,
                                         province=settings_.province)


@given(depth=st.integers(MAX_JSON_DEPTH + 1, 5000), bracket=st.sampled_from(["[", '{"a":']))
@PROPERTY
def test_deep_json_is_refused_before_parsing(live_server: str, depth: int, bracket: str) -> None:
    closing = "]" if bracket == "[" else "}"
    raw = bracket * depth + "1" + closing * depth
    assert json_depth(raw.encode()) == depth
    refused(requests.post(f"{live_server}/api/filings", data=raw, headers=JSON_HEADERS, timeout=10), 400, "body")
    serving(live_server)
    record("edge_bad_input", 1, 0)


@given(key=st.sampled_from(["subject_type", "consent", "website"]), first=st.booleans())
@PROPERTY
def test_a_repeated_key_is_refused(live_server: str, key: str, first: bool) -> None:
    body = json.dumps(filing_payload(random.Random(3), "individual"), ensure_ascii=False)
    raw = body[:-1] + f', "{key}": {json.dumps(first)}}}'
    refused(requests.post(f"{live_server}/api/filings", data=raw.encode(), headers=JSON_HEADERS, timeout=10),
            400, key)
    record("edge_bad_input", 1, 0)


@given(digits=st.text(st.characters(categories=["Nd", "No"], exclude_characters="0123456789"), min_size=1,
                      max_size=3))
@PROPERTY
def test_numbers_in_other_scripts_name_the_parameter(live_server: str, verifier_token: str, digits: str) -> None:
    headers = {"Authorization": f"Bearer {verifier_token}"}
    refused(requests.get(f"{live_server}/api/deadlines", params={"within_days": digits}, headers=headers,
                         timeout=10), 400, "within_days")
    refused(requests.get(f"{live_server}/api/findings", params={"limit": digits}, headers=headers,
                         timeout=10), 400, "limit")
    record("edge_bad_input", 2, 0)


@given(moment=st.sampled_from(["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00",
                               "9999-12-31T20:00:00+00:00", "0001-01-01T07:00:00+08:00"]))
@PROPERTY
def test_times_at_the_calendars_ends_name_the_field(live_server: str, moment: str) -> None:
    services = current_services()
    officer = services.auth.issue("officer-edge", "compliance_officer", provider=services.settings.provider,
                                  province=services.settings.province)
    site = {"domain": "example.cn", "province": services.settings.province, "connected_at": moment}
    reply = requests.post(f"{live_server}/api/connected-sites", json={"sites": [site]},
                          headers={"Authorization": f"Bearer {officer}"}, timeout=10)
    body = refused(reply, 400)
    assert any("connected_at" in str(error.get("field")) for error in body.get("errors", [body])), body
    record("edge_bad_input", 1, 0)


def string_fields(schema: dict[str, Any], prefix: str = "") -> list[tuple[str, ...]]:
    """Paths of the string properties of a request schema (its first level of nesting)."""
    found: list[tuple[str, ...]] = []
    for name, spec in schema.get("properties", {}).items():
        if spec.get("type") == "string":
            found.append((name,))
        elif spec.get("type") == "object":
            found += [(name, *inner) for inner in string_fields(spec)]
    return found


@given(data=st.data(), wrong=st.sampled_from([["a", "b", "c"], {"a": 1}, 1, True]))
@PROPERTY
def test_a_list_or_object_where_text_is_expected_names_the_field(live_server: str, data: st.DataObject,
                                                                  wrong: Any) -> None:
    document = requests.get(f"{live_server}/api/openapi.json", timeout=10).json()
    operation = document["paths"]["/filings"]["post"]
    path = data.draw(st.sampled_from(string_fields(operation["requestBody"]["content"]["application/json"]
                                                   ["schema"])))
    body: dict[str, Any] = filing_payload(random.Random(5), "individual")
    target = body
    for name in path[:-1]:
        target = target.setdefault(name, {})
    target[path[-1]] = wrong
    reply = requests.post(f"{live_server}/api/filings", json=body, timeout=10)
    assert refused(reply, 400)["field"] == ".".join(path)
    serving(live_server)
    record("edge_bad_input", 1, 0)


@given(content_type=st.sampled_from(["text/plain", "application/x-www-form-urlencoded", "", "multipart/form-data"]))
@PROPERTY
def test_json_routes_take_json_only(live_server: str, content_type: str) -> None:
    body = json.dumps(filing_payload(random.Random(1), "individual")).encode()
    reply = requests.post(f"{live_server}/api/filings", data=body, headers={"Content-Type": content_type},
                          timeout=10)
    refused(reply, 415)
    record("edge_bad_input", 1, 0)


@given(method=st.sampled_from(["TRACE", "PUT", "PATCH", "CONNECT", "HEAD"]),
       path=st.sampled_from(["/api/filings", "/api/health", "/api/filings/F1/documents", "/blobs/upload", "/"]))
@PROPERTY
def test_unsupported_methods_are_405_with_allow(live_server: str, method: str, path: str) -> None:
    reply = requests.request(method, f"{live_server}{path}", timeout=10)
    if method == "HEAD" and path == "/":  # the site's pages (404 where the site is not built)
        assert reply.status_code in (200, 404)
        return
    assert reply.status_code == 405, (method, path, reply.status_code)
    assert reply.headers["Allow"] and method not in reply.headers["Allow"].split(", ")
    if method != "HEAD":
        refused(reply, 405)
    record("edge_bad_input", 1, 0)


def test_the_embedded_servers_own_400_is_the_projects_json_error(live_server: str) -> None:
    import socket
    from urllib.parse import urlsplit

    where = urlsplit(live_server)
    with socket.create_connection((where.hostname, where.port), timeout=10) as conn:
        conn.sendall(b"POST /api/filings HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n")
        reply = conn.recv(65536).decode("utf-8", "replace")
    head, _, body = reply.partition("\r\n\r\n")
    assert head.startswith("HTTP/1.1 400") and "application/json" in head, head
    assert json.loads(body)["message_zh"]


def forged(algorithm: str, claims: dict[str, Any]) -> str:
    if algorithm.startswith("RS") or algorithm.startswith("PS"):
        return jwt.encode(claims, rsa.generate_private_key(65537, 2048), algorithm=algorithm)
    if algorithm.startswith("ES"):
        curve = {"ES256": ec.SECP256R1(), "ES384": ec.SECP384R1(), "ES512": ec.SECP521R1()}[algorithm]
        return jwt.encode(claims, ec.generate_private_key(curve), algorithm=algorithm)
    return jwt.encode(claims, "a shared secret that is long enough for HS512 keys" * 2, algorithm=algorithm)


@given(algorithm=st.sampled_from(["RS256", "RS512", "PS256", "ES256", "ES384", "HS256", "HS512"]),
       route=st.sampled_from(["/filings?state=submitted", "/deadlines", "/filings/F1", "/audit/export",
                              "/findings?month=2026-01"]))
@PROPERTY
def test_a_token_in_an_algorithm_the_server_does_not_use_is_401(live_server: str, algorithm: str,
                                                                 route: str) -> None:
    settings_ = current_services().settings
    claims = {"sub": "mallory", "role": "admin", "iss": settings_.jwt_issuer, "aud": settings_.jwt_audience,
              "iat": 1, "exp": 4_000_000_000, "provider": settings_.provider}
    reply = requests.get(f"{live_server}/api{route}", headers={"Authorization": f"Bearer {forged(algorithm, claims)}"},
                         timeout=10)
    refused(reply, 401)
    record("forged_tokens", 1, 0)


@given(name=st.text(st.characters(categories=["L", "N"]), min_size=1, max_size=12),
       issued_as=st.sampled_from(["{} ", " {}", "{}\u3000", "{}"]), revoked_as=st.sampled_from(["{}", " {} "]))
@PROPERTY
def test_names_are_normalised_once_for_issue_revoke_and_lookup(live_server: str, name: str, issued_as: str,
                                                               revoked_as: str) -> None:
    services = current_services()
    name = f"{name}-{uuid.uuid4().hex[:8]}"  # a revocation refuses the name's tokens of this second too
    token = services.auth.issue(issued_as.format(name), "verifier", provider=services.settings.provider)
    assert services.auth.authenticate(f"Bearer {token}").subject == staff_name(name)
    services.staff.revoke(ADMIN, revoked_as.format(name), "设备丢失")
    with pytest.raises(Exception, match="invalid or expired"):
        services.auth.authenticate(f"Bearer {token}")
    record("forged_tokens", 1, 0)


def test_a_deleted_revocation_record_does_not_re_enable_the_token(live_server: str,
                                                                 staff: Callable[..., BeianClient]) -> None:
    services = current_services()
    token = services.auth.issue("lost-laptop", "verifier", provider=services.settings.provider)
    services.staff.revoke(ADMIN, "lost-laptop", "笔记本丢失")
    services.backend.records.delete(services.backend.records.get(REVOCATION, "lost-laptop"))
    assert services.backend.records.get(REVOCATION, "lost-laptop") is None
    fresh = build_fresh_services()  # a new process, which has not read the audit log yet
    with pytest.raises(Exception, match="invalid or expired"):
        fresh.auth.authenticate(f"Bearer {token}")
    reply = requests.get(f"{live_server}/api/deadlines", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    refused(reply, 401)
    record("forged_tokens", 1, 0)


def build_fresh_services() -> Any:
    from chalicelib.config import Settings
    from chalicelib.services import build_services

    return build_services(Settings.from_env())


STATED = load_rules().stated_purposes
PURPOSE_IDS = STATED.ids()
NOT_TEXT = st.one_of(st.lists(st.text(max_size=5), max_size=4), st.dictionaries(st.text(max_size=3), st.integers()),
                     st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.booleans(), st.none())
UNLISTED = st.one_of(NOT_TEXT, st.text(max_size=30).filter(lambda text: text not in PURPOSE_IDS),
                     st.sampled_from(PURPOSE_IDS).flatmap(lambda listed: st.sampled_from(
                         [listed.upper(), f" {listed}", f"{listed} ", listed.replace("_", "-")])).filter(
                         lambda near: near not in PURPOSE_IDS))  # a one-word id has no "-" form
SHORT = st.one_of(NOT_TEXT, st.text(st.characters(categories=["Zs", "Cc"], include_characters=" \t\n\u3000"),
                                    max_size=12).filter(str.isspace),
                  st.text(max_size=STATED.reference_min_chars - 1).map(lambda text: f"  {text}\t"),
                  st.text(min_size=STATED.reference_max_chars + 1, max_size=STATED.reference_max_chars + 5))
VALID_REFERENCE = st.text(min_size=STATED.reference_min_chars, max_size=STATED.reference_max_chars).filter(
    lambda text: len(text.strip()) >= STATED.reference_min_chars)
# The reference goes into the audit log, which holds no ID number: the edge cannot see one, the domain does.
HOLDS_AN_ID = st.builds(lambda seed, around: around.format(resident_id_number(random.Random(seed))),
                        st.integers(0, 10**6), st.sampled_from(["案件 {}", "{}"]))
REFUSED = st.one_of(st.tuples(UNLISTED, VALID_REFERENCE, st.just("purpose")),
                    st.tuples(st.sampled_from(PURPOSE_IDS), st.one_of(SHORT, HOLDS_AN_ID), st.just("reference")))


@pytest.fixture
def received_document(live_server: str, tmp_path: Any) -> tuple[str, str]:
    filing, token = BeianClient(live_server).submit(filing_payload(random.Random(18), "individual"))
    scan = tmp_path / "id.jpg"
    scan.write_bytes(b"\xff\xd8\xff\xe0synthetic scan")
    document = BeianClient(live_server, token).upload(filing["id"], "resident_id_card", scan)
    return filing["id"], document["id"]


def key_release_entries() -> list[dict[str, Any]]:
    return [entry for entry in current_services().audit.entries() if entry["action"] == "document.key_release"]


def ask_release(url: str, token: str, document: tuple[str, str], stated: dict[str, Any]) -> requests.Response:
    key = crypto.PrivateKey.generate().public_key.dump_pem().decode()
    return requests.post(f"{url}/api/filings/{document[0]}/documents/{document[1]}/key-release",
                         json={**stated, "public_key": key}, headers={"Authorization": f"Bearer {token}"},
                         timeout=10)


@given(case=REFUSED)
@PROPERTY
def test_a_purpose_off_the_list_or_a_bad_reference_releases_nothing(live_server: str, verifier_token: str,
                                                                    received_document: tuple[str, str],
                                                                    case: tuple[Any, Any, str]) -> None:
    purpose, reference, field = case
    before = len(key_release_entries())
    reply = ask_release(live_server, verifier_token, received_document, {"purpose": purpose, "reference": reference})
    assert "wrapped_key" not in refused(reply, 400, field)
    assert len(key_release_entries()) == before  # nothing released, so nothing audited as released
    record("purpose_cases", 1, 0)


@given(purpose=st.sampled_from(PURPOSE_IDS), reference=VALID_REFERENCE)
@PROPERTY
def test_every_listed_purpose_with_a_reference_is_released_and_audited(
        live_server: str, verifier_token: str, received_document: tuple[str, str], purpose: str,
        reference: str) -> None:
    reply = ask_release(live_server, verifier_token, received_document, {"purpose": purpose, "reference": reference})
    assert reply.status_code == 200, reply.text
    assert reply.json()["wrapped_key"]
    audited = key_release_entries()[-1]
    assert audited["object"] == f"document:{received_document[0]}/{received_document[1]}"
    assert (audited["purpose"], audited["details"]["reference"]) == (purpose, reference.strip())


@given(case=REFUSED)
@PROPERTY
def test_the_domain_refuses_what_the_edge_refuses_without_it(live_server: str, received_document: tuple[str, str],
                                                            case: tuple[Any, Any, str]) -> None:
    """The services are called directly, past the edge: they check the purpose themselves."""
    purpose, reference, field = case
    stated = {"purpose": purpose, "reference": reference}
    services = current_services()
    verifier = Principal("verifier-domain", "verifier", provider=services.settings.provider,
                         province=services.settings.province)
    officer = Principal("officer-domain", "compliance_officer", provider=services.settings.provider,
                        province=services.settings.province)
    before = len(services.audit.entries())
    with pytest.raises(Invalid) as release:
        services.documents.release_key(verifier, *received_document, {**stated, "public_key": "unused"})
    with pytest.raises(Invalid) as search:
        services.archive.search(officer, {"domain": "example.cn", **stated})
    assert (release.value.field, search.value.field) == (field, field)
    assert len(services.audit.entries()) == before


@given(purpose=st.one_of(st.text(max_size=20).filter(lambda text: text not in PURPOSE_IDS),
                         st.sampled_from(PURPOSE_IDS)),
       reference=st.one_of(st.text(max_size=STATED.reference_min_chars - 1), VALID_REFERENCE))
@PROPERTY
def test_a_search_runs_only_for_a_listed_purpose_and_a_reference(live_server: str, purpose: str,
                                                                 reference: str) -> None:
    services = current_services()
    officer = services.auth.issue("officer-edge", "compliance_officer", provider=services.settings.provider,
                                  province=services.settings.province)
    searches = sum(entry["action"] == "archive.search" for entry in services.audit.entries())
    reply = requests.get(f"{live_server}/api/archive/search",
                         params={"domain": "example.cn", "purpose": purpose, "reference": reference},
                         headers={"Authorization": f"Bearer {officer}"}, timeout=10)
    listed, enough = purpose in PURPOSE_IDS, len(reference.strip()) >= STATED.reference_min_chars
    searched = sum(entry["action"] == "archive.search" for entry in services.audit.entries())
    if listed and enough:
        assert reply.status_code == 200, reply.text
        last = [entry for entry in services.audit.entries() if entry["action"] == "archive.search"][-1]
        assert (last["purpose"], last["details"]["reference"]) == (purpose, reference.strip())
    else:
        refused(reply, 400, "reference" if listed else "purpose")
        assert searched == searches
        record("purpose_cases", 1, 0)
