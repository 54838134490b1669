"""The HTTP edge: JSON in, JSON out, every error in one shape with Chinese and English.

This is the only module besides app.py that knows Chalice.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

from chalice.app import Chalice, Request, Response

from ..auth import Principal
from ..edge import checked_request
from ..errors import DomainError, Unauthorized
from ..integrity import RecordTampered
from ..ports import StorageError
from ..vault import SEALED, SecretMissing

JSON = "application/json"
CHECKED_BODY = "beian_checked_body"  # where the edge leaves the parsed body on the request
STATUS: dict[str, int] = {
    "invalid": 400, "unauthorized": 401, "forbidden": 403, "not_found": 404,
    "conflict": 409, "too_large": 413, "retention_locked": 409, "unavailable": 503,
    "unsupported_media_type": 415,
}
# Chalice's own errors, reworded for people.
CHALICE_ERRORS: dict[str, tuple[str, str, str]] = {
    "UnsupportedMediaType": ("unsupported_media_type", "请求的内容类型不受支持，请以 JSON 发送",
                             "Unsupported content type: send JSON (application/json)"),
    "MethodNotAllowedError": ("method_not_allowed", "该地址不支持此请求方法",
                              "This method is not allowed here"),
    "BadRequestError": ("invalid", "请求格式有误", "The request is malformed"),
    "NotFoundError": ("not_found", "请求的地址不存在", "No such route"),
    "InternalServerError": ("internal", "服务器内部错误，请稍后重试；如持续出现请联系接入服务单位",
                            "Internal error; try again later, and tell the provider if it persists"),
}


class ThreadSafeChalice(Chalice):
    """A Chalice app whose ``current_request`` belongs to the thread serving it.

    Chalice keeps the request on the app object: one request at a time per Lambda container,
    but the embedded server answers eight at once, and a shared attribute would let one caller's
    request be read while another's is served. ``chalice local`` swaps the app's class for its
    LocalChalice to get this; here the app is built thread-safe from the start (Lambda packages
    only ``chalice.app``, so LocalChalice itself is not importable there).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._requests = threading.local()
        super().__init__(*args, **kwargs)

    @property
    def current_request(self) -> Request | None:
        request: Request | None = getattr(self._requests, "request", None)
        return request

    @current_request.setter
    def current_request(self, request: Request | None) -> None:
        self._requests.request = request


def error_response(status: int, code: str, message_zh: str, message_en: str,
                   extra: dict[str, Any] | None = None) -> Response:
    body = {"code": code, "message_zh": message_zh, "message_en": message_en, **(extra or {})}
    return Response(body=body, status_code=status, headers={"Content-Type": JSON})


def domain_error_response(error: DomainError) -> Response:
    body = error.to_dict()
    return error_response(STATUS.get(error.code, 400), body.pop("code"), body.pop("message_zh"),
                          body.pop("message_en"), body)


def json_body(request: Request | None) -> dict[str, Any]:
    """The request's JSON object, as the edge checked it against the operation's schema."""
    checked = getattr(request, CHECKED_BODY, None)
    return checked if isinstance(checked, dict) else {}


def principal(request: Request | None) -> Principal:
    context = ((request.context if request is not None else None) or {}).get("authorizer") or {}
    if not context.get("role"):
        raise Unauthorized("需要登录或访问令牌", "Authentication is required")
    return Principal.from_context(context)


def guarded(view: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the domain's errors into their HTTP status (Chalice would answer 500)."""

    @functools.wraps(view)
    def respond(**path: str) -> Any:
        try:
            return view(**path)
        except DomainError as error:
            return domain_error_response(error)
        except RecordTampered as error:
            logging.getLogger("beian.api").error("%s", error)
            return error_response(500, "integrity", error.message_zh, error.message_en,
                                  {"record": f"{error.kind}:{error.key}"})
        except SecretMissing as error:
            logging.getLogger("beian.api").error("%s", error)
            return error_response(500, "integrity", error.message_zh, error.message_en,
                                  {"record": f"{SEALED}:{error.name}"})
        except StorageError:
            logging.getLogger("beian.api").exception("storage failed")
            return error_response(503, "unavailable", "存储暂不可用，本次操作未完成，请稍后重试",
                                  "Storage is unavailable; nothing was done. Try again later")

    return respond


def install_error_handling(app: Chalice) -> None:
    """Check every request at the edge (edge.py) before its view runs, and reword Chalice's
    own errors (405, 415, 500) into the same bilingual shape."""

    @app.middleware("http")
    def errors_as_json(event: Request, get_response: Callable[[Request], Response]) -> Response:
        try:
            setattr(event, CHECKED_BODY, checked_request(
                event.method, event.path, path=event.uri_params or {}, query=event.query_params or {},
                headers=event.headers, body=_bytes(event.raw_body),
                content_type=event.headers.get("content-type", "")))
        except DomainError as error:
            return domain_error_response(error)
        response = get_response(event)
        body = response.body
        if isinstance(body, dict) and "Code" in body and body["Code"] in CHALICE_ERRORS:
            return _reworded(body["Code"], response.status_code, response.headers)
        return response


def _bytes(raw: str | bytes | None) -> bytes:
    return raw.encode() if isinstance(raw, str) else raw or b""


def _reworded(chalice_code: str, status: int, headers: Mapping[str, Any]) -> Response:
    code, zh, en = CHALICE_ERRORS[chalice_code]
    reply = error_response(status, code, zh, en)
    if "Allow" in headers:  # a 405 says what the route does take
        reply.headers["Allow"] = str(headers["Allow"])
    return reply
