"""``beian reconcile``: find (and with --repair, mend) what a crash or a failed storage call left
half done. Runs against the configured backend directly, like ``beian users``."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

console = Console()


def reconcile(
    repair: bool = typer.Option(False, "--repair", help="修复可安全修复的问题（先记入审计）/ "
                                "Repair what is safe to repair (audited first)"),
    as_json: bool = typer.Option(False, "--json", help="以 JSON 输出 / Print the report as JSON"),
) -> None:
    """核对档案：找出崩溃或存储故障遗留的半完成记录 / Find records a crash or storage failure left half done.

    Exit status: 0 when nothing is left to do, 1 when something is repairable (run again with
    --repair) or needs a person. An archived envelope is never deleted while retained."""
    from chalicelib.reconcile import FLAGGED, KINDS, REPAIRED
    from chalicelib.services import current_services, reconciler_for

    outcomes = {REPAIRED: "[green]已修复 repaired[/green]", FLAGGED: "[red]需人工处理 flagged[/red]",
                "found": "[yellow]可修复 repairable[/yellow]"}
    report = reconciler_for(current_services()).run(repair=repair)
    if as_json:
        typer.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=1))
    else:
        table = Table(title="核对结果 / Reconciliation")
        for column in ("对象 Subject", "问题 Finding", "处理 Outcome", "说明 Detail"):
            table.add_column(column)
        for finding in report.findings:
            table.add_row(finding.subject, KINDS[finding.kind], outcomes[finding.outcome], finding.detail)
        if report.findings:
            console.print(table)
        console.print(f"已核对 / checked: {report.records} 条记录的签名 record signatures, "
                      f"{report.filings} 件备案 filings, {report.documents} 份材料 documents; "
                      + ("无遗留问题 / nothing left to do" if report.clean else
                         f"{sum(f.outcome != REPAIRED for f in report.findings)} 项待处理 / left to do"))
    if not report.clean:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command()(reconcile)
