"""The beian API: routes only. Each parses, authorises, calls the domain, shapes the reply."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalice.app import AuthRequest, AuthResponse, Rate, Response
from chalicelib.adapters.http import ThreadSafeChalice, guarded, install_error_handling, json_body, principal
from chalicelib.auth import Principal
from chalicelib.documents import AWAITING_UPLOAD
from chalicelib.errors import DomainError
from chalicelib.filing_schema import filing_schema
from chalicelib.openapi import openapi_document
from chalicelib.rules import load_rules
from chalicelib.services import current_services

# Chalice would give the "beian" logger a handler of its own and stop it propagating; our
# modules log under "beian.*", and those records must reach the root handlers (Lambda's, the
# embedded server's, the test suite's) like any other. Thread-safe: the embedded server answers
# several requests at once.
app = ThreadSafeChalice(app_name="beian", configure_logs=False)
install_error_handling(app)


@app.authorizer(ttl_seconds=60)  # API Gateway reuses an answer this long: a revocation waits at most this
def bearer(auth_request: AuthRequest) -> AuthResponse:
    """Staff JWTs and applicants' filing tokens, checked the same locally and on AWS."""
    try:
        who = current_services().auth.authenticate(auth_request.token)
    except DomainError:
        return AuthResponse(routes=[], principal_id="anonymous")
    return AuthResponse(routes=["*"], principal_id=who.subject, context=who.to_context())


def signed_in(path: str, **options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A route for the bearer of a staff or filing token (``bearer``), its domain errors answered."""
    return lambda view: app.route(path, authorizer=bearer, **options)(guarded(view))


def request_body() -> dict[str, Any]:
    return json_body(app.current_request)


def caller() -> Principal:
    return principal(app.current_request)


def client_address() -> str:
    """The caller's address as API Gateway (or the embedded server) saw it."""
    request = app.current_request
    return str(((request.context if request is not None else None) or {}).get("identity", {}).get("sourceIp", ""))


def query_params() -> dict[str, str]:
    request = app.current_request
    return dict((request.query_params if request is not None else None) or {})


@app.route("/health")
@guarded
def health() -> dict[str, Any]:
    services = current_services()
    return {"status": "ok", "backend": services.settings.backend,
            "rules_version": load_rules().version}


@app.route("/openapi.json")
def openapi() -> dict[str, Any]:
    return openapi_document()


@app.route("/schemas/filing.json")
@guarded
def filing_json_schema() -> dict[str, Any]:
    return filing_schema(load_rules())


@app.route("/rules")
@guarded
def rules() -> dict[str, Any]:
    return load_rules().to_dict()


@app.route("/archive-key")
@guarded
def archive_key() -> dict[str, Any]:
    # The deployment's first request initialises the archive: every secret, not only this key.
    return current_services().initialise()


@app.route("/filings", methods=["POST"])
@guarded
def submit_filing() -> Response:
    request = app.current_request
    key = str((request.headers if request is not None else {}).get("idempotency-key", ""))
    filing, token = current_services().filings.submit(request_body(), submission_key=key,
                                                      caller=client_address())
    return Response(body={"filing": filing, "token": token}, status_code=201)


@signed_in("/filings")
def filing_queue() -> dict[str, Any]:
    state = query_params().get("state", "submitted")
    return {"filings": current_services().filings.queue(caller(), state)}


@signed_in("/deadlines")
def deadlines() -> dict[str, Any]:
    # The edge has checked it against the document: ASCII digits, 0-366.
    return {"filings": current_services().filings.due(caller(), int(query_params().get("within_days", "3")))}


@signed_in("/session")
def session() -> dict[str, str]:
    return current_services().staff.session(caller())


@signed_in("/filings/{filing_id}")
def view_filing(filing_id: str) -> dict[str, Any]:
    return current_services().filings.view(caller(), filing_id)


@signed_in("/filings/{filing_id}/transitions", methods=["POST"])
def transition_filing(filing_id: str) -> dict[str, Any]:
    body = request_body()
    return current_services().steps.act(
        caller(), filing_id, body.get("action"), body.get("params", {}),
        expected_version=body.get("expected_version"))


@signed_in("/filings/{filing_id}/follow-ups", methods=["POST"])
def record_follow_up(filing_id: str) -> dict[str, Any]:
    return current_services().steps.act(caller(), filing_id, "follow_up", request_body())


@signed_in("/filings/{filing_id}/documents")
def list_documents(filing_id: str) -> dict[str, Any]:
    documents = current_services().documents.list_for(caller(), filing_id)
    return {"documents": documents}


@signed_in("/filings/{filing_id}/documents", methods=["POST"])
def request_upload(filing_id: str) -> Response:
    slot = current_services().documents.request_upload(
        caller(), filing_id, request_body())
    return Response(body=slot, status_code=201)


@signed_in("/filings/{filing_id}/documents/{document_id}/complete", methods=["POST"])
def complete_upload(filing_id: str, document_id: str) -> dict[str, Any]:
    return current_services().documents.complete_upload(
        caller(), filing_id, document_id)


@signed_in("/filings/{filing_id}/documents/{document_id}/key-release", methods=["POST"])
def release_key(filing_id: str, document_id: str) -> dict[str, Any]:
    return current_services().documents.release_key(
        caller(), filing_id, document_id, request_body())


@signed_in("/archive/search")
def search_archive() -> dict[str, Any]:
    return current_services().archive.search(caller(), query_params())


@signed_in("/filings/{filing_id}/holds", methods=["POST"])
def place_hold(filing_id: str) -> Response:
    body = request_body()
    held = current_services().archive.hold(caller(), filing_id, body.get("case_id"), body.get("reason"))
    return Response(body=held, status_code=201)


@signed_in("/filings/{filing_id}/holds/{case_id}", methods=["DELETE"])
def release_hold(filing_id: str, case_id: str) -> dict[str, Any]:
    return current_services().archive.release_hold(caller(), filing_id, case_id)


@signed_in("/filings/{filing_id}/documents/{document_id}", methods=["DELETE"])
def delete_document(filing_id: str, document_id: str) -> Response:
    services = current_services()
    document = services.documents.find(filing_id, document_id)
    if document is not None and document.get("state") == AWAITING_UPLOAD:  # a slot withdrawn
        services.documents.cancel_upload(caller(), filing_id, document_id)
    else:  # an archived document deleted early (refused while retained)
        services.archive.delete_document(caller(), filing_id, document_id)
    return Response(body="", status_code=204)


@signed_in("/archive/sweep", methods=["POST"])
def sweep_archive() -> dict[str, Any]:
    dry_run = request_body().get("dry_run", True) is not False  # the edge has checked it is a boolean
    return current_services().archive.sweep_for(caller(), dry_run=dry_run).to_dict()


@signed_in("/findings")
def list_findings() -> dict[str, Any]:
    return current_services().oversight.findings(caller(), query_params())


@signed_in("/filings/{filing_id}/findings")
def filing_findings(filing_id: str) -> dict[str, Any]:
    return current_services().oversight.of_filing(caller(), filing_id)


@signed_in("/connected-sites", methods=["POST"])
def report_connected_sites() -> dict[str, Any]:
    return current_services().oversight.report_sites(caller(), request_body())


@signed_in("/audit/export")
def export_audit() -> dict[str, Any]:
    return current_services().audit.export_for(caller())


@app.route("/audit/public-key")
@guarded
def audit_public_key() -> dict[str, Any]:
    return current_services().audit.published()


@app.lambda_function(name="staff_tokens")
def staff_tokens(event: dict[str, Any], context: object) -> dict[str, str]:
    """Issue a staff token to an operator allowed to invoke this function (``beian users add``
    with BEIAN_STAFF_TOKEN_FUNCTION): no operator needs the table and the custody key."""
    services = current_services()
    operator = Principal(f"operator:{event.get('operator', '')}", "admin", services.settings.provider,
                         services.settings.province)
    try:
        token = services.issue_staff_token(
            operator, str(event.get("name", "")), str(event.get("role", "")),
            provider=str(event.get("provider", "")), province=str(event.get("province", "")),
            hours=int(event.get("hours", 12)))
    except DomainError as error:
        return {"code": error.code, "message_zh": error.message_zh, "message_en": error.message_en}
    return {"token": token}


@app.schedule(Rate(1, unit=Rate.HOURS))
def retention_sweep(event: object) -> dict[str, Any]:
    """Dispose of what is due and not held, a batch an hour; each batch's certificate goes
    into the audit log."""
    return current_services().archive.sweep().to_dict()
