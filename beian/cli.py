"""The ``beian`` command: one command, two doors.

``beian.remote`` holds every role's steps over the API; ``beian.operator`` the tools that run
the system on the server. Help and messages are in Chinese first, then English.
"""

from __future__ import annotations

import signal
import sys
from types import ModuleType

import typer
from typer.models import CommandInfo, TyperInfo

from . import operator, remote
from .operator import admin

app = typer.Typer(
    name="beian",
    help="网站备案信息真实性核验系统 / Website-filing authenticity verification",
    no_args_is_help=True,
    add_completion=False,
)
DOORS = (
    (operator, "在服务器上运行 / On the server (operator)"),
    (remote, "在自己的电脑上：经 API（BEIAN_URL、BEIAN_TOKEN）或离线 / "
             "At your desk: over the API (BEIAN_URL, BEIAN_TOKEN), or offline"),
)


def mount(door: ModuleType, panel: str) -> None:
    """Add a door's commands to ``app`` under a help panel of its own, so ``--help`` shows both."""
    commands, groups = len(app.registered_commands), len(app.registered_groups)
    door.register(app)
    added: list[CommandInfo | TyperInfo] = [*app.registered_commands[commands:], *app.registered_groups[groups:]]
    for info in added:
        info.rich_help_panel = panel


for door, panel in DOORS:
    mount(door, panel)


def _terminated(signum: int, frame: object) -> None:
    """SIGTERM unwinds like Ctrl-C does, so that cleanups (a half-written file) run."""
    sys.exit(128 + signum)


def main() -> None:
    signal.signal(signal.SIGTERM, _terminated)
    try:
        app()
    except Exception as error:
        # Imported only now: the domain loads in the commands that use it, not for --help.
        from chalicelib.integrity import RecordTampered
        from chalicelib.ports import StorageError

        if isinstance(error, RecordTampered):
            admin.err.print(f"[red]{error.message_zh}[/red] / {error.message_en} ({error.kind}:{error.key})")
            raise SystemExit(3) from None
        if isinstance(error, StorageError):  # e.g. a wrong BEIAN_MASTER_PASSPHRASE: the one line that matters
            admin.err.print(f"[red]存储不可用 / Storage unavailable[/red]: {error}")
            raise SystemExit(2) from None
        raise
