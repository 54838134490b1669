"""The ``beian`` command: run the system, manage users, and every role's steps.

Help and messages are in Chinese first, then English.
"""

from __future__ import annotations

import signal
import sys

import typer

from . import admin, archive, deploy, envelope, reconcile, registers, reports, roles, rules

app = typer.Typer(
    name="beian",
    help="网站备案信息真实性核验系统 / Website-filing authenticity verification",
    no_args_is_help=True,
    add_completion=False,
)
for module in (admin, archive, deploy, envelope, reconcile, registers, reports, roles, rules):
    module.register(app)


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
