"""The archive's commands over the API: search, holds, the audit export, and inspection bundles.

The ``audit`` group also holds the operator's ``audit verify`` (beian/operator/archive.py), which
checks an export against the archive's key."""

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
archive = typer.Typer(help="档案检索与保全 / Archive search and holds", no_args_is_help=True)


@audit.command("export")
def export_audit(out: Path = typer.Option(..., help="保存到 / Write to"), url: str = URL,
                 token: str = TOKEN) -> None:
    """导出审计日志（本次导出亦记入审计）/ Export the audit log (the export is audited)."""
    with reported():
        data = client_for(url, token).call("GET", "/audit/export")
    out.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    console.print(f"已导出 / exported {len(data['entries'])} 条 entries: {out}")


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
    app.add_typer(archive, name="archive")
