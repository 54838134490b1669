"""The remote door: what a person at a provider, a province, the filing center or an applicant
runs against a server's URL with a token (``BEIAN_URL``, ``BEIAN_TOKEN``).

Every command reaches the archive through the API client (``beian.client``), or works offline
(the envelope keys, the rules, working days). Of the domain it imports only the read-only rules
and checks it uses for early hints, as the ``remote-through-api`` contract in pyproject.toml
names them one by one: the server checks everything again.
"""

from __future__ import annotations

import typer

from . import archive, envelope, roles, rules


def register(app: typer.Typer) -> None:
    for module in (roles, archive, envelope, rules):
        module.register(app)
