"""The filing rules of the 2010 MIIT notice, loaded from one data file.

``notice-2010.toml`` holds every rule (subject types, documents, fields,
deadlines, notice texts, the verification form and the security agreement);
this module reads it into frozen dataclasses for the API, the CLI, the site
build (``Rules.to_dict()``) and the form generator.

    rules = load_rules()
    rules.documents_for("enterprise", "cn")   # what to bring, first choice first
    rules.required_fields("individual")
    rules.deadline("pre_verification")        # amount, unit and cite 二.(二)1(2)
    rules.notice_text("sms_pre_verification_passed").text

``load_rules(path)`` reads ``path``, else the file named by the environment
variable ``BEIAN_RULES_FILE`` (read at call time, not import time), else the
packaged file; each path is parsed once per process. Loading checks the
notice copy's sha256 and that every rule's ``quote`` appears verbatim in the
section its ``cite`` names, and raises ``RulesError`` otherwise.

A rule the notice does not set is marked ``source = "provider"``: it is the
access provider's own rule, carries no ``cite`` or ``quote`` (the loader
refuses one that does, naming the entry) and every page and message stating it
says whose rule it is. ``[clauses]`` accounts for each of the notice's leaf
clauses: the feature, pages and tests that implement it, or why it is out of
scope; the loader refuses a file that leaves one out.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Generic, Literal, Protocol, TypeVar

from chalicelib.rules._model import Bilingual, Serialisable
from chalicelib.rules._notice import Cite, Notice, Paragraph, split_sections
from chalicelib.rules._toml import DataFileError, Table, read_toml
from chalicelib.validators import VALIDATORS

__all__ = [
    "DEFAULT_RULES_FILE",
    "REQUIREMENT_LABELS",
    "RULES_FILE_ENV",
    "RULE_VALIDATORS",
    "Accountability",
    "AgreementPoint",
    "Bilingual",
    "Choice",
    "Citation",
    "Cite",
    "Clause",
    "Deadline",
    "Document",
    "DocumentOptions",
    "DocumentRule",
    "Evidence",
    "Field",
    "FieldGroup",
    "FormCheck",
    "FormSection",
    "IdCheck",
    "Kind",
    "KindInfo",
    "Nationality",
    "NationalityInfo",
    "Notice",
    "NoticeText",
    "Paragraph",
    "PersonDocuments",
    "Photo",
    "PhotoUpload",
    "ProviderRule",
    "ProviderText",
    "Requirement",
    "ResponsiblePerson",
    "Review",
    "ReviewItem",
    "Rules",
    "RulesError",
    "Section",
    "SecurityAgreement",
    "Serialisable",
    "Source",
    "SpotCheck",
    "StatedPurpose",
    "StatedPurposes",
    "SubjectType",
    "VerificationForm",
    "load_rules",
]

RULES_FILE_ENV = "BEIAN_RULES_FILE"
DEFAULT_RULES_FILE = Path(__file__).with_name("notice-2010.toml")

Kind = Literal["unit", "individual"]
Nationality = Literal["cn", "foreign"]
Holder = Literal["subject", "responsible_person"]
EnteredBy = Literal["applicant", "provider"]
DeadlineUnit = Literal["working_days", "months", "years"]
DeadlineBound = Literal["within", "at_least"]
FormSectionKind = Literal["fields", "checks", "notes", "signatures"]
Source = Literal["notice", "provider"]  # who sets a rule: the notice, or the provider itself
Requirement = Literal["required", "optional", "provider"]
CheckRequirement = Literal["", "identity_documents"]
UPLOADERS = frozenset({"applicant", "verifier"})  # the roles that may upload documents (policy.py)
KINDS: tuple[Kind, ...] = ("unit", "individual")
NATIONALITIES: tuple[Nationality, ...] = ("cn", "foreign")
_ENTERED_BY: tuple[EnteredBy, ...] = ("applicant", "provider")
_DEADLINE_UNITS: tuple[DeadlineUnit, ...] = ("working_days", "months", "years")
_DEADLINE_BOUNDS: tuple[DeadlineBound, ...] = ("within", "at_least")
_FORM_SECTION_KINDS: tuple[FormSectionKind, ...] = ("fields", "checks", "notes", "signatures")
SOURCES: tuple[Source, ...] = ("notice", "provider")
_CHECK_REQUIREMENTS: tuple[CheckRequirement, ...] = ("", "identity_documents")

RULE_VALIDATORS = frozenset({"choice", "nationality", "document_type", "document_number"})
"""Validator names resolved against the rules rather than ``chalicelib.validators``."""

RulesError = DataFileError
REQUIREMENT_LABELS: dict[Requirement, Bilingual] = {
    "required": Bilingual("必填", "required"),
    "optional": Bilingual("选填", "optional"),
    "provider": Bilingual("接入服务单位填写（现场核验时必填）",
                          "entered by the provider (required at on-site verification)"),
}
"""How every page and command names a field's ``Rules.requirement``."""
ID_CHECK_NAME = Bilingual("证件号码自动核查的年龄界限", "Age limits of the automatic ID check")
REFERENCE_NAME = Bilingual("调阅依据（编号、函件或工单）的长度",
                           "Length of the reference (case number, letter, ticket)")


@dataclass(frozen=True)
class Citation(Serialisable):
    """Where a rule comes from: the section and the words quoted from it, or, for a rule
    the notice does not set (``source == "provider"``), no section at all."""

    cite: str
    quote: str
    source: Source = "notice"

    @property
    def provider(self) -> bool:
        """Whether this is the provider's own rule rather than the notice's."""
        return self.source == "provider"


@dataclass(frozen=True)
class KindInfo(Serialisable):
    """A kind of subject (一.1): unit or individual."""

    id: Kind
    name: Bilingual
    citation: Citation


@dataclass(frozen=True)
class NationalityInfo(Serialisable):
    """Whether a person is a Chinese citizen, which decides their documents."""

    id: Nationality
    name: Bilingual
    citation: Citation


@dataclass(frozen=True)
class Document(Serialisable):
    """A document accepted for verification and the number it carries."""

    id: str
    name: Bilingual
    number_label: Bilingual
    identifier: str
    """Name of the validator in ``chalicelib.validators`` for the document's number."""
    citation: Citation
    former_identifier: str | None = None
    """The code the document carried before the unified social credit code reform
    (三证合一), still accepted: an organisation code certificate holder may give either."""

    @property
    def identifiers(self) -> tuple[str, ...]:
        """The codes the document may carry, today's first."""
        return (self.identifier,) if self.former_identifier is None else (
            self.identifier, self.former_identifier)


@dataclass(frozen=True)
class Evidence(Serialisable):
    """A document uploaded as evidence of a check (no number to validate), and who uploads it."""

    id: str
    name: Bilingual
    uploaded_by: tuple[str, ...]
    citation: Citation
    required_at: str = ""
    """The workflow action refused until this evidence is received (empty: none)."""


@dataclass(frozen=True)
class DocumentRule(Serialisable):
    """Accepted documents by id: the first choice, then fallbacks in order."""

    documents: tuple[str, ...]
    citation: Citation


@dataclass(frozen=True)
class PersonDocuments(Serialisable):
    """A person's accepted documents by nationality."""

    cn: DocumentRule
    foreign: DocumentRule

    def rule(self, nationality: Nationality) -> DocumentRule:
        """Return the rule for ``nationality``."""
        return self.cn if nationality == "cn" else self.foreign


@dataclass(frozen=True)
class SubjectType(Serialisable):
    """A type of website subject with the documents that prove it.

    A unit has ``documents`` (its own certificates) and its responsible
    person's documents come from ``Rules.responsible_person``; an individual
    has ``person_documents`` instead.
    """

    id: str
    kind: Kind
    name: Bilingual
    citation: Citation
    documents: DocumentRule | None
    person_documents: PersonDocuments | None
    uscc_prefixes: tuple[str, ...] = ()
    """What a unit's unified social credit code starts with (GB 32100: registration
    authority, then unit category); empty where any code is accepted."""

    provider_rule: str | None = None
    """A provider rule (``Rules.provider_notes``) that narrows what the notice allows this type."""

    def fits_uscc(self, code: str) -> bool:
        """Whether a unified social credit code's leading characters fit this type."""
        return not self.uscc_prefixes or code.startswith(self.uscc_prefixes)


@dataclass(frozen=True)
class ResponsiblePerson(Serialisable):
    """The person responsible for the website (一.1(3)) and their documents (一.1(1))."""

    name: Bilingual
    definition_unit: Bilingual
    definition_individual: Bilingual
    citation: Citation
    in_person: Citation
    documents: PersonDocuments


@dataclass(frozen=True)
class DocumentOptions(Serialisable):
    """What one holder must present: one of ``documents``, the first preferred."""

    holder: Holder
    documents: tuple[Document, ...]
    citation: Citation

    def ids(self) -> tuple[str, ...]:
        """The ids of the accepted documents, in order of preference."""
        return tuple(document.id for document in self.documents)


@dataclass(frozen=True)
class Section(Serialisable):
    """A part of the filing payload (``subject``, ``contact`` ...)."""

    id: str
    label: Bilingual
    entered_by: EnteredBy
    citation: Citation


@dataclass(frozen=True)
class Choice(Serialisable):
    """One allowed value of a choice field, or one check item on the form."""

    id: str
    name: Bilingual


@dataclass(frozen=True)
class Field(Serialisable):
    """One field of the filing payload, addressed as ``<section>.<key>``."""

    id: str
    label: Bilingual
    hint: Bilingual
    validator: str
    applies_to: tuple[Kind, ...]
    required_for: tuple[Kind, ...]
    many: bool
    max_items: int | None
    max_length: int | None
    choices: tuple[Choice, ...]
    citation: Citation

    @property
    def section(self) -> str:
        """The payload section holding the field."""
        return self.id.partition(".")[0]

    @property
    def key(self) -> str:
        """The field's key inside its section."""
        return self.id.partition(".")[2]

    def applies(self, kind: Kind) -> bool:
        """Whether subjects of ``kind`` have this field."""
        return kind in self.applies_to

    def required(self, kind: Kind) -> bool:
        """Whether subjects of ``kind`` must fill this field."""
        return kind in self.required_for


@dataclass(frozen=True)
class FieldGroup(Serialisable):
    """At least ``minimum`` of ``fields`` must be filled by subjects of ``applies_to``."""

    id: str
    fields: tuple[str, ...]
    minimum: int
    applies_to: tuple[Kind, ...]
    message: Bilingual
    citation: Citation


@dataclass(frozen=True)
class Deadline(Serialisable):
    """A time limit (``bound = "within"``) or minimum period (``"at_least"``)."""

    id: str
    label: Bilingual
    amount: int
    unit: DeadlineUnit
    bound: DeadlineBound
    starts: Bilingual
    citation: Citation
    source: Source = "notice"


@dataclass(frozen=True)
class Photo(Serialisable):
    """The on-site photo of the responsible person (二.(二)1(4))."""

    long_side_px: int
    short_side_px: int
    colour: bool
    front_facing: bool
    bareheaded: bool
    shows_capture_time: bool
    shows_curtain_marker: bool
    citation: Citation


@dataclass(frozen=True)
class PhotoUpload(Serialisable):
    """How long after its capture the on-site photo may reach the archive (the provider's rule)."""

    max_delay_minutes: int
    max_clock_skew_minutes: int
    source: Source
    citation: Citation


@dataclass(frozen=True)
class NoticeText(Serialisable):
    """Official wording to send or print verbatim, with our English translation."""

    id: str
    purpose: Bilingual
    text: str
    translation_en: str
    cite: str


@dataclass(frozen=True)
class ProviderText(Serialisable):
    """A text the notice does not word (an SMS): the provider's own, in both languages."""

    id: str
    purpose: Bilingual
    text: Bilingual
    source: Source
    citation: Citation


@dataclass(frozen=True)
class FormCheck(Choice):
    """One item of the form's checklist, confirmed by the verifier.

    ``{document}`` in its name stands for the responsible person's document actually
    used; ``requires`` names what must be in the archive before it can be confirmed."""

    requires: CheckRequirement = ""

    def named(self, document: Bilingual) -> Bilingual:
        """The item's name for a person who showed ``document``."""
        return Bilingual(self.name.zh.replace("{document}", document.zh),
                         self.name.en.replace("{document}", document.en))


@dataclass(frozen=True)
class FormSection(Serialisable):
    """A section of the verification form (核验单)."""

    id: str
    kind: FormSectionKind
    title: Bilingual
    fields_from: str | None
    checks: tuple[FormCheck, ...]
    citation: Citation


@dataclass(frozen=True)
class VerificationForm(Serialisable):
    """The verification form: title, number of copies and sections."""

    title: Bilingual
    copies: int
    citation: Citation
    sections: tuple[FormSection, ...]


@dataclass(frozen=True)
class IdCheck(Serialisable):
    """The age limits of the automatic ID check: the provider's rule, not the notice's."""

    min_age: int
    max_age: int
    citation: Citation


@dataclass(frozen=True)
class Accountability(Serialisable):
    """The articles a province's penalty against a provider rests on (四)."""

    articles: tuple[str, ...]
    citation: Citation


@dataclass(frozen=True)
class StatedPurpose(Serialisable):
    """A purpose staff may state to open the archive: the notice clause whose work it is,
    or the provider's own (``source = "provider"``)."""

    id: str
    label: Bilingual
    citation: Citation


@dataclass(frozen=True)
class StatedPurposes(Serialisable):
    """The purposes staff choose from, and the length of the reference stated with one
    (the provider's rule: ``citation``)."""

    purposes: tuple[StatedPurpose, ...]
    reference_min_chars: int
    reference_max_chars: int
    citation: Citation

    def ids(self) -> tuple[str, ...]:
        return tuple(purpose.id for purpose in self.purposes)


@dataclass(frozen=True)
class ProviderRule(Serialisable):
    """A rule the provider applies in code that the notice does not set (mainland mobile
    numbers only, the narrowed document fallbacks ...), stated so pages can say whose it is."""

    id: str
    text: Bilingual
    citation: Citation


@dataclass(frozen=True)
class Clause(Serialisable):
    """One leaf clause of the notice and how beian accounts for it: the feature, the
    site pages and the tests that implement it, or why it is out of scope."""

    cite: str
    feature: Bilingual | None
    pages: tuple[str, ...]
    tests: tuple[str, ...]
    excluded: Bilingual | None


@dataclass(frozen=True)
class AgreementPoint(Serialisable):
    """A headline point of the information security agreement."""

    id: str
    text: Bilingual
    citation: Citation


@dataclass(frozen=True)
class SecurityAgreement(Serialisable):
    """The information security agreement signed at verification (二.(二)1(6))."""

    title: Bilingual
    citation: Citation
    points: tuple[AgreementPoint, ...]


@dataclass(frozen=True)
class ReviewItem(Serialisable):
    """A key item the province reviews one by one (三.(二)1)."""

    id: str
    name: Bilingual
    applies_to: tuple[Kind, ...]


@dataclass(frozen=True)
class SpotCheck(Serialisable):
    """The share of filings whose photo and identity scans the reviewer must open."""

    rate: float
    source: Source
    citation: Citation


@dataclass(frozen=True)
class Review(Serialisable):
    """What the provincial review must leave on record before an approval."""

    citation: Citation
    key_items: tuple[ReviewItem, ...]
    form_check: Citation
    spot_check: SpotCheck

    def items_for(self, kind: Kind) -> tuple[ReviewItem, ...]:
        """The key items of a subject of ``kind``."""
        return tuple(item for item in self.key_items if kind in item.applies_to)


class _Identified(Protocol):
    @property
    def id(self) -> str: ...


_I = TypeVar("_I", bound=_Identified)
_S = TypeVar("_S", bound=str)


class _ById(Generic[_I]):
    """A look-up by id among one collection of the rules, read as a method of ``Rules``
    (``rules.document(id)``); an unknown id raises ``KeyError`` naming ``what``."""

    def __init__(self, items: Callable[[Rules], Iterable[_I]], what: str) -> None:
        self._items = items
        self._what = what

    def __get__(self, rules: Rules, owner: type[Rules]) -> Callable[[str], _I]:
        def find(wanted: str) -> _I:
            for item in self._items(rules):
                if item.id == wanted:
                    return item
            raise KeyError(f"unknown {self._what}: {wanted!r}")

        return find


@dataclass(frozen=True)
class Rules(Serialisable):
    """All rules of one rules file; look-ups raise ``KeyError`` for unknown ids."""

    version: str
    effective: date
    notice: Notice
    kinds: tuple[KindInfo, ...]
    nationalities: tuple[NationalityInfo, ...]
    subject_types: tuple[SubjectType, ...]
    documents: tuple[Document, ...]
    evidence: tuple[Evidence, ...]
    responsible_person: ResponsiblePerson
    sections: tuple[Section, ...]
    fields: tuple[Field, ...]
    field_groups: tuple[FieldGroup, ...]
    deadlines: tuple[Deadline, ...]
    photo: Photo
    notice_texts: tuple[NoticeText, ...]
    verification_form: VerificationForm
    security_agreement: SecurityAgreement
    photo_upload: PhotoUpload
    provider_texts: tuple[ProviderText, ...]
    review: Review
    id_check: IdCheck
    accountability: Accountability
    provider_notes: tuple[ProviderRule, ...]
    stated_purposes: StatedPurposes
    clauses: tuple[Clause, ...]

    # Look-ups by id (raising KeyError for an unknown one): rules.document("business_licence").
    subject_type = _ById(lambda rules: rules.subject_types, "subject type")
    kind = _ById(lambda rules: rules.kinds, "kind")  # its names
    nationality = _ById(lambda rules: rules.nationalities, "nationality")  # "cn" or "foreign"
    document = _ById(lambda rules: rules.documents, "document")
    section = _ById(lambda rules: rules.sections, "section")
    field = _ById(lambda rules: rules.fields, "field")  # "<section>.<key>"
    deadline = _ById(lambda rules: rules.deadlines, "deadline")
    notice_text = _ById(lambda rules: rules.notice_texts, "notice text")
    provider_text = _ById(lambda rules: rules.provider_texts, "provider text")
    evidence_item = _ById(lambda rules: rules.evidence, "evidence")
    provider_note = _ById(lambda rules: rules.provider_notes, "provider rule")  # in [provider_rules]

    def sms_text(self, name: str) -> str:
        """The Chinese text of an SMS: the notice's wording, or else the provider's own."""
        for text in self.notice_texts:
            if text.id == name:
                return text.text
        return self.provider_text(name).text.zh

    def required_evidence(self, action: str) -> tuple[Evidence, ...]:
        """The evidence that must be received before ``action`` may be taken."""
        return tuple(item for item in self.evidence if item.required_at == action)

    def cited_text(self, cite: str) -> str:
        """Return the words of the notice's section ``cite``."""
        return self.notice.cited_text(cite)

    def clause(self, cite: str) -> Clause:
        """Return how the leaf clause ``cite`` is accounted for."""
        for clause in self.clauses:
            if clause.cite == cite:
                return clause
        raise KeyError(f"unknown clause: {cite!r}")

    def provider_rules(self) -> tuple[tuple[str, Bilingual], ...]:
        """Every rule the notice does not set: (where in the file, its name)."""
        found: list[tuple[str, Bilingual]] = []
        named = (
            *(("subject_types." + t.id, t.name, t.citation) for t in self.subject_types),
            *(("documents." + d.id, d.name, d.citation) for d in self.documents),
            *(("fields." + f.id, f.label, f.citation) for f in self.fields),
            *(("deadlines." + d.id, d.label, d.citation) for d in self.deadlines),
            *(("evidence." + e.id, e.name, e.citation) for e in self.evidence),
            *(("security_agreement.points." + p.id, p.text, p.citation)
              for p in self.security_agreement.points),
            ("id_check", ID_CHECK_NAME, self.id_check.citation),
            ("stated_purposes", REFERENCE_NAME, self.stated_purposes.citation),
            *(("stated_purposes.purposes." + p.id, p.label, p.citation) for p in self.stated_purposes.purposes),
            *(("provider_rules." + n.id, n.text, n.citation) for n in self.provider_notes),
        )
        for where, name, citation in named:
            if citation.provider:
                found.append((where, name))
        return tuple(found)

    def documents_for(self, subject_type: str, nationality: Nationality) -> tuple[DocumentOptions, ...]:
        """Documents to present, per holder, first choice first.

        For a unit: the unit's certificates, then the responsible person's
        documents for ``nationality``. For an individual: the person's own
        documents for ``nationality`` (they are their own responsible person).
        """
        chosen = self.subject_type(subject_type)
        if chosen.person_documents is not None:
            return (self._options("subject", chosen.person_documents.rule(nationality)),)
        if chosen.documents is None:
            raise KeyError(f"subject type {subject_type!r} lists no documents")
        return (
            self._options("subject", chosen.documents),
            self._options("responsible_person", self.responsible_person.documents.rule(nationality)),
        )

    def _options(self, holder: Holder, rule: DocumentRule) -> DocumentOptions:
        return DocumentOptions(holder, tuple(map(self.document, rule.documents)), rule.citation)

    def fields_for(self, subject_type: str) -> tuple[Field, ...]:
        """Every field a subject of this type fills, required or not, in file order."""
        kind = self.subject_type(subject_type).kind
        return tuple(field for field in self.fields if field.applies(kind))

    def required_fields(self, subject_type: str) -> tuple[Field, ...]:
        """The fields a subject of this type must fill."""
        kind = self.subject_type(subject_type).kind
        return tuple(field for field in self.fields if field.required(kind))

    def requirement(self, field: Field, kind: Kind) -> Requirement:
        """Who must fill ``field`` for a subject of ``kind``, and when: the applicant at
        submission (``required``), nobody (``optional``), or the provider from its own records
        (``provider``: optional at submission, required at on-site verification, 二.(二)1(5))."""
        if self.section(field.section).entered_by == "provider" and field.required(kind):
            return "provider"
        return "required" if field.required(kind) else "optional"


def load_rules(path: str | os.PathLike[str] | None = None) -> Rules:
    """Return the rules from ``path``, ``$BEIAN_RULES_FILE`` or the packaged file."""
    chosen = path if path is not None else os.environ.get(RULES_FILE_ENV) or DEFAULT_RULES_FILE
    return _load(Path(chosen).resolve())


@functools.cache
def _load(path: Path) -> Rules:
    return _Reader(path).rules()


class _Reader:
    """Builds ``Rules`` from one file, checking every citation against the notice."""

    def __init__(self, path: Path) -> None:
        self.root = read_toml(path)
        notice_table = self.root.table("notice")
        self.notice_file = path.with_name(notice_table.get("file", str))
        try:
            raw = self.notice_file.read_bytes()
        except OSError:
            raise notice_table.fail("找不到通知原文副本", "the copy of the notice is missing", "file") from None
        sha256 = notice_table.get("sha256", str)
        if hashlib.sha256(raw).hexdigest() != sha256:
            raise notice_table.fail(
                "通知原文副本的sha256与记录不符",
                "the notice copy's sha256 differs from the recorded one",
                "sha256",
            )
        self.notice_text = raw.decode("utf-8")
        self.notice = Notice(
            self._verbatim(notice_table, "title_zh"),
            notice_table.get("title_en", str),
            self.notice_file.name,
            sha256,
            split_sections(self.notice_text),
        )

    def _verbatim(self, table: Table, key: str) -> str:
        text = table.get(key, str)
        if text not in self.notice_text:
            raise table.fail("原文中找不到该文字", "this text is not in the notice", key)
        return text

    def citation(self, table: Table) -> Citation:
        """Read ``cite`` and ``quote`` and check the quote is in the cited section; a
        provider rule (``source = "provider"``) must have neither."""
        if table.has("source") and table.choice("source", SOURCES) == "provider":
            if table.has("cite") or table.has("quote"):
                raise table.fail(
                    "本单位规则不是通知的规定，不得引用通知（删除 cite 和 quote）",
                    "a provider rule is not the notice's and must not cite it (remove cite and quote)",
                    "cite" if table.has("cite") else "quote",
                )
            return Citation("", "", "provider")
        cite, quote = table.get("cite", str), table.get("quote", str)
        if quote not in self._cited(table, cite):
            raise table.fail(f"引文不在{cite}中", f"the quote is not in section {cite} of the notice", "quote")
        return Citation(cite, quote)

    def _cited(self, table: Table, cite: str) -> str:
        try:
            Cite.parse(cite)
            return self.notice.cited_text(cite)
        except (ValueError, KeyError):
            raise table.fail("引用的章节不存在", "the cited section does not exist in the notice", "cite") from None

    @staticmethod
    def bilingual(table: Table, prefix: str) -> Bilingual:
        return Bilingual(table.get(f"{prefix}_zh", str), table.get(f"{prefix}_en", str))

    def rules(self) -> Rules:
        root = self.root
        documents = tuple(self._document(t) for t in root.tables("documents"))
        document_ids = {document.id for document in documents}
        fields = tuple(self._field(t) for t in root.tables("fields"))
        sections = tuple(self._section(t) for t in root.tables("sections"))
        rules = Rules(
            version=root.get("version", str),
            effective=root.get("effective", date),
            notice=self.notice,
            kinds=tuple(
                KindInfo(kind, self.bilingual(t, "name"), self.citation(t))
                for kind, t in self._exactly(root, "kinds", KINDS)
            ),
            nationalities=tuple(
                NationalityInfo(nationality, self.bilingual(t, "name"), self.citation(t))
                for nationality, t in self._exactly(root, "nationalities", NATIONALITIES)
            ),
            subject_types=tuple(self._subject_type(t, document_ids) for t in root.tables("subject_types")),
            documents=documents,
            evidence=tuple(self._evidence(t) for t in root.tables("evidence")),
            responsible_person=self._responsible_person(root.table("responsible_person"), document_ids),
            sections=sections,
            fields=fields,
            field_groups=tuple(self._field_group(t, fields) for t in root.tables("field_groups")),
            deadlines=tuple(self._deadline(name, t) for name, t in root.named_tables("deadlines")),
            photo=self._photo(root.table("photo")),
            notice_texts=tuple(self._notice_text(name, t) for name, t in root.named_tables("notice_texts")),
            verification_form=self._form(root.table("verification_form"), sections),
            security_agreement=self._agreement(root.table("security_agreement")),
            photo_upload=self._photo_upload(root.table("photo_upload")),
            provider_texts=tuple(self._provider_text(name, t)
                                 for name, t in root.named_tables("provider_texts")),
            review=self._review(root.table("review")),
            id_check=self._id_check(root.table("id_check")),
            accountability=self._accountability(root.table("accountability")),
            provider_notes=tuple(self._provider_rule(name, t) for name, t in root.named_tables("provider_rules")),
            stated_purposes=self._stated_purposes(root.table("stated_purposes")),
            clauses=self._clauses(root.table("clauses")),
        )
        notes = {note.id for note in rules.provider_notes}
        for index, subject_type in enumerate(rules.subject_types):
            if subject_type.provider_rule is not None and subject_type.provider_rule not in notes:
                raise root.fail("provider_rule 须为 [provider_rules] 中的一项",
                                "provider_rule must name an entry of [provider_rules]",
                                f"subject_types[{index}].provider_rule")
        for field in fields:
            if field.section not in {section.id for section in sections}:
                raise root.fail(f"字段 {field.id} 所属的部分不存在", f"field {field.id} names no known section")
        for name in ("subject_types", "documents", "evidence", "sections", "fields", "field_groups"):
            self._unique(root, name, [item.id for item in getattr(rules, name)])
        self._unique(root, "stated_purposes.purposes", list(rules.stated_purposes.ids()))
        root.check_unused()
        return rules

    @staticmethod
    def _unique(root: Table, name: str, ids: list[str]) -> None:
        duplicates = sorted({item for item in ids if ids.count(item) > 1})
        if duplicates:
            raise root.fail(f"id重复：{', '.join(duplicates)}", f"duplicate ids: {', '.join(duplicates)}", name)

    @staticmethod
    def _exactly(root: Table, key: str, expected: tuple[_S, ...]) -> tuple[tuple[_S, Table], ...]:
        # The code branches on these ids, so the file must define exactly them.
        parent = root.table(key)
        if sorted(parent.names()) != sorted(expected):
            listed = ", ".join(expected)
            raise parent.fail(f"应恰好定义 {listed}", f"must define exactly {listed}")
        return tuple((name, parent.table(name)) for name in expected)

    def _document(self, t: Table) -> Document:
        identifier = t.get("identifier", str)
        former = t.optional("former_identifier", str, "") or None
        for key, name in (("identifier", identifier), ("former_identifier", former)):
            if name is not None and name not in VALIDATORS:
                raise t.fail("未知的校验器", "unknown validator", key)
        return Document(
            t.get("id", str),
            self.bilingual(t, "name"),
            self.bilingual(t, "number"),
            identifier,
            self.citation(t),
            former,
        )

    def _evidence(self, t: Table) -> Evidence:
        uploaded_by = t.strings("uploaded_by")
        if not uploaded_by or not set(uploaded_by) <= UPLOADERS:
            raise t.fail("上传者须为 applicant 或 verifier", "uploaded_by must name applicant or verifier",
                         "uploaded_by")
        return Evidence(t.get("id", str), self.bilingual(t, "name"), uploaded_by, self.citation(t),
                        t.optional("required_at", str, ""))

    def _document_rule(self, t: Table, document_ids: set[str]) -> DocumentRule:
        ids = t.strings("documents")
        unknown = [item for item in ids if item not in document_ids]
        if unknown or not ids:
            raise t.fail(
                "证件列表为空或含未知证件",
                "the list is empty or names unknown documents",
                "documents",
            )
        return DocumentRule(ids, self.citation(t))

    def _person_documents(self, t: Table, document_ids: set[str]) -> PersonDocuments:
        return PersonDocuments(
            self._document_rule(t.table("cn"), document_ids),
            self._document_rule(t.table("foreign"), document_ids),
        )

    def _subject_type(self, t: Table, document_ids: set[str]) -> SubjectType:
        kind = t.choice("kind", KINDS)
        if kind == "unit":
            documents, person = self._document_rule(t, document_ids), None
        else:
            documents, person = (
                None,
                self._person_documents(t.table("person_documents"), document_ids),
            )
        prefixes = t.strings("uscc_prefixes") if t.has("uscc_prefixes") else ()
        if any(not prefix for prefix in prefixes):
            raise t.fail("前缀不能为空", "a prefix cannot be empty", "uscc_prefixes")
        return SubjectType(t.get("id", str), kind, self.bilingual(t, "name"), self.citation(t), documents,
                           person, prefixes, t.optional("provider_rule", str, "") or None)

    def _responsible_person(self, t: Table, document_ids: set[str]) -> ResponsiblePerson:
        return ResponsiblePerson(
            self.bilingual(t, "name"),
            self.bilingual(t, "definition_unit"),
            self.bilingual(t, "definition_individual"),
            self.citation(t),
            self.citation(t.table("in_person")),
            self._person_documents(t.table("documents"), document_ids),
        )

    def _section(self, t: Table) -> Section:
        return Section(
            t.get("id", str),
            self.bilingual(t, "label"),
            t.choice("entered_by", _ENTERED_BY),
            self.citation(t),
        )

    def _choices(self, t: Table, key: str) -> tuple[Choice, ...]:
        return tuple(Choice(c.get("id", str), self.bilingual(c, "name")) for c in t.tables(key))

    def _kinds(self, t: Table, key: str) -> tuple[Kind, ...]:
        values = t.strings(key)
        if not set(values) <= set(KINDS):
            raise t.fail("只能是 unit 或 individual", "only unit and individual are allowed", key)
        return tuple(kind for kind in KINDS if kind in values)

    def _field(self, t: Table) -> Field:
        validator = t.get("validator", str)
        if validator not in VALIDATORS and validator not in RULE_VALIDATORS:
            raise t.fail("未知的校验器", "unknown validator", "validator")
        many = t.optional("many", bool, False)
        field = Field(
            id=t.get("id", str),
            label=self.bilingual(t, "label"),
            hint=self.bilingual(t, "hint"),
            validator=validator,
            applies_to=self._kinds(t, "applies_to"),
            required_for=self._kinds(t, "required_for"),
            many=many,
            max_items=t.get("max_items", int) if many else None,
            max_length=t.optional("max_length", int, 0) or None,
            choices=self._choices(t, "choices"),
            citation=self.citation(t),
        )
        if not set(field.required_for) <= set(field.applies_to):
            raise t.fail(
                "必填类别须包含在适用类别中",
                "required_for must be within applies_to",
                "required_for",
            )
        if (validator == "choice") != bool(field.choices):
            raise t.fail(
                "choice 字段必须且只有它能列出 choices",
                "choices belong to, and only to, choice fields",
            )
        return field

    def _field_group(self, t: Table, fields: tuple[Field, ...]) -> FieldGroup:
        members = t.strings("fields")
        known = {field.id for field in fields}
        minimum = t.get("minimum", int)
        if not set(members) <= known or not 1 <= minimum <= len(members):
            raise t.fail("字段未知或最少数目无效", "unknown fields or an impossible minimum", "fields")
        return FieldGroup(
            t.get("id", str),
            members,
            minimum,
            self._kinds(t, "applies_to"),
            self.bilingual(t, "message"),
            self.citation(t),
        )

    def _deadline(self, name: str, t: Table) -> Deadline:
        amount = t.get("amount", int)
        if amount < 1:
            raise t.fail("期限须为正数", "the amount must be positive", "amount")
        return Deadline(
            name,
            self.bilingual(t, "label"),
            amount,
            t.choice("unit", _DEADLINE_UNITS),
            t.choice("bound", _DEADLINE_BOUNDS),
            self.bilingual(t, "starts"),
            self.citation(t),
            self._source(t),
        )

    def _photo(self, t: Table) -> Photo:
        return Photo(
            t.get("long_side_px", int),
            t.get("short_side_px", int),
            t.get("colour", bool),
            t.get("front_facing", bool),
            t.get("bareheaded", bool),
            t.get("shows_capture_time", bool),
            t.get("shows_curtain_marker", bool),
            self.citation(t),
        )

    @staticmethod
    def _source(t: Table) -> Source:
        value = t.optional("source", str, "notice")
        for source in SOURCES:
            if source == value:
                return source
        raise t.fail("source 须为 notice 或 provider", "source must be notice or provider", "source")

    @staticmethod
    def _requirement(t: Table) -> CheckRequirement:
        value = t.optional("requires", str, "")
        for requirement in _CHECK_REQUIREMENTS:
            if requirement == value:
                return requirement
        raise t.fail("未知的前提", "unknown requirement", "requires")

    def _photo_upload(self, t: Table) -> PhotoUpload:
        return PhotoUpload(t.get("max_delay_minutes", int), t.get("max_clock_skew_minutes", int),
                           self._source(t), self.citation(t))

    def _provider_text(self, name: str, t: Table) -> ProviderText:
        if self._source(t) != "provider":
            raise t.fail("须标明 source = \"provider\"", 'must say source = "provider"', "source")
        return ProviderText(name, self.bilingual(t, "purpose"), self.bilingual(t, "text"), "provider",
                            self.citation(t))

    def _review(self, t: Table) -> Review:
        spot = t.table("spot_check")
        rate = spot.get("rate", float)
        if not 0 <= rate <= 1:
            raise spot.fail("抽查比例须在 0 到 1 之间", "the rate must be between 0 and 1", "rate")
        items = tuple(ReviewItem(item.get("id", str), self.bilingual(item, "name"),
                                 self._kinds(item, "applies_to"))
                      for item in t.tables("key_items"))
        return Review(self.citation(t), items, self.citation(t.table("form_check")),
                      SpotCheck(rate, self._source(spot), self.citation(spot)))

    def _notice_text(self, name: str, t: Table) -> NoticeText:
        cite, text = t.get("cite", str), t.get("text", str)
        # Official wording is quoted in the notice between “ and ”: the whole
        # quotation must match, not just part of it.
        if f"“{text}”" not in self._cited(t, cite):
            raise t.fail(
                f"文字与{cite}中引号内的原文不完全一致",
                f"text differs from the quotation in {cite}",
                "text",
            )
        return NoticeText(name, self.bilingual(t, "purpose"), text, t.get("translation_en", str), cite)

    def _form(self, t: Table, sections: tuple[Section, ...]) -> VerificationForm:
        return VerificationForm(
            self.bilingual(t, "title"),
            t.get("copies", int),
            self.citation(t),
            tuple(self._form_section(s, sections) for s in t.tables("sections")),
        )

    def _form_section(self, t: Table, sections: tuple[Section, ...]) -> FormSection:
        kind = t.choice("kind", _FORM_SECTION_KINDS)
        fields_from = t.optional("fields_from", str, "") or None
        checks = tuple(FormCheck(c.get("id", str), self.bilingual(c, "name"),
                                 self._requirement(c))
                       for c in t.tables("checks"))
        if (kind == "fields") != (fields_from in {section.id for section in sections}) or (
            (kind == "checks") != bool(checks)
        ):
            raise t.fail(
                "fields 类须有有效的 fields_from，checks 类须有 checks",
                "a fields section needs a valid fields_from and a checks section needs checks",
                "kind",
            )
        return FormSection(
            t.get("id", str),
            kind,
            self.bilingual(t, "title"),
            fields_from,
            checks,
            self.citation(t),
        )

    def _id_check(self, t: Table) -> IdCheck:
        min_age, max_age = t.get("min_age", int), t.get("max_age", int)
        if not 0 < min_age < max_age:
            raise t.fail("年龄界限无效", "the age limits are impossible", "max_age")
        return IdCheck(min_age, max_age, self.citation(t))

    def _accountability(self, t: Table) -> Accountability:
        citation, articles = self.citation(t), t.strings("articles")
        if not articles or any(article not in citation.quote for article in articles):
            raise t.fail("每一条都须在引文中", "each article must be in the quote", "articles")
        return Accountability(articles, citation)

    def _stated_purposes(self, t: Table) -> StatedPurposes:
        least, most = t.get("reference_min_chars", int), t.get("reference_max_chars", int)
        if not 0 < least < most:
            raise t.fail("调阅说明的长度界限无效", "the reference's length limits are impossible",
                         "reference_max_chars")
        purposes = tuple(StatedPurpose(p.get("id", str), self.bilingual(p, "label"), self.citation(p))
                         for p in t.tables("purposes"))
        if not purposes:
            raise t.fail("至少列出一项调阅目的", "list at least one purpose", "purposes")
        return StatedPurposes(purposes, least, most, self.citation(t))

    def _provider_rule(self, name: str, t: Table) -> ProviderRule:
        citation = self.citation(t) if t.has("source") else None
        if citation is None or not citation.provider:
            raise t.fail('此处只列本单位规则：须写 source = "provider"',
                         'only provider rules belong here: set source = "provider"', "source")
        return ProviderRule(name, self.bilingual(t, "text"), citation)

    def _clauses(self, t: Table) -> tuple[Clause, ...]:
        """Every leaf clause of the notice, each implemented (feature, pages, tests) or
        excluded with a reason, in the notice's order."""
        leaves = self.notice.leaf_clauses()
        given = t.names()
        for cite in given:
            if cite not in leaves:
                raise t.fail("通知中没有这一末级条款", "the notice has no such leaf clause", cite)
        clauses = []
        for cite in leaves:
            if cite not in given:
                raise t.fail("该条款既无实现也无排除说明", "this clause has neither a feature nor an exclusion", cite)
            entry = t.table(cite)
            implemented = entry.has("feature_zh") or entry.has("feature_en")
            if implemented == (entry.has("excluded_zh") or entry.has("excluded_en")):
                raise entry.fail(
                    "须给出实现（feature、pages、tests）或排除理由（excluded）之一",
                    "give either the feature with its pages and tests, or the reason it is excluded",
                )
            if implemented:
                pages, tests = entry.strings("pages"), entry.strings("tests")
                if not pages or not tests:
                    raise entry.fail("实现须列出页面和测试", "a feature lists its pages and its tests",
                                     "tests" if pages else "pages")
                clauses.append(Clause(cite, self.bilingual(entry, "feature"), pages, tests, None))
            else:
                clauses.append(Clause(cite, None, (), (), self.bilingual(entry, "excluded")))
        return tuple(clauses)

    def _agreement(self, t: Table) -> SecurityAgreement:
        return SecurityAgreement(
            self.bilingual(t, "title"),
            self.citation(t),
            tuple(
                AgreementPoint(p.get("id", str), self.bilingual(p, "text"), self.citation(p))
                for p in t.tables("points")
            ),
        )
