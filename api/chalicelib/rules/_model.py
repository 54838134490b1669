"""The two pieces the rules model and the notice's text share: bilingual text and JSON conversion.

The model itself is in ``rules/__init__.py``. These live apart because ``_notice.py`` (the
notice split by section) needs ``Serialisable`` too, and ``__init__`` imports ``_notice``: kept
there, they would make the two modules import each other.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any


def to_jsonable(value: object) -> Any:
    """Convert dataclasses, tuples and dates to JSON-compatible values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: to_jsonable(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [to_jsonable(item) for item in value]
    if isinstance(value, date):
        return value.isoformat()
    return value


class Serialisable:
    """Gives a dataclass ``to_dict()`` for the site build and the API."""

    def to_dict(self) -> dict[str, Any]:
        """Return the object as JSON-compatible dicts and lists."""
        result: dict[str, Any] = to_jsonable(self)
        return result


@dataclasses.dataclass(frozen=True)
class Bilingual(Serialisable):
    """A text in Chinese and English."""

    zh: str
    en: str
