"""Every workflow transition cites a section the rules loader can find in the notice."""

from __future__ import annotations

from chalicelib.rules import load_rules
from chalicelib.workflow import TRANSITIONS


def test_every_transition_cites_a_real_section() -> None:
    rules = load_rules()
    for transition in TRANSITIONS.values():
        assert rules.cited_text(transition.cite), transition.action
