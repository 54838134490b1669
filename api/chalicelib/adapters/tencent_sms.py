"""Text messages through Tencent Cloud SMS (短信), a domestic gateway, with its official SDK.

Mainland numbers need a registered signature (签名) and a registered template (模板) for each
text; the gateway sends the template, not free text. The rules' texts (the notice's own and the
provider's, such as the refusal) have no variables, so each is registered verbatim as a template
and the notifier sends the template registered for the text it is given. The SDK signs each
request (TC3-HMAC-SHA256) with the credentials it reads from TENCENTCLOUD_SECRET_ID and
TENCENTCLOUD_SECRET_KEY.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from tencentcloud.common.credential import Credential, EnvironmentVariableCredential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.sms.v20210111 import models
from tencentcloud.sms.v20210111.sms_client import SmsClient

from ..config import Settings
from ..ports import SentMessage, StorageError
from ..rules import load_rules
from .shared import check_phone, now_iso

TIMEOUT_SECONDS = 10


def rules_texts() -> dict[str, str]:
    """Every text of the rules file by id, as an SMS carries it: the notice's and the provider's."""
    rules = load_rules()
    return {text_id: rules.sms_text(text_id)
            for text_id in [text.id for text in rules.notice_texts] + [text.id for text in rules.provider_texts]}


def parse_templates(setting: str) -> dict[str, str]:
    """``"text_id=template_id,..."`` as a mapping; every text id must be one of the rules file's."""
    known = rules_texts()
    templates = {}
    for pair in filter(None, (part.strip() for part in setting.split(","))):
        text_id, separator, template_id = (item.strip() for item in pair.partition("="))
        if not separator or not template_id.isdigit() or text_id not in known:
            raise ValueError(f"BEIAN_SMS_TEMPLATES: {pair!r} is not text-id=template-id "
                             f"with a text id of the rules file")
        templates[text_id] = template_id
    return templates


class TencentSmsNotifier:
    def __init__(self, client: SmsClient, sdk_app_id: str, sign_name: str, templates: Mapping[str, str]) -> None:
        if not (sdk_app_id and sign_name and templates):
            raise ValueError("Tencent Cloud SMS needs BEIAN_SMS_SDK_APP_ID, BEIAN_SMS_SIGN_NAME and "
                             "BEIAN_SMS_TEMPLATES")
        self._client = client
        self._sdk_app_id = sdk_app_id
        self._sign_name = sign_name
        texts = rules_texts()
        self._template_of = {texts[text_id]: template_id for text_id, template_id in templates.items()}

    def send_sms(self, phone: str, text: str) -> SentMessage:
        check_phone(phone)
        template = self._template_of.get(text)
        if template is None:
            raise StorageError("no SMS template is registered for this text (BEIAN_SMS_TEMPLATES)")
        request = models.SendSmsRequest()
        request.PhoneNumberSet = [phone]
        request.SmsSdkAppId = self._sdk_app_id
        request.SignName = self._sign_name
        request.TemplateId = template
        request.TemplateParamSet = []
        try:
            reply = self._client.SendSms(request)
        except TencentCloudSDKException as error:  # the number is not in the message: logs may show it
            raise StorageError(f"Tencent Cloud SMS refused the request: {error.code}") from error
        (status,) = reply.SendStatusSet
        if status.Code != "Ok":
            raise StorageError(f"Tencent Cloud SMS did not send: {status.Code}")
        return SentMessage(status.SerialNo, phone, text, now_iso())


def build(settings: Settings, credential: Credential | None = None) -> TencentSmsNotifier:
    endpoint = urlsplit(settings.sms_endpoint)
    profile = ClientProfile(httpProfile=HttpProfile(protocol=endpoint.scheme, endpoint=endpoint.netloc,
                                                    reqTimeout=TIMEOUT_SECONDS))
    credential = credential or EnvironmentVariableCredential().get_credential()
    if credential is None:
        raise ValueError("Tencent Cloud SMS needs TENCENTCLOUD_SECRET_ID and TENCENTCLOUD_SECRET_KEY")
    client = SmsClient(credential, settings.sms_region, profile)
    return TencentSmsNotifier(client, settings.sms_sdk_app_id, settings.sms_sign_name,
                              parse_templates(settings.sms_templates))
