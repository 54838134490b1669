"""The built site (build/site), read as files: what the server's CSP and offline use need."""

from __future__ import annotations

import json
import re
from pathlib import Path

from chalicelib.consent import PRIVACY_NOTICE_VERSION
from chalicelib.rules import load_rules

PROJECT = Path(__file__).resolve().parents[2]
PAGES = sorted((PROJECT / "build" / "site").rglob("*.html"))
SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script>", re.S)
EXTERNAL = re.compile(
    r"<(?:script|img|iframe)\b[^>]*\bsrc=\"(?:https?:)?//"
    r"|<link\b[^>]*rel=\"(?:stylesheet|preload|modulepreload)\"[^>]*href=\"(?:https?:)?//"
    r"|<link\b[^>]*href=\"(?:https?:)?//[^\"]*\"[^>]*rel=\"(?:stylesheet|preload)\""
)


def test_pages_exist_in_both_languages() -> None:
    site = PROJECT / "build" / "site"
    for name in (
        "disclosure",
        "process",
        "checklist",
        "wizard",
        "photo",
        "contract",
        "privacy",
        "upload",
        "status",
        "notice",
        "coverage",
        "developers/envelope-format",
        "developers/archive-key",
        "operators/running",
    ):
        assert (site / name / "index.html").is_file(), name
        assert (site / "en" / name / "index.html").is_file(), f"en/{name}"


def test_no_page_has_an_inline_script_or_a_third_party_resource() -> None:
    """The server sends script-src 'self' and connect-src 'self' (beian/server.py)."""
    assert PAGES
    for page in PAGES:
        html = page.read_text()
        for attributes, body in SCRIPT.findall(html):
            assert "src=" in attributes or 'type="application/json"' in attributes, (
                f"{page}: inline script {body[:80]!r}"
            )
        assert not EXTERNAL.search(html), f"{page}: {EXTERNAL.search(html)}"


def test_mermaid_is_served_locally_where_a_diagram_is_drawn() -> None:
    diagrams = [page for page in PAGES if 'class="mermaid"' in page.read_text()]
    assert {page.parent.name for page in diagrams} == {"process"}
    for page in diagrams:
        assert re.search(r'<script src="[./]*generated/mermaid\.min\.js">', page.read_text())


def test_the_site_data_is_the_rules_file() -> None:
    generated = PROJECT / "build" / "site" / "generated"
    rules = load_rules()
    assert json.loads((generated / "rules.json").read_text()) == json.loads(json.dumps(rules.to_dict()))
    checklists = json.loads((generated / "checklists.json").read_text())
    for subject_type in rules.subject_types:
        for nationality in rules.nationalities:
            entry = checklists[subject_type.id][nationality.id]
            assert [item["documents"] for item in entry["documents"]] == [
                list(options.ids()) for options in rules.documents_for(subject_type.id, nationality.id)
            ]
            assert entry["required"] == [f.id for f in rules.required_fields(subject_type.id)]


def test_the_privacy_notice_shows_the_version_applicants_consent_to() -> None:
    for prefix in ("", "en/"):
        html = (PROJECT / "build" / "site" / prefix / "privacy" / "index.html").read_text()
        assert f"<strong>{PRIVACY_NOTICE_VERSION}</strong>" in html


def test_the_operators_page_explains_every_setting() -> None:
    names = set(re.findall(r'env\.get\("([A-Z_]+)"', (PROJECT / "api" / "chalicelib" / "config.py").read_text()))
    assert names
    for page in ("running.md", "running.en.md"):
        text = (PROJECT / "site" / "operators" / page).read_text()
        assert not {name for name in names if f"`{name}`" not in text}, page
