"""Storage failures injected between paired writes, on both backends (AWS through moto).

Each scenario runs once to count the storage writes it makes (records, blobs, audit), then
once per write with that write failing, before it takes effect and after (a lost reply):
S3 and DynamoDB calls on the AWS backend, SQLite and file writes on the embedded one.
After each failure the reconciler runs and the client retries, as people would; then no
acknowledged record may be lost, none may be duplicated or half written, every envelope
must decrypt to what was uploaded, and every change must be audited.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, Protocol, cast

import pytest
from chalicelib.audit import verify_export
from chalicelib.auth import Principal
from chalicelib.backend import build_backend
from chalicelib.config import Settings
from chalicelib.documents import DOCUMENT, retain_until
from chalicelib.errors import Conflict, DomainError
from chalicelib.ports import AuditStore, Backend, Blobs, Records, StorageError
from chalicelib.services import Services, build_services, current_services, reconciler_for

from beian.client import BeianClient
from beian.synthetic import filing_payload
from benchmarks.stress_figures import record, scaled, stressed
from tests.api.evidence import on_site_params, on_site_photo
from tests.faults.support import Desk, pdf, post_sealed, standing

WRITES = {"records": ("save", "delete"), "audit": ("append",),
          "blobs": ("promote", "put", "delete", "extend_retention", "set_legal_hold")}
VERIFIER = Principal("verifier-faults", "verifier", provider="demo-idc", province="京")
SWEEPER = Principal("officer-faults", "compliance_officer", provider="demo-idc", province="京")


@dataclass
class Faults:
    """Counts the storage writes made through the wrapped ports and fails the ``fail_at``-th:
    before it takes effect, or after (the write is done, the reply is lost)."""

    fail_at: int = 0
    after: bool = False
    writes: list[str] = field(default_factory=list)
    archived: list[str] = field(default_factory=list)  # keys promoted or put into the archive
    fired: str = ""

    def call(self, name: str, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        self.writes.append(name)
        if name in ("blobs.promote", "blobs.put"):
            self.archived.append(str(args[0]))
        failing = len(self.writes) == self.fail_at
        if failing and not self.after:
            self.fired = f"{name} failed before writing"
            raise StorageError(self.fired)
        result = method(*args, **kwargs)
        if failing:
            self.fired = f"{name} wrote, then its reply was lost"
            raise StorageError(self.fired)
        return result


class Faulty:
    """A port whose write methods go through ``faults``; reads pass straight through."""

    def __init__(self, port: object, label: str, faults: Faults) -> None:
        self._port, self._label, self._faults = port, label, faults

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._port, name)
        if name not in WRITES[self._label]:
            return attribute
        return functools.partial(self._faults.call, f"{self._label}.{name}", attribute)


def faulty_services(faults: Faults, clock: Callable[[], datetime], monkeypatch: pytest.MonkeyPatch) -> Services:
    """The application's services over the configured backend, its writes going through ``faults``.

    The faults sit beneath the record signing, where a storage call fails."""
    real = build_backend(Settings.from_env())
    backend = dataclasses.replace(real, records=cast(Records, Faulty(real.records, "records", faults)),
                                  blobs=cast(Blobs, Faulty(real.blobs, "blobs", faults)),
                                  audit=cast(AuditStore, Faulty(real.audit, "audit", faults)))

    def built(settings: Settings) -> Backend:
        return backend

    with monkeypatch.context() as patch:
        patch.setattr("chalicelib.services.build_backend", built)
        return build_services(Settings.from_env(), clock=clock)


@dataclass
class World:
    """The real services and a client's view; ``faulty`` builds services that fail on cue."""

    url: str
    rng: random.Random
    tmp_path: Path
    monkeypatch: pytest.MonkeyPatch
    staff: Callable[..., BeianClient]

    @property
    def services(self) -> Services:
        return current_services()

    def desk(self, clock: Callable[[], datetime] | None = None) -> Desk:
        services = self.services if clock is None else build_services(Settings.from_env(), clock=clock)
        return Desk(services, self.url, self.rng)

    def faulty(self, faults: Faults, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> Services:
        return faulty_services(faults, clock, self.monkeypatch)


class Scenario(Protocol):
    """One operation: ``prepare`` the state it starts from, ``act`` through faulty services,
    ``settle`` as the client would after an error (retry, or do what the error says), and,
    once the reconciler has run, ``verify`` what must hold."""

    name: str

    def prepare(self, world: World) -> Any: ...

    def act(self, world: World, faults: Faults, state: Any) -> None: ...

    def settle(self, world: World, state: Any) -> None: ...

    def verify(self, world: World, state: Any) -> list[str]: ...


def audited(world: World, filing_id: str) -> list[str]:
    """Each step in the filing's history without its audit entry."""
    filing = world.services.filings.load(filing_id)
    entries = {(entry["action"], entry["object"]) for entry in world.services.audit.entries()}
    return [f"{step['action']} of {filing_id} is not audited" for step in filing.body["history"]
            if (f"filing.{step['action']}", f"filing:{filing_id}") not in entries]


def retrying(step: Callable[[], object]) -> None:
    """The client's retry of a step it saw fail: a 409 means the first attempt went through."""
    with contextlib.suppress(Conflict):
        step()


class Submit(Scenario):
    name = "submit a filing"

    def prepare(self, world: World) -> tuple[dict[str, Any], str]:
        return filing_payload(world.rng, "enterprise"), str(world.rng.getrandbits(128))

    def act(self, world: World, faults: Faults, state: tuple[dict[str, Any], str]) -> None:
        world.faulty(faults).filings.submit(*state)

    def settle(self, world: World, state: tuple[dict[str, Any], str]) -> None:
        world.services.filings.submit(*state)  # no filing id, no token: the client retries with its key

    def verify(self, world: World, state: tuple[dict[str, Any], str]) -> list[str]:
        found = world.services.backend.records.query("domain", state[0]["website"]["domains"][0]).records
        problems = [] if len(found) == 1 else [f"{len(found)} filings for one submission"]
        return problems + [problem for filing in found for problem in audited(world, filing.key)]


class Transition(Scenario):
    name = "pre-verify a filing"
    PARAMS: ClassVar[dict[str, str]] = {"contact_verified_by": "phone"}

    def prepare(self, world: World) -> str:
        return world.desk().filing()

    def act(self, world: World, faults: Faults, filing_id: str) -> None:
        world.faulty(faults).steps.act(VERIFIER, filing_id, "pre_verify_pass", self.PARAMS)

    def settle(self, world: World, filing_id: str) -> None:
        retrying(lambda: world.services.steps.act(VERIFIER, filing_id, "pre_verify_pass", self.PARAMS))

    def verify(self, world: World, filing_id: str) -> list[str]:
        steps = [step["action"] for step in world.services.filings.load(filing_id).body["history"]]
        return ([] if steps == ["submit", "pre_verify_pass"] else [f"history {steps}"]) + audited(world, filing_id)


class Upload(Scenario):
    name = "complete an upload (promote, then save)"

    def prepare(self, world: World) -> tuple[str, str, bytes]:
        desk = world.desk()
        filing_id, plaintext = desk.filing(), pdf(world.rng, 5000)
        return filing_id, desk.staged(filing_id, plaintext), plaintext

    def act(self, world: World, faults: Faults, state: tuple[str, str, bytes]) -> None:
        filing_id, document_id, _ = state
        Desk(world.faulty(faults), world.url, world.rng).complete(filing_id, document_id)

    def settle(self, world: World, state: tuple[str, str, bytes]) -> None:
        filing_id, document_id, plaintext = state
        desk = world.desk()
        try:
            desk.complete(filing_id, document_id)
        except Conflict:  # "nothing was uploaded yet; upload the file again"
            desk.received(filing_id, plaintext)

    def verify(self, world: World, state: tuple[str, str, bytes]) -> list[str]:
        filing_id, document_id, plaintext = state
        kept = [document["id"] for document in world.services.documents.list_for(VERIFIER, filing_id)
                if document["state"] == "received"]
        if kept != [document_id]:
            return [f"received documents {kept} for one upload of {document_id}"]
        copy = world.staff("verifier").retrieve(filing_id, document_id, "verification", "故障后核对",
                                                world.tmp_path / document_id)
        return [] if copy.read_bytes() == plaintext else ["the envelope does not decrypt to the upload"]


class OnSite(Scenario):
    name = "record the on-site verification (form archived, then saved)"

    def prepare(self, world: World) -> tuple[str, dict[str, Any]]:
        filing_id = world.desk().filing()
        world.services.steps.act(VERIFIER, filing_id, "pre_verify_pass", Transition.PARAMS)
        world.desk().identity_copies(filing_id)
        photo, info = on_site_photo(world.tmp_path)
        slot = world.services.documents.request_upload(VERIFIER, filing_id, {
            "document_type": "face_photo", "size": photo.stat().st_size, "media_type": "image/jpeg", "photo": info})
        post_sealed(world.url, slot, photo.read_bytes())
        world.services.documents.complete_upload(VERIFIER, filing_id, slot["document"]["id"])
        filing = world.services.filings.present(world.services.filings.load(filing_id))
        return filing_id, on_site_params(filing, slot["document"]["id"])

    def act(self, world: World, faults: Faults, state: tuple[str, dict[str, Any]]) -> None:
        world.faulty(faults).steps.act(VERIFIER, state[0], "record_on_site", state[1])

    def settle(self, world: World, state: tuple[str, dict[str, Any]]) -> None:
        retrying(lambda: world.services.steps.act(VERIFIER, state[0], "record_on_site", state[1]))

    def verify(self, world: World, state: tuple[str, dict[str, Any]]) -> list[str]:
        filing = world.services.filings.load(state[0]).body
        form = world.services.documents.find(state[0], str(filing["on_site"]["form_document_id"]))
        problems = [] if form and form["state"] == "received" else ["the filing names no received form"]
        return problems + audited(world, state[0])


class Sweep(Scenario):
    """Each run disposes of its own documents: all are made due up front (one wait), each run
    in a window of retain-until dates of its own, swept with a clock at the window's end."""

    name = "dispose of due documents (delete, then save)"
    PER_RUN = 2
    MOST_WRITES = 2 * PER_RUN + 2  # a delete and a save per document, the certificate, a checkpoint

    def __init__(self, world: World, runs: int) -> None:
        ends = []
        due = datetime.now(UTC)
        for _ in range(runs):
            for _ in range(self.PER_RUN):
                # Retain-until a little after now, and after every earlier document's: each run's
                # documents fall in a window of their own. The clock stands still at the receipt.
                due = max(due + timedelta(milliseconds=1), datetime.now(UTC) + timedelta(seconds=5))
                received = due - (retain_until(due) - due)
                desk = world.desk(clock=standing(received))
                desk.received(desk.filing(), pdf(world.rng, 1000))
            ends.append(due)
        self._windows = iter(ends)
        time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds() + 1.2))  # locks end on a whole second

    def prepare(self, world: World) -> datetime:
        return next(self._windows)

    def act(self, world: World, faults: Faults, end: datetime) -> None:
        world.faulty(faults, clock=standing(end)).archive.sweep(SWEEPER)

    def settle(self, world: World, end: datetime) -> None:
        build_services(Settings.from_env(), clock=standing(end)).archive.sweep(SWEEPER)  # the next day's sweep

    def verify(self, world: World, end: datetime) -> list[str]:
        return [f"{document.key} is still kept after its retention" for document in world.services.archive.due(end)]


def strays(world: World, archived: list[str], flagged: set[str]) -> list[str]:
    """Envelopes archived during a run that no document record holds and no finding names."""
    records = world.services.backend.records
    held = set()
    for key in archived:
        document = records.get(DOCUMENT, key.removeprefix("documents/"))
        if document is not None and document.body.get("archive_key") == key:
            held.add(key)
    return [f"the envelope {key} is an orphan neither repaired nor flagged" for key in archived
            if key not in held and f"envelope:{key}" not in flagged and world.services.backend.blobs.info(key)]


def exercise(world: World, scenario: Scenario, runs: list[tuple[int, bool]]) -> list[str]:
    problems: list[str] = []
    injected = checked = broken = 0
    reconciler = reconciler_for(world.services)
    for fail_at, after in runs:
        faults = Faults(fail_at, after)
        state = scenario.prepare(world)
        try:
            scenario.act(world, faults, state)
        except (StorageError, DomainError):  # what the client sees: a 503
            scenario.settle(world, state)
        repaired = reconciler.run(repair=True)
        flagged = {finding.subject for finding in repaired.findings}
        report = reconciler.run(repair=False)  # a second look finds nothing left but kept orphans
        found = (scenario.verify(world, state) + strays(world, faults.archived, flagged)
                 + [f"{finding.kind} {finding.subject} ({finding.outcome})" for finding in report.findings
                    if finding.kind != "stray_envelope"])
        injected += bool(faults.fired)
        checked += report.filings + report.documents
        if found:
            broken += 1
            problems += [f"{scenario.name}, {faults.fired or 'no fault'}: {problem}" for problem in found]
    record("storage_faults", injected, broken)
    record("records_checked", checked, broken)
    return problems


def writes_of(world: World, scenario: Scenario) -> int:
    """How many storage writes one clean run of the scenario makes (and that it is clean)."""
    faults = Faults()
    state = scenario.prepare(world)
    scenario.act(world, faults, state)
    assert scenario.verify(world, state) == []
    return len(faults.writes)


def every_write(count: int, repeats: int = 1) -> list[tuple[int, bool]]:
    """Each write failing before and after it takes effect; ``make test`` tries three of them."""
    runs = [(fail_at, after) for _ in range(repeats) for fail_at in range(1, count + 1) for after in (False, True)]
    return runs if stressed() else random.Random(count).sample(runs, min(3, len(runs)))


@pytest.fixture
def world(live_server: str, staff: Callable[..., BeianClient], rng: random.Random, tmp_path: Path,
          monkeypatch: pytest.MonkeyPatch) -> World:
    return World(live_server, rng, tmp_path, monkeypatch, staff)


SCENARIOS = [pytest.param(Submit(), id="submit"), pytest.param(Transition(), id="transition"),
             pytest.param(Upload(), id="upload"), pytest.param(OnSite(), id="on-site")]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_a_failed_write_loses_nothing_and_leaves_nothing_half_done(world: World, scenario: Scenario) -> None:
    problems = exercise(world, scenario, every_write(writes_of(world, scenario), repeats=scaled(1, 3)))
    assert problems == []
    export = world.services.audit.export()
    assert verify_export(export["entries"], export["public_key"]).ok


def test_a_failed_write_in_a_sweep_loses_nothing(world: World) -> None:
    runs = 1 + 2 * Sweep.MOST_WRITES if stressed() else 4  # one clean run to count the writes
    sweep = Sweep(world, runs)
    writes = writes_of(world, sweep)
    assert writes <= Sweep.MOST_WRITES
    assert exercise(world, sweep, every_write(writes)) == []
