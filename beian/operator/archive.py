"""The archive's commands run on the server: offline verification of an audit export against
the archive's own key, and the retention sweeps (as the hourly schedule runs them)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from ..remote.archive import audit
from ..remote.roles import reported

console = Console()
err = Console(stderr=True)
retention = typer.Typer(help="留存与销毁 / Retention and disposal", no_args_is_help=True)


@audit.command("verify")  # in the audit group the remote door's ``audit export`` is in
def verify(export: Path = typer.Argument(..., exists=True, help="审计导出文件 / An audit export"),
           public_key: Path | None = typer.Option(
               None, exists=True, help="检查点公钥文件 / The checkpoint public key PEM to pin"),
           fingerprint: str = typer.Option(
               "", help="网站公布的检查点公钥指纹（SHA-256）/ The key fingerprint the site publishes"),
           anchor: Path | None = typer.Option(
               None, exists=True, help="网站公布的最新检查点（JSON）/ The latest anchored checkpoint, as published"),
           at_least: int = typer.Option(
               0, min=0, help="须至少签到第 N 条（如先前导出或公布的检查点）/ "
               "The export must be signed through entry N at least (a head you noted earlier)")) -> None:
    """离线核验审计日志 / Verify an audit export: hashes, links, order, signatures, anchor.

    The key is pinned, never taken on the export's word: a file (--public-key), the published
    fingerprint (--fingerprint), or by default this archive's own key and its latest checkpoint
    anchored outside the log. An export signed with another key, or ending before the anchored
    checkpoint, fails."""
    try:
        data = json.loads(export.read_text(encoding="utf-8"))
        embedded = str(data.get("public_key", ""))
        entries = data.get("entries", [])
        pinned_anchor = json.loads(anchor.read_text(encoding="utf-8")) if anchor else None
        pinned = public_key.read_text(encoding="utf-8") if public_key else ""
    except (ValueError, UnicodeDecodeError, AttributeError):
        err.print("[red]无法读取[/red]：导出文件须为审计导出的 JSON 对象，公钥须为 PEM 文本 / "
                  "Cannot read: the export must be an audit export's JSON object and the key PEM text")
        raise typer.Exit(2) from None
    from chalicelib.audit import verify_export
    from chalicelib.config import Settings

    from .inprocess import in_process_client

    problems: list[str] = []
    if not pinned and fingerprint:
        pinned = embedded if _fingerprint(embedded) == fingerprint.strip().lower().replace(":", "") else ""
        if not pinned:
            problems.append("the export's key does not have the published fingerprint (re-signed with another key)")
    elif not pinned:
        settings = Settings.from_env()
        if settings.backend == "embedded" and not settings.data_dir.exists():  # never make an archive here
            err.print("[red]此处没有档案[/red]：请用 --public-key 或 --fingerprint 指定公布的检查点公钥 / "
                      "No archive here: pin the published checkpoint key with --public-key or --fingerprint")
            raise typer.Exit(2)
        with reported():  # a refusal (storage unavailable) as the API words it
            published = in_process_client().call("GET", "/audit/public-key")  # what the site publishes
        pinned, pinned_anchor = published["public_key_pem"], pinned_anchor or published["anchor"]
    if pinned and embedded and _fingerprint(embedded) != _fingerprint(pinned):
        problems.append("the export carries a key other than the pinned one (re-signed with another key)")
    result = verify_export(entries if isinstance(entries, list) else [], pinned or embedded,
                           anchor=pinned_anchor if isinstance(pinned_anchor, dict) else None)
    result.problems[:0] = problems
    if not result.problems and result.signed_through < at_least:
        result.problems.append(f"signed only through entry {result.signed_through}, not {at_least}: "
                               "entries after it are missing (cut at an earlier checkpoint)")
    if not result.problems:
        console.print(f"[green]通过 / verified[/green]: {result.entries} 条记录 entries, "
                      f"{result.checkpoints} 个签名检查点 signed checkpoints")
        console.print(f"签名覆盖至第 {result.signed_through} 条（{result.signed_at[:19]}）"
                      f" / Signed through entry {result.signed_through} ({result.signed_at[:19]})")
        return
    err.print(f"[red]未通过 / FAILED[/red]: {len(result.problems)} 个问题 problems")
    for problem in result.problems[:50]:
        err.print(f"  - {problem}")
    raise typer.Exit(1)


def _fingerprint(pem: str) -> str:
    from chalicelib.audit import key_fingerprint
    from cryptography.exceptions import UnsupportedAlgorithm

    try:
        return key_fingerprint(pem)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return ""


def _retention_table(title: str, rows: list[dict[str, str]]) -> Table:
    table = Table(title=title)
    for column in ("备案 Filing", "材料 Document", "留存至 Retain until"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["filing"], row["document"], row["retain_until"][:19])
    return table


@retention.command("sweep")
def sweep(dry_run: bool = typer.Option(False, "--dry-run", help="只列出不销毁 / List only")) -> None:
    """销毁到期且未被保全的材料，签发销毁证明 / Dispose of what is due and not held."""
    from chalicelib.services import current_services

    result = current_services().archive.sweep(dry_run=dry_run)
    verb = "将销毁 / would dispose" if dry_run else "已销毁 / disposed"
    console.print(_retention_table(f"{verb}: {len(result.disposed)}", result.disposed))
    if result.held:
        console.print(_retention_table(f"保全中未销毁 / held, kept: {len(result.held)}", result.held))
    if result.certificate_seq:
        console.print(f"销毁证明已记入审计日志第 {result.certificate_seq} 条 / "
                      f"disposal certificate at audit entry {result.certificate_seq}")


@retention.command("overdue")
def overdue() -> None:
    """列出超过留存期仍保存的材料 / List anything kept past its retain-until date."""
    from chalicelib.services import current_services

    rows = [{"filing": str(record.body["filing"]), "document": str(record.body["id"]),
             "retain_until": str(record.body["retain_until"])} for record in current_services().archive.due()]
    console.print(_retention_table(f"超期保存 / kept past retain-until: {len(rows)}", rows))


def register(app: typer.Typer) -> None:
    app.add_typer(retention, name="retention")
