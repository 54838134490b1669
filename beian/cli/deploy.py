"""``beian package`` and ``beian deploy-check``: the AWS deployment, built and proven offline.

``package`` runs ``chalice package`` with the merge template ``infra/resources.json``, so one
SAM template holds every resource. ``deploy-check`` builds it, lints it with cfn-lint (for the
China regions and us-east-1), and runs the deployment tests and the AWS half of the suite
against moto, where ``beian.provision`` creates the resources as the template describes them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

PROJECT = Path(__file__).resolve().parents[2]
MERGE_TEMPLATE = PROJECT / "infra" / "resources.json"
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


Output = Annotated[Path, typer.Option(help="输出目录 / Output folder")]


def package(output: Output = PROJECT / "build" / "package") -> None:
    """为 AWS 打包：函数与完整模板（无需账号）/ Package for AWS: functions and the whole template (no account)."""
    template = build_package(output)
    console.print(f"已打包 / packaged: {template.parent}")


def deploy_check(output: Output = PROJECT / "build" / "package") -> None:
    """部署检查：打包、检查模板、按模板建好 moto 资源后测试 / Package, lint, test on moto built as templated."""
    console.print("打包 / packaging (chalice package --merge-template) ...")
    template = build_package(output)
    findings = lint(template)
    for finding in findings:
        err.print(finding, markup=False, highlight=False)
    if findings:
        err.print(f"[red]cfn-lint: {len(findings)} 项问题 / findings[/red]")
        raise typer.Exit(1)
    console.print(f"cfn-lint 无问题 / clean ({', '.join(LINT_REGIONS)}): {template}")
    env = {**os.environ, PACKAGE_DIR_VARIABLE: str(output.resolve())}
    for title, arguments in TEST_RUNS:
        console.print(f"{title}: pytest {' '.join(arguments)}")
        if subprocess.run([_tool("pytest"), "-q", *arguments], cwd=PROJECT, env=env,  # noqa: S603
                          check=False).returncode:
            err.print(f"[red]{title} 未通过 / failed[/red]")
            raise typer.Exit(1)
    console.print("[green]部署检查通过 / deploy check passed[/green]")


def register(app: typer.Typer) -> None:
    app.command()(package)
    app.command("deploy-check")(deploy_check)
