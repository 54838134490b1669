"""The on-site verification form's checklist, checked against what the verifier confirmed and
the documents received.

Read-only, on the rules and the filing's data alone: the on-site step checks it, and the remote
``beian on-site`` command asks it too, before it stores the photo for good.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .rules import Rules


def field_error(field: str, zh: str, en: str, code: str = "invalid") -> dict[str, str]:
    """One problem with one field, as the API lists it."""
    return {"field": field, "code": code, "message_zh": zh, "message_en": en}


def checklist_errors(rules: Rules, declared: Mapping[str, str], received: set[str],
                     checks: Mapping[str, Any]) -> list[dict[str, str]]:
    """Every item of the form's checklist, confirmed by the verifier one by one; an item that
    needs copies in the archive only once the declared documents (by holder: document type)
    have been received. The on-site CLI asks this too, before it stores the photo."""
    errors = []
    shown = declared.get("responsible_person") or declared.get("subject")
    document = rules.document(shown).name if shown else None
    for section in rules.verification_form.sections:
        for check in section.checks:
            name = check.named(document) if document else check.name
            if checks.get(check.id) is not True:
                errors.append(field_error(f"params.checks.{check.id}", f"未确认：{name.zh}",
                                     f"Not confirmed: {name.en}", "unconfirmed"))
            elif check.requires == "identity_documents":
                missing = [rules.document(kind).name for kind in declared.values() if kind not in received]
                if missing:
                    errors.append(field_error(
                        f"params.checks.{check.id}",
                        f"尚未收到复印件（扫描件），不能确认：{'、'.join(n.zh for n in missing)}",
                        "The copies (scans) have not been received, so this cannot be confirmed: "
                        + ", ".join(n.en for n in missing), "missing_documents"))
    return errors


def declared_documents(payload: Mapping[str, Any]) -> dict[str, str]:
    """The identity document each holder named in the filing, by holder."""
    return {holder: str(payload[holder]["id_type"])
            for holder in ("subject", "responsible_person")
            if isinstance(payload.get(holder), Mapping) and payload[holder].get("id_type")}
