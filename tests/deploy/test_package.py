"""`beian package` builds the Lambda bundle with crypto/, the domain and the font in it."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any


def test_the_package_holds_the_app_the_domain_crypto_and_the_font(package_dir: Path,
                                                                   template: dict[str, Any]) -> None:
    with zipfile.ZipFile(package_dir / "deployment.zip") as bundle:
        names = set(bundle.namelist())
    assert "app.py" in names
    for module in ("crypto/__init__.py", "crypto/envelope.py", "chalicelib/filings.py",
                   "chalicelib/rules/notice-2010.toml", "chalicelib/rules/notice-2010.md",
                   "chalicelib/adapters/aws.py", "fonts/wqy-microhei.ttc"):
        assert module in names, module
    assert not any(name.startswith("tests/") for name in names)
    functions = [resource for resource in template["Resources"].values()
                 if resource["Type"] == "AWS::Serverless::Function"]
    assert functions and all(f["Properties"]["Runtime"] == "python3.11" for f in functions)
