"""Who is calling: staff JWTs and applicants' per-filing capability tokens.

Staff tokens are EdDSA JWTs from the local issuer (``beian users add``) or, in
production, from a JWKS issuer such as a Cognito user pool. An applicant holds a
capability token for one filing, ``bft_<filing id>.<secret>``; only its SHA-256
is stored. Both are checked by the same code locally and on AWS (field notes:
only a built-in Chalice authorizer really runs under ``chalice local``).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import secrets
import time
import unicodedata
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .config import Settings
from .errors import Invalid, Unauthorized
from .integrity import RecordTampered
from .vault import Vault

APPLICANT = "applicant"
STAFF_ROLES = (
    "verifier", "reviewer", "filing_center", "compliance_officer", "inspector", "admin",
)
ROLES = (APPLICANT, *STAFF_ROLES)
FILING_TOKEN_PREFIX = "bft_"  # noqa: S105 (a prefix, not a secret)
SIGNING_KEY = "jwt-signing-key"
DEFAULT_TTL_SECONDS = 12 * 3600
MAX_TTL_SECONDS = 31 * 24 * 3600  # a month; a lost token is revoked, but should not live on unnoticed
MAX_SUBJECT_CHARS = 100
LOCAL_ALGORITHM, JWKS_ALGORITHM = "EdDSA", "RS256"


@dataclass(frozen=True)
class Principal:
    subject: str
    role: str
    provider: str = ""
    province: str = ""
    filing: str = ""  # set for applicants: the one filing their token opens

    def to_context(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_context(cls, context: dict[str, Any]) -> Principal:
        return cls(**{name: str(context.get(name, "")) for name in cls.__dataclass_fields__})


def new_filing_token(filing_id: str) -> tuple[str, str]:
    """A fresh capability token for ``filing_id`` and the hash to store instead of it."""
    token = f"{FILING_TOKEN_PREFIX}{filing_id}.{secrets.token_urlsafe(32)}"
    return token, token_hash(token)


def staff_name(raw: object) -> str:
    """A staff member's name as tokens carry it, the same for issuing, revoking and looking up:
    Unicode NFKC (full-width letters, compatibility forms), trimmed, inner spaces collapsed.
    Without it a token issued to ``"name "`` could not be revoked as ``"name"``."""
    return " ".join(unicodedata.normalize("NFKC", str(raw)).split())


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


log = logging.getLogger("beian.auth")


def invalid_token() -> Unauthorized:
    return Unauthorized("访问令牌缺失、无效或已过期，请核对令牌（工作人员可重新获取）",
                        "The access token is missing, invalid or expired; check it (staff can get a new one)")


class Authenticator:
    def __init__(self, settings: Settings, vault: Vault,
                 filing_token_hash: Callable[[str], str | None],
                 revoked: Callable[[str, int], bool]) -> None:
        self._settings = settings
        self._vault = vault
        self._filing_token_hash = filing_token_hash
        self._revoked = revoked  # (subject, issued at) -> whether an admin revoked it since

    def _signing_key(self) -> Ed25519PrivateKey:
        return self._vault.ed25519_key(SIGNING_KEY)

    def prepare(self) -> None:
        """Load (or create) the local issuer's signing key now."""
        self._signing_key()

    def issue(self, subject: str, role: str, *, provider: str = "", province: str = "",
              ttl_seconds: int = DEFAULT_TTL_SECONDS) -> str:
        """A staff token from the local issuer."""
        if role not in STAFF_ROLES:
            raise Invalid(f"未知角色：{role}", f"Unknown role: {role}", field="role")
        subject = staff_name(subject)
        if not subject or len(subject) > MAX_SUBJECT_CHARS:
            # Every action of the token is audited under this name: it must name someone.
            raise Invalid(f"请填写姓名或工号（{MAX_SUBJECT_CHARS} 字以内）",
                          f"Give a name or staff id (up to {MAX_SUBJECT_CHARS} characters)", field="name")
        if not 0 < ttl_seconds <= MAX_TTL_SECONDS:
            raise Invalid(f"有效期须大于 0 且不超过 {MAX_TTL_SECONDS // 3600} 小时",
                          f"The validity must be above 0 and at most {MAX_TTL_SECONDS // 3600} hours", field="hours")
        now = int(time.time())
        claims = {
            "sub": subject, "role": role, "provider": provider, "province": province,
            "iss": self._settings.jwt_issuer, "aud": self._settings.jwt_audience,
            "iat": now, "exp": now + ttl_seconds,
        }
        return jwt.encode(claims, self._signing_key(), algorithm=LOCAL_ALGORITHM)

    def _is_revoked(self, subject: str, issued_at: int) -> bool:
        """Revoked, or unknown because the revocation record fails its integrity check: a
        token is refused rather than trusted on a record someone may have edited."""
        try:
            return self._revoked(subject, issued_at)
        except RecordTampered as error:
            log.error("%s: staff tokens of that record refused", error)
            return True

    def authenticate(self, authorization: str) -> Principal:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise invalid_token()
        if token.startswith(FILING_TOKEN_PREFIX):
            return self._applicant(token)
        return self._staff(token)

    def _applicant(self, token: str) -> Principal:
        filing_id = token[len(FILING_TOKEN_PREFIX):].partition(".")[0]
        stored = self._filing_token_hash(filing_id) if filing_id else None
        if stored is None or not hmac.compare_digest(stored, token_hash(token)):
            raise invalid_token()
        return Principal(subject=f"applicant:{filing_id}", role=APPLICANT, filing=filing_id)

    def _staff(self, token: str) -> Principal:
        # One algorithm per issuer: the local issuer signs EdDSA, a JWKS issuer (Cognito) RS256.
        # A token naming any other is refused before a key is even chosen for it.
        algorithm = JWKS_ALGORITHM if self._settings.jwks_url else LOCAL_ALGORITHM
        try:
            if jwt.get_unverified_header(token).get("alg") != algorithm:
                raise invalid_token()
            key: Any = (_jwks_client(self._settings.jwks_url).get_signing_key_from_jwt(token).key
                        if self._settings.jwks_url else self._signing_key().public_key())
            claims = jwt.decode(
                token, key, algorithms=[algorithm],
                audience=self._settings.jwt_audience, issuer=self._settings.jwt_issuer,
                options={"require": ["exp", "sub", "iss", "aud"]},
            )
            issued_at = int(claims.get("iat", 0))
        except (jwt.PyJWTError, ValueError, TypeError) as error:
            raise invalid_token() from error
        role = str(claims.get("role") or claims.get("custom:role") or "")
        subject = staff_name(claims["sub"])
        if role not in STAFF_ROLES or not subject or self._is_revoked(subject, issued_at):
            raise invalid_token()
        return Principal(
            subject=subject, role=role,
            provider=str(claims.get("provider") or claims.get("custom:provider") or ""),
            province=str(claims.get("province") or claims.get("custom:province") or ""),
        )


@functools.cache
def _jwks_client(url: str) -> jwt.PyJWKClient:
    return jwt.PyJWKClient(url, cache_keys=True)
