"""The filing's life as an explicit state machine (notice 二.1 and 二.2).

A transition names the states it leaves from, the state it reaches, the roles that
may take it, and the deadline it starts or ends. Nothing else moves a filing.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import Conflict, Invalid

SUBMITTED = "submitted"
RETURNED_TO_APPLICANT = "returned_to_applicant"
PRE_VERIFIED = "pre_verified"
VERIFIED_ON_SITE = "verified_on_site"
SUBMITTED_TO_PROVINCE = "submitted_to_province"
RETURNED_BY_PROVINCE = "returned_by_province"
APPROVED = "approved"
CANCELLED = "cancelled"

STATE_NAMES: dict[str, tuple[str, str]] = {
    SUBMITTED: ("已提交，待预核验", "submitted, awaiting pre-verification"),
    RETURNED_TO_APPLICANT: ("未通过预核验，待修改后重新提交",
                            "returned: correct and resubmit"),
    PRE_VERIFIED: ("已通过预核验，待当面核验", "pre-verified, awaiting on-site verification"),
    VERIFIED_ON_SITE: ("已当面核验，待提交通信管理局", "verified on site, awaiting submission"),
    SUBMITTED_TO_PROVINCE: ("已提交通信管理局，待审核", "submitted to the province, under review"),
    RETURNED_BY_PROVINCE: ("通信管理局退回，待重新核验", "returned by the province for re-verification"),
    APPROVED: ("审核通过，已下发备案号", "approved, filing number issued"),
    CANCELLED: ("已注销", "cancelled"),
}

# Deadlines a state starts; each names the rules entry that fixes its length.
PRE_VERIFICATION = "pre_verification"
ON_SITE = "on_site_verification"
REVIEW = "provincial_review"
FOLLOW_UP = "follow_up"
# Who must meet each deadline: the access provider, or the province that reviews.
DEADLINE_SCOPE: dict[str, str] = {
    PRE_VERIFICATION: "provider", ON_SITE: "provider", REVIEW: "province", FOLLOW_UP: "provider",
}
PENDING_DEADLINE: dict[str, str] = {
    SUBMITTED: PRE_VERIFICATION,
    PRE_VERIFIED: ON_SITE,
    RETURNED_BY_PROVINCE: ON_SITE,
    SUBMITTED_TO_PROVINCE: REVIEW,
    APPROVED: FOLLOW_UP,
}


@dataclass(frozen=True)
class Transition:
    action: str
    sources: tuple[str, ...]
    target: str
    roles: tuple[str, ...]
    cite: str
    notice: str = ""  # the rules' notice text sent to the applicant by SMS, if any


TRANSITIONS: dict[str, Transition] = {t.action: t for t in (
    Transition("pre_verify_pass", (SUBMITTED,), PRE_VERIFIED, ("verifier",), "二.(二)1(2)",
               notice="sms_pre_verification_passed"),
    Transition("pre_verify_return", (SUBMITTED,), RETURNED_TO_APPLICANT, ("verifier",), "二.(二)1(2)",
               notice="sms_pre_verification_failed"),
    Transition("resubmit", (RETURNED_TO_APPLICANT,), SUBMITTED, ("applicant",), "二.(二)1(1)"),
    Transition("record_on_site", (PRE_VERIFIED, RETURNED_BY_PROVINCE), VERIFIED_ON_SITE,
               ("verifier",), "二.(二)1(3)"),
    Transition("submit_to_province", (VERIFIED_ON_SITE,), SUBMITTED_TO_PROVINCE, ("verifier",),
               "二.(二)1(7)"),
    Transition("approve", (SUBMITTED_TO_PROVINCE,), APPROVED, ("reviewer",), "二.(二)2"),
    Transition("return_to_provider", (SUBMITTED_TO_PROVINCE,), RETURNED_BY_PROVINCE,
               ("reviewer",), "二.(二)2"),
    Transition("request_change", (APPROVED,), SUBMITTED, ("applicant",), "三.(一)5"),
    Transition("cancel", (APPROVED,), CANCELLED, ("applicant", "verifier"), "三.(一)5"),
)}


def roles_for(action: str) -> tuple[str, ...]:
    """The roles that may take ``action``. For an unknown action, every role that takes any
    action: the role check then passes for any workflow role, and ``transition`` refuses the
    action itself (400, field ``action``), so an unknown name is reported as such, not as a 403."""
    found = TRANSITIONS.get(action)
    return found.roles if found else tuple(role for t in TRANSITIONS.values() for role in t.roles)


def transition(action: str, state: str) -> Transition:
    """The transition ``action`` from ``state``; Conflict (409) names the state if not allowed."""
    found = TRANSITIONS.get(action)
    if found is None:  # a mistake in the request, not a state it conflicts with
        raise Invalid(f"未知的操作：{action}", f"Unknown action: {action}", field="action")
    if state not in found.sources:
        zh, en = STATE_NAMES[state]
        raise Conflict(
            f"备案当前状态为“{zh}”，不能执行此操作（{action}）",
            f"The filing is {en} ({state}); {action} is not allowed from this state",
            field="state",
        )
    return found
