"""Normalisation shared by the validators."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

from chalicelib.validators.exceptions import ValidationError

# Applicants type on Chinese input methods, which often produce full-width
# digits, letters and punctuation; NFKC folds them to their ASCII forms.


def fold_identifier(value: str, separators: str = " -") -> str:
    """Return ``value`` NFKC-folded, upper-cased, without the given separators."""
    folded = unicodedata.normalize("NFKC", value).upper()
    return "".join(ch for ch in folded if ch not in separators and not ch.isspace())


def has_control_characters(value: str) -> bool:
    """Whether ``value`` holds control, format, private-use or unassigned code points.

    Format characters include bidirectional overrides, which can make a name
    display differently from what is stored.
    """
    return any(unicodedata.category(ch) in {"Cc", "Cf", "Cs", "Co", "Cn"} for ch in value)


def collapse_whitespace(value: str) -> str:
    """NFC-normalise, strip and collapse every whitespace run to one space."""
    return " ".join(unicodedata.normalize("NFC", value).split())


def passes(validate: Callable[[str], str], value: str) -> bool:
    """Whether ``validate(value)`` succeeds: every module's ``is_valid``."""
    try:
        validate(value)
    except ValidationError:
        return False
    return True
