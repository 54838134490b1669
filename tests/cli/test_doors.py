"""One `beian` command, two doors: every command comes from exactly one of the two packages and
is shown under that door's panel in the help."""

from __future__ import annotations

from collections.abc import Callable

import typer
from typer.core import TyperGroup
from typer.main import get_command
from typer.testing import CliRunner

from beian import cli, operator, remote


def names(app: typer.Typer) -> set[str]:
    group = get_command(app)
    assert isinstance(group, TyperGroup)
    return set(group.commands)


def commands_of(register: Callable[[typer.Typer], None]) -> set[str]:
    app = typer.Typer()
    register(app)
    app.command("placeholder")(lambda: None)  # Typer runs a lone command as the whole app
    return names(app) - {"placeholder"}


def test_each_command_comes_through_one_door() -> None:
    on_server, at_desk = commands_of(operator.register), commands_of(remote.register)
    assert not on_server & at_desk
    assert on_server | at_desk == names(cli.app)
    assert {"serve", "users", "reconcile", "report", "register", "demo", "retention", "package"} <= on_server
    assert {"apply", "status", "upload", "on-site", "review", "retrieve", "archive", "audit", "keys"} <= at_desk


def test_the_help_shows_each_door_under_its_panel() -> None:
    shown = CliRunner().invoke(cli.app, ["--help"], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    panels = [panel for _, panel in cli.DOORS]
    for door, panel in cli.DOORS:
        title = shown.output.index(panel.split(" / ")[0])
        following = [shown.output.index(other.split(" / ")[0]) for other in panels if other != panel]
        end = min([index for index in following if index > title], default=len(shown.output))
        listed = {line.split()[1] for line in shown.output[title:end].splitlines()[1:]
                  if line.startswith("│ ") and len(line.split()) > 1 and not line.startswith("│  ")}
        assert listed == commands_of(door.register), panel
