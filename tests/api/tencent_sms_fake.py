"""A stand-in for Tencent Cloud SMS's HTTP API (SendSms, version 2021-01-11) on 127.0.0.1.

It checks each request as the service documents it: the TC3-HMAC-SHA256 signature recomputed
from the body, the content type and the host with the secret key it knows, a timestamp within
five minutes, and a registered application, signature and template. It answers as the service
does (HTTP 200 with ``Response.Error`` or ``Response.SendStatusSet``) and keeps what it sent.
Written from the service's API documentation, independently of the SDK's signing code.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SERVICE = "sms"
VERSION = "2021-01-11"
_AUTHORIZATION = re.compile(r"TC3-HMAC-SHA256 Credential=(?P<id>[^/]+)/(?P<date>\d{4}-\d{2}-\d{2})/"
                            r"(?P<service>[a-z]+)/tc3_request, SignedHeaders=(?P<signed>[a-z;-]+), "
                            r"Signature=(?P<signature>[0-9a-f]{64})")


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def tc3_signature(secret_key: str, *, date: str, timestamp: str, content_type: str, host: str, body: bytes) -> str:
    canonical = "\n".join(["POST", "/", "", f"content-type:{content_type.strip().lower()}\nhost:{host.strip().lower()}",
                           "", "content-type;host", hashlib.sha256(body).hexdigest()])
    scope = f"{date}/{SERVICE}/tc3_request"
    to_sign = "\n".join(["TC3-HMAC-SHA256", timestamp, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = _hmac(_hmac(_hmac(f"TC3{secret_key}".encode(), date), SERVICE), "tc3_request")
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


@dataclass
class FakeTencentSms:
    secret_id: str
    secret_key: str
    sdk_app_id: str
    sign_name: str
    templates: dict[str, str]  # registered template id -> its approved text
    delivered: list[dict[str, str]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    def check(self, headers: Any, body: bytes) -> tuple[str, str] | None:
        """The (code, message) of the error the service would answer, or None."""
        match = _AUTHORIZATION.fullmatch(headers.get("Authorization", ""))
        if not match or match["signed"] != "content-type;host" or match["service"] != SERVICE:
            return "AuthFailure.SignatureFailure", "malformed Authorization"
        if match["id"] != self.secret_id:
            return "AuthFailure.SecretIdNotFound", "unknown SecretId"
        timestamp = headers.get("X-TC-Timestamp", "0")
        if abs(time.time() - int(timestamp)) > 300:
            return "AuthFailure.SignatureExpire", "timestamp too far from now"
        if datetime.fromtimestamp(int(timestamp), UTC).strftime("%Y-%m-%d") != match["date"]:
            return "AuthFailure.SignatureFailure", "credential date is not the timestamp's"
        wanted = tc3_signature(self.secret_key, date=match["date"], timestamp=timestamp,
                               content_type=headers.get("Content-Type", ""), host=headers.get("Host", ""), body=body)
        if not hmac.compare_digest(wanted, match["signature"]):
            return "AuthFailure.SignatureFailure", "signature does not match"
        if (headers.get("X-TC-Action"), headers.get("X-TC-Version")) != ("SendSms", VERSION):
            return "InvalidAction", "only SendSms 2021-01-11 here"
        return None

    def send(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("SmsSdkAppId") != self.sdk_app_id:
            return {"Error": {"Code": "FailedOperation.SmsSdkAppIdVerifyFail", "Message": "unknown SmsSdkAppId"}}
        statuses = []
        for phone in params.get("PhoneNumberSet", []):
            code = "Ok"
            if params.get("SignName") != self.sign_name:
                code = "FailedOperation.SignatureIncorrectOrUnapproved"
            elif params.get("TemplateId") not in self.templates:
                code = "FailedOperation.TemplateIncorrectOrUnapproved"
            serial = f"2433:{uuid.uuid4().int % 10**18}" if code == "Ok" else ""
            if serial:
                text = self.templates[params["TemplateId"]]
                self.delivered.append({"phone": phone, "text": f"【{self.sign_name}】{text}", "serial": serial})
            statuses.append({"SerialNo": serial, "PhoneNumber": phone, "Fee": int(bool(serial)), "SessionContext": "",
                             "Code": code, "Message": "send success" if serial else code, "IsoCode": "CN"})
        return {"SendStatusSet": statuses}

    def handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                problem = fake.check(self.headers, body)
                if problem is None:
                    response = fake.send(json.loads(body))
                else:
                    fake.refused.append(problem[0])
                    response = {"Error": {"Code": problem[0], "Message": problem[1]}}
                data = json.dumps({"Response": {**response, "RequestId": str(uuid.uuid4())}}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


def serve(fake: FakeTencentSms) -> Iterator[str]:
    """Run ``fake`` on a free loopback port; yields its endpoint URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), fake.handler())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
