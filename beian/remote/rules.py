"""``beian rules`` and ``beian workdays``: what to prepare, and deadline arithmetic.

Both read the same rules file as the API and the site, so what the command line
says is what the form checks.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:  # the rules file and the calendars load in the commands that read them
    from chalicelib.rules import Bilingual, Citation, Nationality, Rules


class NationalityOption(StrEnum):
    """The ``--nationality`` choices, as in the rules file."""

    cn = "cn"
    foreign = "foreign"


def _both(text_zh: str, text_en: str) -> str:
    return f"{text_zh} / {text_en}"


def _in_both(text: Bilingual) -> str:
    return _both(text.zh, text.en)


def _source(citation: Citation) -> str:
    """The section of the notice, or, for a rule the notice does not set, whose rule it is."""
    return _both("本单位规则", "the provider's rule") if citation.provider else citation.cite


def workdays_add(
    start: Annotated[datetime, typer.Argument(formats=["%Y-%m-%d"], help="起始日期 / Start date (YYYY-MM-DD)")],
    days: Annotated[int, typer.Argument(min=0, max=10_000, help="工作日数 / Working days")],
) -> None:
    """计算某日之后第 N 个工作日（不含当日）/ The N-th working day after a date."""
    from chalicelib.workdays import add_working_days

    result = add_working_days(start.date(), days)
    console = Console()
    console.print(
        _both(
            f"{start:%Y-%m-%d} 之后第 {days} 个工作日：{result.date:%Y-%m-%d}",
            f"working day {days} after {start:%Y-%m-%d}: {result.date:%Y-%m-%d}",
        )
    )
    if result.provisional:
        console.print(
            _both(
                "暂定：相关年份的节假日安排尚未公布，结果为估算",
                "provisional: the holiday schedule is not yet published; this is an estimate",
            )
        )
    else:
        console.print(_both("依据已公布的节假日安排", "based on the published holiday schedule"))


def rules_show(
    subject_type: Annotated[
        str | None,
        typer.Option("--subject-type", help="主办者类型 / Subject type id, e.g. enterprise"),
    ] = None,
    nationality: Annotated[
        NationalityOption,
        typer.Option(
            "--nationality",
            help="网站负责人（个人为本人）国籍 / Nationality of the responsible person",
        ),
    ] = NationalityOption.cn,
) -> None:
    """列出需准备的证件和需填写的信息 / List the documents to bring and the fields to fill."""
    from chalicelib.rules import load_rules

    rules = load_rules()
    console = Console()
    if subject_type is None:
        console.print(_subject_types_table(rules))
        console.print(
            _both(
                "用 --subject-type 查看某类主办者需准备的证件和信息",
                "use --subject-type to see what one type of subject must prepare",
            )
        )
        return
    if subject_type not in {each.id for each in rules.subject_types}:
        listed = ", ".join(each.id for each in rules.subject_types)
        Console(stderr=True).print(
            _both(f"未知的主办者类型，可选：{listed}", f"unknown subject type; use one of {listed}")
        )
        raise typer.Exit(2)
    chosen: Nationality = "foreign" if nationality is NationalityOption.foreign else "cn"
    console.print(_documents_table(rules, subject_type, chosen))
    console.print(_fields_table(rules, subject_type))
    kind = rules.subject_type(subject_type).kind
    for group in rules.field_groups:
        if kind in group.applies_to:
            console.print(_in_both(group.message))


def _table(title: str, *columns: str) -> Table:
    """A table with the given columns and a final citation column."""
    table = Table(title=title)
    for column in (*columns, "依据 / Cite"):
        # Fold rather than truncate: a cut-off hint or name would mislead.
        table.add_column(column, overflow="fold")
    return table


def _subject_types_table(rules: Rules) -> Table:
    title = _both(f"主办者类型（规则 {rules.version}）", f"Subject types (rules {rules.version})")
    table = _table(title, "id", "名称 / Name", "类别 / Kind", "第一证件 / First document")
    for each in rules.subject_types:
        first = rules.documents_for(each.id, "cn")[0].documents[0]
        kind = rules.kind(each.kind).name
        table.add_row(
            each.id,
            _in_both(each.name),
            _in_both(kind),
            _in_both(first.name),
            _source(each.citation),
        )
    return table


def _documents_table(rules: Rules, subject_type: str, nationality: Nationality) -> Table:
    chosen = rules.subject_type(subject_type)
    person = rules.nationality(nationality).name
    title = _both(
        f"{chosen.name.zh}（{person.zh}）：需携带的证件原件（择一，优先第一证件）",
        f"{chosen.name.en} ({person.en}): original documents to bring (one of, first choice preferred)",
    )
    table = _table(title, "持有人 / Holder", "顺序 / Order", "证件 / Document", "号码 / Number")
    holders = {
        "subject": _both("网站主办者", "Subject"),
        "responsible_person": _both("网站负责人", "Responsible person"),
    }
    for options in rules.documents_for(subject_type, nationality):
        for order, document in enumerate(options.documents):
            table.add_row(
                holders[options.holder],
                _both("第一证件", "first choice") if order == 0 else _both("备选", "fallback"),
                _in_both(document.name),
                _in_both(document.number_label),
                _source(options.citation),
            )
    return table


def _fields_table(rules: Rules, subject_type: str) -> Table:
    from chalicelib.rules import REQUIREMENT_LABELS

    kind = rules.subject_type(subject_type).kind
    title = _both("需填写的信息", "Information to fill in")
    table = _table(title, "字段 / Field", "名称 / Label", "必填 / Required", "说明 / Hint")
    for field in rules.fields_for(subject_type):
        needed = REQUIREMENT_LABELS[rules.requirement(field, kind)]
        table.add_row(
            field.id,
            _in_both(field.label),
            _in_both(needed),
            _in_both(field.hint),
            _source(field.citation),
        )
    return table


def register(app: typer.Typer) -> None:
    """Add the ``workdays`` and ``rules`` command groups to ``app``."""
    workdays = typer.Typer(help=_both("工作日计算", "Working-day arithmetic"), no_args_is_help=True)
    workdays.command("add")(workdays_add)
    rules = typer.Typer(help=_both("备案规则", "Filing rules"), no_args_is_help=True)
    rules.command("show")(rules_show)
    app.add_typer(workdays, name="workdays")
    app.add_typer(rules, name="rules")
