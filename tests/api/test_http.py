"""The HTTP edge: health, the OpenAPI document, and bad input answered in one clear shape."""

from __future__ import annotations

import random

import requests
from app import app
from chalicelib.openapi import documented, routes_of

from beian.synthetic import filing_payload


def error_shape(reply: requests.Response, status: int) -> dict[str, object]:
    assert reply.status_code == status, reply.text
    assert reply.headers["Content-Type"].startswith("application/json")
    body = reply.json()
    assert body["message_zh"] and body["message_en"] and body["code"]
    assert "Traceback" not in reply.text
    return dict(body)


def test_health_and_openapi(live_server: str) -> None:
    health = requests.get(f"{live_server}/api/health", timeout=10).json()
    assert health["status"] == "ok" and health["rules_version"]
    document = requests.get(f"{live_server}/api/openapi.json", timeout=10).json()
    assert document["openapi"].startswith("3.")
    served = {(method, path) for path, methods in document["paths"].items() for method in methods}
    assert served == routes_of(app) == documented()


def test_unknown_routes_are_404_in_json(live_server: str) -> None:
    error_shape(requests.get(f"{live_server}/api/no/such/route", timeout=10), 404)
    error_shape(requests.post(f"{live_server}/api/filings/x/y/z", json={}, timeout=10), 404)


def test_malformed_json_and_wrong_types(live_server: str) -> None:
    url = f"{live_server}/api/filings"
    body = error_shape(requests.post(url, data=b"{not json", timeout=10,
                                     headers={"Content-Type": "application/json"}), 400)
    assert body["field"] == "body"
    error_shape(requests.post(url, json=[1, 2], timeout=10), 400)
    error_shape(requests.post(url, data=b"hello", timeout=10,
                              headers={"Content-Type": "text/plain"}), 415)
    error_shape(requests.delete(f"{live_server}/api/health", timeout=10), 405)


def test_oversize_bodies_are_refused(live_server: str) -> None:
    huge = b'{"x": "' + b"a" * (2 * 1024 * 1024) + b'"}'
    error_shape(requests.post(f"{live_server}/api/filings", data=huge, timeout=30,
                              headers={"Content-Type": "application/json"}), 413)


def test_ten_mistakes_get_ten_field_errors_at_once(live_server: str) -> None:
    filing = filing_payload(random.Random(7), "enterprise")
    filing["subject"]["id_number"] = "91110000MA0000000X"  # wrong check character
    filing["responsible_person"]["id_number"] = "110101199001011234"  # wrong checksum
    filing["contact"].update(mobile="12345", email="not-an-email", office_phone="123")
    filing["website"].update(domains=["bad_domain!"], name="", service_content="")
    filing["access"].update(ip_addresses=["10.0.0.1"], access_method="carrier-pigeon")
    body = error_shape(requests.post(f"{live_server}/api/filings", json=filing, timeout=10), 400)
    fields = [error["field"] for error in body["errors"]]  # type: ignore[union-attr]
    assert len(fields) == 10, fields
    assert {"subject.id_number", "responsible_person.id_number", "contact.mobile",
            "contact.email", "contact.office_phone", "website.name", "website.service_content",
            "access.access_method", "access.ip_addresses[0]"} <= set(fields)
    for error in body["errors"]:  # type: ignore[union-attr]
        assert error["message_zh"] and error["message_en"]


def test_missing_consent_is_a_field_error(live_server: str) -> None:
    filing = filing_payload(random.Random(8), "individual", consent=False)
    body = error_shape(requests.post(f"{live_server}/api/filings", json=filing, timeout=10), 400)
    assert [error["field"] for error in body["errors"]] == ["consent"]  # type: ignore[union-attr]


def test_bad_tokens_are_401(live_server: str) -> None:
    url = f"{live_server}/api/filings/F20260101-00000000"
    error_shape(requests.get(url, timeout=10), 401)
    error_shape(requests.get(url, headers={"Authorization": "Bearer nonsense"}, timeout=10), 401)
    error_shape(requests.get(url, headers={"Authorization": "Bearer bft_F1.abc"}, timeout=10), 401)
