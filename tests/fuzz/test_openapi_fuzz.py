"""The API fuzzed against its own OpenAPI document (schemathesis), on the embedded server.

Stateless: every operation with generated input, valid and invalid, as every kind of caller.
Stateful: chains that follow the document's links: submit a filing, ask for an upload slot
(the test then encrypts and uploads, as a browser would), complete it, take workflow steps,
release a key (the test then downloads and decrypts it: it must be what was uploaded).

Either way: no 5xx, and no response the document does not allow (status, content type,
body schema). Every failure is collected, not just the first; ``make stress`` runs far more.
"""

from __future__ import annotations

import base64
import contextlib
import io
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

import pytest
import requests
import schemathesis
from chalicelib.documents import FACE_PHOTO, uploadable_types
from chalicelib.filetypes import SIGNATURES
from chalicelib.services import current_services
from chalicelib.workflow import TRANSITIONS
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Flaky
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

import crypto
from beian.client import BeianClient
from beian.synthetic import SUBJECT_TYPES, filing_payload
from benchmarks.stress_figures import record, scaled
from tests.faults.support import seal

pytestmark = pytest.mark.parametrize("backend_env", ["embedded"], indirect=True)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
STAFF = ("verifier", "reviewer", "filing_center", "compliance_officer", "inspector", "admin")
# Staff of another provider and province: a second scope, which must see nothing of the first.
OTHER_SCOPE = {"provider": "other-idc", "province": "沪"}
ELSEWHERE = tuple(f"{role}@elsewhere" for role in ("verifier", "reviewer", "compliance_officer", "admin"))
# Callers in turn, the ones most routes serve more often.
CALLERS = ("applicant", "verifier", "applicant", "compliance_officer", "applicant", "verifier", "reviewer",
           "inspector", "admin", "filing_center", "anonymous", *ELSEWHERE)
KEY_RELEASE = "/filings/{filing_id}/documents/{document_id}/key-release"
# The roles that take a route's chain further: an upload is asked for and completed by its applicant, a key
# released to a verifier. Without them the chain to a decrypted release is rarely walked.
CHAIN_CALLERS = {"/filings/{filing_id}/documents": "applicant",
                 "/filings/{filing_id}/documents/{document_id}/complete": "applicant",
                 KEY_RELEASE: "verifier"}
PLAINTEXT_HEADS = dict(SIGNATURES)
UPLOAD_AT_MOST = 64 * 1024  # larger declared sizes stay awaiting upload: the run stays quick
# Generation only: failures are collected, not shrunk (the server's state would not replay anyway).
QUICK: dict[str, Any] = {"phases": [Phase.generate], "deadline": None, "database": None,
                         "suppress_health_check": list(HealthCheck)}
# A fixed public key for key releases: the test keeps the private half and decrypts.
IDENTITY = crypto.PrivateKey.generate()


def valid_filing() -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(lambda rng, kind: filing_payload(rng, kind), st.randoms(use_true_random=False),
                     st.sampled_from(SUBJECT_TYPES))


def plausible_step() -> st.SearchStrategy[dict[str, Any]]:
    """A workflow step with the parameters its step usually needs (it may still be refused)."""
    corrected = valid_filing().map(lambda filing: {k: v for k, v in filing.items() if k != "consent"})
    return st.one_of(
        st.just({"action": "pre_verify_pass", "params": {"contact_verified_by": "phone"}}),
        st.sampled_from(["pre_verify_return", "return_to_provider", "cancel"]).map(
            lambda action: {"action": action, "params": {"reasons": ["资料不全"]}}),
        st.sampled_from(["submit_to_province", "approve", "record_on_site"]).map(lambda action: {"action": action}),
        st.tuples(st.sampled_from(["resubmit", "request_change"]), corrected).map(
            lambda pair: {"action": pair[0], "params": {"filing": pair[1]}}),
    )


def release_request() -> dict[str, str]:
    """A key release as a verifier asks for one: a listed purpose, a reference, the test's key."""
    return {"purpose": "internal_audit", "reference": "模糊测试：核对材料",
            "public_key": IDENTITY.public_key.dump_pem().decode()}


# What the fuzz claims to exercise: each must be reached at least once in a run.
PATHS = ("refused_naming_a_field", "sealed_upload", "released_document_decrypted")
# Bodies a real client sends, mixed with what the document alone would generate: without them
# nearly every chain would end at its first 400.
REALISTIC: dict[tuple[str, str], Callable[[], st.SearchStrategy[dict[str, Any]]]] = {
    ("POST", "/filings"): valid_filing,
    ("POST", "/filings/{filing_id}/transitions"): plausible_step,
    ("POST", "/filings/{filing_id}/documents"): lambda: st.fixed_dictionaries({
        "document_type": st.sampled_from(sorted(uploadable_types() - {FACE_PHOTO})),
        "size": st.integers(1, UPLOAD_AT_MOST), "media_type": st.sampled_from(sorted(PLAINTEXT_HEADS))}),
    ("POST", KEY_RELEASE): lambda: st.just(release_request()),
    ("POST", "/filings/{filing_id}/holds"): lambda: st.fixed_dictionaries({
        "case_id": st.from_regex(r"[A-Za-z0-9][A-Za-z0-9\-./_]{0,30}", fullmatch=True),
        "reason": st.just("监管检查调取")}),
}


@dataclass
class Fuzzing:
    """The run's callers, what it learnt (tokens, uploads), and every failure it saw."""

    url: str
    tokens: dict[str, str]  # caller -> token, for the staff roles and one applicant
    applicants: dict[str, str] = field(default_factory=dict)  # filing id -> its applicant's token
    uploads: dict[tuple[str, str], bytes] = field(default_factory=dict)  # (filing, document) -> plaintext
    requests: int = 0
    scenarios: int = 0
    reached: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PATHS, 0))  # path -> times reached
    failures: dict[str, str] = field(default_factory=dict)  # distinct failure -> how to reproduce

    def headers(self, case: Case[Any], caller: str) -> dict[str, str]:
        filing_id = (case.path_parameters or {}).get("filing_id")
        if caller == "applicant" and filing_id in self.applicants:
            return {"Authorization": f"Bearer {self.applicants[filing_id]}"}
        token = self.tokens.get(caller)
        return {"Authorization": f"Bearer {token}"} if token else {}

    def caller(self, case: Case[Any]) -> str:
        """Callers in turn; a workflow step mostly by the role it is for."""
        self.requests += 1
        action = case.body.get("action") if isinstance(case.body, dict) else None
        if action in TRANSITIONS and self.requests % 4:
            return TRANSITIONS[str(action)].roles[0]
        if case.path in CHAIN_CALLERS and self.requests % 4:
            return CHAIN_CALLERS[case.path]
        return CALLERS[self.requests % len(CALLERS)]

    def validate(self, case: Case[Any], response: Any) -> None:
        """Check the reply against the document; keep every distinct failure."""
        try:
            case.validate_response(response, checks=CHECKS)
        except (Failure, FailureGroup) as failed:
            found = failed.exceptions if isinstance(failed, FailureGroup) else (failed,)
            for failure in found:
                key = f"{case.method} {case.path} -> {response.status_code}: {failure.title}"
                self.failures.setdefault(key, case.as_curl_command())
        self.observe(case, response.status_code, response.json() if response.content else None)

    def observe(self, case: Case[Any], status: int, body: Any) -> None:
        """Act on a reply as a client would: keep tokens, upload into slots, decrypt releases."""
        route = (case.method, case.path)
        if status >= 400 and isinstance(body, dict) and body.get("code") == "invalid":
            self.reached["refused_naming_a_field"] += bool(body.get("field"))
        if route == ("POST", "/filings") and status == 201:
            self.applicants[body["filing"]["id"]] = body["token"]
        elif route == ("POST", "/filings/{filing_id}/documents") and status == 201:
            # Completed at once by its applicant, as a browser does (the chain may complete it again).
            self.upload(case, {**body, "completes": self.applicants.get(case.path_parameters["filing_id"])})
        elif route == ("POST", KEY_RELEASE) and status == 200:
            self.retrieve(case, body)

    def upload(self, case: Case[Any], slot: dict[str, Any]) -> None:
        request = case.body if isinstance(case.body, dict) else {}
        head = PLAINTEXT_HEADS.get(str(request.get("media_type")))
        size = request.get("size")
        if head is None or not isinstance(size, int) or not len(head) <= size <= UPLOAD_AT_MOST:
            return
        plaintext = head + random.Random(size).randbytes(size - len(head))
        data = seal(slot["envelope"], plaintext)
        BeianClient(self.url).post_to_slot(slot["upload"], io.BytesIO(data), len(data))
        self.uploads[(case.path_parameters["filing_id"], slot["document"]["id"])] = plaintext
        self.reached["sealed_upload"] += 1
        if slot.get("completes"):  # as a browser does once its upload is through
            BeianClient(self.url, slot["completes"]).call(
                "POST", f"/filings/{case.path_parameters['filing_id']}/documents/{slot['document']['id']}/complete")

    def retrieve(self, case: Case[Any], release: dict[str, Any]) -> None:
        key = (case.path_parameters["filing_id"], case.path_parameters["document_id"])
        if key not in self.uploads:
            return  # a document the system made (the verification form)
        sealed = requests.get(urljoin(self.url + "/", release["download_url"]), timeout=30).content
        context = crypto.Context(**release["context"])
        header = crypto.read_header(io.BytesIO(sealed))
        file_key = crypto.unwrap_released_file_key(base64.b64decode(release["wrapped_key"]), header=header,
                                                   identity=IDENTITY, context=context)
        plaintext = io.BytesIO()
        crypto.decrypt_stream(io.BytesIO(sealed), plaintext, context=context, file_key=file_key)
        if plaintext.getvalue() != self.uploads[key]:
            self.failures.setdefault(f"{case.path}: the released document is not what was uploaded", str(key))
        self.reached["released_document_decrypted"] += 1

    def release_each_upload(self, schema: schemathesis.schemas.BaseSchema) -> None:
        """Ask, as the verifier, for the key of every document the chains sealed and uploaded, and
        check each decrypts to what was sent: the chains reach a release only now and then."""
        operation = schema[KEY_RELEASE]["POST"]
        for filing_id, document_id in list(self.uploads):
            case = operation.Case(path_parameters={"filing_id": filing_id, "document_id": document_id},
                                  body=release_request())
            self.validate(case, case.call(base_url=f"{self.url}/api", headers=self.headers(case, "verifier")))

    def report(self, claimed: tuple[str, ...] = ()) -> list[str]:
        """Every failure, and every path the test claims to exercise that it never reached."""
        record("requests_fuzzed", self.requests, len(self.failures))
        unreached = [f"never reached: {path} (reached: {self.reached})" for path in claimed if not self.reached[path]]
        return [f"{failure}\n    {reproduce}" for failure, reproduce in sorted(self.failures.items())] + unreached


@pytest.fixture
def fuzzing(unthrottled: None, live_server: str) -> Fuzzing:
    services = current_services()
    settings_ = services.settings
    tokens = {role: services.auth.issue(f"{role}-fuzz", role, provider=settings_.provider,
                                        province=settings_.province) for role in STAFF}
    tokens |= {f"{role}@elsewhere": services.auth.issue(f"{role}-elsewhere", role, **OTHER_SCOPE)
               for role in (name.partition("@")[0] for name in ELSEWHERE)}
    _filing, tokens["applicant"] = BeianClient(live_server).submit(filing_payload(random.Random(1), "individual"))
    return Fuzzing(live_server, tokens)


def loaded(fuzzing: Fuzzing) -> schemathesis.schemas.BaseSchema:
    """The document as the server serves it, with realistic bodies mixed into generation."""
    schema = schemathesis.openapi.from_url(f"{fuzzing.url}/api/openapi.json")

    @schema.hook("flatmap_body")
    def realistic(context: Any, body: Any) -> st.SearchStrategy[Any]:
        made = REALISTIC.get((context.operation.method.upper(), context.operation.path))
        if made is None:
            return st.just(body)
        return st.integers(0, 3).flatmap(lambda pick: st.just(body) if pick == 0 else made())  # 3 in 4 realistic

    return schema


def test_no_operation_answers_outside_its_document(fuzzing: Fuzzing) -> None:
    schema = loaded(fuzzing)
    cases = st.one_of(schema.as_strategy(GenerationMode.POSITIVE), schema.as_strategy(GenerationMode.NEGATIVE))

    @given(case=cases)
    @settings(max_examples=scaled(300, 5000), **QUICK)
    def fuzz(case: Case[Any]) -> None:
        headers = fuzzing.headers(case, fuzzing.caller(case))
        fuzzing.validate(case, case.call(base_url=f"{fuzzing.url}/api", headers=headers))

    fuzz()
    assert fuzzing.report(claimed=("refused_naming_a_field",)) == []


def test_chains_that_follow_the_links_stay_within_the_document(fuzzing: Fuzzing) -> None:
    schema = loaded(fuzzing)
    document = requests.get(f"{fuzzing.url}/api/openapi.json", timeout=10).json()
    assert any(reply.get("links") for path in document["paths"].values() for operation in path.values()
               for reply in operation["responses"].values()), "the OpenAPI document has no links to follow"

    class Chains(schema.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            fuzzing.scenarios += 1

        def get_call_kwargs(self, case: Case[Any]) -> dict[str, Any]:
            return {"base_url": f"{fuzzing.url}/api", "headers": fuzzing.headers(case, fuzzing.caller(case))}

        def validate_response(self, response: Any, case: Case[Any], additional_checks: Any = None,
                              **kwargs: Any) -> None:
            fuzzing.validate(case, response)  # collected, so one failure does not end the run

    # A replay can draw differently once the server's state has moved on (Hypothesis calls that
    # flaky): then carry on with fresh scenarios, as schemathesis's own runner does.
    # Run the scenarios, and on until a chain has sealed and uploaded a document (or time is up);
    # then every such document's key is asked for and its plaintext checked.
    claimed = ("sealed_upload", "released_document_decrypted")
    scenarios, deadline = scaled(40, 800), time.monotonic() + scaled(240, 3600)
    while (fuzzing.scenarios < scenarios or not fuzzing.reached["sealed_upload"]) and time.monotonic() < deadline:
        with contextlib.suppress(Flaky):
            Chains.run(settings=settings(max_examples=max(scenarios - fuzzing.scenarios, 10),
                                         stateful_step_count=scaled(10, 20), **QUICK))
    assert fuzzing.scenarios >= scenarios
    fuzzing.release_each_upload(schema)
    assert fuzzing.report(claimed=claimed) == []
