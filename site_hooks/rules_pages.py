"""The parts of the site that come from the rules file, written as Markdown before each build.

A plain build step, whatever generates the HTML: ``generate(docs_dir)`` (or
``python site_hooks/rules_pages.py [docs_dir]``) writes the document checklist, the deadlines,
the process diagram, the photo specification, the official texts, the agreement and the notice
itself as Markdown snippets into ``<docs_dir>/generated/`` (git-ignored); the hand-written pages
include them with ``--8<--``, one snippet per language. The interactive pages read the JSON
files written next to them (rules.json, checklists.json, requirements.json, states.json,
transitions.json, console.json, filetypes.json, consent.json); filing.schema.json is the
filing's JSON Schema for clients. Rules come from ``load_rules()``, so ``BEIAN_RULES_FILE``
switches them for a build exactly as it does for the API: a rule changes in one place.

MkDocs runs it through the two thin hooks at the end of this file (``mkdocs.yml``, ``hooks:``);
the Zensical build test (tests/browser/test_site_zensical.py) runs it first, then Zensical.

A file is rewritten only when its content changed, so ``mkdocs serve`` does not
rebuild in a loop (field notes). Mermaid is copied from the npm package, so the
site needs no CDN.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from mkdocs.config.defaults import MkDocsConfig

PROJECT = Path(__file__).resolve().parents[1]
if str(PROJECT / "api") not in sys.path:
    sys.path.insert(0, str(PROJECT / "api"))

from chalicelib.consent import PRIVACY_NOTICE_VERSION  # noqa: E402
from chalicelib.filetypes import SIGNATURES, SNIFF_BYTES  # noqa: E402
from chalicelib.filing_schema import filing_schema  # noqa: E402
from chalicelib.oversight.assessment import FIGURES  # noqa: E402
from chalicelib.policy import ACTIONS  # noqa: E402
from chalicelib.rules import (  # noqa: E402  (needs api/ on the path)
    REQUIREMENT_LABELS,
    Bilingual,
    Citation,
    Cite,
    Deadline,
    Document,
    DocumentOptions,
    Field,
    Kind,
    Rules,
    load_rules,
)
from chalicelib.workflow import STATE_NAMES, SUBMIT, TRANSITIONS, Transition  # noqa: E402

Lang = Literal["zh", "en"]
ANY_DOCUMENT = Bilingual("证件", "identity document")  # the form names the one actually shown
LANGS: tuple[Lang, ...] = ("zh", "en")
GENERATED = "generated"
MERMAID = PROJECT / "node_modules" / "mermaid" / "dist" / "mermaid.min.js"

# Words of the generated pages; everything else comes from the rules.
WORDS: dict[Lang, dict[str, str]] = {
    "zh": {
        "cite": "依据",
        "holder": "出示人",
        "first": "第一证件",
        "fallback": "没有第一证件时可出示",
        "none": "无",
        "unit_docs": "单位证件",
        "subject_self": "主办者本人",
        "field": "信息项",
        "required": "是否必填",
        "hint": "填写说明",
        "by_provider": "本部分由接入服务单位填写，您无需准备。",
        "stage": "环节",
        "limit": "时限",
        "starts": "起算",
        "subject_type": "主办者类型",
        "subject_docs": "主办者证件",
        "person_docs": "网站负责人证件",
        "as_individual": "主办者本人即网站负责人",
        "or": "或",
        "copies": "份数",
        "provider_rule": "本单位规则",
    },
    "en": {
        "cite": "Notice",
        "holder": "Presented by",
        "first": "First document",
        "fallback": "Accepted when the first is not available",
        "none": "none",
        "unit_docs": "Organisation's certificate",
        "subject_self": "The individual",
        "field": "Item",
        "required": "Required",
        "hint": "How to fill it in",
        "by_provider": "The access provider fills in this part; you need not prepare it.",
        "stage": "Step",
        "limit": "Time limit",
        "starts": "Counted from",
        "subject_type": "Subject type",
        "subject_docs": "Subject's documents",
        "person_docs": "Responsible person's documents",
        "as_individual": "the individual is the responsible person",
        "or": "or",
        "copies": "Copies",
        "provider_rule": "The provider's rule",
    },
}

UNITS: dict[Lang, dict[str, tuple[str, str]]] = {
    # (singular, plural)
    "zh": {"working_days": ("个工作日", "个工作日"), "months": ("个月", "个月"), "years": ("年", "年")},
    "en": {
        "working_days": ("working day", "working days"),
        "months": ("month", "months"),
        "years": ("year", "years"),
    },
}


# Punctuation between words: full-width in Chinese, ASCII with spaces in English.
PUNCTUATION: dict[Lang, dict[str, str]] = {
    "zh": {"(": "（", ")": "）", ":": "：", ";": "；", ",": "，"},
    "en": {"(": " (", ")": ")", ":": ": ", ";": "; ", ",": ", "},
}


def aside(text: str, lang: Lang) -> str:
    """A parenthetical, in the typography of ``lang``."""
    return f"{PUNCTUATION[lang]['(']}{text}{PUNCTUATION[lang][')']}"


def tr(text: Bilingual, lang: Lang) -> str:
    return text.zh if lang == "zh" else text.en


def cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def zh_text(text: str, lang: Lang) -> str:
    """Chinese words inside a page of ``lang``, marked for screen readers on English pages."""
    return text if lang == "zh" else f'<span lang="zh">{text}</span>'


def anchor(cite: str) -> str:
    """The notice page's anchor for a citation such as ``二.(二)1(2)``."""
    parsed = Cite.parse(cite)
    return location_anchor(parsed.part, parsed.subpart, parsed.item, parsed.subitem)


def location_anchor(part: str, subpart: str | None, item: int | None, subitem: int | None) -> str:
    return "-".join(["n", part, *(str(level) for level in (subpart, item, subitem) if level)])


def cite_link(cite: str, lang: Lang) -> str:
    return f"[{WORDS[lang]['cite']} {cite}](notice.md#{anchor(cite)})"


PROVIDER_RULES_ANCHOR = "provider-rules"


def source_link(citation: Citation, lang: Lang) -> str:
    """Where a rule comes from: its section of the notice, or, for a rule the notice does
    not set, a link saying it is the provider's own (never a notice citation)."""
    if citation.provider:
        return f"[{WORDS[lang]['provider_rule']}](coverage.md#{PROVIDER_RULES_ANCHOR})"
    return cite_link(citation.cite, lang)


def quoted(citation: Citation, lang: Lang) -> str:
    """A citation with its quoted words, as a line under a rule."""
    if citation.provider:
        return source_link(citation, lang)
    return f"{cite_link(citation.cite, lang)}{PUNCTUATION[lang][':']}「{zh_text(citation.quote, lang)}」"


def deadline_text(deadline: Deadline, lang: Lang) -> str:
    singular, plural = UNITS[lang][deadline.unit]
    unit = singular if deadline.amount == 1 else plural
    if lang == "zh":
        return f"{deadline.amount}{unit}内" if deadline.bound == "within" else f"至少{deadline.amount}{unit}"
    bound = "within" if deadline.bound == "within" else "at least"
    return f"{bound} {deadline.amount} {unit}"


def named(name: Bilingual, citation: Citation, lang: Lang) -> str:
    """A rule's name; a rule the notice does not set says so beside it."""
    return tr(name, lang) + (aside(WORDS[lang]["provider_rule"], lang) if citation.provider else "")


def document_label(document: Document, lang: Lang) -> str:
    return named(document.name, document.citation, lang) + aside(tr(document.number_label, lang), lang)


def options_cells(options: DocumentOptions, lang: Lang) -> tuple[str, str]:
    """The first choice, and the fallbacks in order (or "none")."""
    first, *rest = (document_label(d, lang) for d in options.documents)
    return first, ("、" if lang == "zh" else ", ").join(rest) or WORDS[lang]["none"]


def holder_label(rules: Rules, options: DocumentOptions, kind: Kind, nationality: str, lang: Lang) -> str:
    w = WORDS[lang]
    if options.holder == "subject" and kind == "unit":
        return w["unit_docs"]
    who = w["subject_self"] if options.holder == "subject" else tr(rules.responsible_person.name, lang)
    return f"{who} — {nationality}"


def table(header: Iterable[str], rows: Iterable[Iterable[str]]) -> list[str]:
    head = list(header)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return [*lines, ""]


# -- the snippets ------------------------------------------------------------------------


def checklist(rules: Rules, lang: Lang) -> str:
    """Documents per subject type, then the information to fill in per kind of subject."""
    w = WORDS[lang]
    heading = {"zh": "## 证件原件（按主办者类型）", "en": "## Original documents, by type of subject"}
    lines = [heading[lang], ""]
    for subject_type in rules.subject_types:
        lines += [f"### {named(subject_type.name, subject_type.citation, lang)} {{#{subject_type.id}}}", ""]
        rows: list[tuple[str, str, str, str]] = []
        for nationality in rules.nationalities:
            for options in rules.documents_for(subject_type.id, nationality.id):
                holder = holder_label(rules, options, subject_type.kind, tr(nationality.name, lang), lang)
                row = (holder, *options_cells(options, lang), source_link(options.citation, lang))
                if row not in rows:  # a unit's own certificates do not depend on nationality
                    rows.append(row)
        lines += table((w["holder"], w["first"], w["fallback"], w["cite"]), rows)
        if subject_type.uscc_prefixes:
            lines += [uscc_note(subject_type.uscc_prefixes, lang), ""]
        if subject_type.provider_rule is not None:
            note = rules.provider_note(subject_type.provider_rule)
            lines += [f"{tr(note.text, lang)}{aside(source_link(note.citation, lang), lang)}", ""]
        lines += [quoted(subject_type.citation, lang), ""]
    person = rules.responsible_person
    in_person = {
        "zh": "网站负责人须本人携带上述证件**原件**到接入服务单位备案现场办理核验。"
        f"单位的网站负责人是{person.definition_unit.zh}；个人的网站负责人是{person.definition_individual.zh}。",
        "en": "The person responsible for the website must bring the **originals** of these documents "
        f"to the access provider's filing desk in person. For an organisation, that is: "
        f"{person.definition_unit.en} For an individual: {person.definition_individual.en}",
    }
    lines += [in_person[lang], "", quoted(person.in_person, lang), ""]
    lines += fields_sections(rules, lang)
    return "\n".join(lines)


def uscc_note(prefixes: tuple[str, ...], lang: Lang) -> str:
    """Which unified social credit codes fit a unit type (GB 32100: authority, then category)."""
    listed = ("、" if lang == "zh" else ", ").join(f"`{prefix}`" for prefix in prefixes)
    if lang == "zh":
        return (f"统一社会信用代码（18位）的开头须为 {listed}（登记管理部门和机构类别代码，GB 32100）；"
                "其他类别的代码请改选相应的主办者类型。")
    return (f"The unified social credit code (18 characters) must start with {listed} (the registration "
            "authority and unit category, GB 32100); a code of another category belongs to another subject type.")


def fields_sections(rules: Rules, lang: Lang) -> list[str]:
    w = WORDS[lang]
    heading = {"zh": "## 需要填写的信息", "en": "## Information to fill in"}
    lines = [heading[lang], ""]
    for kind in rules.kinds:
        lines += [f"### {tr(kind.name, lang)} {{#fields-{kind.id}}}", ""]
        for section in rules.sections:
            fields = [f for f in rules.fields if f.section == section.id and f.applies(kind.id)]
            if not fields:
                continue
            lines += [f"#### {tr(section.label, lang)} {{#fields-{kind.id}-{section.id}}}", ""]
            if section.entered_by == "provider":
                lines += [w["by_provider"], ""]
            lines += table((w["field"], w["required"], w["hint"]),
                           (field_row(rules, f, kind.id, lang) for f in fields))
            for group in rules.field_groups:
                if kind.id in group.applies_to and any(f.id in group.fields for f in fields):
                    lines += [f"- {tr(group.message, lang)}", ""]
    return lines


def field_row(rules: Rules, field: Field, kind: Kind, lang: Lang) -> tuple[str, str, str]:
    """A field's label, who must fill it (``Rules.requirement``) and its hint."""
    return tr(field.label, lang), tr(REQUIREMENT_LABELS[rules.requirement(field, kind)], lang), tr(field.hint, lang)


def documents_summary(rules: Rules, lang: Lang) -> str:
    """One row per subject type: its documents and its responsible person's."""
    w = WORDS[lang]
    rows = []
    for subject_type in rules.subject_types:
        by_holder: dict[str, list[str]] = {"subject": [], "responsible_person": []}
        for nationality in rules.nationalities:
            for options in rules.documents_for(subject_type.id, nationality.id):
                first, fallbacks = options_cells(options, lang)
                text = first if fallbacks == w["none"] else f"{first}{PUNCTUATION[lang][',']}{w['or']} {fallbacks}"
                if options.holder == "responsible_person" or subject_type.kind == "individual":
                    text = f"{tr(nationality.name, lang)}{PUNCTUATION[lang][':']}{text}"
                if text not in by_holder[options.holder]:
                    by_holder[options.holder].append(text)
        rows.append(
            (
                f"[{named(subject_type.name, subject_type.citation, lang)}](checklist.md#{subject_type.id})",
                "<br>".join(by_holder["subject"]),
                "<br>".join(by_holder["responsible_person"]) or w["as_individual"],
            )
        )
    return "\n".join(table((w["subject_type"], w["subject_docs"], w["person_docs"]), rows))


CALENDAR_MONTHS: dict[Lang, str] = {
    "zh": "以月计的期限按日历月计算：到起算之日后相应月份的同一日为止，该月没有这一日的到该月最后一天为止"
          "（例如自1月31日起算一个月，到2月28日或29日为止）。最后一天是周末或节假日的，日期不变，"
          "状态页会注明并给出此前最后一个工作日，请在那天之前办理。",
    "en": "A period in months is counted in calendar months: it ends on the same day of the month it "
          "reaches, or on that month's last day if it has no such day (one month from 31 January ends on "
          "28 or 29 February). A last day on a weekend or holiday does not move; the status page says so "
          "and names the last working day before it, by which to come.",
}


def deadlines(rules: Rules, lang: Lang) -> str:
    w = WORDS[lang]
    rows = [
        (tr(d.label, lang), f"**{deadline_text(d, lang)}**", tr(d.starts, lang), source_link(d.citation, lang))
        for d in rules.deadlines
    ]
    lines = table((w["stage"], w["limit"], w["starts"], w["cite"]), rows)
    if any(d.unit == "months" for d in rules.deadlines):
        lines += [CALENDAR_MONTHS[lang], ""]
    return "\n".join(lines)


# Each requirement of the photo the rules can switch on: (the rules' flag, zh, en).
PHOTO_REQUIREMENTS = (
    ("colour", "彩色照片", "In colour"),
    ("front_facing", "正面", "Facing the camera"),
    ("bareheaded", "免冠（不戴帽子）", "Bareheaded (no hat)"),
    ("shows_capture_time", "照片显示拍照时间", "The photo shows when it was taken"),
    ("shows_curtain_marker", "以备案中心统一制作、带有标识的幕布为背景，照片显示背景标识",
     "Taken against the marked curtain the filing centre provides; the marker shows in the photo"),
)


def photo(rules: Rules, lang: Lang) -> str:
    spec = rules.photo
    size = {"zh": f"电子照片规格：**{spec.long_side_px}×{spec.short_side_px} 像素**",
            "en": f"Digital photo of **{spec.long_side_px}×{spec.short_side_px} pixels**"}
    pick = 1 if lang == "zh" else 2
    lines = [f"- {size[lang]}", *(f"- {item[pick]}" for item in PHOTO_REQUIREMENTS if getattr(spec, item[0]))]
    return "\n".join([*lines, "", quoted(spec.citation, lang), ""])


def official_text(rules: Rules, name: str, lang: Lang) -> str:
    """One official text verbatim; on English pages with our translation after it."""
    text = rules.notice_text(name)
    lines = [f"**{tr(text.purpose, lang)}**{aside(cite_link(text.cite, lang), lang)}", ""]
    lines += [f'<blockquote class="official" lang="zh"><p>{text.text}</p></blockquote>', ""]
    if lang == "en":
        lines += [f"*Our translation, not official:* {text.translation_en}", ""]
    return "\n".join(lines)


def sms_texts(rules: Rules, lang: Lang) -> str:
    names = [t.id for t in rules.notice_texts if t.id.startswith("sms_")]
    own = {"zh": "以下短信的措辞通知未作规定，由接入服务单位自定：",
           "en": "The notice does not word these messages; the wording is the provider's own:"}
    lines = [official_text(rules, name, lang) for name in names] + [own[lang], ""]
    for text in rules.provider_texts:
        if text.id.startswith("sms_"):
            lines += [f"**{tr(text.purpose, lang)}**{aside(source_link(text.citation, lang), lang)}", "",
                      f'<blockquote lang="zh"><p>{text.text.zh}</p></blockquote>', ""]
            if lang == "en":
                lines += [text.text.en, ""]
    return "\n".join(lines)


def contract(rules: Rules, lang: Lang) -> str:
    return official_text(rules, "contract_clause", lang)


def agreement(rules: Rules, lang: Lang) -> str:
    agreement = rules.security_agreement
    lines = [f"**{tr(agreement.title, lang)}**{aside(cite_link(agreement.citation.cite, lang), lang)}", ""]
    lines += [
        f"{number}. {tr(point.text, lang)}{aside(source_link(point.citation, lang), lang)}"
        for number, point in enumerate(agreement.points, 1)
    ]
    return "\n".join([*lines, ""])


def verification_form(rules: Rules, lang: Lang) -> str:
    form = rules.verification_form
    w = WORDS[lang]
    p = PUNCTUATION[lang]
    facts = f"{w['copies']}{p[':']}{form.copies}{p[';']}{cite_link(form.citation.cite, lang)}"
    lines = [f"**{tr(form.title, lang)}**{aside(facts, lang)}", ""]
    for section in form.sections:
        lines.append(f"- {tr(section.title, lang)}")
        lines += [f"    - {tr(check.named(ANY_DOCUMENT), lang)}" for check in section.checks]
    return "\n".join([*lines, ""])


def retention(rules: Rules, lang: Lang) -> str:
    rule = rules.deadline("retention")
    facts = f"{tr(rule.starts, lang)}{PUNCTUATION[lang][';']}{source_link(rule.citation, lang)}"
    return f"**{deadline_text(rule, lang)}**{aside(facts, lang)}\n"


def one_folder_down(markdown: str) -> str:
    """A snippet for a page one folder down (operators/): its links to the top-level pages
    (the notice, the coverage page) climb one level."""
    return re.sub(r"\]\((?=[a-z-]+\.md)", "](../", markdown)


def privacy_version(_rules: Rules, lang: Lang) -> str:
    """The version applicants consent to; the API refuses consent to any other."""
    label = {"zh": "本告知版本", "en": "Version of this notice"}
    return f"{label[lang]}{PUNCTUATION[lang][':']}**{PRIVACY_NOTICE_VERSION}**\n"


def notice(rules: Rules, _lang: Lang) -> str:
    """The notice's body (official Chinese on both pages), one anchor per section for citations."""
    lines = [f"**{rules.notice.title_zh}**", ""]
    seen: set[str] = set()
    for paragraph in rules.notice.paragraphs:
        levels = (paragraph.subpart, paragraph.item, paragraph.subitem)
        target = location_anchor(paragraph.part, *levels)
        if target in seen:
            lines += [paragraph.text, ""]
            continue
        seen.add(target)
        depth = sum(level is not None for level in levels[:2])
        if paragraph.subitem is None:
            lines += [f"{'#' * (2 + depth)} {paragraph.text} {{#{target}}}", ""]
        else:
            lines += [f"{paragraph.text}\n{{: #{target} }}", ""]
    return "\n".join(lines)


# -- the workflow's steps, from the transition table (the README's table too: steps_table.py)

STEPS = (SUBMIT, *TRANSITIONS.values())
ROLES = {"applicant": ("主办者", "applicant"), "verifier": ("接入服务单位核验人员", "verifier"),
         "reviewer": ("通信管理局审核人员", "reviewer")}
HEADERS = {"zh": ("步骤", "由谁", "状态", "时限", "短信", "依据"),
           "en": ("Step", "Who", "States", "Time limit", "SMS", "Notice")}


def flow(rules: Rules, lang: Lang) -> str:
    """The process as a Mermaid flowchart drawn from the transition table: a box per state,
    with the deadlines that start on arriving there (each the provider sets says so), and an
    arrow per step and state it leaves."""
    pick = 0 if lang == "zh" else 1
    title = {"zh": "网站备案流程", "en": "The website filing process"}
    description = {
        "zh": "从提交备案信息到下发备案号的各个状态、步骤和时限；下文的表格逐步说明。",
        "en": "Each state from submitting the filing to the filing number, its steps and time "
        "limits; the table below describes each step.",
    }
    start = {"zh": "主办者", "en": "The subject"}
    lines = ["```mermaid", "flowchart TD", f"  accTitle: {title[lang]}", f"  accDescr: {description[lang]}",
             f'  start(["{start[lang]}"])']
    for state, names in STATE_NAMES.items():
        started = dict.fromkeys(rules.deadline(step.starts) for step in STEPS if step.target == state and step.starts)
        limits = "".join(f"<br/>{tr(deadline.label, lang)}{PUNCTUATION[lang][':']}{deadline_text(deadline, lang)}"
                         f"{provider_mark(deadline, lang)}" for deadline in started)
        lines.append(f'  {state}["{names[pick]}{limits}"]')
    for step in STEPS:
        for source in step.sources or ("start",):
            lines.append(f'  {source} -->|"{step.headline[pick]}"| {step.target}')
    return "\n".join([*lines, "```", ""])


def _join(lang: Lang) -> str:
    return "、" if lang == "zh" else "; "


def step_states(step: Transition, lang: Lang) -> str:
    pick = 0 if lang == "zh" else 1
    sources = _join(lang).join(STATE_NAMES[state][pick] for state in step.sources) if step.sources else "—"
    return f"{sources} → {STATE_NAMES[step.target][pick]}"


def provider_mark(deadline: Deadline, lang: Lang) -> str:
    """After a deadline the notice does not set: that it is the provider's own rule."""
    if deadline.source != "provider":
        return ""
    return f"（{WORDS[lang]['provider_rule']}）" if lang == "zh" else f" ({WORDS[lang]['provider_rule']})"


def step_deadlines(rules: Rules, step: Transition, lang: Lang) -> str:
    parts = []
    if step.starts:
        deadline = rules.deadline(step.starts)
        parts.append(f"{'开始' if lang == 'zh' else 'starts'} {tr(deadline.label, lang)}{PUNCTUATION[lang][':']}"
                     f"{deadline_text(deadline, lang)}{provider_mark(deadline, lang)}")
    if step.stops:
        names = _join(lang).join(tr(rules.deadline(name).label, lang) + provider_mark(rules.deadline(name), lang)
                                 for name in step.stops)
        parts.append(f"{'结束' if lang == 'zh' else 'ends'} {names}")
    return ("；" if lang == "zh" else "; ").join(parts) or "—"


def step_sms(rules: Rules, step: Transition) -> str:
    return f"“{rules.sms_text(step.sms)}”" if step.sms else "—"


def steps(rules: Rules, lang: Lang) -> str:
    """The workflow's steps for the process page, from the transition table (chalicelib.workflow)."""
    pick = 0 if lang == "zh" else 1
    lines = ["| " + " | ".join(HEADERS[lang]) + " |", "|" + "---|" * len(HEADERS[lang])]
    for step in STEPS:
        who = _join(lang).join(ROLES[role][pick] for role in step.roles)
        cells = (step.summary[pick], who, step_states(step, lang), step_deadlines(rules, step, lang),
                 step_sms(rules, step), cite_link(step.cite, lang))
        lines.append("| " + " | ".join(cell(text) for text in cells) + " |")
    return "\n".join([*lines, ""])


def coverage(rules: Rules, lang: Lang) -> str:
    """Every leaf clause of the notice with what implements it (feature, pages, tests) or
    why it is out of scope, then every rule that is the provider's own."""
    words = {
        "zh": ("条款", "beian 的实现", "页面", "测试", "不在范围内：",
               "通知共 {total} 条末级条款：{done} 条已实现，{excluded} 条说明了不在范围内的理由。",
               "本单位规则",
               "以下规则不是通知的规定，是接入服务单位自己的规则；各页面陈述这些规则时都注明“本单位规则”，不引用通知。"),
        "en": ("Clause", "What beian does", "Pages", "Tests", "Out of scope: ",
               "The notice has {total} leaf clauses: {done} implemented, {excluded} out of scope with the "
               "reason stated.",
               "The provider's own rules", "These rules are not the notice's but the access provider's own; "
               "every page that states one says it is the provider's rule and cites no section of the notice."),
    }
    clause_head, feature_head, pages_head, tests_head, excluded, summary, own_head, own_intro = words[lang]
    rows = []
    for clause in rules.clauses:
        if clause.feature is None:
            reason = clause.excluded.zh if lang == "zh" else clause.excluded.en  # type: ignore[union-attr]
            rows.append((cite_link(clause.cite, lang), excluded + reason, "", ""))
            continue
        pages = "<br>".join(f"[{page}]({page})" for page in clause.pages)
        tests = "<br>".join(f"`{test}`" for test in clause.tests)
        rows.append((cite_link(clause.cite, lang), tr(clause.feature, lang), pages, tests))
    done = sum(clause.feature is not None for clause in rules.clauses)
    lines = [summary.format(total=len(rules.clauses), done=done, excluded=len(rules.clauses) - done), ""]
    lines += table((clause_head, feature_head, pages_head, tests_head), rows)
    lines += [f"## {own_head} {{#{PROVIDER_RULES_ANCHOR}}}", "", own_intro, ""]
    for where, name in rules.provider_rules():
        lines.append(f"- {tr(name, lang)}{provider_rule_value(rules, where, lang)} `{where}`")
    return "\n".join([*lines, ""])


def provider_rule_value(rules: Rules, where: str, lang: Lang) -> str:
    """The value a provider rule sets, where it has one, read from the rules."""
    kind, _, name = where.partition(".")
    if kind == "deadlines":
        return PUNCTUATION[lang][":"] + deadline_text(rules.deadline(name), lang)
    if kind == "id_check":
        ages = {"zh": "{low}至{high}周岁", "en": "{low} to {high} years of age"}[lang]
        return PUNCTUATION[lang][":"] + ages.format(low=rules.id_check.min_age, high=rules.id_check.max_age)
    if where == "stated_purposes":
        return PUNCTUATION[lang][":"] + reference_length(rules, lang)
    return ""


def reference_length(rules: Rules, lang: Lang) -> str:
    stated = rules.stated_purposes
    words = {"zh": "去掉首尾空白后至少 {least} 个字，最多 {most} 个字",
             "en": "at least {least} characters once trimmed, at most {most}"}[lang]
    return words.format(least=stated.reference_min_chars, most=stated.reference_max_chars)


def purposes(rules: Rules, lang: Lang) -> str:
    """The purposes staff choose from before they open the archive (for the staff pages, one
    folder down), and what the reference stated with one must be."""
    header = {"zh": ("目的", "代码（命令行 --purpose）", "依据"),
              "en": ("Purpose", "Id (the command line's --purpose)", "Source")}[lang]
    rows = ((tr(purpose.label, lang), f"`{purpose.id}`", source_link(purpose.citation, lang))
            for purpose in rules.stated_purposes.purposes)
    reference = {"zh": "调阅依据（`--reference`：案件编号、函件或工单）：{length}{source}。",
                 "en": "The reference (`--reference`: a case number, letter or ticket): {length}{source}."}[lang]
    lines = [*table(header, rows), "",
             reference.format(length=reference_length(rules, lang),
                              source=aside(source_link(rules.stated_purposes.citation, lang), lang))]
    return one_folder_down("\n".join([*lines, ""]))


def assessment_standards(_rules: Rules, lang: Lang) -> str:
    """The checking standards (三.(三)3): every figure of the quarterly assessment and its
    definition, exactly as the report prints them."""
    header = {"zh": ("指标", "定义"), "en": ("Figure", "Definition")}[lang]
    rows = ((figure.zh, figure.definition_zh) if lang == "zh" else (figure.en, figure.definition_en)
            for figure in FIGURES)
    return "\n".join(table(header, rows))


SNIPPETS: dict[str, Callable[[Rules, Lang], str]] = {
    "steps": steps,
    "checklist": checklist,
    "documents-summary": documents_summary,
    "deadlines": deadlines,
    "flow": flow,
    "photo": photo,
    "sms": sms_texts,
    "contract": contract,
    "agreement": agreement,
    "verification-form": verification_form,
    "retention": retention,
    "retention-operators": lambda rules, lang: one_folder_down(retention(rules, lang)),
    "privacy-version": privacy_version,
    "notice": notice,
    "coverage": coverage,
    "assessment-standards": assessment_standards,
    "purposes": purposes,
}


def checklists(rules: Rules) -> dict[str, dict[str, dict[str, object]]]:
    """What each subject type and nationality brings and fills in, as the rules API decides it.

    The wizard and the upload page present this; they hold no rules logic of their own.
    """
    return {
        subject_type.id: {
            nationality.id: {
                "documents": [
                    {
                        "holder": options.holder,
                        "documents": list(options.ids()),
                        "cite": options.citation.cite,
                        "source": options.citation.source,
                        "anchor": "" if options.citation.provider else anchor(options.citation.cite),
                    }
                    for options in rules.documents_for(subject_type.id, nationality.id)
                ],
                "fields": [field.id for field in rules.fields_for(subject_type.id)],
                "required": [field.id for field in rules.required_fields(subject_type.id)],
                "requirement": {field.id: rules.requirement(field, subject_type.kind)
                                for field in rules.fields_for(subject_type.id)},
            }
            for nationality in rules.nationalities
        }
        for subject_type in rules.subject_types
    }


def to_json(data: object) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


# -- writing -----------------------------------------------------------------------------


def write_if_changed(path: Path, data: bytes) -> None:
    if path.is_file() and path.read_bytes() == data:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(data)
    temporary.replace(path)


def generated_dir(config: MkDocsConfig) -> Path:
    return Path(config.docs_dir) / GENERATED


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    """Point the snippets extension at the generated folder, wherever the docs are."""
    config.mdx_configs.setdefault("pymdownx.snippets", {})["base_path"] = [str(generated_dir(config))]
    return config


def generate(docs_dir: Path) -> Path:
    """The plain build step: every rules-driven snippet and data file, written into
    ``docs_dir/generated`` (returned)."""
    rules = load_rules()
    out = docs_dir / GENERATED
    write_if_changed(out / "rules.json", to_json(rules.to_dict()))
    write_if_changed(out / "checklists.json", to_json(checklists(rules)))
    write_if_changed(out / "requirements.json", to_json({key: label.to_dict()
                                                         for key, label in REQUIREMENT_LABELS.items()}))
    write_if_changed(out / "filing.schema.json", to_json(filing_schema(rules)))
    states = {state: {"zh": zh, "en": en} for state, (zh, en) in STATE_NAMES.items()}
    write_if_changed(out / "states.json", to_json(states))
    # The staff console offers the steps a role may take from a filing's state.
    steps = {t.action: {"sources": list(t.sources), "target": t.target, "roles": list(t.roles)}
             for t in TRANSITIONS.values()}
    write_if_changed(out / "transitions.json", to_json(steps))
    # The console offers each role what the policy lets it do (the API decides again on every
    # call); the review page states the purpose that cites the review's clause. The purposes
    # and the reference's limits are in rules.json.
    may = {action: sorted(roles) for action, roles in ACTIONS.items()}
    review_purpose = next((purpose.id for purpose in rules.stated_purposes.purposes
                           if purpose.citation.cite == rules.review.citation.cite), None)
    write_if_changed(out / "console.json", to_json({"review_purpose": review_purpose, "may": may}))
    # The upload page declares a file's type from its first bytes, as the API expects.
    signatures = [{"media_type": media_type, "magic": magic.hex()} for media_type, magic in SIGNATURES]
    write_if_changed(out / "filetypes.json", to_json({"sniff_bytes": SNIFF_BYTES, "signatures": signatures}))
    # The submission page sends the privacy notice version the applicant consents to.
    write_if_changed(out / "consent.json", to_json({"privacy_notice_version": PRIVACY_NOTICE_VERSION}))
    for name, render in SNIPPETS.items():
        for lang in LANGS:
            write_if_changed(out / f"{name}.{lang}.md", render(rules, lang).encode())
    write_if_changed(out / MERMAID.name, MERMAID.read_bytes())
    return out


def on_pre_build(config: MkDocsConfig) -> None:
    """The MkDocs hook: a thin caller of the plain step."""
    generate(Path(config.docs_dir))


if __name__ == "__main__":
    print(generate(Path(sys.argv[1]) if len(sys.argv) > 1 else PROJECT / "site"))
