"""Each role's steps over the API: apply, status, upload, pre-verify, on-site, submit,
review, deadlines, retrieve. The server address and token come from options or the
environment (BEIAN_URL, BEIAN_TOKEN), so a token never has to appear in shell history."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
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
        err.print(f"[red]{error.status}[/red] {error.message}")
        for item in error.body.get("errors", []):
            err.print(f"  - {item.get('field')}: {item.get('message_zh')} / {item.get('message_en')}")
        if error.body.get("code") == "integrity":  # as the local commands do (beian/cli/__init__.py)
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
        table.add_row(f"{label.zh} / {label.en}", f"{deadline['due']}{provisional}  {status}")
    if filing["state"].startswith("returned") and filing.get("returns"):
        table.add_row("退回原因 / Returned because", "\n".join(filing["returns"][-1].get("reasons", [])))
    console.print(table)


def progress_bar() -> Progress:
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    return Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                    TransferSpeedColumn(), console=err)


def apply(file: Path = typer.Argument(..., exists=True, help="备案信息 JSON / The filing as JSON"),
          url: str = URL) -> None:
    """提交备案信息 / Submit a filing (prints its id and the applicant's token once)."""
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
    """查看备案状态与时限 / Show a filing's state and deadlines."""
    with reported():
        show_filing(client_for(url, token).call("GET", f"/filings/{filing_id}"))


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
    """预核验（5 个工作日内）/ Pre-verify within 5 working days; the SMS is sent."""
    action, params = (("pre_verify_pass", {"contact_verified_by": contact_verified_by}) if passed
                      else ("pre_verify_return", {"reasons": reason}))
    with reported():
        show_filing(client_for(url, token).act(filing_id, action, params))


def on_site(filing_id: str,
            photo: Path = typer.Option(..., exists=True, help="现场照片 / On-site photo"),
            curtain_marker: str = typer.Option(..., help="幕布标识 / Curtain marker text"),
            correction: list[str] = typer.Option([], help="field=说明 / field=note (repeatable)"),
            access_provider: str | None = typer.Option(None, help="接入服务提供者名称 / Access provider"),
            access_method: str | None = typer.Option(
                None, help="接入方式 / Access method: dedicated_line, colocation, virtual_host, cloud, other"),
            server_location: str | None = typer.Option(None, help="服务器放置地点 / Server location"),
            ip: list[str] = typer.Option([], help="网站IP地址 / Website IP address (repeatable)"),
            url: str = URL, token: str = TOKEN) -> None:
    """现场核验：照片、原件、核验单、协议、接入信息 / Record the on-site verification.

    Confirms every check of the verification form: run it only after checking the
    originals in person, as the notice requires (二.1(5)). The access information
    (二.(二)1(5)) is the provider's to enter: give what the filing does not hold yet.
    Nothing is uploaded unless the filing is in a state that allows the step and the
    access information is complete."""
    from chalicelib import workflow
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
        stamped, info = prepare_photo(photo.read_bytes(), curtain_marker=curtain_marker,
                                      now=datetime.now().astimezone())
        prepared = photo.with_name(f".{photo.stem}.beian-stamped.jpg")
        prepared.write_bytes(stamped)
        try:
            document = client.upload(filing_id, "face_photo", prepared,
                                     extra={"photo": info.to_dict()})
        finally:
            prepared.unlink(missing_ok=True)
        rules = load_rules()
        payload = filing["payload"]
        params = {
            "originals": {holder: payload[holder]["id_type"]
                          for holder in ("subject", "responsible_person") if holder in payload},
            "checks": {check.id: True for section in rules.verification_form.sections
                       for check in section.checks},
            "photo_document_id": document["id"],
            "agreement_accepted": True, "contract_clause_accepted": True,
            "corrections": [dict(zip(("field", "note"), item.split("=", 1), strict=False))
                            for item in correction],
            "access": access,
        }
        show_filing(client.act(filing_id, "record_on_site", params))


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
           url: str = URL, token: str = TOKEN) -> None:
    """审核（20 个工作日内）/ Review within 20 working days: filing number or return."""
    action, params = ("approve", {}) if approve else ("return_to_provider", {"reasons": reason})
    with reported():
        show_filing(client_for(url, token).act(filing_id, action, params))


def deadlines(within: int = typer.Option(3, help="天数 / Days ahead"), url: str = URL,
              token: str = TOKEN) -> None:
    """临近或已逾期的时限 / Filings near or past a deadline."""
    from chalicelib.rules import load_rules
    from rich.table import Table

    with reported():
        filings = client_for(url, token).call("GET", f"/deadlines?within_days={within}")["filings"]
    table = Table(title=f"{within} 天内到期或已逾期 / Due within {within} days or overdue")
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
             purpose: str = typer.Option(..., help="调阅目的（记入审计）/ Purpose (audited)"),
             out: Path = typer.Option(..., help="解密后保存到 / Write the decrypted file to"),
             url: str = URL, token: str = TOKEN) -> None:
    """调阅材料：说明目的，本机解密 / Retrieve a document for a stated purpose, decrypt here."""
    with reported():
        client_for(url, token).retrieve(filing_id, document_id, purpose, out)
    console.print(f"已解密 / decrypted: {out}")


def register(app: typer.Typer) -> None:
    for command in (apply, resubmit, status, upload, submit, review, deadlines, retrieve):
        app.command()(command)
    app.command("pre-verify")(pre_verify)
    app.command("on-site")(on_site)
