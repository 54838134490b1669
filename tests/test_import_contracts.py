"""`make lint` enforces the architecture's import contracts (pyproject.toml, [tool.importlinter]):
the real tree keeps them, and a copy of it with one violation per contract breaks each of them."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
# One deliberate violation per contract: (file in the copy, line appended, contract id broken).
VIOLATIONS = [
    ("api/chalicelib/filings.py", "import boto3", "domain-no-cloud"),
    ("crypto/__init__.py", "import chalicelib.errors", "crypto-alone"),
    ("api/chalicelib/adapters/aws.py", "from . import embedded", "adapters-apart"),
    ("api/chalicelib/reconcile.py", "from . import services", "domain-no-wiring"),
    ("beian/remote/roles.py", "from chalicelib.services import current_services", "remote-through-api"),
]


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    """The project's contracts checked against the packages found in ``tree``."""
    paths = os.pathsep.join([str(tree), str(tree / "api")])
    return subprocess.run([str(LINT_IMPORTS), "--config", str(PROJECT / "pyproject.toml"), "--no-cache"],
                          cwd=tree, env={**os.environ, "PYTHONPATH": paths}, capture_output=True, text=True,
                          timeout=300, check=False)


def contract_names() -> dict[str, str]:
    config = tomllib.loads((PROJECT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return {contract["id"]: contract["name"] for contract in config["contracts"]}


def contract_lines(output: str) -> dict[str, str]:
    return dict(re.findall(r"^(.+?) (KEPT|BROKEN)\b", output, re.MULTILINE))


def copy_tree(target: Path) -> Path:
    ignore = shutil.ignore_patterns("__pycache__", "vendor", ".chalice")
    for package in ("api/chalicelib", "crypto", "beian"):
        shutil.copytree(PROJECT / package, target / package, ignore=ignore)
    return target


def test_the_tree_keeps_every_contract() -> None:
    result = lint_imports(PROJECT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert contract_lines(result.stdout) == dict.fromkeys(contract_names().values(), "KEPT")


def test_a_violation_of_each_contract_fails_the_lint(tmp_path: Path) -> None:
    tree = copy_tree(tmp_path)
    for path, line, _ in VIOLATIONS:
        with (tree / path).open("a") as module:
            module.write(f"\n{line}\n")
    result = lint_imports(tree)
    assert result.returncode == 1, result.stdout + result.stderr
    broken = {name for name, verdict in contract_lines(result.stdout).items() if verdict == "BROKEN"}
    assert broken == {contract_names()[contract] for _, _, contract in VIOLATIONS}, result.stdout
    for path, line, _ in VIOLATIONS:
        importer = path.removeprefix("api/").removesuffix(".py").removesuffix("/__init__").replace("/", ".")
        assert importer in result.stdout, f"{importer} ({line}) not reported:\n{result.stdout}"
