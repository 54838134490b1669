"""What a test needs from the machine (a browser, a font, a tool), found or refused plainly.

Under CI (``CI=true``) a missing dependency fails its test with the command that installs it:
a run that skipped the browser tests would pass without having checked the site. On a
developer's machine it skips with the same command.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

INSTALL = "make system-deps (apt-get install -y {package})"


def missing(what: str, package: str) -> None:
    message = f"{what} is missing: run {INSTALL.format(package=package)}"
    if os.environ.get("CI", "").lower() in ("true", "1"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def require_command(name: str, package: str) -> str:
    """The path of command ``name``, from Debian package ``package``."""
    found = shutil.which(name)
    if found is None:
        missing(f"the command {name!r}", package)
    return str(found)


def require_file(path: Path, package: str) -> Path:
    """``path``, installed by Debian package ``package``."""
    if not path.is_file():
        missing(str(path), package)
    return path
