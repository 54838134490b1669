"""Validation of a whole filing against the rules: every error in one pass.

Applicants most resent rejections that come one at a time, so
``validate_filing`` never stops at the first mistake: a filing with ten
mistakes gets ten ``FieldError`` s, and malformed JSON (wrong types, unknown
keys) produces errors, never exceptions.

Payload shape (JSON object; the authoritative field list is ``Rules.fields``)::

    {
      "subject_type": "enterprise",        # a subject type id from the rules
      "subject": {
        "name": "...",
        "nationality": "cn" | "foreign",   # individuals only
        "id_type": "business_licence",     # a document allowed for the subject
        "id_number": "..."                 # checked by that document's identifier
      },
      "responsible_person": {              # units only: an individual is their
        "name": "...",                     # own responsible person (一.1(3)),
        "nationality": "cn" | "foreign",   # so this section must be absent
        "id_type": "resident_id_card",
        "id_number": "..."
      },
      "contact": {"mobile", "office_phone", "home_phone" (individuals only),
                  "email", "address"},
      "website": {"name", "domains": [...], "prior_approvals": [...],
                  "service_content"},
      "access": {"provider_name", "access_method" (a choice id),
                 "server_location", "ip_addresses": [...]}
    }

Blank strings and ``null`` count as absent. ``ValidationResult.normalised``
holds every value that passed, in normalised form (e.g. domains as lower-case
A-labels); it is complete exactly when ``errors`` is empty. Error paths are
dotted, with list indexes: ``subject.id_number``, ``website.domains[1]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from chalicelib.rules import (
    Bilingual,
    Field,
    Kind,
    Nationality,
    Rules,
    Serialisable,
    load_rules,
)
from chalicelib.validators import VALIDATORS, ValidationError

__all__ = ["FieldError", "FieldValidation", "ValidationResult", "document_number", "validate_field",
           "validate_filing"]

_SUBJECT_TYPE = "subject_type"
_SUBJECT_TYPE_LABEL = Bilingual("主办者类型", "Subject type")


@dataclass(frozen=True)
class FieldError(Serialisable):
    """One problem with one field; ``field`` is a dotted path into the payload."""

    field: str
    code: str
    message_zh: str
    message_en: str


@dataclass(frozen=True)
class ValidationResult(Serialisable):
    """All errors of a filing and the values that passed, normalised."""

    errors: tuple[FieldError, ...]
    normalised: dict[str, Any]

    @property
    def ok(self) -> bool:
        """Whether the filing has no errors."""
        return not self.errors


@dataclass(frozen=True)
class FieldValidation(Serialisable):
    """The result of checking one field: its normalised value (if valid) and errors."""

    value: Any
    errors: tuple[FieldError, ...]


Stage = Literal["submission", "verification"]


def validate_filing(payload: object, rules: Rules | None = None, *,
                    stage: Stage = "verification") -> ValidationResult:
    """Check a whole filing and return every error at once.

    At ``submission`` the sections the access provider enters (``entered_by =
    "provider"``: the access information, 二.(二)1(5)) may still be blank; whatever the
    applicant gives is checked all the same. At ``verification`` everything required is.
    """
    check = _Check(rules or load_rules(), stage)
    normalised = check.filing(payload)
    return ValidationResult(tuple(check.errors), normalised)


def validate_field(
    field_id: str,
    value: object,
    *,
    subject_type: str | None = None,
    siblings: Mapping[str, object] | None = None,
    rules: Rules | None = None,
) -> FieldValidation:
    """Check one field, e.g. while a person types.

    ``subject_type`` (a valid id; ``KeyError`` otherwise) decides whether the
    field is required: without it a blank value passes. ``siblings`` are the
    other raw values of the field's section, which ``id_type`` (nationality)
    and ``id_number`` (id_type) depend on.
    """
    rules = rules or load_rules()
    field = rules.field(field_id)
    kind = rules.subject_type(subject_type).kind if subject_type is not None else None
    context = _Context(field.section, subject_type)
    fields = [f for f in rules.fields if f.section == field.section]
    # Learn the nationality and document type from the siblings; their own
    # errors belong to their own fields, so this scratch run is discarded.
    _Check(rules).values(fields[: fields.index(field)], siblings or {}, None, context)
    check = _Check(rules)
    normalised = check.value(field, value, field.id, kind, context)
    return FieldValidation(normalised, tuple(check.errors))


def document_number(rules: Rules, document_id: str, number: str, subject_type: str | None = None) -> str:
    """Check the number a document carries and return it compact, or raise ``ValidationError``.

    A document may carry today's code or, on an older certificate, its former one (an
    organisation code certificate: the unified social credit code, or the 9-character
    organisation code): the first that fits is taken. A unit's unified social credit code
    must start with its type's registration authority and category (GB 32100).
    """
    document = rules.document(document_id)
    first, *former = document.identifiers
    try:
        value = VALIDATORS[first](number)
    except ValidationError as today:
        if not former:
            raise
        try:
            return VALIDATORS[former[0]](number)
        except ValidationError as older:
            if today.code == older.code == "invalid_length":
                raise ValidationError(
                    "invalid_length",
                    f"{document.number_label.zh}应为18位统一社会信用代码，或旧证上的9位组织机构代码。",
                    f"{document.number_label.en}: give the 18-character code, or the 9-character "
                    "organisation code of an older certificate.",
                ) from None
            raise (today if older.code == "invalid_length" else older) from None
    if first == "uscc" and subject_type is not None:
        chosen = rules.subject_type(subject_type)
        if not chosen.fits_uscc(value):
            expected = "、".join(chosen.uscc_prefixes)
            raise ValidationError(
                "wrong_unit_category",
                f"统一社会信用代码前两位（登记管理部门、机构类别）为“{value[:2]}”，不是{chosen.name.zh}的代码"
                f"（{chosen.name.zh}的代码以{expected}开头），请核对代码或主办者类型。",
                f"The code's first characters (registration authority and unit category) are "
                f"{value[:2]!r}, which is not a {chosen.name.en.lower()}'s code (those start with "
                f"{', '.join(chosen.uscc_prefixes)}); check the code or the subject type.",
            )
    return value


def _labelled(label: Bilingual, message_zh: str, message_en: str) -> tuple[str, str]:
    return f"{label.zh}：{message_zh}", f"{label.en}: {message_en}"


def _is_blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


@dataclass
class _Context:
    """What a section's dependent fields learn from the fields before them."""

    holder: str
    subject_type: str | None
    nationality: Nationality | None = None
    id_type: str | None = None

    def learn(self, field: Field, value: Any) -> None:
        if field.validator == "nationality":
            self.nationality = value
        elif field.validator == "document_type":
            self.id_type = value


class _Check:
    """One validation run; collects errors instead of raising."""

    def __init__(self, rules: Rules, stage: Stage = "verification") -> None:
        self.rules = rules
        self.errors: list[FieldError] = []
        self.deferred = ({section.id for section in rules.sections if section.entered_by == "provider"}
                         if stage == "submission" else set())

    def error(self, path: str, code: str, message_zh: str, message_en: str) -> None:
        self.errors.append(FieldError(path, code, message_zh, message_en))

    def filing(self, payload: object) -> dict[str, Any]:
        if not isinstance(payload, Mapping):
            self.error("", "type", "备案信息应为JSON对象。", "The filing must be a JSON object.")
            return {}
        normalised: dict[str, Any] = {}
        subject_type = self.subject_type(payload.get(_SUBJECT_TYPE))
        kind = None
        if subject_type is not None:
            normalised[_SUBJECT_TYPE] = subject_type
            kind = self.rules.subject_type(subject_type).kind
        section_ids = [section.id for section in self.rules.sections]
        for key in payload:
            if key != _SUBJECT_TYPE and key not in section_ids:
                self.unknown(str(key))
        for section_id in section_ids:
            values = self.section(section_id, payload.get(section_id), subject_type, kind)
            if values:
                normalised[section_id] = values
        if kind is not None:
            self.groups(payload, kind)
        return normalised

    def subject_type(self, value: object) -> str | None:
        if _is_blank(value):
            self.error(_SUBJECT_TYPE, "required", "请选择主办者类型。", "Please choose the subject type.")
        elif not isinstance(value, str) or value not in {t.id for t in self.rules.subject_types}:
            names = [t.name for t in self.rules.subject_types]
            self.error(
                _SUBJECT_TYPE,
                "invalid_choice",
                *_labelled(
                    _SUBJECT_TYPE_LABEL,
                    f"只能是{'、'.join(n.zh for n in names)}之一。",
                    f"must be one of {', '.join(n.en for n in names)}.",
                ),
            )
        else:
            return value
        return None

    def unknown(self, path: str) -> None:
        self.error(
            path,
            "unknown_field",
            f"不认识的字段“{path}”，请删除。",
            f"Unknown field '{path}'; please remove it.",
        )

    def section(self, section_id: str, raw: object, subject_type: str | None, kind: Kind | None) -> dict[str, Any]:
        section = self.rules.section(section_id)
        fields = [field for field in self.rules.fields if field.section == section_id]
        # Without a valid subject type, check what any kind may have.
        applicable = [field for field in fields if kind is None or field.applies(kind)]
        if raw is None or raw == {}:
            raw = {}
        elif not isinstance(raw, Mapping):
            self.error(
                section_id,
                "type",
                *_labelled(section.label, "应为JSON对象。", "must be a JSON object."),
            )
            return {}
        elif not applicable and kind is not None:
            self.not_applicable(section_id, section.label, kind)
            return {}
        by_key = {field.key: field for field in fields}
        for key in raw:
            field = by_key.get(str(key))
            if field is None:
                self.unknown(f"{section_id}.{key}")
            elif field not in applicable and kind is not None:
                self.not_applicable(field.id, field.label, kind)
        return self.values(applicable, raw, kind, _Context(section_id, subject_type))

    def values(
        self, fields: list[Field], raw: Mapping[Any, object], kind: Kind | None, context: _Context
    ) -> dict[str, Any]:
        """Check ``fields`` in order, so later ones see what earlier ones set."""
        values: dict[str, Any] = {}
        for field in fields:
            value = self.value(field, raw.get(field.key), field.id, kind, context)
            if value is not None:
                values[field.key] = value
                context.learn(field, value)
        return values

    def not_applicable(self, path: str, label: Bilingual, kind: Kind) -> None:
        name = self.rules.kind(kind).name
        self.error(
            path,
            "not_applicable",
            f"{label.zh}不适用于{name.zh}主办者，请删除。",
            f"{label.en} does not apply to an {name.en.lower()} subject; please remove it.",
        )

    def value(self, field: Field, raw: object, path: str, kind: Kind | None, context: _Context) -> Any:
        if _is_blank(raw) or (field.many and raw == []):
            if kind is not None and field.required(kind) and field.section not in self.deferred:
                self.error(
                    path,
                    "required",
                    f"请填写{field.label.zh}。",
                    f"Please fill in {field.label.en}.",
                )
            return None
        if not field.many:
            return self.scalar(field, raw, path, context)
        if not isinstance(raw, list):
            self.error(path, "type", *_labelled(field.label, "应为列表。", "must be a list."))
            return None
        if field.max_items is not None and len(raw) > field.max_items:
            self.error(path, "too_many", *_labelled(field.label, f"最多填写{field.max_items}项。",
                                                    f"at most {field.max_items} entries."))
            return None
        items: list[str] = []
        for index, item in enumerate(raw):
            item_path = f"{path}[{index}]"
            if _is_blank(item):
                self.error(
                    item_path,
                    "required",
                    *_labelled(field.label, "此项为空。", "this entry is empty."),
                )
                continue
            value = self.scalar(field, item, item_path, context)
            if value in items:
                self.error(
                    item_path,
                    "duplicate",
                    *_labelled(field.label, "与前面的项重复。", "repeats an earlier entry."),
                )
            elif value is not None:
                items.append(value)
        return items

    def scalar(self, field: Field, raw: object, path: str, context: _Context) -> str | None:
        if not isinstance(raw, str):
            self.error(path, "type", *_labelled(field.label, "应为文字。", "must be text."))
            return None
        try:
            value = self.convert(field, raw, context)
        except ValidationError as error:
            self.error(path, error.code, *_labelled(field.label, error.message_zh, error.message_en))
            return None
        if field.max_length is not None and len(value) > field.max_length:
            self.error(path, "too_long", *_labelled(field.label, f"最多{field.max_length}个字符。",
                                                    f"at most {field.max_length} characters."))
            return None
        return value

    def convert(self, field: Field, raw: str, context: _Context) -> str:
        value = raw.strip()
        if field.validator == "choice":
            return self.pick(value, [(choice.id, choice.name) for choice in field.choices])
        if field.validator == "nationality":
            return self.pick(value, [(n.id, n.name) for n in self.rules.nationalities])
        if field.validator == "document_type":
            allowed = self.allowed_documents(context.holder, context.subject_type, context.nationality)
            return self.pick(value, [(d, self.rules.document(d).name) for d in allowed])
        if field.validator == "document_number":
            if context.id_type is None:
                # The document type is missing or wrong and has its own error.
                return value
            unit_type = context.subject_type if context.holder == "subject" else None
            return document_number(self.rules, context.id_type, value, unit_type)
        return VALIDATORS[field.validator](value)

    @staticmethod
    def pick(value: str, options: list[tuple[str, Bilingual]]) -> str:
        if value in {option_id for option_id, _ in options}:
            return value
        raise ValidationError(
            "invalid_choice",
            f"只能选择：{'、'.join(name.zh for _, name in options)}。",
            f"choose one of: {', '.join(name.en for _, name in options)}.",
        )

    def allowed_documents(
        self, holder: str, subject_type: str | None, nationality: Nationality | None
    ) -> tuple[str, ...]:
        """Document ids ``holder`` may present, in order of preference."""
        if subject_type is None:
            return tuple(document.id for document in self.rules.documents)
        allowed: list[str] = []
        for each in (nationality,) if nationality else ("cn", "foreign"):
            for options in self.rules.documents_for(subject_type, each):
                if options.holder == holder:
                    allowed.extend(d for d in options.ids() if d not in allowed)
        return tuple(allowed)

    def groups(self, payload: Mapping[Any, Any], kind: Kind) -> None:
        for group in self.rules.field_groups:
            if kind not in group.applies_to:
                continue
            filled = 0
            for field_id in group.fields:
                section, _, key = field_id.partition(".")
                raw = payload.get(section)
                # A value that failed has its own error; count it as filled.
                if isinstance(raw, Mapping) and not _is_blank(raw.get(key)):
                    filled += 1
            if filled < group.minimum:
                self.error(group.fields[0], "one_of_required", group.message.zh, group.message.en)
