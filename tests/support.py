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


def debian(package: str) -> str:
    return f"make system-deps (apt-get install -y {package})"


def missing(what: str, install: str) -> None:
    message = f"{what} is missing: run {install}"
    if os.environ.get("CI", "").lower() in ("true", "1"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def require_command(name: str, package: str) -> str:
    """The path of command ``name``, from Debian package ``package``."""
    found = shutil.which(name)
    if found is None:
        missing(f"the command {name!r}", debian(package))
    return str(found)


def require_file(path: Path, package: str = "", *, install: str = "") -> Path:
    """``path``, installed by Debian package ``package`` or by the command ``install``."""
    if not path.is_file():
        missing(str(path), install or debian(package))
    return path
