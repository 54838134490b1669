"""The submission page: a form generated from the rules, every field error at once, the token once.

Each subject type (and each nationality) is filled in from synthetic data and reaches the
API; a filing with several mistakes shows each message next to its field, in Chinese and
in English, keeps what was typed and succeeds once corrected; without the separate
consent nothing is created; refusals of the request itself say what to do; and the
form's content goes to the API and nowhere else.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from chalicelib.consent import PRIVACY_NOTICE_VERSION, consent_errors
from chalicelib.rules import load_rules
from chalicelib.validation import validate_filing

from beian.client import BeianClient
from beian.synthetic import filing_payload
from tests.browser.test_site import axe_violations

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("backend_env", ["embedded"], indirect=True)]

RULES = load_rules()
MESSAGE = {"zh": "message_zh", "en": "message_en"}


def open_form(page: Any, base: str, subject_type: str, lang: str = "zh") -> None:
    page.goto(f"{base}{'' if lang == 'zh' else '/en'}/submit/")
    page.wait_for_selector("#submit-prompt")
    page.check(f"input[name=subject_type][value={subject_type}]")
    page.wait_for_selector("#submit-fields [data-field]")


def typed_text(value: Any) -> str:
    return "\n".join(value) if isinstance(value, list) else str(value)


def fill(page: Any, payload: dict[str, Any]) -> None:
    """Type a payload into the generated controls (lists one per line), in the payload's order."""
    for section, values in payload.items():
        if section == "consent" or not isinstance(values, dict):
            continue
        for key, value in values.items():
            control = page.locator(f'[name="{section}.{key}"]')
            if control.evaluate("e => e.tagName") == "SELECT":
                control.select_option(value)
            else:
                control.fill(typed_text(value))
    if payload.get("consent", {}).get("sensitive_processing"):
        page.check("#consent")


def submit(page: Any) -> None:
    page.click("#submit-button")
    page.wait_for_selector("#submit-result, #submit-errors, #submit-problem")


def submitted(page: Any) -> tuple[str, str]:
    """The new filing's id and token, as the page shows them."""
    page.wait_for_selector("#submit-result")
    return page.inner_text("#new-filing-id"), page.inner_text("#new-filing-token")


def as_sent(payload: dict[str, Any]) -> dict[str, Any]:
    """The filing as the page sends it (without the consent): blank lines and values left out."""
    sent: dict[str, Any] = {}
    for section, values in payload.items():
        if section == "consent":
            continue
        if not isinstance(values, dict):
            sent[section] = values
            continue
        kept = {k: [i for i in v if i.strip()] if isinstance(v, list) else v for k, v in values.items()}
        sent[section] = {k: v for k, v in kept.items() if v}
    return sent


def expected_errors(payload: dict[str, Any], lang: str) -> dict[str, list[str]]:
    """Each field's messages for ``payload``, by the API's own validation, with line numbers."""
    by_field: dict[str, list[str]] = {}
    for error in validate_filing(as_sent(payload)).errors:
        path, _, index = error.field.partition("[")
        message = getattr(error, MESSAGE[lang])
        if index:
            section, key = path.split(".")
            lines = [n for n, item in enumerate(payload[section][key], 1) if item.strip()]
            line = lines[int(index.rstrip("]"))]
            message += f"（第 {line} 行）" if lang == "zh" else f" (line {line})"
        by_field.setdefault(path, []).append(message)
    return by_field


def shown_fields(page: Any) -> list[tuple[str, bool]]:
    fields: list[list[Any]] = page.evaluate(
        """() => [...document.querySelectorAll('#submit-fields [data-field]')].map(
             f => [f.dataset.field, f.dataset.required === 'true'])"""
    )
    return [(name, required) for name, required in fields]


def document_choices(page: Any, holder: str) -> list[str]:
    choices: list[str] = page.eval_on_selector_all(
        f'[name="{holder}.id_type"] option', "options => options.map(o => o.value).filter(Boolean)"
    )
    return choices


@pytest.mark.parametrize("subject_type", [t.id for t in RULES.subject_types])
def test_each_subject_type_fills_in_exactly_its_fields_and_reaches_the_api(
    page: Any, live_server: str, screenshot: Callable[[Any, str], Path], subject_type: str
) -> None:
    kind = RULES.subject_type(subject_type).kind
    holder = "subject" if kind == "individual" else "responsible_person"
    for nationality in (n.id for n in RULES.nationalities):
        payload = filing_payload(random.Random(f"{subject_type}-{nationality}"), subject_type, nationality=nationality)
        open_form(page, live_server, subject_type)
        provider_entered = {s.id for s in RULES.sections if s.entered_by == "provider"}
        required = {f.id for f in RULES.required_fields(subject_type) if f.section not in provider_entered}
        assert shown_fields(page) == [(f.id, f.id in required) for f in RULES.fields_for(subject_type)]
        fill(page, payload)
        allowed = [d for o in RULES.documents_for(subject_type, nationality) if o.holder == holder for d in o.ids()]
        assert document_choices(page, holder) == allowed
        submit(page)
        filing_id, token = submitted(page)
        assert token.startswith("bft_")
        assert page.inner_text("[data-deadline=pre_verification]")
        screenshot(page, f"submit-{subject_type}-{nationality}")

        filing = BeianClient(live_server, token).call("GET", f"/filings/{filing_id}")
        assert filing["state"] == "submitted" and filing["subject_type"] == subject_type
        assert filing["payload"][holder]["nationality"] == nationality
        assert filing["payload"]["contact"]["mobile"] == payload["contact"]["mobile"]
        assert filing["payload"]["website"]["domains"] == payload["website"]["domains"]
        assert filing["consent"]["privacy_notice_version"] == PRIVACY_NOTICE_VERSION
        due = filing["deadlines"]["pre_verification"]["due"]
        assert due in page.inner_text("[data-deadline=pre_verification]")

        # The upload page opens with the filing id filled in; the token is in no URL.
        assert page.get_attribute("#upload-link", "href") == f"../upload/?filing={filing_id}"
        page.click("#upload-link")
        page.wait_for_selector("#access-form")
        assert page.input_value("#filing-id") == filing_id
        assert page.input_value("#filing-token") == ""
        assert token not in page.url


MISTAKES = {
    ("subject", "id_number"): "91110000MA0000000X",
    ("responsible_person", "id_number"): "110101199001011230",
    ("contact", "mobile"): "1380013",
    ("contact", "email"): "not-an-email",
    ("website", "name"): "",
    ("website", "domains"): ["good-example.cn", "", "not a domain"],
    ("access", "ip_addresses"): ["999.1.2.3"],
}


def with_mistakes(payload: dict[str, Any]) -> dict[str, Any]:
    wrong = {section: dict(values) if isinstance(values, dict) else values for section, values in payload.items()}
    for (section, key), value in MISTAKES.items():
        wrong[section][key] = value
    return wrong


def check_errors_shown(page: Any, payload: dict[str, Any], lang: str) -> None:
    expected = expected_errors(payload, lang)
    assert set(expected) == {f"{section}.{key}" for section, key in MISTAKES}
    assert page.evaluate("document.activeElement.id") == "submit-errors"
    summary = page.inner_text("#submit-errors")
    assert page.locator("#submit-errors li a").count() == sum(len(m) for m in expected.values())
    for field, messages in expected.items():
        box = page.locator(f'[data-field="{field}"] .beian-field-error')
        assert box.is_visible()
        control = page.locator(f'[name="{field}"]')
        assert control.get_attribute("aria-invalid") == "true"
        assert box.get_attribute("id") in (control.get_attribute("aria-describedby") or "").split()
        for message in messages:
            assert message in box.inner_text() and message in summary
    # Nothing typed is lost.
    for (section, key), value in MISTAKES.items():
        assert page.input_value(f'[name="{section}.{key}"]') == typed_text(value)
    assert page.input_value('[name="contact.address"]') == payload["contact"]["address"]
    assert page.is_checked("#consent")


def test_every_mistake_is_shown_at_its_field_and_the_corrected_filing_goes_through(
    page: Any, live_server: str, screenshot: Callable[[Any, str], Path]
) -> None:
    seen_requests: list[tuple[str, str]] = []
    page.on("request", lambda request: seen_requests.append((request.url, request.post_data or "")))
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    good = filing_payload(random.Random(2010), "enterprise")
    wrong = with_mistakes(good)

    open_form(page, live_server, "enterprise")
    fill(page, wrong)
    submit(page)
    check_errors_shown(page, wrong, "zh")
    screenshot(page, "submit-errors-zh")

    # A summary link takes the applicant to the field.
    page.click('#submit-errors a[data-field="contact.mobile"]')
    assert page.evaluate("document.activeElement.name") == "contact.mobile"

    fill(page, good)
    submit(page)
    filing_id, token = submitted(page)
    assert BeianClient(live_server, token).call("GET", f"/filings/{filing_id}")["id"] == filing_id

    open_form(page, live_server, "enterprise", "en")
    fill(page, wrong)
    submit(page)
    check_errors_shown(page, wrong, "en")
    assert "请" not in page.inner_text("#submit-errors")
    screenshot(page, "submit-errors-en")

    # The form's content went to the API only, and was never logged.
    mobile = good["contact"]["mobile"]
    carrying = {url.split("?")[0] for url, body in seen_requests if mobile in body or mobile in url}
    assert carrying == {f"{live_server}/api/filings"}
    assert not any(mobile in text or token in text for text in console)


def test_without_the_separate_consent_nothing_is_created(
    page: Any, live_server: str, staff: Callable[..., BeianClient]
) -> None:
    open_form(page, live_server, "individual", "en")
    assert PRIVACY_NOTICE_VERSION in page.inner_text("#consent-group")
    assert page.get_attribute("#privacy-link", "href") == "../privacy/"
    assert not page.is_checked("#consent")
    fill(page, filing_payload(random.Random(7), "individual", consent=False))
    submit(page)
    expected = [e["message_en"] for e in consent_errors({"privacy_notice_version": PRIVACY_NOTICE_VERSION})]
    assert page.locator("#submit-errors li").count() == len(expected)
    for message in expected:
        assert message in page.inner_text("#consent-error")
    assert page.get_attribute("#consent", "aria-invalid") == "true"
    assert staff("verifier").call("GET", "/filings?state=submitted")["filings"] == []

    page.check("#consent")
    submit(page)
    submitted(page)
    assert len(staff("verifier").call("GET", "/filings?state=submitted")["filings"]) == 1


@pytest.mark.parametrize(
    ("reply", "says"),
    [
        (
            {"status": 429, "headers": {"Retry-After": "7"},
             "json": {"code": "rate_limited", "message_zh": "请求过于频繁，请 7 秒后重试", "message_en": "x"}},
            ["请求过于频繁，请 7 秒后重试", "按提示的时间之后再试"],
        ),
        ({"status": 429, "json": {"message": "Too Many Requests"}}, ["提交过于频繁", "一分钟后再试"]),
        ({"status": 413, "json": {"code": "too_large"}}, ["超过了服务器接受的大小", "删减"]),
        (None, ["网络连接中断", "检查网络连接"]),
    ],
)
def test_a_refused_request_says_what_to_do_and_keeps_the_form(
    page: Any, live_server: str, reply: dict[str, Any] | None, says: list[str]
) -> None:
    payload = filing_payload(random.Random(3), "enterprise")
    open_form(page, live_server, "enterprise")
    fill(page, payload)
    if reply is None:
        page.route("**/api/filings", lambda route: route.abort("connectionreset"))
    else:
        page.route("**/api/filings", lambda route: route.fulfill(**reply))
    submit(page)
    problem = page.inner_text("#submit-problem")
    for words in [*says, "您填写的内容都保留在本页"]:
        assert words in problem
    assert page.get_attribute("#submit-problem", "role") == "alert"
    assert page.evaluate("document.activeElement.id") == "submit-problem"
    assert page.input_value('[name="website.domains"]') == typed_text(payload["website"]["domains"])

    page.unroute("**/api/filings")
    submit(page)
    submitted(page)


@pytest.mark.parametrize(("lang", "scheme"), [("zh", "light"), ("en", "light"), ("zh", "dark")])
def test_the_page_passes_axe_with_errors_and_with_the_result(
    page: Any, live_server: str, screenshot: Callable[[Any, str], Path], lang: str, scheme: str
) -> None:
    page.emulate_media(color_scheme=scheme)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server)
    open_form(page, live_server, "individual", lang)
    assert page.get_attribute("html", "lang") == lang
    submit(page)  # nothing filled in: every required field has an error
    assert axe_violations(page) == []
    screenshot(page, f"submit-form-{lang}-{scheme}")

    fill(page, filing_payload(random.Random(5), "individual"))
    submit(page)
    _, token = submitted(page)
    assert page.evaluate("document.activeElement.id") == "submit-done"
    assert axe_violations(page) == []
    page.click("#copy-token")
    page.wait_for_selector("#token-copied:not(:empty)")
    assert page.evaluate("navigator.clipboard.readText()") == token
    screenshot(page, f"submit-result-{lang}-{scheme}")
