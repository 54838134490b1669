"""A rule changed in the rules file changes the checklist page, the wizard and the API together.

The site is built from a modified copy of the rules (BEIAN_RULES_FILE) into a
temporary folder, from a copy of the site's sources so the working tree's generated
files stay as they are; the server then runs with the same rules file.
"""

from __future__ import annotations

import json
import random
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from chalicelib.rules import DEFAULT_RULES_FILE, load_rules

from beian.client import ApiError, BeianClient
from beian.synthetic import filing_payload

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("backend_env", ["embedded"], indirect=True)]

PROJECT = Path(__file__).resolve().parents[2]
RENAMED = "营业执照（新版）"


def modified_rules(folder: Path) -> Path:
    """The rules with one change: an enterprise may show only its business licence,
    now named RENAMED (the organisation code certificate is no longer accepted)."""
    folder.mkdir()
    original = load_rules()
    shutil.copy(DEFAULT_RULES_FILE.with_name(original.notice.file), folder)
    text = DEFAULT_RULES_FILE.read_text()
    text, swapped = re.subn(
        r'(id = "enterprise"\n(?:.*\n)*?documents = )\[[^\]]*\]', r'\1["business_licence"]', text, count=1
    )
    text, renamed = re.subn(r'(id = "business_licence"\nname_zh = )"[^"]*"', rf'\1"{RENAMED}"', text, count=1)
    assert swapped == renamed == 1
    rules_file = folder / DEFAULT_RULES_FILE.name
    rules_file.write_text(text)
    return rules_file


def build(tmp_path: Path, rules_file: Path, build_site: Callable[..., None]) -> Path:
    docs = tmp_path / "docs"
    shutil.copytree(PROJECT / "site", docs, ignore=shutil.ignore_patterns("generated"))
    config = tmp_path / "mkdocs.yml"
    config.write_text(
        json.dumps(
            {  # JSON is YAML: paths made absolute for the new location
                "INHERIT": str(PROJECT / "mkdocs.yml"),
                "docs_dir": str(docs),
                "hooks": [str(PROJECT / "site_hooks" / "rules_pages.py")],
                "theme": {"name": "material", "custom_dir": str(PROJECT / "site_hooks" / "theme")},
            }
        )
    )
    site = tmp_path / "site"
    build_site(site, config, {"BEIAN_RULES_FILE": str(rules_file)})
    return site


def test_a_document_rule_changes_page_wizard_and_api_together(
    page: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    serve_site: Callable[[Path], str],
    build_site: Callable[..., None],
    screenshot: Callable[[Any, str], Path],
) -> None:
    rules_file = modified_rules(tmp_path / "rules")
    site = build(tmp_path, rules_file, build_site)

    # The generated checklist page.
    html = (site / "checklist" / "index.html").read_text()
    start = html.index('id="enterprise"')
    table = html[start : html.index("</table>", start)]  # the enterprise's documents
    assert RENAMED in table
    assert "组织机构代码证书" not in table
    assert "组织机构代码证书" in html[:start]  # the other unit types keep it

    # The data the wizard and the upload page read.
    data = json.loads((site / "generated" / "checklists.json").read_text())
    assert data["enterprise"]["cn"]["documents"][0]["documents"] == ["business_licence"]
    rules = json.loads((site / "generated" / "rules.json").read_text())
    assert {d["id"]: d["name"]["zh"] for d in rules["documents"]}["business_licence"] == RENAMED

    # The wizard, served from that build.
    monkeypatch.setenv("BEIAN_RULES_FILE", str(rules_file))
    url = serve_site(site)
    page.goto(f"{url}/wizard/#type=enterprise&nationality=cn")
    unit = page.wait_for_selector("#wizard-documents [data-holder=subject]")
    assert [d.get_attribute("data-document") for d in unit.query_selector_all("[data-document]")] == [
        "business_licence"
    ]
    assert RENAMED in unit.inner_text()
    screenshot(page, "wizard-modified-rules")

    # The API validates with the same file.
    client = BeianClient(url)
    payload = filing_payload(random.Random(7), "enterprise")
    payload["subject"]["id_type"] = "organisation_code_certificate"
    with pytest.raises(ApiError) as refused:
        client.submit(payload)
    assert "subject.id_type" in {error["field"] for error in refused.value.body["errors"]}
    filing, _ = client.submit(filing_payload(random.Random(7), "enterprise"))
    assert filing["subject_type"] == "enterprise"
