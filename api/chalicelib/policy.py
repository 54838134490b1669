"""Who may do what to which filing: the one place authorisation is decided.

Scope first: a record outside the caller's scope answers 404, exactly like a record
that does not exist, so nobody learns what another tenant holds. Then the role: a
record in scope that the role may not act on answers 403.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .auth import APPLICANT, Principal
from .errors import Forbidden, not_found

# Which roles may take each action on a filing in their scope.
ACTIONS: dict[str, frozenset[str]] = {
    "view": frozenset({APPLICANT, "verifier", "reviewer", "filing_center",
                       "compliance_officer", "inspector", "admin"}),
    "upload": frozenset({APPLICANT, "verifier"}),
    "list": frozenset({"verifier", "reviewer", "filing_center", "compliance_officer",
                       "inspector", "admin"}),
    "release_key": frozenset({"verifier", "reviewer", "compliance_officer", "inspector"}),
    "search": frozenset({"compliance_officer", "inspector", "filing_center"}),
    "hold": frozenset({"compliance_officer"}),
    "sweep": frozenset({"compliance_officer", "admin"}),
    "delete_document": frozenset({"compliance_officer", "admin"}),
    "audit_export": frozenset({"compliance_officer", "inspector", "admin"}),
    "users": frozenset({"admin"}),
    "findings": frozenset({"verifier", "reviewer", "filing_center", "compliance_officer",
                           "inspector", "admin"}),
    "connected_sites": frozenset({"compliance_officer", "admin"}),
}


def in_scope(principal: Principal, filing: Mapping[str, Any]) -> bool:
    role = principal.role
    if role == APPLICANT:
        return principal.filing == filing.get("id")
    if role in ("verifier", "compliance_officer", "admin"):
        return principal.provider == filing.get("provider")
    if role == "reviewer":
        return principal.province == filing.get("province")
    return role in ("filing_center", "inspector")


def allowed(principal: Principal, action: str) -> bool:
    return principal.role in ACTIONS.get(action, frozenset())


def require(principal: Principal, action: str, filing: Mapping[str, Any] | None = None,
            *, roles: tuple[str, ...] | None = None) -> None:
    """Raise NotFound outside the caller's scope, Forbidden for a role not allowed."""
    if filing is not None and not in_scope(principal, filing):
        raise not_found("备案", "Filing")
    permitted = principal.role in roles if roles is not None else allowed(principal, action)
    if not permitted:
        raise Forbidden(f"当前角色（{principal.role}）无权执行此操作",
                        f"The role {principal.role} may not do this ({action})")


def scope_filter(principal: Principal) -> tuple[str, str] | None:
    """The scope a listing is confined to for this caller (provider or province), or None
    for the roles that see every provider (the filing center, inspectors)."""
    if principal.role in ("verifier", "compliance_officer", "admin"):
        return ("provider", principal.provider)
    if principal.role == "reviewer":
        return ("province", principal.province)
    return None
