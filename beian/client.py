"""A small HTTP client for the beian API, used by the CLI and the end-to-end tests.

Documents are encrypted here, on the caller's machine, before upload; released keys
are unwrapped here too. The server sees ciphertext only.
"""

from __future__ import annotations

import base64
import functools
import io
import secrets
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urljoin

import requests
from chalicelib.filetypes import SNIFF_BYTES, sniff

import crypto

TIMEOUT = 60


def in_plaintext_bytes(progress: Callable[[int], None], plain: int, sealed: int) -> Callable[[int], None]:
    """``progress`` told in bytes of the file the caller chose while its ciphertext is sent."""
    sent = told = 0

    def advance(count: int) -> None:
        nonlocal sent, told
        sent += count
        now = sent * plain // max(sealed, 1)
        progress(now - told)
        told = now

    return advance


def _check_media_type(document: Mapping[str, Any], plain: BinaryIO) -> None:
    """The decrypted bytes are what the document was declared to be, before they get a name."""
    declared = document.get("media_type")
    if declared and sniff(plain.read(SNIFF_BYTES)) != declared:
        raise ApiError(422, {"field": "media_type",
                             "message_zh": "解密后的内容与申报的文件类型不符，未保存",
                             "message_en": f"The decrypted content is not the declared {declared}; not saved"})


class ApiError(Exception):
    """An error reply from the API, with its status and bilingual message."""

    def __init__(self, status: int, body: Mapping[str, Any]) -> None:
        self.status = status
        self.body = dict(body)
        super().__init__(f"{status} {body.get('message_en', '')}")

    @property
    def message(self) -> str:
        return f"{self.body.get('message_zh', '')} / {self.body.get('message_en', '')}"


class MultipartStream(io.RawIOBase):
    """multipart/form-data streamed from a file with a known length.

    S3's POST needs a Content-Length (no chunked encoding), and a document may be
    large: so the body is read lazily from the file, and its length is known.
    """

    def __init__(self, fields: Mapping[str, str], file: BinaryIO, size: int,
                 progress: Callable[[int], None] | None = None) -> None:
        self.boundary = secrets.token_hex(16)
        head = "".join(
            f"--{self.boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            for name, value in fields.items())
        head += (f"--{self.boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
                 "filename=\"document.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n")
        self._parts: Iterator[bytes] = self._generate(head.encode(), file,
                                                       f"\r\n--{self.boundary}--\r\n".encode())
        self._length = len(head.encode()) + size + len(f"\r\n--{self.boundary}--\r\n")
        self._pending = b""
        self._progress = progress
        self._sent = 0

    def _generate(self, head: bytes, file: BinaryIO, tail: bytes) -> Iterator[bytes]:
        yield head
        while chunk := file.read(64 * 1024):
            if self._progress:
                self._progress(len(chunk))
            yield chunk
        yield tail

    def __len__(self) -> int:
        return self._length

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        # requests sizes a body as len() - tell(); without this it would send it chunked,
        # which S3's POST refuses (411).
        return self._sent

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._pending) < size:
            part = next(self._parts, None)
            if part is None:
                break
            self._pending += part
        if size < 0:
            size = len(self._pending)
        out, self._pending = self._pending[:size], self._pending[size:]
        self._sent += len(out)
        return out


class BeianClient:
    def __init__(self, base_url: str, token: str = "", session: requests.Session | None = None):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self._http = session or requests.Session()

    def call(self, method: str, path: str, body: Mapping[str, Any] | None = None,
             headers: Mapping[str, str] | None = None) -> Any:
        headers = {**({"Authorization": f"Bearer {self.token}"} if self.token else {}), **(headers or {})}
        reply = self._http.request(method, f"{self.base_url}/api{path}", json=body,
                                   headers=headers, timeout=TIMEOUT)
        data = reply.json() if reply.content else {}
        if reply.status_code >= 400:
            raise ApiError(reply.status_code, data)
        return data

    def submit(self, filing: Mapping[str, Any], key: str = "") -> tuple[dict[str, Any], str]:
        """Submit once: a retry with the same ``key`` gets the same filing back (a fresh token)."""
        key = key or secrets.token_urlsafe(24)
        for attempt in range(2):
            try:
                reply = self.call("POST", "/filings", filing, headers={"Idempotency-Key": key})
                break
            except (requests.ConnectionError, ApiError) as error:
                if attempt or (isinstance(error, ApiError) and error.status != 503):
                    raise
        return reply["filing"], reply["token"]

    def act(self, filing_id: str, action: str, params: Mapping[str, Any] | None = None,
            expected_version: int | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"action": action, "params": dict(params or {})}
        if expected_version is not None:
            body["expected_version"] = expected_version
        result: dict[str, Any] = self.call("POST", f"/filings/{filing_id}/transitions", body)
        return result

    def upload(self, filing_id: str, document_type: str, source: Path,
               progress: Callable[[int], None] | None = None,
               extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Encrypt ``source`` to the archive key here, upload the ciphertext, have it checked.

        ``progress`` is told how much of ``source`` (not of the larger ciphertext) has gone."""
        size = source.stat().st_size
        with source.open("rb") as head:
            media_type = sniff(head.read(SNIFF_BYTES))  # None: the API says what it accepts
        slot = self.call("POST", f"/filings/{filing_id}/documents",
                         {"document_type": document_type, "size": size, "media_type": media_type,
                          **(extra or {})})
        envelope = slot["envelope"]
        recipients = [crypto.PublicKey.load(base64.b64decode(info["spki"]))
                      for info in envelope["recipients"]]
        with tempfile.TemporaryFile() as sealed:
            with source.open("rb") as plain:
                crypto.encrypt_stream(plain, sealed, recipients=recipients,
                                      context=crypto.Context(**envelope["context"]))
            sealed_size = sealed.tell()
            sealed.seek(0)
            self.post_to_slot(slot["upload"], sealed, sealed_size,
                              progress and in_plaintext_bytes(progress, size, sealed_size))
        document_id = slot["document"]["id"]
        result: dict[str, Any] = self.call(
            "POST", f"/filings/{filing_id}/documents/{document_id}/complete")
        return result

    def post_to_slot(self, upload: Mapping[str, Any], file: BinaryIO, size: int,
                     progress: Callable[[int], None] | None = None) -> None:
        body = MultipartStream(upload["fields"], file, size, progress)
        reply = self._http.post(urljoin(self.base_url + "/", upload["url"]), data=body, timeout=TIMEOUT, headers={
            "Content-Type": f"multipart/form-data; boundary={body.boundary}"})
        if reply.status_code >= 300:
            try:
                detail = reply.json()
            except ValueError:
                detail = {"message_zh": "上传失败", "message_en": reply.text[:300]}
            raise ApiError(reply.status_code, detail)

    def _release(self, filing_id: str, document_id: str, purpose: str, reference: str,
                 identity: crypto.PrivateKey) -> dict[str, Any]:
        release: dict[str, Any] = self.call(
            "POST", f"/filings/{filing_id}/documents/{document_id}/key-release",
            {"purpose": purpose, "reference": reference, "public_key": identity.public_key.dump_pem().decode()})
        return release

    def _download(self, url: str, target: Path) -> None:
        with self._http.get(urljoin(self.base_url + "/", url), stream=True, timeout=TIMEOUT) as reply:
            if reply.status_code != 200:
                raise ApiError(reply.status_code, {"message_zh": "下载失败", "message_en": "download failed"})
            with target.open("wb") as out:
                for chunk in reply.iter_content(64 * 1024):
                    out.write(chunk)

    def download_ciphertext(self, filing_id: str, document_id: str, purpose: str, reference: str,
                            target: Path) -> Path:
        """The document's envelope as stored (for an inspection bundle); the fetch is audited."""
        release = self._release(filing_id, document_id, purpose, reference, crypto.PrivateKey.generate())
        self._download(release["download_url"], target)
        return target

    def retrieve(self, filing_id: str, document_id: str, purpose: str, reference: str, target: Path) -> Path:
        """Ask for a key release stating a purpose (an id of the rules file's list) and a
        reference, download the ciphertext, decrypt it here."""
        identity = crypto.PrivateKey.generate()  # one-off: the released key opens one document
        release = self._release(filing_id, document_id, purpose, reference, identity)
        context = crypto.Context(**release["context"])
        with tempfile.TemporaryDirectory() as work:
            sealed = Path(work) / "document.beian"
            self._download(release["download_url"], sealed)
            with sealed.open("rb") as stream:
                header = crypto.read_header(stream)
            file_key = crypto.unwrap_released_file_key(
                base64.b64decode(release["wrapped_key"]), header=header, identity=identity,
                context=context)
            crypto.decrypt_file(sealed, target, context=context, file_key=file_key,
                                verify=functools.partial(_check_media_type, release["document"]))
        return target
