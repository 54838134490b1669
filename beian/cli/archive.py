"""The archive's commands: search, holds, retention sweeps, audit export and offline
verification, and inspection bundles."""

from __future__ import annotations

import hashlib
import json
import tempfile
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.table import Table

from .roles import PURPOSE, REFERENCE, TOKEN, URL, client_for, progress_bar, reported

if TYPE_CHECKING:
    from ..client import BeianClient

console = Console()
err = Console(stderr=True)
audit = typer.Typer(help="审计日志 / Audit log", no_args_is_help=True)
retention = typer.Typer(help="留存与销毁 / Retention and disposal", no_args_is_help=True)
archive = typer.Typer(help="档案检索与保全 / Archive search and holds", no_args_is_help=True)


@audit.command("verify")
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
    from chalicelib.services import current_services

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
        published = current_services().audit.published()
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


@audit.command("export")
def export_audit(out: Path = typer.Option(..., help="保存到 / Write to"), url: str = URL,
                 token: str = TOKEN) -> None:
    """导出审计日志（本次导出亦记入审计）/ Export the audit log (the export is audited)."""
    with reported():
        data = client_for(url, token).call("GET", "/audit/export")
    out.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    console.print(f"已导出 / exported {len(data['entries'])} 条 entries: {out}")


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


@archive.command("search")
def search(filing_number: str = typer.Option("", help="备案号 / Filing number"),
           domain: str = typer.Option("", help="域名 / Domain"),
           provider: str = typer.Option("", help="接入服务单位 / Provider"),
           province: str = typer.Option("", help="省份 / Province"),
           id_number: str = typer.Option("", envvar="BEIAN_SEARCH_ID_NUMBER",
                                         help="证件号码（建议用环境变量传入）/ ID number (prefer the env var)"),
           since: str = typer.Option("", "--from", help="YYYY-MM-DD"),
           until: str = typer.Option("", "--to", help="YYYY-MM-DD"),
           purpose: str = PURPOSE, reference: str = REFERENCE,
           as_json: bool = typer.Option(False, "--json", help="输出 JSON / Print the results as JSON"),
           url: str = URL, token: str = TOKEN) -> None:
    """检索档案（记入审计）/ Search the archive (audited)."""
    from urllib.parse import urlencode

    criteria = {key: value for key, value in {
        "filing_number": filing_number, "domain": domain, "provider": provider, "province": province,
        "id_number": id_number, "from": since, "to": until, "purpose": purpose,
        "reference": reference}.items() if value}
    with reported():
        found = client_for(url, token).call("GET", f"/archive/search?{urlencode(criteria)}")
    if as_json:
        typer.echo(json.dumps(found, ensure_ascii=False, indent=1))
        return
    table = Table(title=f"检索结果 / results: {len(found['filings'])}")
    for column in ("备案 Filing", "状态 State", "备案号 Number", "域名 Domains", "保全 Holds"):
        table.add_column(column, overflow="fold")  # ids and numbers whole, never cut to "…"
    for filing in found["filings"]:
        table.add_row(filing["id"], filing["state"], filing.get("filing_number") or "",
                      ", ".join(filing["domains"]), ", ".join(filing["holds"]))
    console.print(table)


@archive.command("hold")
def hold(filing_id: str, case_id: str = typer.Option(..., help="案件编号 / Case id"),
         reason: str = typer.Option(..., help="原因 / Reason"), url: str = URL, token: str = TOKEN) -> None:
    """设置法律保全 / Place a legal hold on a filing and its documents."""
    with reported():
        client_for(url, token).call("POST", f"/filings/{filing_id}/holds",
                                     {"case_id": case_id, "reason": reason})
    console.print(f"已保全 / held: {filing_id} ({case_id})")


@archive.command("release")
def release(filing_id: str, case_id: str = typer.Option(..., help="案件编号 / Case id"),
            url: str = URL, token: str = TOKEN) -> None:
    """解除法律保全 / Release a legal hold."""
    with reported():
        client_for(url, token).call("DELETE", f"/filings/{filing_id}/holds/{case_id}")
    console.print(f"已解除 / released: {filing_id} ({case_id})")


@archive.command("export")
def export_bundle(filing_id: str, purpose: str = PURPOSE, reference: str = REFERENCE,
                  out: Path = typer.Option(..., help="zip 文件 / The zip to write"),
                  decrypt: bool = typer.Option(False, help="附解密文件 / Include decrypted files"),
                  url: str = URL, token: str = TOKEN) -> None:
    """导出检查材料包 / Export an inspection bundle: manifest, documents, audit proofs.

    The zip is owner-only (with --decrypt it holds plaintext) and appears only once complete;
    a document that cannot be exported is listed in the manifest as missing, and the command
    then exits with 1."""
    from ..client import ApiError

    client = client_for(url, token)
    with reported():
        filing = client.call("GET", f"/filings/{filing_id}")
        documents = client.call("GET", f"/filings/{filing_id}/documents")["documents"]
        manifest: dict[str, Any] = {"format": "beian-inspection-bundle-v1", "filing": filing,
                                    "purpose": purpose, "reference": reference,
                                    "made_at": datetime.now(UTC).isoformat(),
                                    "documents": [], "missing": []}
        with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.") as scratch:
            work, partial = Path(scratch), Path(scratch) / "bundle.zip"
            with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as bundle, progress_bar() as bar:
                task = bar.add_task("导出 / export", total=len(documents))
                for document in documents:
                    if document["state"] == "received":
                        try:
                            manifest["documents"].append(
                                _add_document(client, bundle, work, filing_id, document,
                                              (purpose, reference), decrypt))
                        except ApiError as error:
                            manifest["missing"].append({"id": document["id"], "type": document["document_type"],
                                                        "reason": error.message})
                    bar.advance(task)
                proofs = client.call("GET", "/audit/export")
                bundle.writestr("audit/export.json", json.dumps(proofs, ensure_ascii=False, indent=1))
                bundle.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=1))
            partial.chmod(0o600)
            partial.replace(out)
    console.print(f"已导出 / exported: {out}")
    if manifest["missing"]:
        for item in manifest["missing"]:
            err.print(f"[red]未能导出 / not exported[/red] {item['id']} ({item['type']}): {item['reason']}")
        raise typer.Exit(1)


def _add_document(client: BeianClient, bundle: zipfile.ZipFile, work: Path, filing_id: str,
                  document: dict[str, Any], stated: tuple[str, str], decrypt: bool) -> dict[str, Any]:
    target = work / document["id"]
    entry: dict[str, Any] = {"id": document["id"], "type": document["document_type"]}
    if decrypt:
        client.retrieve(filing_id, document["id"], *stated, target)
        name = f"documents/{document['id']}"
    else:
        client.download_ciphertext(filing_id, document["id"], *stated, target)
        name = f"ciphertexts/{document['id']}.beian"
    entry.update(path=name, sha256=hashlib.sha256(target.read_bytes()).hexdigest())
    bundle.write(target, name)
    target.unlink()
    return entry


def register(app: typer.Typer) -> None:
    app.add_typer(audit, name="audit")
    app.add_typer(retention, name="retention")
    app.add_typer(archive, name="archive")
