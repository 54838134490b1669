"""``beian package`` and ``beian deploy-check``: the AWS deployment, built and proven offline.

``package`` runs ``chalice package`` with the merge template ``infra/resources.json``, so one
SAM template holds every resource, then adds the WAF's rate rules (``beian.firewall``).
``deploy-check`` builds it, lints it with cfn-lint (for the China regions and us-east-1), and
runs the deployment tests and the AWS half of the suite against moto, where ``beian.provision``
creates the resources as the template describes them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

PROJECT = Path(__file__).resolve().parents[2]
MERGE_TEMPLATE = PROJECT / "infra" / "resources.json"
# The second region's stack: the archive's replica and the table's backup copies.
REPLICA_TEMPLATE = PROJECT / "infra" / "replica.json"
# The checks checkov may fail, each on named resources, with the reason; checkov runs from its
# own environment (the Makefile installs it there: its pins clash with the project's).
CHECKOV_SKIPS = PROJECT / "infra" / "checkov-skips.json"
CHECKOV = Path(os.environ.get("BEIAN_CHECKOV", PROJECT / ".checkov" / "bin" / "checkov"))
# The China regions the project targets, and the region every partition-wide check uses.
LINT_REGIONS = ("cn-north-1", "cn-northwest-1", "us-east-1")
# Set by deploy-check so the deployment tests use its package instead of building another.
PACKAGE_DIR_VARIABLE = "BEIAN_PACKAGE_DIR"
# The deployment tests, then every test that runs against the AWS backend (moto).
TEST_RUNS = (
    ("部署测试 / deployment tests", ["tests/deploy"]),
    ("AWS 后端测试 / AWS backend tests", ["-m", "not browser", "-k", "aws", "--ignore", "tests/deploy", "tests"]),
)

console = Console()
err = Console(stderr=True)


def _tool(name: str) -> str:
    """A command installed next to this interpreter (the project's virtual environment)."""
    return str(Path(sys.executable).with_name(name))


def build_package(output: Path) -> Path:
    """The Lambda bundle and the merged SAM template in ``output``; returns the template."""
    vendor = PROJECT / "api" / "vendor"
    shutil.rmtree(vendor, ignore_errors=True)
    # Chalice packages only app.py, chalicelib/ and vendor/: bring crypto/ along, and the CJK
    # font the verification form embeds (Lambda has none; the stages set BEIAN_CJK_FONT).
    shutil.copytree(PROJECT / "crypto", vendor / "crypto",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "vectors"))
    (vendor / "fonts").mkdir()
    from chalicelib.photo import cjk_font_path

    shutil.copy2(cjk_font_path(), vendor / "fonts" / cjk_font_path().name)
    env = {**os.environ, "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "cn-north-1")}
    subprocess.run([_tool("chalice"), "package", "--stage", "prod",  # noqa: S603
                    "--merge-template", str(MERGE_TEMPLATE), str(output.resolve())],
                   cwd=PROJECT / "api", env=env, check=True)
    from chalicelib.config import Settings

    from beian.firewall import add_rate_rules

    # The WAF's rate rules are the embedded server's route classes and limits (BEIAN_RATE, ...).
    add_rate_rules(output / "sam.json", Settings.from_env())
    return output / "sam.json"


def lint(template: Path) -> list[str]:
    """cfn-lint's findings (errors, warnings and informational), one line each; empty if clean."""
    regions = [argument for region in LINT_REGIONS for argument in ("--regions", region)]
    reply = subprocess.run([_tool("cfn-lint"), "--format", "parseable", "--include-checks", "I",  # noqa: S603
                            *regions, "--", str(template)],
                           capture_output=True, text=True, check=False)
    if reply.returncode and not reply.stdout.strip():
        raise RuntimeError(f"cfn-lint could not run: {reply.stderr.strip()}")
    return reply.stdout.splitlines()


def checkov_failures(template: Path) -> set[tuple[str, str]]:
    """(check id, logical id) of every check checkov fails on the template."""
    if not CHECKOV.is_file():
        raise RuntimeError(f"checkov is not installed at {CHECKOV}: run make deploy-check")
    reply = subprocess.run([str(CHECKOV), "--file", str(template), "--framework", "cloudformation",  # noqa: S603
                            "--output", "json", "--quiet", "--compact", "--skip-download"],
                           capture_output=True, text=True, check=False)
    try:
        report = json.loads(reply.stdout)
    except json.JSONDecodeError as error:
        raise RuntimeError(f"checkov could not run: {reply.stderr.strip()[-2000:]}") from error
    reports = report if isinstance(report, list) else [report]
    return {(check["check_id"], check["resource"].rsplit(".", 1)[-1])
            for one in reports for check in one.get("results", {}).get("failed_checks", [])}


def judge_checkov(failures: set[tuple[str, str]], skips: dict[str, Any]) -> list[str]:
    """Each failure no skip names, and each skip that no longer fails (so the list stays true)."""
    allowed = {(check, resource) for check, skip in skips.items() if not check.startswith("_")
               for resource in skip["resources"]}
    return ([f"{check} fails on {resource}" for check, resource in sorted(failures - allowed)]
            + [f"{check} on {resource} is skipped but passes: remove it from {CHECKOV_SKIPS.name}"
               for check, resource in sorted(allowed - failures)])


Output = Annotated[Path, typer.Option(help="输出目录 / Output folder")]


def package(output: Output = PROJECT / "build" / "package") -> None:
    """为 AWS 打包：函数与完整模板（无需账号）/ Package for AWS: functions and the whole template (no account)."""
    template = build_package(output)
    console.print(f"已打包 / packaged: {template.parent}")


def _stop_on(tool: str, findings: list[str]) -> None:
    """Print each finding and stop the check if there is any."""
    for finding in findings:
        err.print(finding, markup=False, highlight=False)
    if findings:
        err.print(f"[red]{tool}: {len(findings)} 项问题 / findings[/red]")
        raise typer.Exit(1)


def deploy_check(output: Output = PROJECT / "build" / "package") -> None:
    """部署检查：打包、检查模板、按模板建好 moto 资源后测试 / Package, lint, test on moto built as templated."""
    console.print("打包 / packaging (chalice package --merge-template) ...")
    template = build_package(output)
    _stop_on("cfn-lint", lint(template) + lint(REPLICA_TEMPLATE))
    console.print(f"cfn-lint 无问题 / clean ({', '.join(LINT_REGIONS)}): {template}, {REPLICA_TEMPLATE.name}")
    skips = json.loads(CHECKOV_SKIPS.read_text(encoding="utf-8"))
    _stop_on(f"checkov ({CHECKOV_SKIPS.name})",
             judge_checkov(checkov_failures(template) | checkov_failures(REPLICA_TEMPLATE), skips))
    console.print(f"checkov 通过（除 {CHECKOV_SKIPS.name} 所列）/ passes but for the committed skips")
    env = {**os.environ, PACKAGE_DIR_VARIABLE: str(output.resolve())}
    for title, arguments in TEST_RUNS:
        console.print(f"{title}: pytest {' '.join(arguments)}")
        if subprocess.run([_tool("pytest"), "-q", *arguments], cwd=PROJECT, env=env,  # noqa: S603
                          check=False).returncode:
            err.print(f"[red]{title} 未通过 / failed[/red]")
            raise typer.Exit(1)
    console.print("[green]部署检查通过 / deploy check passed[/green]")


def publish_site(
    bucket: str = typer.Option(..., help="站点存储桶（栈输出 SiteBucketName）/ "
                                         "The site bucket (stack output SiteBucketName)"),
    site: Path = typer.Option(PROJECT / "build" / "site", help="已构建的站点 / The built site"),
    distribution: str = typer.Option("", help="CloudFront 分配 ID（栈输出 SiteDistributionId），发布后使其缓存失效"
                                              " / Invalidate this distribution afterwards"),
) -> None:
    """发布站点：每个页面也存于其目录键下，CloudFront 才能找到 / Publish the site so CloudFront finds every page."""
    import boto3

    from ..publish import publish, site_objects

    if not (site / "index.html").is_file():
        err.print(f"[red]{site} 中没有已构建的站点，请先运行 make site[/red] / "
                  f"no built site in {site}: run make site first")
        raise typer.Exit(2)
    changed = sum(1 for _ in publish(boto3.client("s3"), bucket, site_objects(site)))
    console.print(f"已发布 / published: {changed} 个对象 / objects to s3://{bucket}")
    if distribution:
        boto3.client("cloudfront").create_invalidation(DistributionId=distribution, InvalidationBatch={
            "Paths": {"Quantity": 1, "Items": ["/*"]}, "CallerReference": str(time.time_ns())})
        console.print(f"已提交缓存失效 / invalidation requested: {distribution}")


def restore_archive(
    replica_bucket: str = typer.Option(..., help="副本存储桶 / The replica bucket (second region)"),
    replica_region: str = typer.Option("cn-northwest-1", help="副本所在区域 / The replica's region"),
    archive_bucket: str = typer.Option(..., help="新的归档存储桶（已启用对象锁定）/ "
                                                 "The new archive bucket (Object Lock on)"),
) -> None:
    """从第二区域的副本恢复归档，保留每个对象的锁定期与法律保全 / Restore the archive from its replica, locks kept."""
    import boto3

    from ..restore import restore_archive as restore

    copied = kept = 0
    for restored in restore(boto3.client("s3", region_name=replica_region), replica_bucket,
                            boto3.client("s3"), archive_bucket):
        copied, kept = copied + restored.copied, kept + (not restored.copied)
    console.print(f"已恢复 / restored: {copied} 个对象 / objects; 已存在 / already there: {kept}")


def register(app: typer.Typer) -> None:
    app.command()(package)
    app.command("deploy-check")(deploy_check)
    app.command("publish-site")(publish_site)
    app.command("restore-archive")(restore_archive)
