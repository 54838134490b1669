"""What staff state before they open the archive (a key release, a search): a purpose from
the rules file's list and a free-text reference (a case number, a letter, a ticket).

The edge refuses anything else against the OpenAPI document's schemas, which are built from
the same rules (:func:`purpose_schema`, :func:`reference_schema`); every route that asks for
a purpose checks it again here, once, so the domain does not trust the edge alone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import Invalid
from .rules import load_rules
from .validators import resident_id

# Eighteen characters that may be a resident ID number: the audit log holds none.
_ID_LIKE = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9])")


@dataclass(frozen=True)
class StatedPurpose:
    purpose: str
    reference: str

    def audited(self) -> dict[str, str]:
        """What the audit entry keeps beside the purpose id."""
        return {"reference": self.reference}


def stated_purpose(request: Mapping[str, Any]) -> StatedPurpose:
    """The purpose and reference of ``request``; Invalid naming ``purpose`` or ``reference``."""
    rules = load_rules().stated_purposes
    purpose = request.get("purpose")
    if not isinstance(purpose, str) or purpose not in rules.ids():
        listed = ", ".join(rules.ids())
        raise Invalid(f"请从列表中选择调阅目的：{listed}", f"Choose the purpose from the list: {listed}",
                      field="purpose")
    reference = request.get("reference")
    least, most = rules.reference_min_chars, rules.reference_max_chars
    if not isinstance(reference, str) or len(reference.strip()) < least or len(reference) > most:
        raise Invalid(f"请填写调阅依据（案件编号、函件或工单），{least} 至 {most} 个字",
                      f"State the reference (a case number, letter or ticket), {least} to {most} characters",
                      field="reference")
    if any(resident_id.is_valid(candidate) for candidate in _ID_LIKE.findall(reference)):
        raise Invalid("调阅依据中不得含证件号码（它将记入审计日志）",
                      "The reference must not contain an ID number (it goes into the audit log)", field="reference")
    return StatedPurpose(purpose, reference.strip())


def purpose_schema() -> dict[str, Any]:
    """A purpose in the OpenAPI document: one id of the rules file's list."""
    return {"type": "string", "enum": list(load_rules().stated_purposes.ids())}


def reference_schema() -> dict[str, Any]:
    """A reference in the OpenAPI document. JSON Schema cannot trim, so the pattern asks for
    two non-blank characters far enough apart: the trimmed text is at least the minimum."""
    rules = load_rules().stated_purposes
    least = rules.reference_min_chars
    trimmed = r"\S" if least == 1 else rf"\S[\s\S]{{{least - 2},}}\S"
    return {"type": "string", "minLength": least, "maxLength": rules.reference_max_chars, "pattern": trimmed}
