"""Running the system on one machine: initialise, serve, issue staff tokens, package for AWS."""

from __future__ import annotations

import getpass
import importlib
import json
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from chalicelib.errors import DomainError
from rich.console import Console

from ..remote.roles import DEFAULT_PORT

if TYPE_CHECKING:  # the domain (and with it fpdf, Pillow, PyJWT) loads in the commands that use it
    from chalicelib.auth import Principal
    from chalicelib.config import Settings
    from chalicelib.services import Services

console = Console()
err = Console(stderr=True)
PROJECT = Path(__file__).resolve().parents[2]


def fail(error: DomainError) -> NoReturn:
    err.print(f"[red]{error.message_zh}[/red] / {error.message_en}")
    raise typer.Exit(2)


def load_api() -> Any:
    """The Chalice app from api/app.py (the source tree's, as `chalice` itself loads it)."""
    api = str(PROJECT / "api")
    if api not in sys.path:
        sys.path.insert(0, api)
    return importlib.import_module("app").app


def services() -> Services:
    """The configured backend's services, built on first use."""
    from chalicelib.services import current_services

    return current_services()


def initialise() -> Settings:
    """Create the archive's keys on first run; later runs find and reuse them."""
    built = services()
    built.initialise()
    return built.settings


def serve(
    port: int = typer.Option(DEFAULT_PORT, envvar="PORT", help="端口 / Port"),
    host: str = typer.Option("127.0.0.1", help="监听地址 / Address to listen on"),
    site: Path = typer.Option(PROJECT / "build" / "site", help="已构建的站点 / The built site"),
) -> None:
    """运行本机系统：站点与 API / Run the site and the API on this machine."""
    os.environ.setdefault("BEIAN_PUBLIC_URL", f"http://{host}:{port}")
    settings = initialise()
    chalice_app = load_api()

    from ..server import build_server, create_listener

    listener = create_listener(build_server(chalice_app, site), host, port)
    info = services().keys.public_key_info()
    console.print(f"[bold]beian[/bold] 数据目录 / archive: {settings.data_dir}")
    console.print(f"  站点 / site:  http://{host}:{port}/")
    console.print(f"  API:          http://{host}:{port}/api/health")
    console.print(f"  工作人员控制台 / staff console: http://{host}:{port}/staff/")
    console.print(f"  归档公钥指纹 / archive key fingerprint: {info['fingerprint']}")
    console.print("  获取工作人员令牌 / get a staff token:\n"
                  "    .venv/bin/beian users add --role verifier --name alice")
    if port != DEFAULT_PORT:  # the role commands look for the server on the default port
        console.print(f"  命令行指向本服务 / point the commands here:  export BEIAN_URL=http://{host}:{port}")
    console.print("  按 Ctrl-C 停止 / press Ctrl-C to stop")
    # SIGTERM (a service manager, `kill`) stops as cleanly as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: listener.stop())
    try:
        listener.run()
    except KeyboardInterrupt:
        listener.stop()
    console.print("已停止 / stopped")


users = typer.Typer(help="工作人员 / Staff users", no_args_is_help=True)
# On AWS, the name of the function that issues staff tokens (stack output StaffTokenFunction).
STAFF_TOKEN_FUNCTION = "BEIAN_STAFF_TOKEN_FUNCTION"  # noqa: S105 (a variable name, not a secret)


def cli_operator(settings: Settings) -> Principal:
    """Who the audit log names for a command run on the server: the system account running it."""
    from chalicelib.auth import Principal

    return Principal(f"cli:{getpass.getuser()}", "admin", settings.provider, settings.province)


@users.command("add")
def add_user(
    role: str = typer.Option(..., help="角色，如 verifier、reviewer、admin / Role, such as verifier, reviewer, admin"),
    name: str = typer.Option(..., help="姓名或工号 / Name or staff id"),
    provider: str = typer.Option("", help="接入服务单位 / Access provider (default: this one)"),
    province: str = typer.Option("", help="省份简称，如 京 / Province character"),
    hours: int = typer.Option(12, help="有效小时数 / Hours the token is valid"),
) -> None:
    """签发工作人员令牌（只显示一次；记入审计日志）/ Issue a staff token (shown once; audited)."""
    function = os.environ.get(STAFF_TOKEN_FUNCTION, "")
    if function:  # on AWS: only the function may unseal the signing key (deployment page)
        typer.echo(_invoke_staff_tokens(function, {"operator": getpass.getuser(), "name": name, "role": role,
                                                   "provider": provider, "province": province, "hours": hours}))
        return
    built = services()
    try:
        token = built.issue_staff_token(cli_operator(built.settings), name, role, provider=provider,
                                           province=province, hours=hours)
    except DomainError as error:
        fail(error)
    typer.echo(token)


def _invoke_staff_tokens(function: str, request: dict[str, Any]) -> str:
    """The token the deployment's staff-token function issues; its refusal as the API's error."""
    import boto3

    reply = boto3.client("lambda").invoke(FunctionName=function, Payload=json.dumps(request).encode())
    answer = json.loads(reply["Payload"].read())
    if "token" not in answer:
        err.print(f"[red]{answer.get('message_zh', '')}[/red] / {answer.get('message_en', answer)}")
        raise typer.Exit(2)
    return str(answer["token"])


@users.command("revoke")
def revoke_user(
    name: str = typer.Option(..., help="姓名或工号（令牌的 sub）/ Name or staff id (the token's sub)"),
    reason: str = typer.Option(..., help="原因，记入审计日志 / Reason, kept in the audit log"),
) -> None:
    """吊销某工作人员现有的全部令牌 / Revoke every token a staff member holds now."""
    built = services()
    try:
        revoked = built.staff.revoke(cli_operator(built.settings), name, reason)
    except DomainError as error:
        fail(error)
    console.print(f"已吊销 {revoked['subject']} 此前签发的令牌；新令牌可用 beian users add 签发。\n"
                  f"Tokens of {revoked['subject']} issued so far are revoked; issue a new one with beian users add.")


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.add_typer(users, name="users")
