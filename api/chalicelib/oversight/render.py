"""The reports as text: CSV (UTF-8 with a byte-order mark, so spreadsheet programs in China
read the Chinese), Markdown with SVG charts beside it, in Chinese first, then English.

Nothing here writes files or logs: the caller decides where the text goes. The sample
worksheet holds contact mobiles (and never an ID number), so it must go to a file only.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from ..validators.filing_number import PROVINCES
from .assessment import COUNT_LABELS, COUNTS, FIGURES, Assessment, Figure, Tally
from .charts import Series, bar_chart, percent
from .sampling import OUTCOMES, Sample, WorksheetRow

PROVINCE_NAMES = {province.character: province for province in PROVINCES}
TOTAL, PROVINCE, PROVIDER, STRATUM = "total", "province", "provider", "stratum"
# Charts: each level gets one chart per group of figures, so no chart grows too tall.
CHART_GROUPS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("quality", "准确性与备案率", "Accuracy and filing rate",
     ("accuracy", "stock_accuracy", "id_check", "filing_rate", "reverification")),
    ("process", "时限与材料", "Timeliness and evidence", ("pre_verification", "review", "evidence")),
)
FIGURE_BY_KEY = {figure.key: figure for figure in FIGURES}
CSV_BOM = "\ufeff"


def bilingual(zh: str, en: str) -> str:
    return f"{zh} / {en}"


def province_label(character: str) -> str:
    province = PROVINCE_NAMES.get(character)
    return character if province is None else f"{character} {province.name_zh}"


def _csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return CSV_BOM + out.getvalue()


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(_cell(name) for name in header) + " |",
             "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in rows]
    return [*lines, ""]


def figure_cell(figure: Figure, tally: Tally) -> str:
    numerator, denominator = figure.counts(tally)
    return f"{percent(figure.rate(tally))} ({numerator}/{denominator})"


def assessment_rows(assessment: Assessment) -> Iterator[tuple[str, str, str, Tally]]:
    """(level, province, provider, tally): the total, each province, provider and stratum."""
    yield TOTAL, "", "", assessment.total()
    for province, tally in assessment.by_province().items():
        yield PROVINCE, province, "", tally
    for provider, tally in assessment.by_provider().items():
        yield PROVIDER, "", provider, tally
    for stratum in sorted(assessment.strata):
        yield STRATUM, stratum.province, stratum.provider, assessment.strata[stratum]


def quarterly_csv(assessment: Assessment) -> str:
    header = [bilingual("层级", "level"), bilingual("省份", "province"),
              bilingual("接入服务单位", "provider")]
    header += [bilingual(*COUNT_LABELS[name]) for name in COUNTS]
    header += [bilingual(figure.zh, figure.en) for figure in FIGURES]
    return _csv(header, (
        [level, province, provider, *(getattr(tally, name) for name in COUNTS),
         *("" if (rate := figure.rate(tally)) is None else f"{rate:.4f}" for figure in FIGURES)]
        for level, province, provider, tally in assessment_rows(assessment)))


def quarterly_charts(assessment: Assessment) -> dict[str, str]:
    """File name -> SVG: for provinces and providers, one chart per group of figures."""
    charts = {}
    levels = (("provinces", "各省", "by province",
               {province_label(key): tally for key, tally in assessment.by_province().items()}),
              ("providers", "各接入服务单位", "by access provider", assessment.by_provider()))
    for level, level_zh, level_en, tallies in levels:
        for group, group_zh, group_en, keys in CHART_GROUPS:
            series = [Series(bilingual(FIGURE_BY_KEY[key].zh, FIGURE_BY_KEY[key].en),
                             tuple(FIGURE_BY_KEY[key].rate(tally) for tally in tallies.values()))
                      for key in keys]
            title = f"{assessment.quarter} {level_zh}{group_zh} / {group_en} {level_en}"
            charts[f"{level}-{group}.svg"] = bar_chart(title, list(tallies), series)
    return charts


def _figure_table(first: str, tallies: Mapping[str, Tally]) -> list[str]:
    header = [first, bilingual("备案", "Filings")]
    header += [bilingual(figure.zh, figure.en) for figure in FIGURES]
    return _table(header, ([name, tally.filings, *(figure_cell(figure, tally) for figure in FIGURES)]
                           for name, tally in tallies.items()))


def quarterly_markdown(assessment: Assessment, charts: Iterable[str]) -> str:
    """The report; ``charts`` are the SVG file names written beside it."""
    quarter = assessment.quarter
    total = assessment.total()
    lines = [
        f"# 备案信息季度核查评估 {quarter} / Quarterly filing assessment {quarter}", "",
        "依据《网站备案信息真实性核验工作方案（试行）》二.（二）3 与三.（三）。"
        " / Under sections 二.(二)3 and 三.(三) of the notice.", "",
        f"- 生成时间 / Generated: {assessment.generated_at}",
        f"- 期限判定日 / Deadlines judged on: {assessment.as_of}",
        "- 范围 / Scope: 本季度三个月（北京时间）内新增的备案；季度末前备案、现已通过审核的存量备案的抽样核查；"
        "季度末前接入的网站。"
        " / Filings made in the quarter's three months (China Standard Time); the sample checks of "
        "the stock (filings made before the quarter's end and approved now); websites connected "
        "by the quarter's end.", "",
        "## 全国合计 / Overall", "",
    ]
    lines += _table([bilingual("指标", "Figure"), bilingual("比率（分子/分母）", "Rate (of)")],
                    ([bilingual(figure.zh, figure.en), figure_cell(figure, total)] for figure in FIGURES))
    lines += ["## 按省 / By province", ""]
    lines += _figure_table(bilingual("省份", "Province"),
                           {province_label(key): tally for key, tally in assessment.by_province().items()})
    lines += [f"![{name}]({name})" for name in charts if name.startswith("provinces-")] + [""]
    lines += ["## 按接入服务单位 / By access provider", ""]
    lines += _figure_table(bilingual("接入服务单位", "Access provider"), assessment.by_provider())
    lines += [f"![{name}]({name})" for name in charts if name.startswith("providers-")] + [""]
    lines += ["## 证件批量核查 / Bulk ID checks", ""]
    lines += _table(
        [bilingual("月份", "Month"), bilingual("完成时间", "Finished"), bilingual("核查件数", "Checked"),
         bilingual("未通过件数", "Failed")],
        ([month, run["finished_at"], run["filings"], run["failed"]] if run else
         [month, bilingual("尚未运行", "not run yet"), "", ""]
         for month, run in assessment.check_runs.items()))
    lines += ["每件备案到达时即已核查；批量核查按月重新核查。 / Every filing is checked when it arrives; "
              "the bulk check re-checks a month.", "", "## 口径 / Definitions", ""]
    lines += _table([bilingual("指标", "Figure"), "定义", "Definition"],
                    ([bilingual(figure.zh, figure.en), figure.definition_zh, figure.definition_en]
                     for figure in FIGURES))
    return "\n".join(lines)


WORKSHEET_HEADER = (
    bilingual("序号", "No."), bilingual("备案编号", "Filing"), bilingual("省份", "Province"),
    bilingual("接入服务单位", "Provider"), bilingual("主办者类型", "Subject type"),
    bilingual("主办者名称", "Subject"), bilingual("网站负责人", "Responsible person"),
    bilingual("网站名称", "Website"), bilingual("域名", "Domains"),
    bilingual("联系手机", "Contact mobile"),
    bilingual("核查结果", "Outcome") + f" ({'/'.join(OUTCOMES)})", bilingual("备注", "Note"),
)


def _worksheet_rows(rows: Sequence[WorksheetRow]) -> Iterator[list[object]]:
    for row in rows:
        yield [row.number, row.filing_id, row.province, row.provider, row.subject_type,
               row.subject_name, row.responsible_name, row.website_name, row.domains,
               row.contact_mobile, "", ""]


def worksheet_csv(rows: Sequence[WorksheetRow]) -> str:
    return _csv(WORKSHEET_HEADER, _worksheet_rows(rows))


def worksheet_markdown(sample: Sample, rows: Sequence[WorksheetRow]) -> str:
    month = sample.month
    lines = [
        f"# 新增备案电话抽查工作单 {month} / Phone spot-check worksheet {month}", "",
        f"- 随机种子 / Seed: `{sample.seed}`",
        f"- 总体（本月新增且已提交通信管理局的备案） / Population (filings of the month that reached "
        f"the province): {sample.population}",
        f"- 样本量 / Sample: {len(sample.filing_ids)}（要求 / requested {sample.size}）", "",
        "本单含联系手机，仅供备案中心核查人员使用，请勿外传。 / This worksheet holds contact mobiles: "
        "for the filing center's checkers only.", "",
        "## 分层 / Strata", "",
    ]
    lines += _table([bilingual("省份", "Province"), bilingual("接入服务单位", "Provider"),
                     bilingual("总体", "Population"), bilingual("抽取", "Drawn")],
                    ([province_label(s.stratum.province), s.stratum.provider, s.population,
                      len(s.filing_ids)] for s in sample.strata))
    lines += ["## 核查清单 / Calls", ""]
    lines += _table(WORKSHEET_HEADER, _worksheet_rows(rows))
    lines += ["记录结果 / Record each outcome:", "", "```sh",
              f"beian report record-check FILING_ID --month {month} --outcome confirmed|mismatch|unreachable "
              "--note '...'", "```", ""]
    return "\n".join(lines)


FINDINGS_HEADER = (
    bilingual("备案编号", "Filing"), bilingual("省份", "Province"), bilingual("接入服务单位", "Provider"),
    bilingual("字段", "Field"), bilingual("代码", "Code"), bilingual("原因", "Reason"), "Reason",
    bilingual("相关备案", "Related filings"), bilingual("首次发现", "First found"),
)


def findings_rows(findings: Iterable[Mapping[str, Any]]) -> Iterator[list[str]]:
    for finding in findings:
        yield [str(finding["filing_id"]), str(finding["province"]), str(finding["provider"]),
               str(finding["field"]), str(finding["code"]), str(finding["reason_zh"]),
               str(finding["reason_en"]), " ".join(finding.get("related", ())),
               str(finding["first_found_at"])]


def findings_csv(findings: Iterable[Mapping[str, Any]]) -> str:
    return _csv(FINDINGS_HEADER, findings_rows(findings))
