"""The filing center's reports and the demo data, on the local archive (not over HTTP).

``beian report sample|quarterly|check-ids|findings|record-check`` and ``beian demo seed``.
Reports are written under ``<data dir>/reports/`` unless ``--out`` says otherwise, owner-only
(the sample worksheet holds contact mobiles). The terminal shows tables, never a mobile
number or an ID number.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from chalicelib.errors import DomainError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from . import admin
from .admin import cli_operator, fail

if TYPE_CHECKING:
    from datetime import datetime

    from chalicelib.oversight.assessment import Tally
    from chalicelib.oversight.periods import Month
    from chalicelib.oversight.sampling import Period
    from chalicelib.services import Services

console = Console()
report = typer.Typer(help="备案中心核查 / Filing-center oversight", no_args_is_help=True)
demo = typer.Typer(help="演示数据 / Demo data", no_args_is_help=True)
MAX_LISTED = 50


def utc_now() -> datetime:
    from chalicelib.services import utc_now as now  # the domain loads with the command

    return now()


def progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=Console(stderr=True), transient=True)


def output_dir(services: Services, out: Path | None, name: str) -> Path:
    """``out``, or a folder named after the report under the archive's ``reports/``."""
    if out is None:
        reports = services.settings.data_dir / "reports"
        reports.mkdir(mode=0o700, exist_ok=True)  # parents=True would make it 0755
        out = reports / re.sub(r"[^\w.-]", "_", name)
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    return out


def audited(services: Services, action: str, obj: str, **details: Any) -> None:
    """A report run on the server is an access like any other: ID checks unseal numbers,
    worksheets hold mobiles."""
    services.audit.record(cli_operator(services.settings), action, obj, details=details)


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path``, readable by its owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)


def table(title: str, header: Sequence[str], rows: Iterable[Sequence[object]]) -> Table:
    shown = Table(title=title, title_justify="left")
    for name in header:
        shown.add_column(name)
    for row in rows:
        shown.add_row(*(str(value) for value in row))
    return shown


def figures_table(title: str, first: str, tallies: Mapping[str, Tally]) -> Table:
    from chalicelib.oversight import render
    from chalicelib.oversight.assessment import FIGURES

    return table(title, [first, "备案 / Filings", *(figure.zh for figure in FIGURES)],
                 ([name, tally.filings, *(render.figure_cell(figure, tally) for figure in FIGURES)]
                  for name, tally in tallies.items()))


def period_of(month: str | None, quarter: str | None) -> Period:
    """The month (new filings) or the quarter (the approved stock) a sample is for."""
    from chalicelib.oversight.periods import Month, Quarter

    if (month is None) == (quarter is None):
        raise typer.BadParameter("请给出 --month（新增备案）或 --quarter（存量备案）之一 / "
                                 "Give --month (new filings) or --quarter (the stock)")
    return Month.parse(month) if month is not None else Quarter.parse(str(quarter))


@report.command("sample")
def sample(
    month: str | None = typer.Option(None, help="月份 YYYY-MM：新增备案 / Month: new filings"),
    quarter: str | None = typer.Option(None, help="季度 YYYYQn：存量备案 / Quarter: the approved stock"),
    seed: str = typer.Option(..., help="公布的随机种子 / The published seed"),
    size: int = typer.Option(100, help="样本量 / Sample size"),
    out: Path | None = typer.Option(None, help="输出目录 / Output folder"),
) -> None:
    """抽取电话抽查样本：某月新增备案，或某季度的存量备案 / Draw the phone spot-check sample of a
    month's new filings, or of the approved stock at a quarter's end."""
    from chalicelib.oversight import render
    from chalicelib.oversight.periods import Quarter
    from chalicelib.oversight.sampling import draw_sample, publish, worksheet

    services = admin.services()
    records = services.backend.records
    try:
        chosen = period_of(month, quarter)
        drawn = draw_sample(records, chosen, seed, size)
        publish(records, drawn, utc_now())
    except DomainError as error:
        fail(error)
    what = "quarter" if isinstance(chosen, Quarter) else "month"
    audited(services, "report.sample", f"{what}:{chosen.label}", seed=seed, drawn=len(drawn.filing_ids))
    rows = worksheet(records, drawn)
    folder = output_dir(services, out, f"{'stock-' if what == 'quarter' else ''}sample-{chosen.label}")
    write_private(folder / "worksheet.csv", render.worksheet_csv(rows))
    write_private(folder / "worksheet.md", render.worksheet_markdown(drawn, rows))
    console.print(table(
        f"{chosen.label} 抽样（种子 {seed}）/ sample (seed {seed})",
        ["省份 / Province", "接入服务单位 / Provider", "总体 / Population", "抽取 / Drawn"],
        [*([render.province_label(s.stratum.province), s.stratum.provider, s.population,
            len(s.filing_ids)] for s in drawn.strata),
         ["合计 / Total", "", drawn.population, len(drawn.filing_ids)]]))
    console.print(f"工作单（含联系手机，勿外传）/ Worksheet (holds contact mobiles): {folder / 'worksheet.csv'}"
                  f"\n  {folder / 'worksheet.md'}")


@report.command("quarterly")
def quarterly(
    quarter: str = typer.Option(..., help="季度 YYYYQn / Quarter"),
    out: Path | None = typer.Option(None, help="输出目录 / Output folder"),
    workers: int = typer.Option(2, min=1, help="并行进程数 / Worker processes"),
    quiet: bool = typer.Option(False, help="不显示表格 / Write the files only"),
) -> None:
    """季度评估：分省、分接入服务单位 / Quarterly assessment per province and provider."""
    from chalicelib.oversight import render
    from chalicelib.oversight.assessment import FIGURES, ProcessRunner, SerialRunner, assess, plan
    from chalicelib.oversight.periods import Quarter

    services = admin.services()
    try:
        chosen = Quarter.parse(quarter)
    except DomainError as error:
        fail(error)
    from chalicelib.services import records_opener

    runner = ProcessRunner(records_opener(services.settings), workers) if workers > 1 else SerialRunner(
        services.backend.records)
    try:
        with progress() as bar:
            task = bar.add_task("读取 / reading", total=len(plan(chosen)))
            result = assess(services.backend.records, chosen, utc_now(), runner,
                            on_unit=functools.partial(bar.advance, task))
    except DomainError as error:
        fail(error)
    audited(services, "report.quarterly", f"quarter:{chosen.label}")
    folder = output_dir(services, out, f"quarterly-{chosen.label}")
    charts = render.quarterly_charts(result)
    for name, svg in charts.items():
        write_private(folder / name, svg)
    write_private(folder / "assessment.csv", render.quarterly_csv(result))
    write_private(folder / "report.md", render.quarterly_markdown(result, charts))
    if not quiet:
        total = result.total()
        console.print(table(f"{chosen.label} 合计 / Overall", ["指标 / Figure", "比率 / Rate"],
                            ([f"{figure.zh} / {figure.en}", render.figure_cell(figure, total)]
                             for figure in FIGURES)))
        console.print(figures_table("按省 / By province", "省份 / Province",
                                    {render.province_label(key): tally
                                     for key, tally in result.by_province().items()}))
        console.print(figures_table("按接入服务单位 / By access provider", "接入服务单位 / Provider",
                                    result.by_provider()))
    console.print(f"报告 / Report: {folder / 'report.md'}\n  {folder / 'assessment.csv'}")


def months_of(month: str | None, quarter: str | None) -> tuple[Month, ...]:
    from chalicelib.oversight.periods import Month, Quarter

    if (month is None) == (quarter is None):
        raise typer.BadParameter("请给出 --month 或 --quarter 之一 / Give --month or --quarter")
    return (Month.parse(month),) if month is not None else Quarter.parse(str(quarter)).months


def findings_table(findings: Sequence[Mapping[str, Any]]) -> Table:
    shown = table(f"未关闭的核查问题 / Open findings ({len(findings)})",
                  ["备案 / Filing", "省份 / Province", "接入服务单位 / Provider", "字段 / Field",
                   "代码 / Code", "原因 / Reason"],
                  ([f["filing_id"], f["province"], f["provider"], f["field"], f["code"], f["reason_zh"]]
                   for f in findings[:MAX_LISTED]))
    if len(findings) > MAX_LISTED:
        shown.caption = f"仅显示前 {MAX_LISTED} 条，全部见 CSV / First {MAX_LISTED} shown; all in the CSV"
    return shown


@report.command("check-ids")
def check_ids(
    month: str | None = typer.Option(None, help="月份 YYYY-MM / Month"),
    quarter: str | None = typer.Option(None, help="季度 YYYYQn / Quarter"),
) -> None:
    """证件号码批量自动核查 / Re-check every ID number and unit code of a month or quarter."""

    services = admin.services()
    checker = services.id_checker
    try:
        months = months_of(month, quarter)
    except DomainError as error:
        fail(error)
    runs = []
    with progress() as bar:
        for chosen in months:
            task = bar.add_task(f"核查 / checking {chosen.label}", total=None)
            runs.append(checker.check_month(chosen, on_filing=functools.partial(bar.advance, task)))
    audited(services, "report.check_ids", "months:" + ",".join(run.month for run in runs),
            checked=sum(run.filings for run in runs))
    codes = sorted({code for run in runs for code in run.by_code})
    console.print(table("批量核查 / Bulk check",
                        ["月份 / Month", "核查 / Checked", "未通过 / Failed", "新增 / Opened",
                         "已解决 / Resolved", *codes],
                        ([run.month, run.filings, run.failed, run.opened, run.resolved,
                          *(run.by_code.get(code, 0) for code in codes)] for run in runs)))
    console.print("查看问题清单 / List the findings: beian report findings --month YYYY-MM")


@report.command("findings")
def findings(
    provider: str | None = typer.Option(None, help="接入服务单位（其视图）/ A provider's view"),
    month: str | None = typer.Option(None, help="月份 YYYY-MM（备案中心视图）/ The filing center's view"),
    out: Path | None = typer.Option(None, help="CSV 输出目录 / Folder for findings.csv"),
) -> None:
    """未关闭的核查问题：某接入服务单位的，或某月的 / Open findings of a provider or of a month."""
    from chalicelib.oversight import render
    from chalicelib.oversight.periods import Month

    services = admin.services()
    checker = services.id_checker
    if (provider is None) == (month is None):
        raise typer.BadParameter("请给出 --provider 或 --month 之一 / Give --provider or --month")
    try:
        found = list(checker.open_for_provider(provider) if provider is not None
                     else checker.open_for_month(Month.parse(str(month))))
    except DomainError as error:
        fail(error)
    audited(services, "report.findings", f"findings:{provider or month}", count=len(found))
    console.print(findings_table(found))
    folder = output_dir(services, out, f"findings-{provider or month}")
    write_private(folder / "findings.csv", render.findings_csv(found))
    console.print(f"CSV: {folder / 'findings.csv'}")


@report.command("record-check")
def record_check_command(
    filing_id: str = typer.Argument(..., help="备案编号 / Filing id"),
    month: str | None = typer.Option(None, help="新增备案样本的月份 YYYY-MM / The new-filing sample's month"),
    quarter: str | None = typer.Option(None, help="存量样本的季度 YYYYQn / The stock sample's quarter"),
    outcome: str = typer.Option(..., help="结果，如 confirmed；其他取值见错误提示 / Outcome, such as confirmed "
                                         "(a wrong one is refused with the list)"),
    note: str = typer.Option("", help="备注 / Note"),
    by: str = typer.Option("", help="核查人 / Checked by"),
) -> None:
    """记录电话抽查结果 / Record the outcome of a phone spot check."""
    from chalicelib.oversight.sampling import OUTCOMES, record_check

    services = admin.services()
    try:
        chosen = period_of(month, quarter)
        record_check(services.backend.records, filing_id, chosen, outcome, note, utc_now(), by)
    except DomainError as error:
        fail(error)
    zh, en = OUTCOMES[outcome]
    console.print(f"已记录 / Recorded: {filing_id} {chosen.label} {zh} / {en}")


@demo.command("seed")
def seed(
    filings: int = typer.Option(..., min=1, help="备案件数 / Number of filings"),
    seed_value: int = typer.Option(2010, "--seed", min=0, help="随机种子 / Seed"),
    quarter: str | None = typer.Option(None, help="季度 YYYYQn（默认上一个完整季度）/ Quarter "
                                                  "(default: the last full one)"),
) -> None:
    """向本地档案写入合成备案（非真实数据）/ Fill the local archive with synthetic filings."""
    from chalicelib.oversight.periods import Quarter

    from ..demo import AlreadySeeded, default_quarter, seed_demo

    services = admin.services()
    now = utc_now()
    try:
        chosen = Quarter.parse(quarter) if quarter else default_quarter(now)
        with progress() as bar:
            task = bar.add_task(f"生成 / seeding {chosen.label}", total=filings)
            summary = seed_demo(services, filings, seed=seed_value, quarter=chosen, now=now,
                                on_filing=functools.partial(bar.advance, task))
    except DomainError as error:
        fail(error)
    except AlreadySeeded:
        console.print(f"[red]种子 {seed_value} 的演示备案已在档案中[/red] / "
                      f"Demo filings of seed {seed_value} are already in the archive; use another --seed")
        raise typer.Exit(2) from None
    console.print(table(
        f"{chosen.label} 演示数据 / Demo data", ["项目 / Item", "数量 / Count"],
        [["备案 / Filings", summary.filings], ["自旧系统迁入 / Legacy imports", summary.legacy],
         ["到达时核查未通过 / Failing the check on arrival", summary.with_findings],
         ["接入网站 / Connected sites", summary.sites],
         ["当面核验启动前接入 / Connected before on-site verification", summary.pre_2010],
         ["电话抽查结果 / Spot checks recorded", summary.spot_checks],
         ["存量电话核查结果 / Stock checks recorded", summary.stock_checks],
         *([f"状态 / state: {state}", count] for state, count in sorted(summary.by_state.items()))]))


def register(app: typer.Typer) -> None:
    app.add_typer(report, name="report")
    app.add_typer(demo, name="demo")
