"""Settings read from the environment when first needed, never at import time.

Chalice applies a stage's environment variables per request, so reading them at
import would see the wrong values (field notes, Chalice).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

BackendName = Literal["embedded", "aws"]
SMS_GATEWAYS = frozenset({"", "sns", "tencent"})


@dataclass(frozen=True)
class Settings:
    backend: BackendName
    data_dir: Path
    provider: str
    province: str
    public_url: str
    max_document_bytes: int
    upload_slot_seconds: int
    max_documents_per_filing: int
    anonymous_rate: float  # requests per second per client on the anonymous routes
    anonymous_burst: int
    general_rate: float  # requests per second per client address and per token on every other route
    general_burst: int
    idempotency_seconds: int  # how long a submission's Idempotency-Key answers a retry
    jwt_issuer: str
    jwt_audience: str
    jwks_url: str  # production: a JWKS issuer such as a Cognito user pool; empty: the local issuer
    # AWS backend only
    table: str
    archive_bucket: str
    staging_bucket: str
    kms_key_id: str
    sms_sender_id: str
    region: str
    # Text messages: "" is the backend's own (the outbox on one machine, SNS on AWS); "tencent"
    # is Tencent Cloud SMS with a registered signature and one template per text. Its
    # credentials stay out of the settings: the SDK reads TENCENTCLOUD_SECRET_ID and _KEY.
    sms_gateway: str = ""
    sms_sign_name: str = ""
    sms_sdk_app_id: str = ""
    sms_templates: str = ""  # text id=template id, comma separated
    sms_region: str = "ap-guangzhou"
    sms_endpoint: str = "https://sms.tencentcloudapi.com"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ) if env is None else env
        backend = env.get("BEIAN_BACKEND", "embedded")
        if backend not in ("embedded", "aws"):
            raise ValueError(f"BEIAN_BACKEND must be 'embedded' or 'aws', not {backend!r}")
        return cls(
            backend=backend,  # type: ignore[arg-type]
            data_dir=Path(env.get("BEIAN_DATA_DIR", "var")).resolve(),
            provider=env.get("BEIAN_PROVIDER", "demo-idc"),
            province=env.get("BEIAN_PROVINCE", "京"),
            public_url=env.get("BEIAN_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/"),
            max_document_bytes=int(env.get("BEIAN_MAX_DOCUMENT_BYTES", str(20 * 1024 * 1024))),
            upload_slot_seconds=int(env.get("BEIAN_UPLOAD_SLOT_SECONDS", "900")),
            max_documents_per_filing=int(env.get("BEIAN_MAX_DOCUMENTS_PER_FILING", "30")),
            anonymous_rate=float(env.get("BEIAN_ANONYMOUS_RATE", "10")),
            anonymous_burst=int(env.get("BEIAN_ANONYMOUS_BURST", "60")),
            general_rate=float(env.get("BEIAN_RATE", "100")),
            general_burst=int(env.get("BEIAN_BURST", "500")),
            idempotency_seconds=int(env.get("BEIAN_IDEMPOTENCY_SECONDS", str(24 * 3600))),
            jwt_issuer=env.get("BEIAN_JWT_ISSUER", "beian-local"),
            jwt_audience=env.get("BEIAN_JWT_AUDIENCE", "beian"),
            jwks_url=env.get("BEIAN_JWKS_URL", ""),
            table=env.get("BEIAN_TABLE", "beian"),
            archive_bucket=env.get("BEIAN_ARCHIVE_BUCKET", "beian-archive"),
            staging_bucket=env.get("BEIAN_STAGING_BUCKET", "beian-staging"),
            kms_key_id=env.get("BEIAN_KMS_KEY_ID", "alias/beian-archive"),
            sms_sender_id=env.get("BEIAN_SMS_SENDER_ID", "BEIAN"),
            region=env.get("AWS_REGION", env.get("AWS_DEFAULT_REGION", "cn-north-1")),
            sms_gateway=_sms_gateway(env.get("BEIAN_SMS_GATEWAY", "")),
            sms_sign_name=env.get("BEIAN_SMS_SIGN_NAME", ""),
            sms_sdk_app_id=env.get("BEIAN_SMS_SDK_APP_ID", ""),
            sms_templates=env.get("BEIAN_SMS_TEMPLATES", ""),
            sms_region=env.get("BEIAN_SMS_REGION", "ap-guangzhou"),
            sms_endpoint=env.get("BEIAN_SMS_ENDPOINT", "https://sms.tencentcloudapi.com"),
        )


def _sms_gateway(name: str) -> str:
    """"" and "sns" both mean the backend's own notifier (SNS is the AWS backend's)."""
    if name not in SMS_GATEWAYS:
        raise ValueError(f"BEIAN_SMS_GATEWAY must be one of {sorted(SMS_GATEWAYS)}, not {name!r}")
    return "" if name == "sns" else name
