"""The filing's JSON shape as a JSON Schema (draft 2020-12), made from the rules file.

Published at /api/schemas/filing.json for people and tools that write filings by hand
(``beian apply --example TYPE`` prints one). It says the shape: sections, fields, types,
lengths, choices, and which fields each subject type must fill. The numbers' checksums,
document choices by nationality and the field groups are the API's to check: its reply
lists every error at once.
"""

from __future__ import annotations

from typing import Any

from .consent import PRIVACY_NOTICE_VERSION
from .rules import Field, Rules, load_rules

SCHEMA_ID = "/api/schemas/filing.json"


def _field_schema(rules: Rules, field: Field) -> dict[str, Any]:
    value: dict[str, Any] = {"type": "string", "title": field.label.zh, "description": field.hint.en}
    if field.max_length:
        value["maxLength"] = field.max_length
    if field.choices:
        value["enum"] = [choice.id for choice in field.choices]
    elif field.validator == "nationality":
        value["enum"] = [nationality.id for nationality in rules.nationalities]
    elif field.validator == "document_type":
        value["enum"] = [document.id for document in rules.documents]
    if field.many:
        return {"type": "array", "title": field.label.zh, "items": value, "maxItems": field.max_items}
    return value


def filing_schema(rules: Rules | None = None) -> dict[str, Any]:
    rules = rules or load_rules()
    sections: dict[str, Any] = {
        section.id: {"type": "object", "title": section.label.zh, "description": section.label.en,
                     "additionalProperties": False,
                     "properties": {field.key: _field_schema(rules, field)
                                    for field in rules.fields if field.section == section.id}}
        for section in rules.sections}
    by_type = []
    for subject_type in rules.subject_types:
        required: dict[str, list[str]] = {}
        for field in rules.required_fields(subject_type.id):
            if rules.section(field.section).entered_by == "applicant":
                required.setdefault(field.section, []).append(field.key)
        by_type.append({
            "if": {"properties": {"subject_type": {"const": subject_type.id}}},
            "then": {"required": sorted(required),
                     "properties": {section: {"required": keys} for section, keys in required.items()}}})
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "网站备案信息 / Website filing",
        "description": f"Rules version {rules.version}; the access section is the provider's to enter.",
        "type": "object",
        "required": ["subject_type", "consent"],
        "additionalProperties": False,
        "properties": {
            "subject_type": {"type": "string", "enum": [item.id for item in rules.subject_types]},
            **sections,
            "consent": {"type": "object", "required": ["sensitive_processing", "privacy_notice_version"],
                        "properties": {"sensitive_processing": {"const": True},
                                       "privacy_notice_version": {"const": PRIVACY_NOTICE_VERSION}}},
        },
        "allOf": by_type,
    }
