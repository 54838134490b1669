"""The interactive checklist gives exactly what the rules require, for every subject type."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from chalicelib.rules import Nationality, Rules, load_rules

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("backend_env", ["embedded"], indirect=True)]

RULES = load_rules()


def shown(page: Any) -> dict[str, Any]:
    """What the wizard lists: documents per holder (first, fallbacks) and fields."""
    listed: dict[str, Any] = page.evaluate(
        """() => ({
          documents: [...document.querySelectorAll('#wizard-documents [data-holder]')].map(h => ({
            holder: h.dataset.holder,
            documents: [...h.querySelectorAll('[data-document]')].map(d => [d.dataset.document, d.dataset.role]),
          })),
          fields: [...document.querySelectorAll('#wizard-fields [data-field]')].map(
            f => [f.dataset.field, f.dataset.requirement]),
        })"""
    )
    return listed


def expected(rules: Rules, subject_type: str, nationality: Nationality) -> dict[str, Any]:
    kind = rules.subject_type(subject_type).kind
    return {
        "documents": [
            {
                "holder": options.holder,
                "documents": [[doc, "first" if i == 0 else "fallback"] for i, doc in enumerate(options.ids())],
            }
            for options in rules.documents_for(subject_type, nationality)
        ],
        # Required, optional or the provider's to enter: as rules show, the checklist page and the
        # API say (tests/rules/test_coverage.py).
        "fields": [[field.id, rules.requirement(field, kind)] for field in rules.fields_for(subject_type)],
    }


@pytest.mark.parametrize("subject_type", [t.id for t in RULES.subject_types])
def test_the_wizard_lists_what_the_rules_require(
    page: Any, live_server: str, screenshot: Callable[[Any, str], Path], subject_type: str
) -> None:
    page.goto(f"{live_server}/wizard/")
    page.wait_for_selector("#wizard-prompt")
    page.check(f"input[name=subject_type][value={subject_type}]")
    for nationality in RULES.nationalities:
        page.check(f"input[name=nationality][value={nationality.id}]")
        assert shown(page) == expected(RULES, subject_type, nationality.id)
        assert page.evaluate("location.hash") == f"#type={subject_type}&nationality={nationality.id}"
        screenshot(page, f"wizard-{subject_type}-{nationality.id}")
    names = page.inner_text("#wizard-documents")
    for options in RULES.documents_for(subject_type, "foreign"):
        for document in options.documents:
            assert document.name.zh in names
    # Which unified social credit codes fit the type, and whose rule a provider's type is.
    prefixes = page.get_attribute("[data-uscc-prefixes]", "data-uscc-prefixes") if RULES.subject_type(
        subject_type).uscc_prefixes else None
    assert prefixes == (" ".join(RULES.subject_type(subject_type).uscc_prefixes) or None)
    assert ("本单位规则" in names) == RULES.subject_type(subject_type).citation.provider


def test_the_english_wizard_speaks_english_and_opens_from_a_link(
    page: Any, live_server: str, screenshot: Callable[[Any, str], Path]
) -> None:
    page.goto(f"{live_server}/en/wizard/#type=individual&nationality=foreign")
    page.wait_for_selector("#wizard-documents")
    assert page.get_attribute("html", "lang") == "en"
    assert page.is_checked("input[name=subject_type][value=individual]")
    assert shown(page) == expected(RULES, "individual", "foreign")
    text = page.inner_text("#wizard")
    assert "Original documents to bring" in text
    assert RULES.document("passport").name.en in text
    assert "required" in text
    screenshot(page, "wizard-en-individual-foreign")
