"""The ``beian`` command: run the system, manage users, and every role's steps.

Help and messages are in Chinese first, then English.
"""

from __future__ import annotations

import typer
from chalicelib.integrity import RecordTampered
from chalicelib.ports import StorageError

from . import admin, archive, deploy, envelope, reconcile, registers, reports, roles, rules

app = typer.Typer(
    name="beian",
    help="网站备案信息真实性核验系统 / Website-filing authenticity verification",
    no_args_is_help=True,
    add_completion=False,
)
for module in (admin, archive, deploy, envelope, reconcile, registers, reports, roles, rules):
    module.register(app)


def main() -> None:
    try:
        app()
    except RecordTampered as error:
        admin.err.print(f"[red]{error.message_zh}[/red] / {error.message_en} ({error.kind}:{error.key})")
        raise SystemExit(3) from None
    except StorageError as error:  # e.g. a wrong BEIAN_MASTER_PASSPHRASE: the one line that matters
        admin.err.print(f"[red]存储不可用 / Storage unavailable[/red]: {error}")
        raise SystemExit(2) from None
