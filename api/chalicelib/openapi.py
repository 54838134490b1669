"""The OpenAPI 3 document of the API, served at /api/openapi.json.

Operations are listed here once; a test checks that they match the app's routes
exactly, so the document cannot drift from the code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


class RoutedApp(Protocol):
    routes: dict[str, dict[str, Any]]


OBJECT: dict[str, Any] = {"type": "object"}
ERROR_REF = {"$ref": "#/components/schemas/Error"}


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    auth: bool = False
    request: dict[str, Any] | None = None
    status: str = "200"
    response: dict[str, Any] = field(default_factory=lambda: OBJECT)
    errors: tuple[str, ...] = ()
    query: tuple[str, ...] = ()


FILING_REQUEST = {
    "type": "object",
    "description": "The filing as validated by the rules file; see /api/rules for its fields.",
    "properties": {
        "subject_type": {"type": "string"},
        "subject": OBJECT, "responsible_person": OBJECT, "contact": OBJECT,
        "website": OBJECT, "access": OBJECT,
        "consent": {"type": "object", "properties": {
            "privacy_notice_version": {"type": "string"},
            "sensitive_processing": {"type": "boolean"}}},
    },
    "required": ["subject_type"],
}

OPERATIONS: tuple[Operation, ...] = (
    Operation("get", "/health", "Liveness and configuration summary"),
    Operation("get", "/openapi.json", "This document"),
    Operation("get", "/rules", "The filing rules (what the notice requires), as data"),
    Operation("get", "/archive-key", "The archive's public key, key id and fingerprint"),
    Operation("post", "/filings", "Submit a filing; returns it and the applicant's token",
              request=FILING_REQUEST, status="201", errors=("400", "413")),
    Operation("get", "/filings", "A work queue: filings in one state within the caller's scope",
              auth=True, query=("state",), errors=("400", "401", "403")),
    Operation("get", "/deadlines",
              "Filings whose pending deadline is within N days or overdue, in the caller's scope",
              auth=True, query=("within_days",), errors=("400", "401", "403")),
    Operation("get", "/filings/{filing_id}", "A filing as the caller may see it", auth=True,
              errors=("401", "403", "404")),
    Operation("post", "/filings/{filing_id}/transitions", "Take one workflow step", auth=True,
              request={"type": "object", "required": ["action"], "properties": {
                  "action": {"type": "string"}, "params": OBJECT,
                  "expected_version": {"type": "integer"}}},
              errors=("400", "401", "403", "404", "409")),
    Operation("post", "/filings/{filing_id}/follow-ups",
              "Record the provider's routine follow-up (回访) of an approved filing", auth=True,
              request={"type": "object", "required": ["outcome"], "properties": {
                  "outcome": {"type": "string", "enum": ["confirmed", "changed", "unreachable"]},
                  "note": {"type": "string"}}},
              errors=("400", "401", "403", "404", "409")),
    Operation("get", "/filings/{filing_id}/documents", "The filing's documents", auth=True,
              errors=("401", "403", "404")),
    Operation("post", "/filings/{filing_id}/documents",
              "Register a document and get a presigned upload slot for its ciphertext",
              auth=True, status="201",
              request={"type": "object", "required": ["document_type", "size"], "properties": {
                  "document_type": {"type": "string"},
                  "size": {"type": "integer", "minimum": 0},
                  "media_type": {"type": "string"}}},
              errors=("400", "401", "403", "404", "409", "413")),
    Operation("post", "/filings/{filing_id}/documents/{document_id}/complete",
              "Check the uploaded envelope's header and archive it", auth=True,
              errors=("400", "401", "403", "404", "409")),
    Operation("post", "/filings/{filing_id}/documents/{document_id}/key-release",
              "Release one document's key, wrapped to the caller's public key, for a stated "
              "purpose (audited first)", auth=True,
              request={"type": "object", "required": ["purpose", "public_key"], "properties": {
                  "purpose": {"type": "string"}, "public_key": {"type": "string"}}},
              errors=("400", "401", "403", "404", "409", "503")),
)

OPERATIONS += (
    Operation("get", "/archive/search",
              "Search the archive by one key (filing_number, domain, provider, province or id_number), "
              "optionally from/to creation dates; audited", auth=True,
              query=("filing_number", "domain", "provider", "province", "id_number", "from", "to",
                     "purpose", "cursor"), errors=("400", "401", "403", "503")),
    Operation("post", "/filings/{filing_id}/holds", "Place a legal hold (compliance officers; audited)",
              auth=True, status="201",
              request={"type": "object", "required": ["case_id", "reason"], "properties": {
                  "case_id": {"type": "string"}, "reason": {"type": "string"}}},
              errors=("400", "401", "403", "404", "409")),
    Operation("delete", "/filings/{filing_id}/holds/{case_id}", "Release a legal hold (audited)",
              auth=True, errors=("401", "403", "404")),
    Operation("delete", "/filings/{filing_id}/documents/{document_id}",
              "Delete a document: refused before its retain-until date, for every role", auth=True,
              status="204", errors=("401", "403", "404", "409")),
    Operation("post", "/archive/sweep", "Dispose of what is due and not held (dry_run by default)",
              auth=True, request={"type": "object", "properties": {"dry_run": {"type": "boolean"}}},
              errors=("400", "401", "403")),
    Operation("get", "/audit/export", "The whole audit log with a fresh signed checkpoint (audited)",
              auth=True, errors=("401", "403", "503")),
    Operation("get", "/audit/public-key", "The audit log's Ed25519 checkpoint key"),
)

ERROR_TEXT = {
    "400": "Invalid input; every field error is listed", "401": "No or bad token",
    "403": "Not allowed for this role", "404": "Not found, or outside the caller's scope",
    "409": "Not allowed in the current state, or changed by someone else",
    "413": "Too large", "503": "A dependency (such as the audit log) failed; nothing was done",
}


def _operation(op: Operation) -> dict[str, Any]:
    params = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
              for name in _path_params(op.path)]
    params += [{"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
               for name in op.query]
    doc: dict[str, Any] = {
        "summary": op.summary,
        "operationId": op.method + op.path.replace("/", "_").replace("{", "").replace("}", ""),
        "responses": {op.status: {"description": "OK", "content": {
            "application/json": {"schema": op.response}}}},
    }
    for status in op.errors:
        doc["responses"][status] = {"description": ERROR_TEXT[status], "content": {
            "application/json": {"schema": ERROR_REF}}}
    if params:
        doc["parameters"] = params
    if op.auth:
        doc["security"] = [{"bearer": []}]
    if op.request is not None:
        doc["requestBody"] = {"required": True, "content": {
            "application/json": {"schema": op.request}}}
    return doc


def _path_params(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


def openapi_document() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method] = _operation(op)
    return {
        "openapi": "3.0.3",
        "info": {"title": "beian API", "version": "1",
                 "description": "Website-filing authenticity verification (网站备案信息真实性核验)"},
        "servers": [{"url": "/api"}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": {"type": "object", "required": ["code", "message_zh", "message_en"],
                                  "properties": {
                                      "code": {"type": "string"},
                                      "message_zh": {"type": "string"},
                                      "message_en": {"type": "string"},
                                      "field": {"type": "string"},
                                      "errors": {"type": "array", "items": OBJECT}}}},
        },
    }


def routes_of(app: RoutedApp) -> set[tuple[str, str]]:
    return {(method.lower(), path) for path, methods in app.routes.items() for method in methods}


def documented() -> set[tuple[str, str]]:
    return {(op.method, op.path) for op in OPERATIONS}
