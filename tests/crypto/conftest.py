"""Shared keys and helpers for the crypto tests (RSA keys are slow: made once)."""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Sequence

import pytest

import crypto
from crypto.envelope import _seal
from crypto.vectors.generate import FixedKeyWrapper


@pytest.fixture(scope="session")
def alice() -> crypto.PrivateKey:
    return crypto.PrivateKey.generate()


@pytest.fixture(scope="session")
def bob() -> crypto.PrivateKey:
    return crypto.PrivateKey.generate()


@pytest.fixture(scope="session")
def wrapper() -> FixedKeyWrapper:
    return FixedKeyWrapper()


@pytest.fixture(scope="session")
def context() -> crypto.Context:
    return crypto.Context("example-isp", "京ICP备11018762号-11", "doc-0001", "id-card-front")


@pytest.fixture(scope="session")
def other_context(context: crypto.Context) -> crypto.Context:
    return crypto.Context(context.provider, context.filing, "doc-0002", context.document_type)


@pytest.fixture(scope="session")
def seal(alice: crypto.PrivateKey, context: crypto.Context) -> Callable[..., bytes]:
    """Encrypt bytes; ``chunk_size`` may be small so that tests cover many chunks cheaply."""

    def run(
        data: bytes,
        *,
        recipients: Sequence[crypto.Recipient] | None = None,
        chunk_size: int = 65536,
        ctx: crypto.Context | None = None,
    ) -> bytes:
        out = io.BytesIO()
        _seal(
            io.BytesIO(data),
            out,
            recipients=recipients if recipients is not None else [alice.public_key],
            context=ctx or context,
            file_key=os.urandom(32),
            nonce_prefix=os.urandom(7),
            chunk_size=chunk_size,
            progress=None,
        )
        return out.getvalue()

    return run


@pytest.fixture(scope="session")
def open_(alice: crypto.PrivateKey, context: crypto.Context) -> Callable[..., bytes]:
    def run(
        envelope: bytes,
        *,
        identity: crypto.Identity | None = None,
        file_key: crypto.FileKey | None = None,
        ctx: crypto.Context | None = None,
    ) -> bytes:
        out = io.BytesIO()
        crypto.decrypt_stream(
            io.BytesIO(envelope),
            out,
            context=ctx or context,
            identity=identity if identity is not None or file_key is not None else alice,
            file_key=file_key,
        )
        return out.getvalue()

    return run
