"""The API client with the embedded gateway as its transport, in this process.

An operator's command that a route already answers goes through that route, as a remote
client's would: the same edge checks, authoriser, policy and reply shape, with no socket and
no server running. ``WsgiTransport`` is a requests adapter that hands each request to a WSGI
application (the embedded server of ``beian.server``) and streams its reply back.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers

if TYPE_CHECKING:
    from ..client import BeianClient
    from ..server import Environ, StartResponse

    WsgiApp = Callable[[Environ, StartResponse], Iterable[bytes]]

# Never resolved: requests hands every URL under it to the adapter mounted there.
IN_PROCESS_URL = "http://beian.in-process"
LOOPBACK = "127.0.0.1"  # the caller's address as the gateway sees it (rate limits, idempotency)


class ChunkReader(io.RawIOBase):
    """A WSGI reply's body, read as a file (``requests.Response.raw``) while it is produced."""

    def __init__(self, chunks: Iterator[bytes], source: Iterable[bytes]) -> None:
        self._chunks = chunks
        self._pending = b""
        self._source = source

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = chunk
        size = min(len(buffer), len(self._pending))
        buffer[:size], self._pending = self._pending[:size], self._pending[size:]
        return size

    def close(self) -> None:
        close = getattr(self._source, "close", None)  # PEP 3333: the server closes what the app returned
        if callable(close):
            close()
        super().close()


class WsgiTransport(BaseAdapter):
    """Send each request to ``app`` in this process instead of over a socket."""

    def __init__(self, app: WsgiApp) -> None:
        super().__init__()
        self._app = app

    def send(self, request: requests.PreparedRequest, stream: bool = False, timeout: object = None,
             verify: object = True, cert: object = None, proxies: Mapping[str, str] | None = None
             ) -> requests.Response:
        url = urlsplit(request.url or "")
        body = request.body
        stream_in: Any
        if body is None or isinstance(body, bytes | str):
            data = body.encode() if isinstance(body, str) else body or b""
            length, stream_in = len(data), io.BytesIO(data)
        else:  # a streamed body (an upload) with the length the client declared
            length, stream_in = int(request.headers.get("Content-Length", 0)), body
        environ: dict[str, Any] = {
            "REQUEST_METHOD": request.method, "PATH_INFO": unquote(url.path) or "/",
            "REQUEST_URI": url.path + (f"?{url.query}" if url.query else ""), "QUERY_STRING": url.query,
            "SERVER_NAME": url.hostname or "", "SERVER_PORT": str(url.port or 80), "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": LOOPBACK, "CONTENT_LENGTH": str(length), "wsgi.input": stream_in,
            "wsgi.url_scheme": url.scheme, "wsgi.errors": io.StringIO(), "wsgi.version": (1, 0),
            "wsgi.multithread": False, "wsgi.multiprocess": False, "wsgi.run_once": False,
        }
        for name, value in request.headers.items():
            key = name.upper().replace("-", "_")
            environ[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}"] = value
        started: list[tuple[str, list[tuple[str, str]]]] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: object = None) -> None:
            started.append((status, headers))

        reply = self._app(environ, start_response)
        chunks = iter(reply)
        first = [] if started else [next(chunks, b"")]  # PEP 3333: the status may come with the first chunk
        raw = ChunkReader(itertools.chain(first, chunks), reply)
        status, headers = started[-1]
        response = requests.Response()
        response.status_code = int(status.split(" ", 1)[0])
        response.reason = status.partition(" ")[2]
        response.headers = CaseInsensitiveDict(headers)
        response.encoding = get_encoding_from_headers(response.headers)
        response.raw = raw
        response.url = request.url or ""
        response.request = request
        return response

    def close(self) -> None:
        """Nothing to close: no connection is ever opened."""


def in_process_client(token: str = "") -> BeianClient:
    """A ``BeianClient`` whose requests the embedded gateway answers here, on the configured backend."""
    from ..client import BeianClient
    from ..server import build_server
    from .admin import PROJECT, load_api

    session = requests.Session()
    session.mount(IN_PROCESS_URL, WsgiTransport(build_server(load_api(), PROJECT / "build" / "site")))
    return BeianClient(IN_PROCESS_URL, token, session)
