"""The CLI starts at once: importing it loads no heavy library; each loads in the command that needs it."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("fpdf", "PIL", "boto3", "botocore", "fontTools", "requests", "cryptography", "jwt", "holidays")


def loaded_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys\nprint(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    done = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True)
    return set(done.stdout.split()) & set(HEAVY)


def test_importing_the_cli_loads_no_heavy_library() -> None:
    assert loaded_after("import beian.cli") == set()


def test_help_and_light_commands_load_no_heavy_library() -> None:
    for argv in (["--help"], ["workdays", "add", "2026-12-25", "20"], ["keys", "--help"]):
        run = f"import sys\nfrom beian.cli import app\ntry:\n    app({argv!r})\nexcept SystemExit:\n    pass"
        assert loaded_after(run) <= {"holidays"}, argv  # the provisional calendar beyond the official one


def test_the_probe_sees_a_heavy_library() -> None:
    """The checks above can fail: the domain's PDF form, which the CLI defers, loads fpdf and Pillow."""
    assert {"fpdf", "PIL"} <= loaded_after("import beian.cli, chalicelib.forms")
