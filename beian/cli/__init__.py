"""The ``beian`` command: run the system, manage users, and every role's steps.

Help and messages are in Chinese first, then English.
"""

from __future__ import annotations

import typer

from . import admin, archive, deploy, envelope, reconcile, reports, roles, rules

app = typer.Typer(
    name="beian",
    help="网站备案信息真实性核验系统 / Website-filing authenticity verification",
    no_args_is_help=True,
    add_completion=False,
)
for module in (admin, archive, deploy, envelope, reconcile, reports, roles, rules):
    module.register(app)


def main() -> None:
    app()
