"""`beian package` builds the Lambda bundle offline-capable, with crypto/ and the domain in it."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]


def test_the_package_holds_the_app_the_domain_crypto_and_the_font(tmp_path: Path) -> None:
    beian = Path(sys.executable).with_name("beian")
    subprocess.run([str(beian), "package", "--output", str(tmp_path)], check=True, cwd=PROJECT,
                   capture_output=True)
    with zipfile.ZipFile(tmp_path / "deployment.zip") as bundle:
        names = set(bundle.namelist())
    assert "app.py" in names
    for module in ("crypto/__init__.py", "crypto/envelope.py", "chalicelib/filings.py",
                   "chalicelib/rules/notice-2010.toml", "chalicelib/rules/notice-2010.md",
                   "chalicelib/adapters/aws.py", "fonts/wqy-microhei.ttc"):
        assert module in names, module
    assert not any(name.startswith("tests/") for name in names)
    template = json.loads((tmp_path / "sam.json").read_text())
    functions = [resource for resource in template["Resources"].values()
                 if resource["Type"] == "AWS::Serverless::Function"]
    assert functions and all(f["Properties"]["Runtime"] == "python3.11" for f in functions)
