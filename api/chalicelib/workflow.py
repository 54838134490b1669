"""The filing's life as an explicit state machine (notice 二.(二)1 and 二.(二)2).

``TRANSITIONS`` is the one table of the workflow: for each action, the states it leaves
from and reaches, the roles that may take it, its citation, the deadlines it stops and
starts, the SMS the applicant receives, the evidence step (a method of ``steps.Steps``
that checks and records what the action needs), whether it takes a new payload, and
the words and command that document it. Nothing else moves a filing; the API, the CLI,
the demo seeder, the README's table of steps and the site's process page all read it.
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
REFUSED = "refused"

STATE_NAMES: dict[str, tuple[str, str]] = {
    SUBMITTED: ("已提交，待预核验", "submitted, awaiting pre-verification"),
    RETURNED_TO_APPLICANT: ("已退回，待修改后重新提交",
                            "returned: correct and resubmit"),
    PRE_VERIFIED: ("已通过预核验，待当面核验", "pre-verified, awaiting on-site verification"),
    VERIFIED_ON_SITE: ("已当面核验，待提交通信管理局", "verified on site, awaiting submission"),
    SUBMITTED_TO_PROVINCE: ("已提交通信管理局，待审核", "submitted to the province, under review"),
    RETURNED_BY_PROVINCE: ("通信管理局退回，待重新核验", "returned by the province for re-verification"),
    APPROVED: ("审核通过，已下发备案号", "approved, filing number issued"),
    CANCELLED: ("已注销", "cancelled"),
    REFUSED: ("不予受理", "refused (final)"),
}
# A filing in one of these states holds its domains: nobody else may file them (one website,
# one live filing). A refused or cancelled filing lets them go.
FINAL_STATES = (REFUSED, CANCELLED)
LIVE_STATES = tuple(state for state in STATE_NAMES if state not in FINAL_STATES)

# Deadlines; each names the rules entry that fixes its length.
PRE_VERIFICATION = "pre_verification"
ON_SITE = "on_site_verification"
REVERIFICATION = "reverification"
REVIEW = "provincial_review"
FOLLOW_UP = "follow_up"
# Who must meet each deadline: the access provider, or the province that reviews.
DEADLINE_SCOPE: dict[str, str] = {
    PRE_VERIFICATION: "provider", ON_SITE: "provider", REVERIFICATION: "provider",
    REVIEW: "province", FOLLOW_UP: "provider",
}


@dataclass(frozen=True)
class Transition:
    action: str
    sources: tuple[str, ...]
    target: str
    roles: tuple[str, ...]
    cite: str
    step: str  # the method of steps.Steps that checks and records this action's evidence
    summary: tuple[str, str]  # what happens, "headline：detail" (zh, en), for the README and the process page
    command: str = ""  # the `beian` command that takes it
    starts: str = ""  # the deadline started on arrival
    stops: tuple[str, ...] = ()  # the deadlines met on leaving
    sms: str = ""  # the rules' text sent to the applicant by SMS, if any
    new_payload: bool = False  # takes the applicant's corrected or changed filing

    @property
    def headline(self) -> tuple[str, str]:
        """The summary's words before its colon (zh, en): the arrow's label on the process chart."""
        return self.summary[0].split("：", 1)[0], self.summary[1].split(": ", 1)[0]


# Submission creates the filing (FilingService.submit): listed for the documentation and
# the deadline it starts, not an action on an existing filing.
SUBMIT = Transition(
    "submit", (), SUBMITTED, ("applicant",), "二.(二)1(1)", "",
    ("提交备案信息：一次列出全部字段错误；也可在本站“提交备案”页面办理",
     "submit the filing: every field error at once; also on the site's submit page"),
    "beian apply filing.json", starts=PRE_VERIFICATION, new_payload=True)

TRANSITIONS: dict[str, Transition] = {t.action: t for t in (
    Transition("pre_verify_pass", (SUBMITTED,), PRE_VERIFIED, ("verifier",), "二.(二)1(2)",
               "pre_verify_pass", ("预核验通过：核验联系方式，短信通知当面核验",
                                   "pre-verification passed: contact details checked, SMS sent"),
               "beian pre-verify ID --pass", starts=ON_SITE, stops=(PRE_VERIFICATION,),
               sms="sms_pre_verification_passed"),
    Transition("pre_verify_return", (SUBMITTED,), RETURNED_TO_APPLICANT, ("verifier",), "二.(二)1(2)",
               "pre_verify_return", ("预核验未通过：写明原因退回，短信通知",
                                     "pre-verification failed: returned with reasons, SMS sent"),
               "beian pre-verify ID --return --reason ...", stops=(PRE_VERIFICATION,),
               sms="sms_pre_verification_failed"),
    Transition("resubmit", (RETURNED_TO_APPLICANT,), SUBMITTED, ("applicant",), "二.(二)1(1)",
               "new_payload", ("修改后重新提交：也可在本站“备案进度”页面办理",
                               "correct and resubmit: also on the site's status page"),
               "beian resubmit ID filing.json", starts=PRE_VERIFICATION, new_payload=True),
    Transition("refuse", (SUBMITTED, PRE_VERIFIED, RETURNED_BY_PROVINCE), REFUSED, ("verifier",),
               "二.(二)1(5)", "refuse",
               ("不予受理：证件或域名所有者不一致等，写明原因；终局，短信通知",
                "refuse: documents or domain holder do not match (不予受理), reasons given; "
                "final, SMS sent"),
               "beian refuse ID --reason ...",
               stops=(PRE_VERIFICATION, ON_SITE, REVERIFICATION), sms="sms_refused"),
    Transition("record_on_site", (PRE_VERIFIED, RETURNED_BY_PROVINCE), VERIFIED_ON_SITE,
               ("verifier",), "二.(二)1(3)", "record_on_site",
               ("当面核验：逐项确认核验项、照片、原件、接入信息，现场更正留痕，生成核验单",
                "on-site verification: each check confirmed, photo, originals, access "
                "information, corrections recorded, form generated"),
               "beian on-site ID --photo p.jpg --curtain-marker ... --check ...",
               stops=(ON_SITE, REVERIFICATION)),
    Transition("submit_to_province", (VERIFIED_ON_SITE,), SUBMITTED_TO_PROVINCE, ("verifier",),
               "二.(二)1(7)", "submit_to_province",
               ("提交通信管理局：须已归档签字盖章的核验单、信息安全管理协议书和业务合同扫描件",
                "submit to the province: the signed and sealed form, security agreement and "
                "contract must be archived"),
               "beian submit ID", starts=REVIEW),
    Transition("approve", (SUBMITTED_TO_PROVINCE,), APPROVED, ("reviewer",), "二.(二)2", "approve",
               ("审核通过，下发备案号：须逐项记录重点信息审核、已调阅核验单、按比例抽查照片和证件",
                "approve and issue the number: key items checked one by one, the form opened, "
                "photo and scans spot-checked at the rules' rate"),
               "beian review ID --approve --checked ITEM=note ...", starts=FOLLOW_UP,
               stops=(REVIEW,)),
    Transition("return_to_provider", (SUBMITTED_TO_PROVINCE,), RETURNED_BY_PROVINCE,
               ("reviewer",), "二.(二)2", "province_return",
               ("审核不合格：退回接入服务单位重新核验", "not approved: returned to the provider "
                                                "to verify again"),
               "beian review ID --return --reason ...", starts=REVERIFICATION, stops=(REVIEW,)),
    Transition("send_back_to_applicant", (RETURNED_BY_PROVINCE,), RETURNED_TO_APPLICANT,
               ("verifier",), "二.(二)2", "send_back_to_applicant",
               ("交主办者修改：重新核验时由主办者修改后重新提交（此后重新预核验、当面核验），短信通知",
                "sent back to the applicant: to correct and resubmit during re-verification "
                "(then pre-verified and verified on site again), SMS sent"),
               "beian send-back ID --reason ...", stops=(REVERIFICATION,),
               sms="sms_returned_for_correction"),
    Transition("follow_up", (APPROVED,), APPROVED, ("verifier",), "三.(一)5", "follow_up",
               ("日常回访核查：记录结果，开始下一次回访时限",
                "routine follow-up: outcome recorded (回访), the next one starts"),
               "beian follow-up ID --outcome confirmed", starts=FOLLOW_UP, stops=(FOLLOW_UP,)),
    Transition("request_change", (APPROVED,), SUBMITTED, ("applicant",), "三.(一)5", "new_payload",
               ("变更备案信息：保留备案号，重新预核验和当面核验",
                "change the filing: the number is kept, verified again"),
               "beian change ID filing.json", starts=PRE_VERIFICATION, stops=(FOLLOW_UP,),
               new_payload=True),
    Transition("cancel", (APPROVED,), CANCELLED, ("applicant", "verifier"), "三.(一)5", "cancel",
               ("注销备案：写明原因，网站域名可由他人重新备案",
                "cancel the filing: reasons given; its domains may be filed again"),
               "beian cancel ID --reason ...", stops=(FOLLOW_UP,)),
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
        final = "（终局状态，不能再变更）" if state in FINAL_STATES else ""
        raise Conflict(
            f"备案当前状态为“{zh}”{final}，不能执行此操作（{action}）",
            f"The filing is {en} ({state}); {action} is not allowed from this state",
            field="state",
        )
    return found
