"""Each role's steps over the API: apply, status, upload, pre-verify, on-site, submit,
review, deadlines, retrieve. The server address and token come from options or the
environment (BEIAN_URL, BEIAN_TOKEN), so a token never has to appear in shell history."""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from chalicelib.errors import DomainError, Invalid
from rich.console import Console

if TYPE_CHECKING:  # the HTTP client (requests) and the rules load in the commands that use them
    from rich.progress import Progress

    from ..client import BeianClient

console = Console()
err = Console(stderr=True)
DEFAULT_PORT = 8000  # where the role commands look for the server unless told (BEIAN_URL)
URL = typer.Option(f"http://127.0.0.1:{DEFAULT_PORT}", envvar="BEIAN_URL", help="服务地址 / Server URL")
TOKEN = typer.Option("", envvar="BEIAN_TOKEN", help="访问令牌 / Access token")


def _purpose_option() -> Any:
    """--purpose: an id of the rules file's list of purposes, each listed with its labels."""
    from chalicelib.rules import load_rules

    purposes = load_rules().stated_purposes

    def listed(value: str) -> str:
        if value not in purposes.ids():
            raise typer.BadParameter(f"须为以下之一 / must be one of: {', '.join(purposes.ids())}")
        return value

    labels = "; ".join(f"{p.id} = {p.label.zh} / {p.label.en}" for p in purposes.purposes)
    return typer.Option(..., metavar="[" + "|".join(purposes.ids()) + "]", callback=listed,
                        help=f"调阅目的（记入审计）/ Purpose (audited): {labels}")


def _reference_option() -> Any:
    from chalicelib.rules import load_rules

    least = load_rules().stated_purposes.reference_min_chars
    return typer.Option(..., help=f"调阅依据：案件编号、函件或工单（至少 {least} 个字，记入审计）/ "
                                  f"Reference: a case number, letter or ticket (at least {least} characters; audited)")


PURPOSE = _purpose_option()
REFERENCE = _reference_option()


@contextmanager
def reported() -> Iterator[None]:
    """Print API and domain errors as one bilingual line (every field error listed)."""
    try:
        yield
    except Exception as error:
        _report(error)


def _report(error: Exception) -> None:
    """Exit after printing ``error`` if it is an API, domain or connection error; else re-raise."""
    import requests

    from ..client import ApiError

    if isinstance(error, ApiError):
        field = error.body.get("field")
        err.print(f"[red]{error.status}[/red] {error.message}" + (f" ({field})" if field else ""))
        for item in error.body.get("errors", []):
            err.print(f"  - {item.get('field')}: {item.get('message_zh')} / {item.get('message_en')}")
        if error.body.get("code") == "integrity":  # as the local commands do (beian/cli.py)
            err.print(f"  - {error.body.get('record')}")
            raise typer.Exit(3) from None
        raise typer.Exit(1) from None
    if isinstance(error, DomainError):
        err.print(f"[red]{error.message_zh}[/red] / {error.message_en}")
        for item in error.details:
            err.print(f"  - {item.get('field')}: {item.get('message_zh')} / {item.get('message_en')}")
        raise typer.Exit(1) from None
    if isinstance(error, requests.ConnectionError):
        url = error.request.url if error.request is not None else None
        where = url.decode() if isinstance(url, bytes) else url or "the server"
        err.print(f"[red]无法连接 {where}[/red]：服务是否在运行？可用 --url 或环境变量 BEIAN_URL 指定地址 / "
                  f"Cannot reach {where}: is the server running? Give its address with --url or BEIAN_URL")
        raise typer.Exit(1) from None
    raise error


def client_for(url: str, token: str = "") -> BeianClient:
    from ..client import BeianClient

    return BeianClient(url, token)


def show_filing(filing: dict[str, Any]) -> None:
    from chalicelib.rules import load_rules
    from rich.table import Table

    table = Table(title=f"备案 / Filing {filing['id']}")
    table.add_column("项目 / Item")
    table.add_column("内容 / Value")
    table.add_row("状态 / State", f"{filing['state_name']['zh']} / {filing['state_name']['en']}")
    if filing.get("filing_number"):
        table.add_row("备案号 / Filing number", filing["filing_number"])
    for name, deadline in filing.get("deadlines", {}).items():
        label = load_rules().deadline(name).label
        status = ("已完成 met" if deadline.get("met_at") else
                  "[red]已逾期 overdue[/red]" if deadline.get("overdue") else "进行中 pending")
        provisional = "（暂定 provisional）" if deadline.get("provisional") else ""
        notes = [] if deadline.get("met_at") else deadline.get("notes", [])
        table.add_row(f"{label.zh} / {label.en}", "\n".join(
            [f"{deadline['due']}{provisional}  {status}", *(f"{note['zh']} / {note['en']}" for note in notes)]))
    if filing["state"].startswith("returned") and filing.get("returns"):
        table.add_row("退回原因 / Returned because", "\n".join(filing["returns"][-1].get("reasons", [])))
    if filing.get("refusal"):
        table.add_row("不予受理原因 / Refused because", "\n".join(filing["refusal"].get("reasons", [])))
    if filing.get("domain_conflicts"):
        table.add_row("[red]域名冲突 / Domain conflict[/red]",
                      "其他有效备案也含有：/ Also in another live filing: " + ", ".join(filing["domain_conflicts"]))
    console.print(table)


def show_details(filing: dict[str, Any], documents: list[dict[str, Any]]) -> None:
    """What staff see beyond the state: the filing's data (ID numbers masked, as the API
    gives them) and its documents with their ids."""
    from chalicelib.rules import load_rules
    from rich.table import Table

    rules = load_rules()
    payload = filing.get("payload") or {}
    table = Table(title=f"备案信息 / Details {filing['id']}")
    table.add_column("项目 / Item")
    table.add_column("内容 / Value")
    for field in rules.fields:
        value = (payload.get(field.section) or {}).get(field.key)
        if value not in (None, "", []):
            shown = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
            table.add_row(f"{field.label.zh} / {field.label.en}", shown)
    console.print(table)
    show_documents(documents)


def show_documents(documents: list[dict[str, Any]]) -> None:
    from chalicelib.rules import load_rules
    from rich.table import Table

    rules = load_rules()
    names = {**{item.id: item.name for item in rules.documents}, **{item.id: item.name for item in rules.evidence}}
    table = Table(title="材料 / Documents")
    for column in ("材料编号 / Id", "类型 / Type", "状态 / State", "收妥时间 / Received"):
        table.add_column(column)
    for document in documents:
        name = names.get(document["document_type"])
        label = f"{name.zh} / {name.en}" if name else document["document_type"]
        table.add_row(document["id"], label, document["state"], document.get("received_at") or "")
    console.print(table)


def progress_bar() -> Progress:
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    return Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                    TransferSpeedColumn(), console=err)


def apply(file: Path | None = typer.Argument(None, exists=True, help="备案信息 JSON / The filing as JSON"),
          example: str | None = typer.Option(
              None, help="打印一份该主办者类型（如 enterprise）的有效示例备案，不提交 / Print a valid example "
                         "filing of this subject type (such as enterprise), without submitting"),
          url: str = URL) -> None:
    """提交备案信息 / Submit a filing (prints its id and the applicant's token once)."""
    if example is not None:
        from ..synthetic import SUBJECT_TYPES, filing_payload

        if example not in SUBJECT_TYPES:
            raise typer.BadParameter(f"{example}: 可选 / one of {', '.join(SUBJECT_TYPES)}", param_hint="--example")
        rng = random.Random()  # noqa: S311 -- a synthetic example, never a real person's data
        typer.echo(json.dumps(filing_payload(rng, example), ensure_ascii=False, indent=2))
        return
    if file is None:
        raise typer.BadParameter("请给出备案信息 JSON 文件 / Give the filing's JSON file", param_hint="FILE")
    with reported():
        filing, token = client_for(url).submit(read_json(file))
    show_filing(filing)
    console.print("申请人访问令牌（请妥善保存，只显示一次）/ Applicant token (keep it; shown once):")
    typer.echo(token)


def read_json(file: Path) -> Any:
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        where = f"（第 {error.lineno} 行）/ (line {error.lineno})" if isinstance(error, json.JSONDecodeError) else ""
        raise Invalid(f"{file} 不是有效的 UTF-8 JSON 文件{where}", f"{file} is not a valid UTF-8 JSON file {where}",
                      field="file") from None


def resubmit(filing_id: str,
             file: Path = typer.Argument(..., exists=True, help="修改后的备案信息 JSON / The corrected filing"),
             url: str = URL, token: str = TOKEN) -> None:
    """修改后重新提交被退回的备案 / Resubmit a filing returned to you, corrected (with its token)."""
    with reported():
        show_filing(client_for(url, token).act(filing_id, "resubmit", {"filing": read_json(file)}))


def status(filing_id: str, url: str = URL, token: str = TOKEN) -> None:
    """查看备案状态与时限；工作人员另见备案信息（证件号码已遮盖）和材料 / Show a filing's state and
    deadlines; staff also see its details (ID numbers masked) and its documents with their ids."""
    client = client_for(url, token)
    with reported():
        filing = client.call("GET", f"/filings/{filing_id}")
        show_filing(filing)
        if "domain_conflicts" in filing:  # only staff are shown these
            show_details(filing, client.call("GET", f"/filings/{filing_id}/documents")["documents"])


def documents(filing_id: str, url: str = URL, token: str = TOKEN) -> None:
    """列出备案的材料及其编号 / List a filing's documents with their ids."""
    with reported():
        show_documents(client_for(url, token).call("GET", f"/filings/{filing_id}/documents")["documents"])


def upload(filing_id: str, document_type: str, file: Path = typer.Argument(..., exists=True),
           url: str = URL, token: str = TOKEN) -> None:
    """在本机加密后上传材料 / Encrypt a document here and upload the ciphertext."""
    with reported(), progress_bar() as bar:
        task = bar.add_task("加密上传 / upload", total=file.stat().st_size)
        document = client_for(url, token).upload(filing_id, document_type, file,
                                                  progress=lambda n: bar.advance(task, n))
    console.print(f"已收妥 / received: {document['id']} ({document['document_type']})")


def pre_verify(filing_id: str,
               passed: bool = typer.Option(..., "--pass/--return", help="通过或退回 / Pass or return"),
               contact_verified_by: str = typer.Option("phone", help="phone | email | sms"),
               reason: list[str] = typer.Option([], help="退回原因 / Reason (repeatable)"),
               url: str = URL, token: str = TOKEN) -> None:
    """预核验（在规则所定的工作日内）/ Pre-verify within the rules' working days; the SMS is sent."""
    action, params = (("pre_verify_pass", {"contact_verified_by": contact_verified_by}) if passed
                      else ("pre_verify_return", {"reasons": reason}))
    with reported():
        show_filing(client_for(url, token).act(filing_id, action, params))


def on_site(filing_id: str,
            photo: Path = typer.Option(..., exists=True, help="现场照片 / On-site photo"),
            curtain_marker: str = typer.Option(..., help="幕布标识 / Curtain marker text"),
            check: list[str] = typer.Option(
                [], help="已逐项核验的核验项编号（可重复；不给出时逐项询问）/ A checklist item you confirmed "
                         "(repeatable; asked one by one when none is given and a terminal is attached)"),
            correction: list[str] = typer.Option([], help="field=说明 / field=note (repeatable)"),
            correct: list[str] = typer.Option(
                [], help="现场更正：field=新值 / Correct a field on site: field=new value (repeatable)"),
            access_provider: str | None = typer.Option(None, help="接入服务提供者名称 / Access provider"),
            access_method: str | None = typer.Option(
                None, help="接入方式 / Access method: dedicated_line, colocation, virtual_host, cloud, other"),
            server_location: str | None = typer.Option(None, help="服务器放置地点 / Server location"),
            ip: list[str] = typer.Option([], help="网站IP地址 / Website IP address (repeatable)"),
            url: str = URL, token: str = TOKEN) -> None:
    """现场核验：照片、原件、核验单、协议、接入信息 / Record the on-site verification.

    Each item of the form's checklist is confirmed by you (--check, or answered one by one):
    nothing is ticked for you. The copies item needs the identity scans received first. The
    access information
    (二.(二)1(5)) is the provider's to enter: give what the filing does not hold yet.
    Nothing is uploaded unless the filing is in a state that allows the step and the
    access information is complete."""
    from chalicelib import workflow
    from chalicelib.checklist import checklist_errors, declared_documents
    from chalicelib.photo import prepare_photo
    from chalicelib.rules import load_rules

    client = client_for(url, token)
    with reported():
        filing = client.call("GET", f"/filings/{filing_id}")
        workflow.transition("record_on_site", str(filing["state"]))
        given = {"provider_name": access_provider, "access_method": access_method,
                 "server_location": server_location, "ip_addresses": ip or None}
        access = {**(filing["payload"].get("access") or {}),
                  **{name: value for name, value in given.items() if value is not None}}
        check_access(access, str(filing.get("subject_type") or ""))
        confirmed = check or confirm_checks(filing)
        listed = client.call("GET", f"/filings/{filing_id}/documents")["documents"]
        received = {document["document_type"] for document in listed if document["state"] == "received"}
        _raise_unconfirmed(checklist_errors(load_rules(), declared_documents(filing["payload"]), received,
                                            dict.fromkeys(confirmed, True)))
        stamped, info = prepare_photo(photo.read_bytes(), curtain_marker=curtain_marker,
                                      now=datetime.now(UTC))
        prepared = photo.with_name(f".{photo.stem}.beian-stamped.jpg")
        prepared.write_bytes(stamped)
        try:
            document = client.upload(filing_id, "face_photo", prepared,
                                     extra={"photo": info.to_dict()})
        finally:
            prepared.unlink(missing_ok=True)
        payload = filing["payload"]
        params = {
            "originals": {holder: payload[holder]["id_type"]
                          for holder in ("subject", "responsible_person") if holder in payload},
            "checks": dict.fromkeys(confirmed, True),
            "photo_document_id": document["id"],
            "agreement_accepted": True, "contract_clause_accepted": True,
            "corrections": [dict(zip(("field", "note"), item.split("=", 1), strict=False))
                            for item in correction]
            + [dict(zip(("field", "value"), item.split("=", 1), strict=True)) for item in correct if "=" in item],
            "access": access,
        }
        show_filing(client.act(filing_id, "record_on_site", params))


def _raise_unconfirmed(errors: list[dict[str, str]]) -> None:
    """As the API would answer, before the photo is stored for good."""
    if errors:
        raise Invalid("核验项未全部确认：请用 --check 逐项确认，复印件须先上传",
                      "Not every check is confirmed: confirm each with --check; copies must be uploaded "
                      "first", details=errors)


def confirm_checks(filing: dict[str, Any]) -> list[str]:
    """Ask the verifier about each item of the form's checklist, one by one."""
    if not sys.stdin.isatty():
        return []  # the API then lists every item not confirmed, and nothing is stored
    from chalicelib.rules import load_rules

    rules = load_rules()
    payload = filing["payload"]
    holder = payload.get("responsible_person") or payload.get("subject") or {}
    document = rules.document(str(holder.get("id_type"))).name if holder.get("id_type") else None
    return [check.id for section in rules.verification_form.sections for check in section.checks
            if typer.confirm(f"{(check.named(document) if document else check.name).zh} / "
                             f"{(check.named(document) if document else check.name).en}？", default=False)]


def check_access(access: dict[str, Any], subject_type: str) -> None:
    """Every access field as the API will check it, before the photo is stored for good."""
    from chalicelib.validation import validate_field

    errors = [{"field": f"access.{name}", "message_zh": error.message_zh, "message_en": error.message_en}
              for name in ("provider_name", "access_method", "server_location", "ip_addresses")
              for error in validate_field(f"access.{name}", access.get(name),
                                          subject_type=subject_type or None).errors]
    if errors:
        raise Invalid("接入信息不完整或有误：请用 --access-provider、--access-method、--server-location、--ip 补充",
                      "The access information is incomplete or wrong: give --access-provider, --access-method, "
                      "--server-location, --ip", details=errors)


def submit(filing_id: str, url: str = URL, token: str = TOKEN) -> None:
    """提交通信管理局审核 / Submit to the province for review."""
    with reported():
        show_filing(client_for(url, token).act(filing_id, "submit_to_province"))


def review(filing_id: str,
           approve: bool = typer.Option(..., "--approve/--return", help="通过或退回 / Approve or return"),
           reason: list[str] = typer.Option([], help="退回原因 / Reason (repeatable)"),
           checked: list[str] = typer.Option(
               [], help="重点信息审核记录：ITEM=审核了什么（可重复）/ What you checked per key item: "
                        "ITEM=note (repeatable)"),
           url: str = URL, token: str = TOKEN) -> None:
    """审核（在规则所定的工作日内）/ Review within the rules' working days: filing number or return.

    Approval needs, per key item, what was checked (--checked), the submitted verification
    form opened first (beian retrieve), and for a filing the spot-check picks, the photo and
    the identity scans opened too; the reply names what is missing."""
    notes = dict(item.split("=", 1) for item in checked if "=" in item)
    action, params = (("approve", {"checked": notes}) if approve
                      else ("return_to_provider", {"reasons": reason}))
    with reported():
        show_filing(client_for(url, token).act(filing_id, action, params))


def with_reasons(action: str, doc: str) -> Any:
    """A command that takes one step with the reasons given."""
    def command(filing_id: str, reason: list[str] = typer.Option([], help="原因（可重复）/ Reason (repeatable)"),
                url: str = URL, token: str = TOKEN) -> None:
        with reported():
            show_filing(client_for(url, token).act(filing_id, action, {"reasons": reason}))
    command.__doc__ = doc
    return command


def follow_up(filing_id: str,
              outcome: str = typer.Option(..., help="confirmed | changed | unreachable"),
              note: str = typer.Option("", help="说明 / Note"), url: str = URL, token: str = TOKEN) -> None:
    """记录日常回访核查 / Record the routine follow-up of an approved filing."""
    with reported():
        show_filing(client_for(url, token).act(filing_id, "follow_up", {"outcome": outcome, "note": note}))


def change(filing_id: str,
           file: Path = typer.Argument(..., exists=True, help="变更后的备案信息 JSON / The changed filing"),
           url: str = URL, token: str = TOKEN) -> None:
    """变更已备案的信息（保留备案号，重新核验）/ Change an approved filing (it is verified again)."""
    with reported():
        show_filing(client_for(url, token).act(filing_id, "request_change", {"filing": read_json(file)}))


def deadlines(within: int = typer.Option(3, help="工作日数 / Working days ahead"), url: str = URL,
              token: str = TOKEN) -> None:
    """临近或已逾期的时限（按工作日计）/ Filings near or past a deadline, counted in working days."""
    from chalicelib.rules import load_rules
    from rich.table import Table

    with reported():
        filings = client_for(url, token).call("GET", f"/deadlines?within_days={within}")["filings"]
    table = Table(title=f"{within} 个工作日内到期或已逾期 / Due within {within} working days or overdue")
    for column in ("备案 Filing", "状态 State", "时限 Deadline", "到期 Due", ""):
        table.add_column(column)
    for filing in filings:
        for name, deadline in filing["deadlines"].items():
            if not deadline["met_at"]:
                label = load_rules().deadline(name).label
                table.add_row(filing["id"], f"{filing['state_name']['zh']} / {filing['state_name']['en']}",
                              f"{label.zh} / {label.en}", deadline["due"],
                              "[red]逾期 overdue[/red]" if deadline["overdue"] else "")
    console.print(table)


def retrieve(filing_id: str, document_id: str,
             purpose: str = PURPOSE, reference: str = REFERENCE,
             out: Path = typer.Option(..., help="解密后保存到 / Write the decrypted file to"),
             url: str = URL, token: str = TOKEN) -> None:
    """调阅材料：说明目的和依据，本机解密 / Retrieve a document for a stated purpose, decrypt here."""
    with reported():
        client_for(url, token).retrieve(filing_id, document_id, purpose, reference, out)
    console.print(f"已解密 / decrypted: {out}")


def _within(name: str, what: tuple[str, str], then: tuple[str, str]) -> str:
    """A step's help with its time limit read from the rules: what, within N working days, then."""
    from chalicelib.rules import load_rules

    amount = load_rules().deadline(name).amount
    return f"{what[0]}（{amount} 个工作日内）{then[0]} / {what[1]} within {amount} working days{then[1]}"


def register(app: typer.Typer) -> None:
    for command in (apply, resubmit, status, documents, upload, submit, deadlines, retrieve, change):
        app.command()(command)
    app.command(help=_within("provincial_review", ("审核", "Review"),
                             ("：下发备案号或退回", ": filing number or return")))(review)
    app.command("pre-verify", help=_within("pre_verification", ("预核验", "Pre-verify"),
                                           ("，并发送短信", "; the SMS is sent")))(pre_verify)
    app.command("on-site")(on_site)
    app.command("follow-up")(follow_up)
    app.command("refuse")(with_reasons(
        "refuse", "不予受理（终局）/ Refuse the filing (不予受理, final), with reasons."))
    app.command("send-back")(with_reasons(
        "send_back_to_applicant", "通信管理局退回后交主办者修改 / Send a filing the province returned to the "
                                  "applicant to correct and resubmit."))
    app.command("cancel")(with_reasons("cancel", "注销备案 / Cancel an approved filing, with reasons."))
