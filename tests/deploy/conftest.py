"""The AWS deployment package, built once per session.

Building takes about a minute (pip fetches the Lambda wheels). ``beian deploy-check`` builds it
first and names it in BEIAN_PACKAGE_DIR, and these tests then read that one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from beian.operator.deploy import PACKAGE_DIR_VARIABLE, build_package


@pytest.fixture(scope="session")
def package_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    given = os.environ.get(PACKAGE_DIR_VARIABLE)
    if given:
        return Path(given)
    output = tmp_path_factory.mktemp("package")
    build_package(output)
    return output


@pytest.fixture(scope="session")
def template(package_dir: Path) -> dict[str, Any]:
    """The merged SAM template, as CloudFormation would receive it."""
    merged: dict[str, Any] = json.loads((package_dir / "sam.json").read_text(encoding="utf-8"))
    return merged
