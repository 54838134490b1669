"""The verification form (网站备案信息真实性核验单) as a PDF, in duplicate (二.(二)1(6)).

Its sections come from the rules file: the filing's own sections, the verifier's
checks, the corrections made on site, and the signature block. One copy stays with
the access provider, one goes to the province; both are in the same PDF.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from .deadlines import china_time
from .photo import cjk_font_path
from .rules import Bilingual, Field, Rules

COPIES = (("第一联：接入服务单位留存", "Copy 1: kept by the access provider"),
          ("第二联：报送网站主体所在地通信管理局", "Copy 2: for the provincial communications administration"))
FONT = "cjk"


def _value_text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "，".join(str(item) for item in value)
    if isinstance(value, bool):
        return "是" if value else "否"
    return "" if value is None else str(value)


def _shown(rules: Rules, field: Field, value: Any) -> str:
    """Ids of documents, nationalities and choices are shown by the rules' names."""
    if field.validator == "document_type" and isinstance(value, str):
        return rules.document(value).name.zh
    if field.validator == "nationality" and isinstance(value, str):
        return rules.nationality(value).name.zh
    names = {choice.id: choice.name.zh for choice in field.choices}
    if isinstance(value, str) and value in names:
        return names[value]
    return _value_text(value)


def _section_data(payload: Mapping[str, Any], section: str, kind: str) -> Mapping[str, Any]:
    """An individual is their own responsible person (一.1(3)): their section shows the
    subject's name and document."""
    if section == "responsible_person" and kind == "individual":
        return payload.get("subject") or {}
    return payload.get(section) or {}


def _identity_document(rules: Rules, payload: Mapping[str, Any]) -> Bilingual:
    """The document the responsible person actually showed (the subject's, for an individual)."""
    holder = payload.get("responsible_person") or payload.get("subject") or {}
    return rules.document(str(holder.get("id_type"))).name


def _time(value: object) -> str:
    """A stored time as China time with its zone."""
    try:
        return china_time(datetime.fromisoformat(str(value)))
    except ValueError:
        return str(value or "")


def render_form(rules: Rules, filing: Mapping[str, Any], payload: Mapping[str, Any],
                on_site: Mapping[str, Any]) -> bytes:
    """The form for ``filing``. ``payload`` is the filing's data with ID numbers revealed:
    the form records what was checked against the originals."""
    form = rules.verification_form
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_font(FONT, fname=str(cjk_font_path()), collection_font_number=0)
    pdf.set_title(f"{form.title.zh} {filing['id']}")
    subject_kind = rules.subject_type(str(payload.get("subject_type"))).kind
    identity = _identity_document(rules, payload)
    provider = (payload.get("access") or {}).get("provider_name") or str(filing["provider"])
    for copy_zh, copy_en in COPIES[: form.copies]:
        pdf.add_page()
        pdf.set_font(FONT, size=16)
        pdf.cell(0, 10, form.title.zh, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font(FONT, size=9)
        pdf.cell(0, 5, form.title.en, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.cell(0, 6, f"{copy_zh}  {copy_en}", align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        _rows(pdf, [("备案编号 Filing id", str(filing["id"])),
                    ("接入服务单位 Provider", str(provider)),
                    ("提交时间 Submitted at", _time(filing.get("created_at"))),
                    ("核验时间 Verified at", _time(on_site.get("verified_at", ""))),
                    ("核验人员 Verifier", str(on_site.get("verifier", "")))])
        for section in form.sections:
            _heading(pdf, f"{section.title.zh}  {section.title.en}  （{section.citation.cite}）")
            if section.kind == "fields" and section.fields_from:
                data = _section_data(payload, section.fields_from, subject_kind)
                _rows(pdf, [(f"{field.label.zh} {field.label.en}", _shown(rules, field, data.get(field.key)))
                            for field in rules.fields
                            if field.section == section.fields_from and data.get(field.key) not in (None, "", [])
                            and (field.applies(subject_kind) or section.fields_from == "responsible_person")])
            elif section.kind == "checks":
                checks = on_site.get("checks", {})
                _rows(pdf, [(check.named(identity).zh, "[√] 是 yes" if checks.get(check.id) else "[  ] 否 no")
                            for check in section.checks])
            elif section.kind == "notes":
                notes = on_site.get("corrections") or []
                _rows(pdf, [(str(note.get("label") or note.get("field", "")), _correction_text(note))
                            for note in notes] or [("无 none", "")])
            else:
                _rows(pdf, [("核验人员签字 Verifier's signature", ""),
                            ("网站负责人签字 Responsible person's signature", ""),
                            ("接入服务单位盖章 Provider's seal", "")], height=14)
    return bytes(pdf.output())


def _correction_text(note: Mapping[str, Any]) -> str:
    change = f"{note.get('old') or '（空）'} → {note['new']}" if "new" in note else ""
    return "；".join(part for part in (change, str(note.get("note", ""))) if part)


def _heading(pdf: FPDF, text: str) -> None:
    pdf.ln(2)
    pdf.set_font(FONT, size=11)
    pdf.set_fill_color(230, 236, 245)
    pdf.multi_cell(0, 7, text, fill=True, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, size=9)


def _rows(pdf: FPDF, rows: Sequence[tuple[str, str]], height: float = 6) -> None:
    with pdf.table(col_widths=(70, 120), text_align="LEFT", first_row_as_headings=False,
                   line_height=height) as table:
        for label, value in rows:
            row = table.row()
            row.cell(label)
            row.cell(value or " ")
