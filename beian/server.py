"""The embedded server: the public site at /, the API at /api/, local upload slots at /blobs/.

One process on one machine, no cloud account: the Chalice app runs through Chalice's
own LocalGateway (the same routing, authorizer and middleware as on API Gateway)
behind waitress, a threaded WSGI server (field notes: about 10x ``chalice local``).
The /blobs/ routes stand in for S3's presigned POST and GET, streaming to and from
disk so document bytes never pass through the API.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from chalice.config import Config
from chalice.local import (
    ForbiddenError,
    LambdaEventConverter,
    LocalGateway,
    LocalGatewayException,
    MatchResult,
    RouteMatcher,
)
from chalicelib.adapters.embedded import LocalBlobs, TooLargeUpload
from chalicelib.adapters.http import ThreadSafeChalice
from chalicelib.config import Settings
from chalicelib.ports import BlobMissing, Blobs
from multipart import MultipartSegment, ParserError, PushMultipartParser, parse_options_header
from waitress.channel import HTTPChannel
from waitress.task import ErrorTask

from .ratelimit import RateLimiter, retry_after

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
Environ = dict[str, Any]

MAX_API_BODY = 1024 * 1024
STOP_SECONDS = 30  # how long a stop waits for the requests in flight
READ_SIZE = 64 * 1024
MAX_FIELD_BYTES = 4096
SECURITY_HEADERS = [
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
    # The upload page handles plaintext: only our own scripts, nothing inline, nothing third-party.
    ("Content-Security-Policy",
     "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
     "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; "
     "frame-ancestors 'none'; form-action 'self'"),
]
REASONS = {200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request", 401: "Unauthorized",
           403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 409: "Conflict",
           413: "Payload Too Large", 415: "Unsupported Media Type", 429: "Too Many Requests",
           500: "Internal Server Error", 503: "Service Unavailable"}
MESSAGES = {
    "not_found": ("请求的地址不存在", "No such page or route"),
    "unauthorized": ("访问令牌无效或已过期，请重新登录或核对令牌",
                     "The access token is missing, invalid or expired"),
    "too_large": ("请求内容过大", "The request body is too large"),
    "upload_refused": ("上传未被接受：{}", "The upload was refused: {}"),
    "upload_too_large": ("文件超过上传凭证允许的大小，请重新申请上传",
                         "The file is larger than the upload slot allows; request a new slot"),
    "download_refused": ("下载链接无效或已过期", "The download link is invalid or expired"),
    "upload_used": ("此上传凭证已使用过，请重新申请上传", "This upload slot was used already; request a new one"),
    "rate_limited": ("请求过于频繁，请 {} 秒后重试", "Too many requests; try again in {} seconds"),
    "method_not_allowed": ("该地址不支持此请求方法", "This method is not allowed here"),
    "malformed": ("请求格式有误，服务器无法读取", "The request is malformed"),
}
CLIENT_ADDRESS = "x-beian-client-address"  # set by the server from the connection, never the client
BLOB_METHODS = {"/blobs/upload": "POST", "/blobs/part": "PUT", "/blobs/download": "GET"}
# Every route class has a limit, per client address and, for a request with a token, per
# token too. The anonymous (or applicant-token) routes an outsider can hammer have the tight
# one, as API Gateway throttles them; every other read and write the general one.
ANONYMOUS, GENERAL = "anonymous", "general"
LIMITED_ROUTES = (
    ("create", "POST", re.compile(r"^/filings/?$"), ANONYMOUS),
    ("upload_slot", "POST", re.compile(r"^/filings/[^/]+/documents/?$"), ANONYMOUS),
    ("status", "GET", re.compile(r"^/filings/[^/]+/?$"), ANONYMOUS),
    ("read", "GET", re.compile(r""), GENERAL),
    ("write", "", re.compile(r""), GENERAL),  # any other method
)
BLOBS_CLASS = ("blobs", GENERAL)


def route_limits(settings: Settings) -> dict[str, tuple[float, int]]:
    """Each kind of route class's limit (requests per second, burst), per client address and
    per token: this server's, and the AWS deployment's WAF rules (``beian.firewall``)."""
    return {ANONYMOUS: (settings.anonymous_rate, settings.anonymous_burst),
            GENERAL: (settings.general_rate, settings.general_burst)}


def status_line(code: int) -> str:
    return f"{code} {REASONS.get(code, 'Error')}"


def json_reply(start: StartResponse, code: int, body: dict[str, Any]) -> list[bytes]:
    data = json.dumps(body, ensure_ascii=False).encode()
    start(status_line(code), [("Content-Type", "application/json; charset=utf-8"),
                              ("Content-Length", str(len(data))), *SECURITY_HEADERS])
    return [data]


def error_reply(start: StartResponse, code: int, kind: str, *detail: str) -> list[bytes]:
    zh, en = MESSAGES[kind]
    return json_reply(start, code, {"code": kind, "message_zh": zh.format(*detail),
                                    "message_en": en.format(*detail)})


def method_not_allowed(start: StartResponse, allow: str) -> list[bytes]:
    zh, en = MESSAGES["method_not_allowed"]
    data = json.dumps({"code": "method_not_allowed", "message_zh": zh, "message_en": en},
                      ensure_ascii=False).encode()
    start(status_line(405), [("Content-Type", "application/json; charset=utf-8"), ("Allow", allow),
                             ("Content-Length", str(len(data))), *SECURITY_HEADERS])
    return [data]


class JsonErrorTask(ErrorTask):  # type: ignore[misc]
    """waitress's own refusals (a malformed request line, header or length) in the project's
    JSON error shape instead of its plain text."""

    def execute(self) -> None:
        error = self.request.error
        zh, en = MESSAGES["malformed"]
        body = json.dumps({"code": "invalid", "message_zh": zh, "message_en": f"{en} ({error.reason})"},
                          ensure_ascii=False).encode()
        self.status = f"{error.code} {error.reason}"
        self.response_headers.extend([("Content-Type", "application/json; charset=utf-8"), *SECURITY_HEADERS])
        self.set_close_on_finish()
        self.content_length = len(body)
        # Head and body in one write, so the refusal leaves in one piece (the loop could send
        # the head alone, and a client that reads once would see no body).
        head = self.build_response_header()
        self.wrote_header = True
        self.content_bytes_written = len(body)
        self.channel.write_soon(head + body)


class JsonErrorChannel(HTTPChannel):  # type: ignore[misc]
    error_task_class = JsonErrorTask


def rate_limited(start: StartResponse, wait: float) -> list[bytes]:
    seconds = retry_after(wait)
    zh, en = MESSAGES["rate_limited"]
    data = json.dumps({"code": "rate_limited", "message_zh": zh.format(seconds),
                       "message_en": en.format(seconds)}, ensure_ascii=False).encode()
    start(status_line(429), [("Content-Type", "application/json; charset=utf-8"),
                             ("Content-Length", str(len(data))), ("Retry-After", seconds), *SECURITY_HEADERS])
    return [data]


class ClientAddressConverter(LambdaEventConverter):
    """Gives the view the caller's real address (``sourceIp``, as API Gateway does), not
    chalice's fixed local one: idempotency keys and rate limits are bound to it."""

    def create_lambda_event(self, method: str, path: str, headers: dict[str, str],
                            body: bytes | None = None) -> dict[str, Any]:
        event: dict[str, Any] = super().create_lambda_event(method, path, headers, body)
        event["requestContext"]["identity"]["sourceIp"] = headers.get(CLIENT_ADDRESS, "")
        return event


class DecodingRouteMatcher(RouteMatcher):
    """Routes on the path as sent (percent-encoded), then decodes each path parameter, as
    API Gateway does: an encoded "/", "?" or "#" stays inside its parameter."""

    def match_route(self, url: str) -> MatchResult:
        matched = super().match_route(url)
        return MatchResult(matched.route, {name: unquote(value) for name, value in matched.captured.items()},
                           matched.query_params)


class EmbeddedServer:
    """The WSGI application. ``blobs`` is the backend's blob store: /blobs/download serves what
    its ``download_url`` hands out, checked by its ``verify_download`` (S3's store refuses every
    query there: S3 serves its own URLs). ``uploads`` is the embedded store, whose upload slots
    point at /blobs/upload; on the AWS backend it is None, and clients upload to S3 directly."""

    def __init__(self, chalice_app: ThreadSafeChalice, site_dir: Path, blobs: Blobs, uploads: LocalBlobs | None,
                 limits: Callable[[str], RateLimiter]) -> None:
        # Waitress serves eight requests at once: an app holding one current request for all
        # of them would mix callers up.
        if not isinstance(chalice_app, ThreadSafeChalice):
            raise TypeError("the embedded server needs a ThreadSafeChalice app (see api/app.py)")
        config = Config.create(chalice_stage="local", app_name="beian",
                               lambda_timeout=60, lambda_memory_size=512)
        self._gateway = LocalGateway(chalice_app, config)
        self._gateway.event_converter = ClientAddressConverter(
            DecodingRouteMatcher(list(chalice_app.routes)), chalice_app.api.binary_types)
        self._site = site_dir.resolve()
        self._blobs = uploads  # the store the upload route writes to (None: clients upload elsewhere)
        self._store = blobs
        classes = [(name, kind) for name, _, _, kind in LIMITED_ROUTES] + [BLOBS_CLASS]
        self._limits = {name: limits(kind) for name, kind in classes}

    def __call__(self, environ: Environ, start: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/") or "/"
        method = environ["REQUEST_METHOD"]
        if path == "/api" or path.startswith("/api/"):
            # PATH_INFO is decoded: route on the path as sent, so "%2F" in an id stays in the id.
            raw = urlsplit(environ.get("REQUEST_URI") or quote(path)).path
            api_path = raw[len("/api"):] or "/"
            wait = self._throttled(environ, self._route_class(method, api_path))
            return rate_limited(start, wait) if wait else self._api(environ, start, api_path)
        if path.startswith("/blobs/"):
            wait = self._throttled(environ, BLOBS_CLASS[0])
            if wait:
                return rate_limited(start, wait)
        if self._blobs is not None and path == "/blobs/upload" and method == "POST":
            return self._upload(environ, start, self._blobs)
        if self._blobs is not None and path == "/blobs/part" and method == "PUT":
            return self._part(environ, start, self._blobs)
        if path == "/blobs/download" and method == "GET":
            return self._download(environ, start)
        if self._blobs is not None and path in BLOB_METHODS:
            return method_not_allowed(start, BLOB_METHODS[path])
        if method in ("GET", "HEAD"):
            return self._static(start, path)
        return method_not_allowed(start, "GET, HEAD")

    @staticmethod
    def _route_class(method: str, path: str) -> str:
        return next(name for name, route_method, pattern, _ in LIMITED_ROUTES
                    if route_method in (method, "") and pattern.match(path))

    def _throttled(self, environ: Environ, route_class: str) -> float:
        """0 if both the client address and the token (if any) may go ahead, else the wait."""
        limiter = self._limits[route_class]
        waits = [limiter.acquire(f"address:{environ.get('REMOTE_ADDR', '')}")]
        token = str(environ.get("HTTP_AUTHORIZATION", ""))
        if token:  # only its digest is kept: no token in memory longer than the request
            waits.append(limiter.acquire(f"token:{hashlib.sha256(token.encode()).hexdigest()}"))
        return max(waits)

    def _api(self, environ: Environ, start: StartResponse, path: str) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length > MAX_API_BODY:
            return error_reply(start, 413, "too_large")
        body = environ["wsgi.input"].read(length) if length else None
        query = environ.get("QUERY_STRING", "")
        headers = {key[5:].replace("_", "-").lower(): value
                   for key, value in environ.items() if key.startswith("HTTP_")}
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        headers[CLIENT_ADDRESS] = str(environ.get("REMOTE_ADDR", ""))  # replaces any the client sent
        try:
            response = self._gateway.handle_request(
                method=environ["REQUEST_METHOD"], path=path + (f"?{query}" if query else ""),
                headers=headers, body=body)
        except LocalGatewayException as error:
            unknown_route = isinstance(error, ForbiddenError) and (
                error.headers.get("x-amzn-ErrorType") == "UnauthorizedException")
            if unknown_route:
                return error_reply(start, 404, "not_found")
            return error_reply(start, 401, "unauthorized")
        out = response["body"] or b""
        if isinstance(out, str):
            out = out.encode()
        reply_headers = [(k, v) for k, v in response["headers"].items()
                         if k.lower() != "content-length"]
        if out and not any(k.lower() == "content-type" for k, _ in reply_headers):
            # API Gateway's proxy integration answers application/json when a view names no type.
            reply_headers.append(("Content-Type", "application/json"))
        start(status_line(response["statusCode"]),
              [*reply_headers, ("Content-Length", str(len(out))), *SECURITY_HEADERS])
        return [out]

    def _upload(self, environ: Environ, start: StartResponse,
                blobs: LocalBlobs) -> Iterable[bytes]:
        """The local presigned POST: form fields first, then the file, streamed to staging."""
        content_type, options = parse_options_header(environ.get("CONTENT_TYPE", ""))
        if content_type != "multipart/form-data" or "boundary" not in options:
            return error_reply(start, 400, "upload_refused", "须以 multipart/form-data 上传")
        stream = environ["wsgi.input"]
        length = int(environ.get("CONTENT_LENGTH") or -1)
        events = _parse(stream, options["boundary"], length)
        fields: dict[str, str] = {}
        try:
            for event in events:
                if not isinstance(event, MultipartSegment):
                    continue
                if event.name == "file":
                    key, max_bytes = blobs.verify_upload_fields(fields)
                    if blobs.info(key) is not None:  # a slot is single-use: this one is archived
                        return error_reply(start, 409, "upload_used")
                    blobs.write_staged(key, _segment_body(events), max_bytes)
                    start(status_line(204), list(SECURITY_HEADERS))
                    return [b""]
                fields[event.name] = b"".join(_segment_body(events, MAX_FIELD_BYTES)).decode()
        except TooLargeUpload:
            return error_reply(start, 413, "upload_too_large")
        except (ValueError, ParserError) as error:
            return error_reply(start, 400, "upload_refused", str(error))
        return error_reply(start, 400, "upload_refused", "no file part")

    def _part(self, environ: Environ, start: StartResponse, blobs: LocalBlobs) -> Iterable[bytes]:
        """The local presigned UploadPart: one bounded part of a slot, streamed to disk."""
        query = dict(parse_qsl(environ.get("QUERY_STRING", "")))
        try:
            key, upload_id, part, part_size = blobs.verify_part(query)
            if blobs.info(key) is not None:  # a slot is single-use, in parts too: this one is archived
                return error_reply(start, 409, "upload_used")
            length = int(environ.get("CONTENT_LENGTH") or 0)
            if length > part_size:
                raise TooLargeUpload(f"a part is at most {part_size} bytes")
            if length < 1:
                raise ValueError("a part needs a Content-Length")
            blobs.write_part(key, upload_id, part, _body(environ["wsgi.input"], length), part_size)
        except TooLargeUpload:
            return error_reply(start, 413, "upload_too_large")
        except ValueError as error:
            return error_reply(start, 400, "upload_refused", str(error))
        start(status_line(200), [("Content-Length", "0"), *SECURITY_HEADERS])
        return [b""]

    def _download(self, environ: Environ, start: StartResponse) -> Iterable[bytes]:
        query = dict(parse_qsl(environ.get("QUERY_STRING", "")))
        try:
            key = self._store.verify_download(query)
            stream = self._store.open(key)
        except (ValueError, BlobMissing):
            return error_reply(start, 403, "download_refused")
        size = os.fstat(stream.fileno()).st_size
        start(status_line(200), [
            ("Content-Type", "application/octet-stream"), ("Content-Length", str(size)),
            ("Content-Disposition", "attachment"), *SECURITY_HEADERS])
        return _file_chunks(stream)

    def _static(self, start: StartResponse, path: str) -> Iterable[bytes]:
        target = (self._site / path.lstrip("/")).resolve()
        if target.is_dir():
            target = target / "index.html"
        if not target.is_relative_to(self._site) or not target.is_file():
            missing = self._site / "404.html"
            if missing.is_file():
                data = missing.read_bytes()
                start(status_line(404), [("Content-Type", "text/html; charset=utf-8"),
                                         ("Content-Length", str(len(data))), *SECURITY_HEADERS])
                return [data]
            return error_reply(start, 404, "not_found")
        kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if kind.startswith("text/") or kind in ("application/javascript", "application/json"):
            kind += "; charset=utf-8"
        start(status_line(200), [("Content-Type", kind),
                                 ("Content-Length", str(target.stat().st_size)), *SECURITY_HEADERS])
        return _file_chunks(target.open("rb"))


def _parse(stream: Any, boundary: str, length: int) -> Iterator[MultipartSegment | bytes | None]:
    with PushMultipartParser(boundary, content_length=length, max_segment_count=16) as parser:
        while not parser.closed:
            chunk = stream.read(READ_SIZE)
            yield from parser.parse(chunk)
            if not chunk:
                break


def _body(stream: Any, length: int) -> Iterator[bytes]:
    """``length`` bytes of a request body; a body that ends early is refused."""
    while length:
        chunk = stream.read(min(READ_SIZE, length))
        if not chunk:
            raise ValueError("the request body ended early")
        length -= len(chunk)
        yield chunk


def _segment_body(events: Iterator[MultipartSegment | bytes | None],
                  limit: float = float("inf")) -> Iterator[bytes]:
    """The body chunks of the current segment, up to its end marker."""
    seen = 0
    for event in events:
        if event is None:
            return
        if isinstance(event, bytes):
            seen += len(event)
            if seen > limit:
                raise ValueError("form field too long")
            yield event


def _file_chunks(stream: Any) -> Iterator[bytes]:
    with stream:
        while chunk := stream.read(READ_SIZE):
            yield chunk


def build_server(chalice_app: ThreadSafeChalice, site_dir: Path) -> EmbeddedServer:
    from chalicelib.backend import current_backend

    settings = Settings.from_env()
    blobs = current_backend().blobs
    # Only the embedded store's upload slots point at this server (S3's at S3).
    uploads = blobs if isinstance(blobs, LocalBlobs) else None
    limits = route_limits(settings)
    return EmbeddedServer(chalice_app, site_dir, blobs, uploads, lambda kind: RateLimiter(*limits[kind]))


class Listener:
    """A waitress server that can be stopped from any thread (tests, Ctrl-C, SIGTERM).

    Waitress has no stop call of its own: its loop runs until its socket map is empty. The map
    is ours (``create_server(map=...)``), so stopping is: let the worker threads finish the
    requests in flight (they hand their replies to the loop, which still runs), then close every
    socket in the map from the loop's own thread. Nothing writes to waitress's wake-up pipe after
    it is closed, and no socket is closed under a thread still using it.
    """

    def __init__(self, app: EmbeddedServer, host: str, port: int) -> None:
        import waitress

        self._sockets: dict[int, Any] = {}
        self._server = waitress.create_server(app, map=self._sockets, host=host, port=port, threads=8,
                                              ident="beian", clear_untrusted_proxy_headers=True,
                                              # select() stops the loop at descriptor 1024
                                              asyncore_use_poll=True)
        self._server.channel_class = JsonErrorChannel
        self.port = int(self._server.effective_port)
        self._stopping = threading.Lock()

    def run(self) -> None:
        """Serve until stopped; returns once every socket is closed."""
        self._server.run()

    def stop(self) -> None:
        """Start stopping and return at once (the loop's own thread may call it, as the SIGTERM
        handler does); ``run`` returns when the server has stopped. Later calls do nothing."""
        if self._stopping.acquire(blocking=False):
            threading.Thread(target=self._shut_down, name="beian-stop", daemon=True).start()

    def _shut_down(self) -> None:
        workers = self._server.task_dispatcher
        workers.shutdown(timeout=STOP_SECONDS)  # waitress logs the threads still running after it
        # A worker still running hands its reply to the loop through the wake-up pipe: the pipe
        # may close only once the last worker has gone.
        while workers.threads:
            time.sleep(0.05)
        # The loop runs the trigger's thunks holding its lock. Holding it here too, the wake-up
        # byte is written before the thunk can close the pipe: a write after the close would
        # fail (EBADF) or, once the descriptor number is reused, land in another file.
        trigger = self._server.trigger
        with trigger.lock:
            trigger.thunks.append(self._close_sockets)
            trigger.pull_trigger()

    def _close_sockets(self) -> None:
        for dispatcher in list(self._sockets.values()):
            dispatcher.close()


def create_listener(app: EmbeddedServer, host: str, port: int) -> Listener:
    """A server bound to ``host:port`` (not yet running); port 0 picks a free port."""
    return Listener(app, host, port)
