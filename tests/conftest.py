"""Fixtures shared by the whole suite: settings and backends (embedded and AWS on moto).

The AWS backend runs against an in-process moto server reached through
pytest-localstack's RunningSession, exactly as it would reach a LocalStack
endpoint; set BEIAN_LOCALSTACK_HOST to run the same suite against a real one too.
"""

from __future__ import annotations

import os
import random
import socket
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from chalicelib.backend import build_backend
from chalicelib.config import Settings
from chalicelib.ports import Backend
from chalicelib.services import close_services, current_services

from beian.client import BeianClient

# The AWS tests run in the China partition, as a cn-north-1 deployment does: aws-cn ARNs from
# moto, the .com.cn suffix. pytest-localstack resolves endpoints in the "aws" partition only,
# so it is asked for the endpoint in us-east-1 and boto3 then signs for cn-north-1.
REGION = "cn-north-1"
LOCALSTACK_REGION = "us-east-1"
BACKENDS = ["embedded", "aws"] + (["localstack"] if os.environ.get("BEIAN_LOCALSTACK_HOST") else [])
# The logs of the whole session are scanned for ID numbers, tokens and keys when it ends.
pytest_plugins = ("tests.logscan",)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _running_session(host: str, port: int) -> str:
    from pytest_localstack.session import RunningSession

    session = RunningSession(host, services=["s3", "dynamodb", "sns"], region_name=LOCALSTACK_REGION)
    # RunningSession assumes LocalStack's single edge port; point it at ours.
    session.services = dict.fromkeys(session.services, port)
    os.environ.update(AWS_DEFAULT_REGION=LOCALSTACK_REGION, AWS_REGION=LOCALSTACK_REGION)
    session.start(timeout=60)  # its readiness checks make clients for the environment's region
    os.environ.update(AWS_DEFAULT_REGION=REGION, AWS_REGION=REGION)
    return str(session.endpoint_url("s3"))


def _add_sdk_checksum_header(request: Any, **_: Any) -> None:
    request.headers["x-amz-sdk-checksum-algorithm"] = "SHA256"


def _moto_takes_locked_copies() -> None:
    """moto refuses a CopyObject carrying Object Lock headers unless it also names a checksum
    algorithm (S3 itself asks that only of uploads with a body); the test sessions add it:
    the application's and boto3's default one (the operators' commands)."""
    import boto3
    from chalicelib.adapters import aws

    for session in (aws._session(), boto3._get_default_session()):
        session.events.register("before-sign.s3.CopyObject", _add_sdk_checksum_header)


@pytest.fixture(scope="session")
def aws_endpoint() -> Iterator[str]:
    """A moto server on loopback, with fake credentials that can never reach AWS."""
    from moto.server import ThreadedMotoServer

    os.environ.update(
        AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=REGION, AWS_REGION=REGION,
    )
    # Port 0: several suites may run at once on one machine; each gets its own moto.
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    _moto_takes_locked_copies()
    host, port = server.get_host_and_port()
    try:
        yield _running_session(host, port)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def localstack_endpoint() -> str:
    host = os.environ["BEIAN_LOCALSTACK_HOST"]
    return _running_session(host, int(os.environ.get("BEIAN_LOCALSTACK_PORT", "4566")))


@pytest.fixture(params=BACKENDS)
def backend_env(request: pytest.FixtureRequest, tmp_path: Path,
                monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment variables selecting one backend, with its resources provisioned."""
    name = request.param
    env = {"BEIAN_DATA_DIR": str(tmp_path / "var"), "BEIAN_BACKEND": "embedded"}
    if name != "embedded":
        endpoint = request.getfixturevalue("aws_endpoint" if name == "aws" else "localstack_endpoint")
        suffix = uuid.uuid4().hex[:10]
        env.update(
            BEIAN_BACKEND="aws", AWS_ENDPOINT_URL=endpoint, AWS_DEFAULT_REGION=REGION,
            BEIAN_TABLE=f"beian-{suffix}", BEIAN_ARCHIVE_BUCKET=f"beian-archive-{suffix}",
            BEIAN_STAGING_BUCKET=f"beian-staging-{suffix}", BEIAN_KMS_KEY_ID=f"alias/beian-{suffix}",
        )
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    if name != "embedded":
        from beian.provision import provision_aws

        provision_aws(Settings.from_env())
    return env


@pytest.fixture(autouse=True)
def closed_afterwards() -> Iterator[None]:
    """Each test's backends are closed when it ends (set up first, so torn down after its
    server has stopped): hundreds of open databases would exhaust the process's descriptors."""
    yield
    close_services()


@pytest.fixture
def backend(backend_env: dict[str, str]) -> Iterator[Backend]:
    """The ports of one freshly provisioned backend."""
    built = build_backend(Settings.from_env())
    yield built
    built.close()


SITE_DIR = Path(__file__).resolve().parents[1] / "build" / "site"


@pytest.fixture
def live_server(backend_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The embedded HTTP server (site, API, local blobs) on a free loopback port."""
    import threading

    from app import app as chalice_app

    from beian.server import build_server, create_listener

    url = f"http://127.0.0.1:{_free_port()}"
    monkeypatch.setenv("BEIAN_PUBLIC_URL", url)
    current_services().initialise()  # as `beian serve` does before it listens
    listener = create_listener(build_server(chalice_app, SITE_DIR), "127.0.0.1",
                               int(url.rsplit(":", 1)[1]))
    thread = threading.Thread(target=listener.run, daemon=True)
    thread.start()
    try:
        yield url
    finally:
        listener.stop()
        thread.join(timeout=10)
        assert not thread.is_alive(), "the server did not stop"



@pytest.fixture
def unthrottled(monkeypatch: pytest.MonkeyPatch) -> None:
    """No rate limit in the way (set before the server starts): a fuzz or property test sends
    more requests from one address than the limits let through, and would meet 429s."""
    monkeypatch.setenv("BEIAN_ANONYMOUS_RATE", "100000")
    monkeypatch.setenv("BEIAN_ANONYMOUS_BURST", "100000")
    monkeypatch.setenv("BEIAN_RATE", "100000")
    monkeypatch.setenv("BEIAN_BURST", "100000")


@pytest.fixture
def rng() -> random.Random:
    return random.Random(20101)


@pytest.fixture
def anonymous(live_server: str) -> BeianClient:
    return BeianClient(live_server)


@pytest.fixture
def staff(live_server: str) -> Callable[..., BeianClient]:
    """``staff(role, **scope)``: a client holding a fresh staff token for ``role``."""

    def make(role: str, **scope: str) -> BeianClient:
        settings = current_services().settings
        scope = scope or {"provider": settings.provider, "province": settings.province}
        return BeianClient(live_server, current_services().auth.issue(f"{role}-1", role, **scope))

    return make
