"""`beian package` builds a Lambda bundle that runs on Lambda: the app, the domain, crypto/ and
the font are in it, every binary wheel is a manylinux wheel the runtime's glibc loads, and every
function's handler imports from the unpacked bundle alone."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

# The Lambda runtime and the glibc of the Amazon Linux it runs on (python3.11: Amazon Linux 2).
RUNTIME = "python3.11"
RUNTIME_GLIBC = (2, 26)
# PEP 600 names for the older manylinux tags.
LEGACY_MANYLINUX = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}
PROJECT = Path(__file__).resolve().parents[2]


def _functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: resource["Properties"] for name, resource in template["Resources"].items()
            if resource["Type"] == "AWS::Serverless::Function"}


def _platform_loads(platform: str) -> bool:
    """Whether a wheel built for ``platform`` loads on the runtime (pure wheels: "any")."""
    if platform == "any":
        return True
    legacy = re.fullmatch(r"(manylinux1|manylinux2010|manylinux2014)_x86_64", platform)
    if legacy:
        return LEGACY_MANYLINUX[legacy.group(1)] <= RUNTIME_GLIBC
    perennial = re.fullmatch(r"manylinux_(\d+)_(\d+)_x86_64", platform)
    return bool(perennial) and (int(perennial.group(1)), int(perennial.group(2))) <= RUNTIME_GLIBC


def wheel_platforms(bundle: zipfile.ZipFile) -> dict[str, set[str]]:
    """Each installed distribution's platform tags, from its WHEEL file."""
    platforms = {}
    for name in bundle.namelist():
        if name.endswith(".dist-info/WHEEL"):
            tags = [line.split(":", 1)[1].strip() for line in bundle.read(name).decode().splitlines()
                    if line.startswith("Tag:")]
            platforms[name.split("/")[0]] = {tag.rsplit("-", 1)[1] for tag in tags}
    return platforms


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
    functions = _functions(template)
    assert functions and all(f["Runtime"] == RUNTIME for f in functions.values())
    assert all(f["Architectures"] == ["x86_64"] for f in functions.values())


def test_every_binary_wheel_in_the_bundle_is_manylinux_the_runtime_loads(package_dir: Path) -> None:
    with zipfile.ZipFile(package_dir / "deployment.zip") as bundle:
        platforms = wheel_platforms(bundle)
        extensions = [name for name in bundle.namelist() if name.endswith(".so")]
    assert any(name.startswith("pillow-") for name in platforms)  # the wheels are there to judge
    # A wheel compiled on the build machine is tagged linux_x86_64: it needs this machine's
    # shared libraries (libjpeg, libxcb, libfreetype), which Lambda lacks.
    unloadable = {name: tags for name, tags in platforms.items()
                  if not any(_platform_loads(tag) for tag in tags)}
    assert unloadable == {}
    assert extensions  # Pillow, cryptography and cffi bring compiled modules


def test_the_wheel_check_refuses_a_wheel_built_here_or_for_a_newer_glibc() -> None:
    assert not _platform_loads("linux_x86_64")
    assert not _platform_loads("manylinux_2_28_x86_64")
    assert not _platform_loads("manylinux2014_aarch64")
    assert _platform_loads("manylinux2014_x86_64") and _platform_loads("manylinux_2_17_x86_64")


def test_every_handler_imports_from_the_unpacked_bundle_alone(package_dir: Path, template: dict[str, Any],
                                                            tmp_path: Path) -> None:
    """A clean interpreter: no site-packages (-S), no environment or working directory on its
    path (-I), only the standard library and the bundle, as Lambda's /var/task."""
    task = tmp_path / "task"
    with zipfile.ZipFile(package_dir / "deployment.zip") as bundle:
        bundle.extractall(task)
        extensions = sorted(name for name in bundle.namelist() if name.endswith(".so"))
    handlers = sorted(f["Handler"] for f in _functions(template).values())
    # Every compiled module too, so each shared library must resolve its own dependencies.
    modules = [name.split(".")[0].replace("/", ".") for name in extensions]
    script = f"""
import importlib, json, sys
sys.path.insert(0, {str(task)!r})
found = {{}}
for handler in {handlers!r}:
    module, _, name = handler.rpartition(".")
    found[handler] = callable(getattr(importlib.import_module(module), name))
for module in {modules!r}:
    importlib.import_module(module)
from PIL import Image
import io
Image.new("RGB", (8, 8)).save(io.BytesIO(), "JPEG")
print(json.dumps({{"handlers": found, "path": sys.path,
                  "app": sys.modules["app"].__file__, "boto3": "boto3" in sys.modules}}))
"""
    reply = subprocess.run([sys.executable, "-I", "-S", "-c", script], capture_output=True, text=True,
                           cwd=tmp_path, env={"BEIAN_BACKEND": "aws", "AWS_DEFAULT_REGION": "cn-north-1"},
                           timeout=120, check=False)
    assert reply.returncode == 0, reply.stderr[-3000:]
    result = json.loads(reply.stdout.splitlines()[-1])
    assert result["handlers"] == dict.fromkeys(handlers, True) and len(handlers) >= 3
    assert result["app"] == str(task / "app.py")
    assert not any(str(PROJECT) in entry or "site-packages" in entry for entry in result["path"])
