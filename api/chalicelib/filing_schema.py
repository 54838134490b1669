"""The filing as a JSON Schema (draft 2020-12), generated from the rules file.

For clients that check a filing before sending it: each subject type's required fields at
submission (what ``validate_filing(stage="submission")`` requires), the fields that apply to
it, and the fields the provider enters (``x-beian-requirement: provider``: not required at
submission). Formats (check characters, domains ...) stay with the API's validators, which
say what is wrong in Chinese and English; the schema says what must be there.
"""

from __future__ import annotations

from typing import Any

from .consent import PRIVACY_NOTICE_VERSION
from .rules import Field, Rules

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID = "/api/schemas/filing.json"


def _value(rules: Rules, field: Field, required: bool) -> dict[str, Any]:
    """A field's value: as the API reads it, blank text, ``null`` and ``[]`` count as absent,
    so only a required field must hold something."""
    text: dict[str, Any] = {"type": "string"}
    if field.max_length is not None:
        text["description"] = f"at most {field.max_length} characters once normalised"
    if field.validator == "choice":
        text["enum"] = [choice.id for choice in field.choices]
    elif field.validator == "nationality":
        text["enum"] = [nationality.id for nationality in rules.nationalities]
    elif field.validator == "document_type":
        text["enum"] = [document.id for document in rules.documents]
    if field.many:
        text = {"type": "array", "items": text, "maxItems": field.max_items}
    if required:
        return {**text, **({"minItems": 1} if field.many else {"pattern": r"\S"})}
    return {"anyOf": [text, {"type": "null"}, {"type": "string", "pattern": r"^\s*$"}]}


def filing_schema(rules: Rules) -> dict[str, Any]:
    """The JSON Schema of a filing at submission, one ``if``/``then`` per subject type."""
    sections = {section.id for section in rules.sections}
    branches = []
    for subject_type in rules.subject_types:
        kind = subject_type.kind
        properties: dict[str, Any] = {}
        for section_id in sorted(sections):
            fields = [f for f in rules.fields if f.section == section_id and f.applies(kind)]
            if not fields:
                properties[section_id] = False  # e.g. an individual has no separate responsible person
                continue
            properties[section_id] = {
                "type": "object",
                "additionalProperties": False,
                "required": [f.key for f in fields if rules.requirement(f, kind) == "required"],
                "properties": {f.key: {**_value(rules, f, rules.requirement(f, kind) == "required"),
                                       "x-beian-requirement": rules.requirement(f, kind)} for f in fields},
            }
        required = sorted(section for section, schema in properties.items()
                          if isinstance(schema, dict) and schema["required"])
        branches.append({"if": {"properties": {"subject_type": {"const": subject_type.id}}},
                         "then": {"required": required, "properties": properties}})
    return {
        "$schema": SCHEMA_DIALECT,
        "$id": SCHEMA_ID,
        "title": f"网站备案信息 / Website filing (rules {rules.version})",
        "type": "object",
        "required": ["subject_type", "consent"],
        "properties": {
            "subject_type": {"enum": [t.id for t in rules.subject_types]},
            **{section: {"type": "object"} for section in sorted(sections)},
            "consent": {"type": "object", "required": ["sensitive_processing", "privacy_notice_version"],
                        "properties": {"sensitive_processing": {"const": True},
                                       "privacy_notice_version": {"const": PRIVACY_NOTICE_VERSION}}},
        },
        "additionalProperties": False,
        "allOf": branches,
    }
