"""The OpenAPI 3 document of the API, served at /api/openapi.json.

Operations are listed here once; a test checks that they match the app's routes
exactly, so the document cannot drift from the code.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Protocol

from .archive import DISPOSED
from .documents import (
    AWAITING_UPLOAD,
    EMPTY_FILE,
    RECEIVED,
    UNACCEPTED_TYPE,
    uploadable_types,
)
from .filetypes import ACCEPTED
from .photo import PhotoInfo
from .purposes import purpose_schema, reference_schema
from .rules import load_rules
from .workflow import STATE_NAMES, TRANSITIONS


class RoutedApp(Protocol):
    routes: dict[str, dict[str, Any]]


OBJECT: dict[str, Any] = {"type": "object"}
STRING: dict[str, Any] = {"type": "string"}
INTEGER: dict[str, Any] = {"type": "integer"}
ERROR_REF = {"$ref": "#/components/schemas/Error"}
FILING_REF = {"$ref": "#/components/schemas/Filing"}
DOCUMENT_REF = {"$ref": "#/components/schemas/Document"}
# Every route that reads or writes storage may answer 503 when it fails: nothing was done.
STORAGE = "503"
TAMPERED = "500"  # a record read fails its signature: see integrity.py
# The routes the embedded server and API Gateway throttle per client (429, Retry-After).
THROTTLED = {("post", "/filings"), ("post", "/filings/{filing_id}/documents"), ("get", "/filings/{filing_id}")}


def shape(required: dict[str, Any], optional: dict[str, Any] | None = None) -> dict[str, Any]:
    """An object with these properties (more may appear: clients ignore what they do not know)."""
    return {"type": "object", "required": sorted(required), "properties": {**required, **(optional or {})}}


def listing(name: str, item: dict[str, Any]) -> dict[str, Any]:
    return shape({name: {"type": "array", "items": item}})


def link(operation_id: str, **parameters: str) -> dict[str, Any]:
    return {"operationId": operation_id, "parameters": parameters}


# Links for stateful clients and fuzzers: what a reply lets the caller do next.
FILING_LINKS = {name: link(target, filing_id="$response.body#/filing/id") for name, target in (
    ("view", "get_filings_filing_id"), ("transition", "post_filings_filing_id_transitions"),
    ("documents", "get_filings_filing_id_documents"), ("upload", "post_filings_filing_id_documents"),
    ("follow_up", "post_filings_filing_id_follow-ups"), ("hold", "post_filings_filing_id_holds"))}
STEP_LINKS = {name: link(target, filing_id="$response.body#/id") for name, target in (
    ("view", "get_filings_filing_id"), ("transition", "post_filings_filing_id_transitions"),
    ("upload", "post_filings_filing_id_documents"))}
DOCUMENT_LINKS = {name: link(target, filing_id="$request.path.filing_id", document_id="$response.body#/document/id")
                  for name, target in (("complete", "post_filings_filing_id_documents_document_id_complete"),
                                       ("release_key", "post_filings_filing_id_documents_document_id_key-release"),
                                       ("delete", "delete_filings_filing_id_documents_document_id"))}
RECEIVED_LINKS = {"release_key": link("post_filings_filing_id_documents_document_id_key-release",
                                      filing_id="$request.path.filing_id", document_id="$response.body#/id")}
HOLD_LINKS = {"release": link("delete_filings_filing_id_holds_case_id", filing_id="$request.path.filing_id",
                              case_id="$request.body#/case_id")}
HOLDS = shape({"filing": STRING, "holds": {"type": "array", "items": OBJECT}})
DISPOSALS = {"type": "array", "items": shape({"document": STRING, "filing": STRING, "retain_until": STRING})}
FINDING = shape({"filing_id": STRING, "field": STRING, "code": STRING, "reason_zh": STRING, "reason_en": STRING,
                 "state": STRING, "provider": STRING, "province": STRING, "found_at": STRING},
                {"related": {"type": "array", "items": STRING}, "resolved_at": STRING})
SUMMARY = shape({"id": STRING, "state": STRING, "provider": STRING, "province": STRING, "created_at": STRING,
                 "filing_number": {"type": "string", "nullable": True},
                 "domains": {"type": "array", "items": STRING}, "holds": {"type": "array", "items": STRING}})


JSON_TYPES = {"int": "integer", "bool": "boolean", "str": "string"}
# The on-site photo's metadata: what the verifier's client checked and stamped (photo.py).
PHOTO = {"type": "object", "description": "The on-site photo only: what the verifier's client checked",
         "required": ["width", "height", "colour", "captured_at", "curtain_marker"],
         "properties": {spec.name: {"type": JSON_TYPES[str(spec.type)]} for spec in fields(PhotoInfo)}}


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
    required_query: tuple[str, ...] = ()
    links: dict[str, Any] = field(default_factory=dict)


def filing_request() -> dict[str, Any]:
    """The filing's shape, from the rules file's fields: each section an object of text fields
    (lists of text where a field takes many). What each value must be (a checksum, a
    province, which fields a subject type needs) the rules file's validators judge, and
    report every problem at once."""
    sections: dict[str, dict[str, Any]] = {}
    for spec in load_rules().fields:
        text = {"type": "string", **({"maxLength": spec.max_length} if spec.max_length else {})}
        sections.setdefault(spec.section, {"type": "object", "properties": {}})["properties"][spec.key] = (
            {"type": "array", "items": text, **({"maxItems": spec.max_items} if spec.max_items else {})}
            if spec.many else text)
    return {
        "type": "object",
        "description": "The filing as validated by the rules file; see /api/rules for its fields.",
        "properties": {
            "subject_type": {"type": "string", "enum": [kind.id for kind in load_rules().subject_types]},
            **sections,
            "consent": {"type": "object", "properties": {
                "privacy_notice_version": {"type": "string"},
                "sensitive_processing": {"type": "boolean"}}},
        },
        "required": ["subject_type"],
    }


FILING_REQUEST = filing_request()
STRINGS: dict[str, Any] = {"type": "array", "items": STRING}
# What the steps read from ``params``, per step (see steps.py); each step ignores the rest.
STEP_PARAMS: dict[str, Any] = {"type": "object", "properties": {
    "note": STRING, "reasons": STRINGS,
    "contact_verified_by": {"type": "string", "enum": ["phone", "email", "sms"]},
    "filing": OBJECT,  # a new payload: the rules judge it, every error at once (after the state)
    "originals": {"type": "object", "additionalProperties": STRING},
    "checks": {"type": "object", "additionalProperties": {"type": "boolean"},
               "description": "Each item of the form's checklist, confirmed by the verifier"},
    "photo_document_id": STRING,
    "agreement_accepted": {"type": "boolean"}, "contract_clause_accepted": {"type": "boolean"},
    "corrections": {"type": "array", "items": {"type": "object", "required": ["field"], "properties": {
        "field": STRING, "value": {}, "note": STRING}}},
    "access": FILING_REQUEST["properties"].get("access", OBJECT),
    "checked": {"type": "object", "additionalProperties": STRING,
                "description": "What the reviewer checked, per key item of the rules"},
    "outcome": {"type": "string", "enum": ["confirmed", "changed", "unreachable"]},
}}

OPERATIONS: tuple[Operation, ...] = (
    Operation("get", "/health", "Liveness and configuration summary",
              response=shape({"status": STRING, "backend": STRING, "rules_version": STRING})),
    Operation("get", "/openapi.json", "This document"),
    Operation("get", "/rules", "The filing rules (what the notice requires), as data"),
    Operation("get", "/schemas/filing.json", "The filing's JSON shape as a JSON Schema, from the rules"),
    Operation("get", "/archive-key", "The archive's public key, key id and fingerprint",
              response=shape({"key_id": STRING, "fingerprint": STRING, "algorithm": STRING,
                              "public_key_pem": STRING, "spki": STRING})),
    Operation("post", "/filings", "Submit a filing; returns it and the applicant's token",
              request=FILING_REQUEST, status="201", errors=("400", "409", "413"),
              response=shape({"filing": FILING_REF, "token": STRING}), links=FILING_LINKS),
    Operation("get", "/filings", "A work queue: filings in one state within the caller's scope",
              auth=True, query=("state",), errors=("400", "401", "403"), response=listing("filings", FILING_REF)),
    Operation("get", "/deadlines",
              "Filings whose pending deadline is within N days or overdue, in the caller's scope",
              auth=True, query=("within_days",), errors=("400", "401", "403"),
              response=listing("filings", FILING_REF)),
    Operation("get", "/filings/{filing_id}", "A filing as the caller may see it", auth=True,
              errors=("401", "403", "404"), response=FILING_REF),
    Operation("post", "/filings/{filing_id}/transitions", "Take one workflow step", auth=True,
              request={"type": "object", "required": ["action"], "properties": {
                  "action": {"type": "string", "enum": sorted(TRANSITIONS)}, "params": STEP_PARAMS,
                  "expected_version": {"type": "integer"}}},
              errors=("400", "401", "403", "404", "409"), response=FILING_REF, links=STEP_LINKS),
    Operation("post", "/filings/{filing_id}/follow-ups",
              "Record the provider's routine follow-up (回访) of an approved filing", auth=True,
              request={"type": "object", "required": ["outcome"], "properties": {
                  "outcome": {"type": "string", "enum": ["confirmed", "changed", "unreachable"]},
                  "note": {"type": "string"}}},
              errors=("400", "401", "403", "404", "409"), response=FILING_REF),
    Operation("get", "/filings/{filing_id}/documents", "The filing's documents", auth=True,
              errors=("401", "403", "404"), response=listing("documents", DOCUMENT_REF)),
    Operation("post", "/filings/{filing_id}/documents",
              "Register a document and get a presigned upload slot for its ciphertext",
              auth=True, status="201",
              request={"type": "object", "required": ["document_type", "size", "media_type"], "properties": {
                  "document_type": {"type": "string", "enum": sorted(uploadable_types())},
                  "size": {"type": "integer", "minimum": 1,
                           "x-refusal": dict(zip(("zh", "en"), EMPTY_FILE, strict=True))},
                  # A file judged none of these by its content is sent without a type (null).
                  "media_type": {"type": "string", "enum": list(ACCEPTED),
                                 "x-refusal": dict(zip(("zh", "en"), UNACCEPTED_TYPE, strict=True))},
                  "photo": PHOTO}},
              errors=("400", "401", "403", "404", "409", "413"),
              response=shape({"document": DOCUMENT_REF,
                              "upload": shape({"url": STRING, "fields": OBJECT, "max_bytes": INTEGER,
                                               "expires_at": STRING,
                                               "parts": shape({"part_size": INTEGER,
                                                               "urls": {"type": "array", "items": STRING}})}),
                              "envelope": shape({"context": OBJECT, "recipients": {"type": "array"}})}),
              links=DOCUMENT_LINKS),
    Operation("post", "/filings/{filing_id}/documents/{document_id}/complete",
              "Check the uploaded envelope's header and archive it", auth=True,
              errors=("400", "401", "403", "404", "409"), response=DOCUMENT_REF, links=RECEIVED_LINKS),
    Operation("post", "/filings/{filing_id}/documents/{document_id}/key-release",
              "Release one document's key, wrapped to the caller's public key, for a stated "
              "purpose (audited first)", auth=True,
              request={"type": "object", "required": ["purpose", "reference", "public_key"], "properties": {
                  "purpose": purpose_schema(), "reference": reference_schema(),
                  "public_key": {"type": "string"}}},
              errors=("400", "401", "403", "404", "409", "503"),
              response=shape({"document": DOCUMENT_REF, "wrapped_key": STRING, "context": OBJECT,
                              "download_url": STRING})),
)

OPERATIONS += (
    Operation("get", "/archive/search",
              "Search the archive by one key (filing_number, domain, provider, province or id_number), "
              "optionally from/to creation dates; audited", auth=True,
              query=("filing_number", "domain", "provider", "province", "id_number", "from", "to",
                     "purpose", "reference", "cursor"), required_query=("purpose", "reference"),
              errors=("400", "401", "403", "503"),
              response=shape({"filings": {"type": "array", "items": SUMMARY},
                              "cursor": {"type": "string", "nullable": True}, "examined": INTEGER})),
    Operation("post", "/filings/{filing_id}/holds", "Place a legal hold (compliance officers; audited)",
              auth=True, status="201",
              request={"type": "object", "required": ["case_id", "reason"], "properties": {
                  "case_id": {"type": "string"}, "reason": {"type": "string"}}},
              errors=("400", "401", "403", "404", "409"), response=HOLDS, links=HOLD_LINKS),
    Operation("delete", "/filings/{filing_id}/holds/{case_id}", "Release a legal hold (audited)",
              auth=True, errors=("401", "403", "404", "409"), response=HOLDS),
    Operation("delete", "/filings/{filing_id}/documents/{document_id}",
              "Withdraw a document still awaiting its upload (the uploader), or delete an archived one: "
              "refused before its retain-until date, for every role", auth=True,
              status="204", response={}, errors=("401", "403", "404", "409")),
    Operation("post", "/archive/sweep", "Dispose of what is due and not held (dry_run by default)",
              auth=True, request={"type": "object", "properties": {"dry_run": {"type": "boolean"}}},
              errors=("400", "401", "403"),
              response=shape({"dry_run": {"type": "boolean"}, "disposed": DISPOSALS, "held": DISPOSALS,
                              "certificate_seq": {"type": "integer", "nullable": True}, "examined": INTEGER})),
    Operation("get", "/findings",
              "Open ID-check findings: the provider's own, or one month's for the filing center, "
              "inspectors and (in their province) reviewers; audited", auth=True,
              query=("month", "provider", "province", "limit", "cursor"), errors=("400", "401", "403"),
              response=shape({"findings": {"type": "array", "items": FINDING},
                              "cursor": {"type": "string", "nullable": True}})),
    Operation("get", "/filings/{filing_id}/findings", "Every ID-check finding of a filing, open and resolved",
              auth=True, errors=("401", "403", "404"),
              response=shape({"filing": STRING, "findings": {"type": "array", "items": FINDING}})),
    Operation("post", "/connected-sites",
              "The provider's access records of the websites it connects (all saved or none)", auth=True,
              request={"type": "object", "required": ["sites"], "properties": {"sites": {
                  "type": "array", "items": {"type": "object", "required": ["domain", "province", "connected_at"],
                                             "properties": {"domain": STRING, "province": STRING,
                                                            "connected_at": STRING, "filing_number": STRING,
                                                            "pre_2010": {"type": "boolean"},
                                                            "reverified_at": STRING}}}}},
              errors=("400", "401", "403"),
              response=shape({"saved": INTEGER, "filed": INTEGER, "pre_2010": INTEGER})),
    Operation("get", "/audit/export", "The whole audit log with a fresh signed checkpoint (audited)",
              auth=True, errors=("401", "403", "503"),
              response=shape({"format": STRING, "public_key": STRING, "entries": {"type": "array", "items": OBJECT}})),
    Operation("get", "/audit/public-key",
              "The audit log's Ed25519 checkpoint key, its fingerprint, and the latest checkpoint "
              "anchored outside the log (an export must reach it)",
              response=shape({"public_key_pem": STRING, "algorithm": STRING, "fingerprint": STRING,
                              "anchor": {"type": "object", "nullable": True, "properties": {
                                  "seq": INTEGER, "hash": STRING, "at": STRING, "head_seq": INTEGER}}})),
)

# The staff console asks who a pasted token belongs to before it shows anything.
OPERATIONS += (
    Operation("get", "/session", "Who the token belongs to: name, role and scope (staff)", auth=True,
              errors=("401", "403"),
              response=shape({"subject": STRING, "role": STRING, "provider": STRING, "province": STRING})),
)

ERROR_TEXT = {
    "400": "Invalid input; every field error is listed", "401": "No or bad token",
    "403": "Not allowed for this role", "404": "Not found, or outside the caller's scope",
    "409": "Not allowed in the current state, or changed by someone else",
    "413": "Too large", "415": "The body is not sent as JSON (Content-Type: application/json)",
    "429": "Too many requests from this client: retry after Retry-After seconds",
    "500": "A stored record fails its integrity check (changed outside the system); nothing was done",
    "503": "A dependency (such as the audit log) failed; nothing was done",
}


# What the server accepts in each parameter: the edge validates every request against these
# (edge.py), so they are exactly as strict as the server, never looser.
ID = {"type": "string", "minLength": 1, "maxLength": 200}
ISO_DATE = {"type": "string", "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}
PARAMETERS: dict[str, dict[str, Any]] = {
    "state": {"type": "string", "enum": list(STATE_NAMES)},
    "within_days": {"type": "integer", "minimum": 0, "maximum": 366},
    "limit": {"type": "integer", "minimum": 1, "maximum": 500},
    "month": {"type": "string", "pattern": r"^\s*[0-9]{4}-(0[1-9]|1[0-2])\s*$"},
    "from": ISO_DATE, "to": ISO_DATE,
    "purpose": purpose_schema(), "reference": reference_schema(),
}
# Request headers an operation reads, beyond Authorization.
HEADERS: dict[tuple[str, str], dict[str, dict[str, Any]]] = {
    ("post", "/filings"): {"Idempotency-Key": {"type": "string", "pattern": r"^[\x21-\x7e]{8,200}$"}},
}


def closed(schema: Any) -> Any:
    """Objects that list their properties take no others: an undeclared field is refused, not
    silently dropped. Objects that list none (a step's params) stay open."""
    if isinstance(schema, dict):
        inner = {key: closed(value) for key, value in schema.items()}
        if schema.get("type") == "object" and "properties" in schema:
            inner.setdefault("additionalProperties", False)
        return inner
    if isinstance(schema, list):
        return [closed(item) for item in schema]
    return schema


def _operation(op: Operation) -> dict[str, Any]:
    params = [{"name": name, "in": "path", "required": True, "schema": ID} for name in _path_params(op.path)]
    params += [{"name": name, "in": "query", "required": name in op.required_query,
                "schema": PARAMETERS.get(name, STRING)} for name in op.query]
    params += [{"name": name, "in": "header", "required": False, "schema": schema}
               for name, schema in HEADERS.get((op.method, op.path), {}).items()]
    success: dict[str, Any] = {"description": "OK"}
    if op.response:  # a 204 has no body
        success["content"] = {"application/json": {"schema": op.response}}
    if op.links:
        success["links"] = op.links
    doc: dict[str, Any] = {
        "summary": op.summary,
        "operationId": op.method + op.path.replace("/", "_").replace("{", "").replace("}", ""),
        "responses": {op.status: success},
    }
    # Any body may be too large, a throttled route may refuse, and any route but this
    # document's may find storage unavailable or a record tampered with.
    # Any request may break its parameters' schemas (400, edge.py); a body may be sent as
    # something other than JSON (415).
    errors = ("400", *op.errors, *(("413", "415") if op.request else ()),
              *(("429",) if (op.method, op.path) in THROTTLED else ()),
              *((STORAGE, TAMPERED) if op.path != "/openapi.json" else ()))
    for status in dict.fromkeys(errors):
        doc["responses"][status] = {"description": ERROR_TEXT[status], "content": {
            "application/json": {"schema": ERROR_REF}}}
    if params:
        doc["parameters"] = params
    if op.auth:
        doc["security"] = [{"bearer": []}]
    if op.request is not None:
        # A body of optional fields may be left out (the archive sweep's dry run).
        doc["requestBody"] = {"required": bool(op.request.get("required")), "content": {
            "application/json": {"schema": closed(op.request)}}}
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
            "schemas": {
                "Error": shape({"code": STRING, "message_zh": STRING, "message_en": STRING},
                               {"field": STRING, "errors": {"type": "array", "items": OBJECT}}),
                "Filing": shape({"id": STRING, "state": {"type": "string", "enum": list(STATE_NAMES)},
                                 "state_name": shape({"zh": STRING, "en": STRING}), "provider": STRING,
                                 "province": STRING, "version": INTEGER,
                                 "history": {"type": "array", "items": OBJECT}, "deadlines": OBJECT},
                                {"filing_number": STRING, "payload": OBJECT}),
                "Document": shape({"id": STRING, "filing": STRING, "document_type": STRING,
                                   "state": {"type": "string", "enum": [AWAITING_UPLOAD, RECEIVED, DISPOSED]}},
                                  {"size": INTEGER, "declared_size": INTEGER, "retain_until": STRING,
                                   "media_type": STRING}),
            },
        },
    }


def routes_of(app: RoutedApp) -> set[tuple[str, str]]:
    return {(method.lower(), path) for path, methods in app.routes.items() for method in methods}


def documented() -> set[tuple[str, str]]:
    return {(op.method, op.path) for op in OPERATIONS}
