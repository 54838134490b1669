"""``beian register ...``: the filing department, province inspections and training, on the
local archive (三.(一)1, 三.(二)2, 三.(三)4-5, 四). Every change is audited under the system
account that runs it."""

from __future__ import annotations

from collections.abc import Mapping

import typer
from chalicelib.deadlines import china_day
from chalicelib.errors import DomainError
from chalicelib.oversight.periods import Quarter
from chalicelib.oversight.registers import (
    OUTCOMES,
    Attendee,
    InspectionCounts,
    Verifier,
    attendance_by_provider,
    department,
    inspection_summary,
    overdue_assessments,
    penalty_articles,
    record_inspection,
    record_training,
    set_department,
    trainings,
)
from rich.console import Console

from . import admin
from .admin import cli_operator, fail
from .reports import audited, table, utc_now

console = Console()
registers = typer.Typer(help="登记册：备案部门、省局检查与处罚、培训 / Registers: filing department, "
                             "province inspections and penalties, training", no_args_is_help=True)
departments = typer.Typer(help="备案核验部门（三.(一)1）/ The filing department", no_args_is_help=True)
inspections = typer.Typer(help="省局检查与处罚（三.(三)4、四）/ Inspections and penalties", no_args_is_help=True)
training = typer.Typer(help="备案业务培训（三.(三)5）/ Filing training", no_args_is_help=True)


def _operator() -> str:
    return cli_operator(admin.services().settings).subject


@departments.command("set")
def department_set(
    name: str = typer.Option(..., "--department", help="部门名称 / Department"),
    leader: str = typer.Option(..., help="负责的单位领导 / The unit leader responsible"),
    leader_title: str = typer.Option(..., help="领导职务 / The leader's title"),
    verifier: list[str] = typer.Option(..., help="核验人员，可写 姓名@年度考核日期 / Verifier, name[@YYYY-MM-DD "
                                                 "of the yearly assessment]; repeat for each"),
    provider: str = typer.Option("", help="接入服务单位（默认本单位）/ Provider (default: this one)"),
) -> None:
    """登记本单位的备案核验部门、负责领导和核验人员 / Record the filing department, its leader and verifiers."""
    services = admin.services()
    now = utc_now()
    chosen = provider or services.settings.provider
    try:
        staff = [Verifier.parse(text, china_day(now)) for text in verifier]
        set_department(services.backend.records, chosen, name, leader, leader_title, staff, now, _operator())
    except DomainError as error:
        fail(error)
    audited(services, "register.department", f"provider:{chosen}", verifiers=len(staff))
    console.print(f"已登记 / Recorded: {chosen} {name}")


@departments.command("show")
def department_show(provider: str = typer.Option("", help="接入服务单位 / Provider (default: this one)")) -> None:
    """查看备案核验部门登记 / Show the filing department register."""
    services = admin.services()
    chosen = provider or services.settings.provider
    body = department(services.backend.records, chosen)
    if body is None:
        console.print(f"[red]{chosen} 尚未登记备案核验部门[/red] / No filing department recorded for {chosen}")
        raise typer.Exit(2)
    leader = body["leader"]
    console.print(f"{body['department']} — 负责领导 / leader: {leader['name']}（{leader['title']}）")
    console.print(table("核验人员 / Verifiers", ["姓名 / Name", "年度考核 / Yearly assessment"],
                        ([v["name"], v["assessed_on"] or "—"] for v in body["verifiers"])))
    overdue = overdue_assessments(body, china_day(utc_now()))
    if overdue:
        console.print(f"[yellow]一年内未考核 / Not assessed within a year[/yellow]: {', '.join(overdue)}")


@inspections.command("add")
def inspection_add(
    province: str = typer.Option(..., help="省份简称，如 京 / Province character"),
    provider: str = typer.Option(..., help="被检查的接入服务单位 / Provider inspected"),
    date: str = typer.Option(..., "--date", help="检查日期 YYYY-MM-DD / Inspected on"),
    findings: str = typer.Option(..., help="检查发现 / What was found"),
    outcome: str = typer.Option(..., help="结果 / Outcome: " + ", ".join(OUTCOMES)),
    article: str | None = typer.Option(None, help="依据条款 / Article: " + "、".join(penalty_articles())),
    decision: str | None = typer.Option(None, help="处罚或责令改正决定（文号与内容）/ The decision"),
    correct_by: str | None = typer.Option(None, help="限期改正日期 YYYY-MM-DD / Correct by"),
) -> None:
    """登记省通信管理局的检查结果与处罚 / Record a province's inspection and any penalty."""
    services = admin.services()
    try:
        record_inspection(services.backend.records, province=province, provider=provider, inspected_on=date,
                          findings=findings, outcome=outcome, article=article, decision=decision,
                          correct_by=correct_by, now=utc_now(), by=_operator())
    except DomainError as error:
        fail(error)
    audited(services, "register.inspection", f"provider:{provider}", province=province, outcome=outcome)
    zh, en = OUTCOMES[outcome]
    console.print(f"已登记 / Recorded: {province} {provider} {date} {zh} / {en}")


def _quarter(text: str) -> Quarter:
    """The quarter as typed, or the bilingual error and exit status 2."""
    try:
        return Quarter.parse(text)
    except DomainError as error:
        fail(error)


def _counts_table(title: str, first: str, counts: Mapping[str, InspectionCounts]) -> object:
    return table(title, [first, "检查 / Inspections", "发现问题 / With issues", "责令改正 / Orders",
                         "处罚 / Penalties"],
                 ([name, c.inspections, c.with_issues, c.orders, c.penalties] for name, c in counts.items()))


@inspections.command("summary")
def inspection_summary_command(quarter: str = typer.Option(..., help="季度 YYYYQn / Quarter")) -> None:
    """按季度汇总检查与处罚（分省、分接入服务单位）/ The quarter's inspections and penalties."""
    services = admin.services()
    summary = inspection_summary(services.backend.records, _quarter(quarter))
    audited(services, "register.inspection_summary", f"quarter:{summary.quarter}")
    console.print(_counts_table(f"{summary.quarter} 按省 / By province", "省份 / Province", summary.by_province))
    console.print(_counts_table(f"{summary.quarter} 按接入服务单位 / By provider", "接入服务单位 / Provider",
                                summary.by_provider))
    console.print(table("依据条款 / By article", ["条款 / Article", "件数 / Count"], summary.by_article.items()))


@training.command("add")
def training_add(
    date: str = typer.Option(..., "--date", help="培训日期 YYYY-MM-DD / Held on"),
    title: str = typer.Option(..., help="培训内容 / Subject"),
    organiser: str = typer.Option(..., help="组织单位 / Organiser"),
    attendee: list[str] = typer.Option(..., help="参训人员 姓名@接入服务单位 / Attendee name@provider; repeat"),
) -> None:
    """登记一次备案业务培训及参训人员 / Record a training session and who attended."""
    services = admin.services()
    try:
        people = [Attendee.parse(text) for text in attendee]
        record_training(services.backend.records, held_on=date, title=title, organiser=organiser,
                        attendees=people, now=utc_now(), by=_operator())
    except DomainError as error:
        fail(error)
    audited(services, "register.training", f"training:{date}", attendees=len(people))
    console.print(f"已登记 / Recorded: {date} {title}（{len(people)} 人 / attendees）")


@training.command("list")
def training_list(quarter: str = typer.Option(..., help="季度 YYYYQn / Quarter")) -> None:
    """列出某季度的培训及各单位参训人数 / The quarter's sessions and attendance per provider."""
    sessions = trainings(admin.services().backend.records, _quarter(quarter))
    console.print(table("培训 / Training", ["日期 / Date", "内容 / Subject", "组织 / Organiser", "人数 / People"],
                        ([s["held_on"], s["title"], s["organiser"], len(s["attendees"])] for s in sessions)))
    console.print(table("参训人数 / Attendance", ["接入服务单位 / Provider", "人数 / People"],
                        attendance_by_provider(sessions).items()))


def register(app: typer.Typer) -> None:
    registers.add_typer(departments, name="department")
    registers.add_typer(inspections, name="inspection")
    registers.add_typer(training, name="training")
    app.add_typer(registers, name="register")
