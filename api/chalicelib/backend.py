"""Builds the configured backend once per configuration, on first use.

Like hynek's svcs: callers ask for the ports, never for a concrete adapter, and the
AWS adapter (and boto3) is imported only when the AWS backend is chosen.
"""

from __future__ import annotations

import dataclasses
import functools

from .config import Settings
from .ports import Backend


def current_backend() -> Backend:
    return build_backend(Settings.from_env())


@functools.cache
def build_backend(settings: Settings) -> Backend:
    return _with_sms_gateway(settings, _build(settings))


def _build(settings: Settings) -> Backend:
    if settings.backend == "aws":
        from .adapters.aws import build as build_aws

        return build_aws(settings)
    from .adapters.embedded import build as build_embedded

    return build_embedded(settings)


def _with_sms_gateway(settings: Settings, backend: Backend) -> Backend:
    """The backend with the SMS gateway the settings choose in place of its own notifier."""
    if settings.sms_gateway == "tencent":
        from .adapters.tencent_sms import build as build_tencent_sms

        return dataclasses.replace(backend, notifier=build_tencent_sms(settings))
    return backend
