"""The notice's texts go to mainland numbers through a domestic gateway, Tencent Cloud SMS, by
its official SDK, chosen in the configuration: tested against a local stand-in of the service's
HTTP API that checks every signed request (never the internet)."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from chalicelib.adapters.tencent_sms import TencentSmsNotifier, build, parse_templates
from chalicelib.backend import build_backend
from chalicelib.config import Settings
from chalicelib.ports import StorageError
from chalicelib.rules import load_rules
from tencentcloud.common.credential import Credential

from beian.client import BeianClient
from beian.synthetic import filing_payload
from tests.api.tencent_sms_fake import FakeTencentSms, serve

SECRET_ID, SECRET_KEY = "AKIDbeianTest0000000000000000000000", "beian-test-secret-key-0000000000"
PASSED, FAILED, REFUSED = "sms_pre_verification_passed", "sms_pre_verification_failed", "sms_refused"
TEMPLATE_IDS = {PASSED: "1000001", FAILED: "1000002", REFUSED: "1000003"}  # the last is the provider's text
PHONE = "+8613800138000"


@pytest.fixture
def gateway() -> FakeTencentSms:
    texts = load_rules()
    return FakeTencentSms(SECRET_ID, SECRET_KEY, "1400000001", "示例接入服务单位",
                          {template: texts.sms_text(text) for text, template in TEMPLATE_IDS.items()})


@pytest.fixture
def endpoint(gateway: FakeTencentSms) -> Iterator[str]:
    yield from serve(gateway)


def settings_for(endpoint: str, gateway: FakeTencentSms) -> Settings:
    templates = ",".join(f"{text}={template}" for text, template in TEMPLATE_IDS.items())
    return dataclasses.replace(Settings.from_env({}), sms_gateway="tencent", sms_endpoint=endpoint,
                               sms_sdk_app_id=gateway.sdk_app_id, sms_sign_name=gateway.sign_name,
                               sms_templates=templates)


def notifier(endpoint: str, gateway: FakeTencentSms, secret_key: str = SECRET_KEY) -> TencentSmsNotifier:
    return build(settings_for(endpoint, gateway), Credential(SECRET_ID, secret_key))


def test_the_rules_text_goes_out_as_its_registered_template_under_a_verified_signature(
        endpoint: str, gateway: FakeTencentSms) -> None:
    text = load_rules().notice_text(PASSED).text
    sent = notifier(endpoint, gateway).send_sms(PHONE, text)
    assert gateway.refused == []
    (delivered,) = gateway.delivered
    assert delivered == {"phone": PHONE, "text": f"【{gateway.sign_name}】{text}", "serial": sent.message_id}
    assert (sent.phone, sent.text) == (PHONE, text)


def test_a_request_signed_with_the_wrong_key_is_refused_and_says_so(endpoint: str, gateway: FakeTencentSms) -> None:
    with pytest.raises(StorageError, match=r"AuthFailure\.SignatureFailure"):
        notifier(endpoint, gateway, secret_key="not-the-key").send_sms(PHONE, load_rules().notice_text(PASSED).text)
    assert gateway.delivered == [] and gateway.refused == ["AuthFailure.SignatureFailure"]


def test_an_unregistered_signature_or_text_sends_nothing(endpoint: str, gateway: FakeTencentSms) -> None:
    with pytest.raises(StorageError, match="no SMS template"):
        notifier(endpoint, gateway).send_sms(PHONE, "任何未登记模板的文字")
    settings = dataclasses.replace(settings_for(endpoint, gateway), sms_sign_name="未登记的签名")
    with pytest.raises(StorageError, match="SignatureIncorrectOrUnapproved"):
        build(settings, Credential(SECRET_ID, SECRET_KEY)).send_sms(PHONE, load_rules().notice_text(FAILED).text)
    assert gateway.delivered == []


@pytest.mark.parametrize("setting", ["sms_pre_verification_passed", "nonexistent_text=1000001",
                                     "sms_pre_verification_passed=abc"])
def test_a_template_setting_that_names_no_text_of_the_rules_is_refused(setting: str) -> None:
    with pytest.raises(ValueError, match="BEIAN_SMS_TEMPLATES"):
        parse_templates(setting)


def test_the_gateway_needs_its_credentials_and_settings(monkeypatch: pytest.MonkeyPatch, endpoint: str,
                                                        gateway: FakeTencentSms) -> None:
    monkeypatch.delenv("TENCENTCLOUD_SECRET_ID", raising=False)
    with pytest.raises(ValueError, match="TENCENTCLOUD_SECRET_ID"):
        build(settings_for(endpoint, gateway))
    with pytest.raises(ValueError, match="BEIAN_SMS_SIGN_NAME"):
        build(dataclasses.replace(settings_for(endpoint, gateway), sms_sign_name=""), Credential(SECRET_ID, SECRET_KEY))
    with pytest.raises(ValueError, match="BEIAN_SMS_GATEWAY"):
        Settings.from_env({"BEIAN_SMS_GATEWAY": "aliyun"})


def test_pre_verification_texts_the_applicant_through_the_configured_gateway(
        backend_env: dict[str, str], endpoint: str, gateway: FakeTencentSms, monkeypatch: pytest.MonkeyPatch,
        anonymous: BeianClient, staff: Callable[..., BeianClient], rng: random.Random) -> None:
    """Chosen in the configuration, on either backend: the API's transition sends through it."""
    chosen: dict[str, Any] = {"BEIAN_SMS_GATEWAY": "tencent", "BEIAN_SMS_ENDPOINT": endpoint,
                              "BEIAN_SMS_SDK_APP_ID": gateway.sdk_app_id, "BEIAN_SMS_SIGN_NAME": gateway.sign_name,
                              "BEIAN_SMS_TEMPLATES": ",".join(f"{k}={v}" for k, v in TEMPLATE_IDS.items()),
                              "TENCENTCLOUD_SECRET_ID": SECRET_ID, "TENCENTCLOUD_SECRET_KEY": SECRET_KEY}
    for name, value in chosen.items():
        monkeypatch.setenv(name, value)
    assert isinstance(build_backend(Settings.from_env()).notifier, TencentSmsNotifier)
    payload = filing_payload(rng, "enterprise")
    filing, _ = anonymous.submit(payload)
    staff("verifier").act(filing["id"], "pre_verify_pass", {"contact_verified_by": "phone"})
    (delivered,) = gateway.delivered
    assert delivered["text"].endswith(load_rules().notice_text(PASSED).text)
    assert delivered["phone"] == f"+86{payload['contact']['mobile']}"
    staff("verifier").act(filing["id"], "refuse", {"reasons": ["域名所有者与主办者不一致"]})
    assert gateway.delivered[-1]["text"] == f"【{gateway.sign_name}】{load_rules().provider_text(REFUSED).text.zh}"
