"""Under CI a missing browser, font or tool fails its test with the install command; never a skip."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import require_command, require_file


def test_under_ci_a_missing_tool_fails_with_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"apt-get install -y no-such-package"):
        require_command("no-such-command-beian", "no-such-package")
    with pytest.raises(pytest.fail.Exception, match=r"make system-deps"):
        require_file(Path("/no/such/font.ttc"), "fonts-wqy-microhei")


def test_elsewhere_a_missing_tool_skips_with_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"apt-get install -y chromium"):
        require_command("no-such-command-beian", "chromium")


def test_what_is_there_is_returned(tmp_path: Path) -> None:
    present = tmp_path / "font.ttc"
    present.write_bytes(b"")
    assert require_file(present, "fonts-wqy-microhei") == present
    assert require_command("sh", "dash").endswith("/sh")
