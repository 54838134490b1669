"""The operator's door: the tools run on the server itself, with its configuration and keys.

``serve``, ``users``, ``reconcile``, ``report``, ``register``, ``demo``, ``retention``,
``audit verify``, ``package``, ``deploy-check``, ``publish-site`` and ``restore-archive`` run
the domain in-process through the services wiring (``chalicelib.services``). Where a route
already answers what a command needs, the command goes through it with the API client on an
in-process transport (``inprocess.py``: the embedded gateway, no socket) rather than calling
the services itself.
"""

from __future__ import annotations

import typer

from . import admin, archive, deploy, reconcile, registers, reports


def register(app: typer.Typer) -> None:
    for module in (admin, archive, deploy, reconcile, registers, reports):
        module.register(app)
