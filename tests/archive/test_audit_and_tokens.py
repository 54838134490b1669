"""Fail closed on audit failure; production tokens from a JWKS issuer."""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from chalicelib.errors import Forbidden
from chalicelib.ports import StorageError
from chalicelib.services import current_services
from cryptography.hazmat.primitives.asymmetric import rsa

import crypto
from beian.client import ApiError, BeianClient
from beian.synthetic import filing_payload


def test_nothing_is_released_when_the_audit_log_fails(
        live_server: str, staff: Callable[..., BeianClient], rng: random.Random, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    anonymous = BeianClient(live_server)
    filing, token = anonymous.submit(filing_payload(rng, "enterprise"))
    scan = tmp_path / "scan.bin"
    scan.write_bytes(b"%PDF-1.4 synthetic scan")
    document = BeianClient(live_server, token).upload(filing["id"], "business_licence", scan)
    verifier, officer = staff("verifier"), staff("compliance_officer")

    def broken(seq: int, entry: object, *, by_action: bool = False) -> None:
        raise StorageError("audit store down")

    monkeypatch.setattr(current_services().backend.audit, "append", broken)
    key = crypto.PrivateKey.generate().public_key.dump_pem().decode()
    with pytest.raises(ApiError) as refused:
        verifier.call("POST", f"/filings/{filing['id']}/documents/{document['id']}/key-release",
                      {"purpose": "verification", "reference": "核对原件", "public_key": key})
    assert refused.value.status == 503 and "wrapped_key" not in refused.value.body
    with pytest.raises(ApiError) as search:
        officer.call("GET", "/archive/search?filing_number=none&purpose=inspection&reference=检查函-1")
    assert search.value.status == 503


@pytest.fixture
def jwks_issuer(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., str]]:
    """A JWKS endpoint on loopback standing in for a Cognito user pool."""
    signing = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(signing.public_key()))
    body = json.dumps({"keys": [{**jwk, "kid": "pool-key-1", "use": "sig", "alg": "RS256"}]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            return

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("BEIAN_JWKS_URL", f"http://127.0.0.1:{server.server_port}/.well-known/jwks.json")
    monkeypatch.setenv("BEIAN_JWT_ISSUER", "https://cognito.example/pool")

    def issue(role: str, key: Any = signing, **claims: str) -> str:
        now = int(time.time())
        return jwt.encode({"sub": "user-1", "iss": "https://cognito.example/pool", "aud": "beian",
                           "iat": now, "exp": now + 600, "custom:role": role,
                           "custom:provider": "demo-idc", "custom:province": "京", **claims},
                          key, algorithm="RS256", headers={"kid": "pool-key-1"})

    yield issue
    server.shutdown()


@pytest.mark.parametrize("backend_env", ["embedded"], indirect=True)
def test_tokens_from_a_jwks_issuer(live_server: str, jwks_issuer: Callable[..., str],
                                   rng: random.Random) -> None:
    filing, _ = BeianClient(live_server).submit(filing_payload(rng, "enterprise"))
    verifier = BeianClient(live_server, jwks_issuer("verifier"))
    assert verifier.call("GET", f"/filings/{filing['id']}")["id"] == filing["id"]
    impostor_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for token in (jwks_issuer("verifier", key=impostor_key), jwks_issuer("root"),
                  jwks_issuer("verifier", aud="someone-else")):
        with pytest.raises(ApiError) as refused:
            BeianClient(live_server, token).call("GET", f"/filings/{filing['id']}")
        assert refused.value.status == 401


def test_a_revoked_staff_members_tokens_stop_working_and_new_ones_work(
        live_server: str, rng: random.Random) -> None:
    from typer.testing import CliRunner

    from beian.cli import app

    services = current_services()
    filing, _ = BeianClient(live_server).submit(filing_payload(rng, "enterprise"))
    where = {"provider": services.settings.provider, "province": services.settings.province}
    lost, colleague = (services.auth.issue(name, "verifier", **where) for name in ("alice", "bob"))
    path = f"/filings/{filing['id']}"
    assert BeianClient(live_server, lost).call("GET", path)["id"] == filing["id"]
    refused = CliRunner().invoke(app, ["users", "revoke", "--name", "alice", "--reason", " "])
    assert refused.exit_code != 0 and "Give the reason" in refused.output
    done = CliRunner().invoke(app, ["users", "revoke", "--name", "alice", "--reason", "laptop lost on 2026-11-28"])
    assert done.exit_code == 0, done.output
    with pytest.raises(ApiError) as gone:
        BeianClient(live_server, lost).call("GET", path)
    assert gone.value.status == 401
    assert BeianClient(live_server, colleague).call("GET", path)["id"] == filing["id"]  # only alice's
    not_before = services.backend.records.get("staff_revocation", "alice")
    assert not_before is not None
    while time.time() < not_before.body["not_before"]:
        time.sleep(0.1)
    for bad, field in ((["--name", " "], "name"), (["--name", "alice", "--hours", "0"], "hours")):
        nameless = CliRunner().invoke(app, ["users", "add", "--role", "verifier", *bad])
        assert nameless.exit_code == 2 and nameless.stdout == "", (field, nameless.output)
    issued = CliRunner().invoke(app, ["users", "add", "--role", "verifier", "--name", "alice"])
    assert issued.exit_code == 0, issued.output
    fresh = issued.stdout.strip().splitlines()[-1]
    assert BeianClient(live_server, fresh).call("GET", path)["id"] == filing["id"]
    inspector = BeianClient(live_server, services.auth.issue("i", "inspector"))
    entries = inspector.call("GET", "/audit/export")["entries"]
    (entry,) = [e for e in entries if e["action"] == "staff.revoke"]
    assert entry["object"] == "staff:alice" and entry["purpose"] == "laptop lost on 2026-11-28"
    (issue,) = [e for e in entries if e["action"] == "staff.issue"]  # the refused ones issued nothing
    assert issue["object"] == "staff:alice" and issue["details"] == {"role": "verifier", "hours": 12}
    assert fresh not in json.dumps(entries)
    with pytest.raises(Forbidden):
        services.staff.revoke(services.auth.authenticate(f"Bearer {colleague}"), "alice", "not mine to do")
