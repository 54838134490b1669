"""Builds the configured backend once per configuration, on first use.

Like hynek's svcs: callers ask for the ports, never for a concrete adapter, and the
AWS adapter (and boto3) is imported only when the AWS backend is chosen.
"""

from __future__ import annotations

import functools

from .config import Settings
from .ports import Backend


def current_backend() -> Backend:
    return build_backend(Settings.from_env())


@functools.cache
def build_backend(settings: Settings) -> Backend:
    if settings.backend == "aws":
        from .adapters.aws import build as build_aws

        return build_aws(settings)
    from .adapters.embedded import build as build_embedded

    return build_embedded(settings)
