"""The request edge: every body and parameter checked against the OpenAPI document's own
request schemas before the domain sees it, so the document and the server cannot disagree.

JSON is bounded before it is parsed (size, then nesting depth, counted without parsing),
parsed refusing duplicate keys and non-standard numbers (NaN, Infinity), then validated
with jsonschema. Query parameters arrive as text: one declared as an integer must be ASCII
digits (``²`` passes ``str.isdigit``) before it is converted and checked. Every refusal is
an ``Invalid`` naming the field, with every problem found listed.

Knows nothing of HTTP frameworks: ``adapters/http.py`` calls :func:`checked_request`.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft4Validator
from jsonschema.exceptions import ValidationError

from .errors import Invalid, TooLarge, UnsupportedMediaType
from .openapi import openapi_document

MAX_JSON_BYTES = 256 * 1024
MAX_JSON_DEPTH = 32  # the deepest request (a filing's nested objects) is 4
JSON_TYPE = "application/json"
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")
_ASCII_INTEGER = re.compile(r"-?[0-9]{1,18}")
TYPE_NAMES = {"string": ("文本", "a string"), "integer": ("整数", "a whole number"),
              "number": ("数字", "a number"), "boolean": ("true 或 false", "true or false"),
              "object": ("JSON 对象", "a JSON object"), "array": ("列表", "a list")}

BOUNDS = {"minLength": ("至少 {} 个字符", "must be at least {} characters"),
          "maxLength": ("最多 {} 个字符", "must be at most {} characters"),
          "minimum": ("不得小于 {}", "must be at least {}"), "maximum": ("不得大于 {}", "must be at most {}"),
          "minItems": ("至少 {} 项", "needs at least {} items"), "maxItems": ("最多 {} 项", "takes at most {} items"),
          "pattern": ("格式不符（{}）", "does not have the expected form ({})")}


class DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def json_depth(raw: bytes) -> int:
    """How deeply arrays and objects nest in ``raw``, counted without parsing it."""
    depth = deepest = 0
    for bracket in _BRACKET.findall(_STRING.sub(b'""', raw)):
        depth += 1 if bracket in (b"[", b"{") else -1
        deepest = max(deepest, depth)
    return deepest


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise DuplicateKey(key)
        found[key] = value
    return found


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json(raw: bytes) -> Any:
    """``raw`` as JSON, refused (TooLarge/Invalid, field "body") before parsing when too big or
    too deep, and when a key repeats: ``{"a": false, "a": true}`` must not mean true."""
    if len(raw) > MAX_JSON_BYTES:
        raise TooLarge("请求内容过大", f"The request body is over {MAX_JSON_BYTES} bytes", field="body")
    if json_depth(raw) > MAX_JSON_DEPTH:
        raise Invalid(f"请求内容嵌套过深（最多 {MAX_JSON_DEPTH} 层）",
                      f"The request body nests more than {MAX_JSON_DEPTH} levels deep", field="body")
    try:
        return json.loads(raw, object_pairs_hook=_unique_keys, parse_constant=_no_constants)
    except DuplicateKey as duplicate:
        raise Invalid(f"字段 {duplicate.key} 重复出现", f"The field {duplicate.key} appears twice",
                      field=duplicate.key) from duplicate
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise Invalid("请求内容不是有效的 JSON", "The request body is not valid JSON", field="body") from error


@dataclass(frozen=True)
class Parameter:
    name: str
    location: str  # path, query or header
    required: bool
    validator: Draft4Validator


@dataclass(frozen=True)
class RequestSchema:
    parameters: tuple[Parameter, ...]
    body: Draft4Validator | None
    body_required: bool


def _resolved(schema: Any, components: Mapping[str, Any]) -> Any:
    """The schema with local ``#/components/schemas/`` references inlined (requests hold few)."""
    if isinstance(schema, dict):
        if "$ref" in schema:
            return _resolved(components[schema["$ref"].rsplit("/", 1)[-1]], components)
        return {key: _resolved(value, components) for key, value in schema.items()}
    if isinstance(schema, list):
        return [_resolved(item, components) for item in schema]
    return schema


@functools.cache
def request_schemas() -> dict[tuple[str, str], RequestSchema]:
    """(method, route) -> what that operation accepts, read from the served document."""
    document = openapi_document()
    components = document["components"]["schemas"]
    found = {}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            parameters = tuple(
                Parameter(p["name"], p["in"], bool(p.get("required")),
                          Draft4Validator(_resolved(p["schema"], components)))
                for p in operation.get("parameters", ()))
            body = operation.get("requestBody")
            schema = body["content"][JSON_TYPE]["schema"] if body else None
            found[(method.upper(), path)] = RequestSchema(
                parameters, Draft4Validator(_resolved(schema, components)) if schema is not None else None,
                bool(body and body.get("required")))
    return found


def _field(path: Any) -> str:
    """A path into the request as the filing's own errors give it: ``website.domains[1]``."""
    named = ""
    for part in path:
        named += f"[{part}]" if isinstance(part, int) else f".{part}" if named else str(part)
    return named or "body"


def _problems(error: ValidationError, prefix: str = "") -> list[dict[str, str]]:
    """One error, worded without echoing the value (it may be an ID number)."""
    where = _field([*([prefix] if prefix else []), *error.absolute_path])
    kind, expected = error.validator, error.validator_value
    instance, schema = error.instance, error.schema
    if isinstance(schema.get("x-refusal"), Mapping):  # the document words this refusal itself
        return [{"field": where, "code": str(kind), "message_zh": schema["x-refusal"]["zh"],
                 "message_en": schema["x-refusal"]["en"]}]
    if kind == "required" and isinstance(instance, Mapping):
        return [_problem(f"{where}.{name}" if where != "body" else name, "required",
                         "缺少必填项", "is required") for name in expected if name not in instance]
    if kind == "additionalProperties" and isinstance(instance, Mapping):
        known = set(schema.get("properties", {}))
        return [_problem(f"{where}.{name}" if where != "body" else name, "unknown_field",
                         "不是本请求的字段", "is not a field of this request")
                for name in instance if name not in known]
    if kind == "type":
        zh, en = TYPE_NAMES.get(str(expected), (str(expected), str(expected)))
        return [_problem(where, "type", f"须为{zh}", f"must be {en}")]
    if kind == "enum":
        options = ", ".join(str(option) for option in expected)
        return [_problem(where, "enum", f"须为以下之一：{options}", f"must be one of: {options}")]
    zh, en = BOUNDS.get(str(kind), ("不符合要求", "is not acceptable here"))
    return [_problem(where, str(kind), zh.format(expected), en.format(expected))]


def _problem(field: str, code: str, zh: str, en: str) -> dict[str, str]:
    return {"field": field, "code": code, "message_zh": f"{field} {zh}", "message_en": f"{field} {en}"}


def _parameter_value(parameter: Parameter, raw: str) -> Any:
    """Query, path and header values are text; an integer one must be ASCII digits."""
    if parameter.validator.schema.get("type") == "integer":
        return int(raw) if _ASCII_INTEGER.fullmatch(raw) else raw
    return raw


def _refused(problems: list[dict[str, str]]) -> Invalid:
    """The first problem said at the top (what a person fixes first), every field's first
    problem listed."""
    first_each = list({problem["field"]: problem for problem in reversed(problems)}.values())[::-1]
    first = problems[0]
    return Invalid(first["message_zh"], first["message_en"], field=first["field"], details=first_each)


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == JSON_TYPE or (media.startswith("application/") and media.endswith("+json"))


def checked_request(method: str, route: str, *, path: Mapping[str, str], query: Mapping[str, str],
                    headers: Mapping[str, str], body: bytes, content_type: str) -> Any:
    """The request's JSON body (``{}`` when the operation takes none) once everything in it
    passes the operation's schemas; Invalid, naming each field, otherwise."""
    schema = request_schemas().get((method.upper(), route))
    if schema is None:  # not an operation of the document: the router answers for it
        return {}
    problems: list[dict[str, str]] = []
    declared = {(p.location, p.name) for p in schema.parameters}
    problems += [_problem(name, "unknown_parameter", "不是本请求的参数", "is not a parameter of this request")
                 for name in query if ("query", name) not in declared]
    given = {"path": path, "query": query, "header": {k.lower(): v for k, v in headers.items()}}
    for parameter in schema.parameters:
        raw = given[parameter.location].get(parameter.name.lower() if parameter.location == "header"
                                            else parameter.name)
        if raw is None:
            if parameter.required:
                problems.append(_problem(parameter.name, "required", "缺少必填项", "is required"))
            continue
        for error in parameter.validator.iter_errors(_parameter_value(parameter, raw)):
            problems += [{**problem, "field": parameter.name} for problem in _problems(error)]
    if problems:
        raise _refused(problems)
    return _checked_body(schema, body, content_type)


def _checked_body(schema: RequestSchema, body: bytes, content_type: str) -> Any:
    if schema.body is None:
        if body.strip():
            raise Invalid("此请求不接受请求内容", "This request takes no body", field="body")
        return {}
    if not body.strip() and not schema.body_required:
        return {}
    if not _is_json(content_type):
        raise UnsupportedMediaType("请求内容须为 JSON（Content-Type: application/json）",
                      "Send the body as JSON (Content-Type: application/json)", field="content-type")
    parsed = parse_json(body)
    problems = [problem for error in schema.body.iter_errors(parsed) for problem in _problems(error)]
    if problems:
        raise _refused(problems)
    return parsed
