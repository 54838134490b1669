"""The site as a whole in the browser: accessible, offline, searchable in Chinese."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("backend_env", ["embedded"], indirect=True)]

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
PAGES = [
    "",
    "disclosure/",
    "process/",
    "checklist/",
    "wizard/#type=enterprise&nationality=foreign",
    "photo/",
    "contract/",
    "privacy/",
    "upload/",
    "status/",
    "notice/",
    "coverage/",
    "developers/envelope-format/",
    "developers/archive-key/",
    "operators/running/",
]
SERIOUS = ("serious", "critical")


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """Serious and critical axe-core findings on the page as it is now."""
    if not AXE.is_file():
        pytest.fail(f"{AXE} is missing: run `make node-deps` (npm ci)")
    page.evaluate(AXE.read_text())
    # Judge what the page settles on: a button fading in (Material's back-to-top) has too
    # little contrast halfway through its transition.
    page.evaluate("document.getAnimations().forEach(animation => animation.finish())")
    found: list[dict[str, Any]] = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ['violations']})).violations.map(
             v => ({id: v.id, impact: v.impact, help: v.help,
                    nodes: v.nodes.slice(0, 5).map(n => n.target.join(' '))}))"""
    )
    return [v for v in found if v["impact"] in SERIOUS]


@pytest.mark.parametrize(("language", "scheme"), [("zh", "light"), ("en", "light"), ("zh", "dark")])
def test_every_page_passes_axe_without_serious_violations(
    page: Any, live_server: str, language: str, scheme: str, screenshot: Callable[[Any, str], Path]
) -> None:
    page.emulate_media(color_scheme=scheme)
    prefix = "" if language == "zh" else "en/"
    problems = {}
    for path in PAGES:
        page.goto(f"{live_server}/{prefix}{path}")
        page.wait_for_selector(".beian-app:not([aria-busy]), article")
        assert page.get_attribute("html", "lang") == language
        if violations := axe_violations(page):
            problems[path] = violations
    screenshot(page, f"site-{language}-{scheme}")
    assert not problems, json.dumps(problems, ensure_ascii=False, indent=1)


def test_interactive_states_pass_axe(page: Any, live_server: str) -> None:
    page.goto(f"{live_server}/upload/")
    page.fill("#filing-id", "F20990101-00000000")
    page.fill("#filing-token", "bft_wrong")
    page.click("#access-form button[type=submit]")
    page.wait_for_selector("[role=alert]")
    assert axe_violations(page) == []
    page.goto(f"{live_server}/en/status/")
    page.wait_for_selector("#access-form")
    assert axe_violations(page) == []


def test_the_site_needs_nothing_but_its_own_origin(page: Any, live_server: str) -> None:
    """Every request every page makes goes to the server itself: no CDN, works offline."""
    origins = set()
    page.on("request", lambda request: origins.add(urlsplit(request.url).netloc))
    for prefix in ("", "en/"):
        for path in PAGES:
            page.goto(f"{live_server}/{prefix}{path}")
            page.wait_for_selector(".beian-app:not([aria-busy]), article")
    assert origins == {urlsplit(live_server).netloc}
    # The flow chart is drawn by the local Mermaid (into a closed shadow root): it takes space.
    page.goto(f"{live_server}/process/")
    page.wait_for_function("() => document.querySelector('.mermaid').getBoundingClientRect().height > 300")


@pytest.mark.parametrize(
    ("prefix", "query", "expected"),
    [
        ("", "营业执照", "/checklist/"),
        ("", "预核验", "/process/"),
        ("", "免冠", "/photo/"),
        ("", "留存", "/privacy/"),
        ("en/", "passport", "/en/checklist/"),
    ],
)
def test_search_finds_chinese_words(
    page: Any, live_server: str, prefix: str, query: str, expected: str, screenshot: Callable[[Any, str], Path]
) -> None:
    page.goto(f"{live_server}/{prefix}")
    box = page.locator("input[data-md-component=search-query]")
    box.click()
    box.fill(query)
    box.press("End")  # Material searches on keyup; fill() alone types no key
    page.wait_for_selector(".md-search-result__item")
    links = [
        urlsplit(link.get_attribute("href")).path for link in page.query_selector_all(".md-search-result__item > a")
    ]
    assert expected in links, links
    if query == "营业执照":
        screenshot(page, "search-zh")
