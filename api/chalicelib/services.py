"""The application's services wired to one backend, built once per configuration."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .archive import ArchiveService
from .audit import AuditLog
from .auth import Authenticator, Principal
from .backend import build_backend
from .config import Settings
from .deadlines import Deadlines
from .documents import DocumentService
from .filings import FilingService
from .integrity import SignedRecords, signed_backend
from .keyring import ArchiveKeys
from .oversight.idcheck import IdChecker
from .oversight.service import OversightService
from .ports import Backend, Records
from .reconcile import Reconciler
from .sensitive import SensitiveFields
from .staff import StaffTokens
from .steps import Steps


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Services:
    settings: Settings
    backend: Backend
    auth: Authenticator
    staff: StaffTokens
    audit: AuditLog
    keys: ArchiveKeys
    filings: FilingService
    documents: DocumentService
    steps: Steps
    archive: ArchiveService
    sensitive: SensitiveFields
    id_checker: IdChecker
    oversight: OversightService
    integrity: SignedRecords  # the same port as backend.records

    def issue_staff_token(self, operator: Principal, name: str, role: str, *, provider: str = "",
                          province: str = "", hours: int = 12) -> str:
        """A staff token from the local issuer, audited under the operator who asked for it."""
        token = self.auth.issue(name, role, provider=provider or self.settings.provider,
                                province=province or self.settings.province, ttl_seconds=hours * 3600)
        self.audit.record(operator, "staff.issue", f"staff:{name}", details={"role": role, "hours": hours})
        return token

    def initialise(self) -> dict[str, Any]:
        """Every secret of the archive, created now while nothing depends on them (a later
        request never has to, and a lost one is never replaced: vault.py); the archive key's
        public information. Cheap once done: each secret is then read from memory."""
        self.integrity.prepare()
        self.sensitive.prepare()
        self.auth.prepare()
        self.audit.public_key_pem()
        return self.keys.public_key_info()


def build_services(settings: Settings, clock: Callable[[], datetime] = utc_now) -> Services:
    backend, integrity, vault = signed_backend(build_backend(settings))
    audit = AuditLog(backend.audit, vault, anchors=backend.blobs)
    keys = ArchiveKeys(vault, backend.custody)
    sensitive = SensitiveFields(vault)
    id_checker = IdChecker(backend.records, sensitive, clock)
    filings = FilingService(settings, backend.records, backend.notifier, audit, sensitive,
                            Deadlines(), id_checker, clock)
    documents = DocumentService(settings, backend.records, backend.blobs, keys, filings, audit,
                                clock)
    staff = StaffTokens(backend.records, audit)
    archive = ArchiveService(backend.records, backend.blobs, audit, filings, sensitive, clock)
    return Services(
        settings=settings, backend=backend, audit=audit, keys=keys, filings=filings,
        auth=Authenticator(settings, vault, filings.token_hash, staff.revoked), staff=staff,
        documents=documents,
        steps=Steps(filings, documents, archive, keys, sensitive, backend.records, audit, clock),
        archive=archive, sensitive=sensitive, id_checker=id_checker,
        oversight=OversightService(backend.records, audit, filings.load_for, clock), integrity=integrity,
    )


def reconciler_for(services: Services, clock: Callable[[], datetime] = utc_now) -> Reconciler:
    """The reconciler wired to the services' backend (it reads the records unverified, to list
    tampered ones instead of stopping at the first)."""
    return Reconciler(services.settings, services.integrity, services.backend.blobs, services.keys,
                      services.audit, clock, services.staff)


def signed_records(settings: Settings) -> Records:
    """The signed records port of ``settings``' backend, built in the calling process."""
    backend, _, _ = signed_backend(build_backend(settings))
    return backend.records


def records_opener(settings: Settings) -> Callable[[], Records]:
    """What a worker process calls to open its own records port (picklable, for ``spawn``)."""
    return functools.partial(signed_records, settings)


_BUILT: dict[Settings, Services] = {}
_BUILDING = threading.Lock()


def current_services() -> Services:
    """The services for the environment as it is now (Chalice sets it per request), built once
    per configuration."""
    settings = Settings.from_env()
    services = _BUILT.get(settings)
    if services is None:
        with _BUILDING:
            services = _BUILT.get(settings)
            if services is None:
                services = _BUILT[settings] = build_services(settings)
    return services


def close_services() -> None:
    """Close every backend built so far and forget its services, as a new process would start
    (between tests: each test's own data directory would otherwise keep its database open to
    the end of the run). Call it when no request is in flight."""
    with _BUILDING:
        built = list(_BUILT.values())
        _BUILT.clear()
    for services in built:
        services.backend.close()
