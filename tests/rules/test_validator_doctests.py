"""Every validator module documents itself with examples, as python-stdnum's modules do, and
the examples hold: they run here."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import chalicelib.validators
import pytest

MODULES = sorted(name for _, name, _ in pkgutil.iter_modules(chalicelib.validators.__path__)
                 if not name.startswith("_") and name != "exceptions")


@pytest.mark.parametrize("name", MODULES)
def test_the_examples_in_the_docstring_hold(name: str) -> None:
    module = importlib.import_module(f"chalicelib.validators.{name}")
    # Messages are shown as "...": what a refusal says is tested with the rules (test_validators).
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.IGNORE_EXCEPTION_DETAIL)
    assert result.attempted >= 3, f"{name} shows fewer than three examples"
    assert result.failed == 0
