"""The quarterly figures recomputed by hand on a small fixed dataset, and the report's outputs.

The quarter is 2024Q2 (China Standard Time), judged on 2024-07-10. Three strata:

| filing | stratum     | made (CST)       | state                 | pre-verification | review          | evidence     |
|--------|-------------|------------------|-----------------------|------------------|-----------------|--------------|
| F1     | 京 / idc-a  | 2024-04-02       | approved              | on time          | on time         | photo + form |
| F2     | 京 / idc-a  | 2024-05-10       | approved              | late             | on time         | photo only   |
| F3     | 京 / idc-a  | 2024-06-28       | submitted             | due 07-05, open  | -               | -            |
| F4     | 京 / idc-b  | 2024-04-15       | submitted_to_province | on time          | due 07-20, open | -            |
| F6     | 沪 / idc-a  | 2024-04-01 00:30 | approved              | on time          | late            | photo + form |
| F5     | 沪 / idc-a  | 2024-07-01 01:00 | (next quarter: out)   |                  |                 |              |
| F7     | 京 / idc-a  | 2024-03-10       | (last quarter: out)   |                  |                 |              |

Findings: F2 has two open ones; F1 had one, since resolved. Spot checks: F1 confirmed,
F2 mismatch, F4 unreachable, F6 confirmed (and F7's, in March, out).

The stock (存量) at the quarter's end: every filing approved now and made before it, F1, F2, F7
(京 / idc-a), F8 (京 / idc-b, made in 2023) and F6 (沪 / idc-a); F9 (approved, made in July) is
out. The quarter's stock sample takes all five; their phone checks: F1 confirmed, F2 mismatch,
F7 unreachable, F8 confirmed, F6 confirmed. Connected sites: S1 京/a
filed, S2 京/a unfiled, S3 京/a filed but connected in July (out), S4 京/b pre-2010 filed,
re-verified 2010, S5 京/b pre-2010 unfiled, re-verified only in July 2024, S6 沪/a filed,
connected 23:59:59 on 30 June (CST).
"""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from chalicelib.config import Settings
from chalicelib.filings import FILING
from chalicelib.oversight import render
from chalicelib.oversight.assessment import FIGURES, ProcessRunner, Tally, assess
from chalicelib.oversight.idcheck import Finding, IdChecker
from chalicelib.oversight.periods import Month, Quarter, month_entry
from chalicelib.oversight.render import FIGURE_BY_KEY
from chalicelib.oversight.sampling import (
    Sample,
    Stratum,
    StratumSample,
    draw_sample,
    publish,
    published,
    record_check,
)
from chalicelib.oversight.sites import ConnectedSite, save_site
from chalicelib.ports import IndexEntry, Record, Records
from chalicelib.rules import load_rules
from chalicelib.services import Services, records_opener

from site_hooks.rules_pages import assessment_standards

QUARTER = Quarter(2024, 2)
NOW = datetime(2024, 7, 10, 2, 0, tzinfo=UTC)


def deadline(due: str, met_at: str | None = None, late: bool = False) -> dict[str, Any]:
    return {"due": due, "provisional": False, "started_at": "", "met_at": met_at,
            **({"late": late} if met_at else {})}


def filing(records: Records, filing_id: str, province: str, provider: str, created: str,
           state: str, *, pre: dict[str, Any] | None = None, review: dict[str, Any] | None = None,
           on_site: dict[str, str] | None = None) -> dict[str, Any]:
    deadlines = {name: value for name, value in (("pre_verification", pre), ("provincial_review", review))
                 if value is not None}
    body: dict[str, Any] = {"id": filing_id, "state": state, "provider": provider, "province": province,
                            "created_at": created, "deadlines": deadlines, "history": []}
    if on_site is not None:
        body["on_site"] = on_site
    records.save(Record(FILING, filing_id, body, indexes=(
        month_entry(body), IndexEntry("state", f"province:{province}#{state}", created))))
    return body


BOTH = {"photo_document_id": "D1", "form_document_id": "D2"}


def build_dataset(services: Services, checker: IdChecker) -> Services:
    records = services.backend.records
    met = "2024-04-05T02:00:00+00:00"
    f1 = filing(records, "F1", "京", "idc-a", "2024-04-02T01:00:00+00:00", "approved",
                pre=deadline("2024-04-09", met), review=deadline("2024-05-10", met), on_site=BOTH)
    f2 = filing(records, "F2", "京", "idc-a", "2024-05-10T01:00:00+00:00", "approved",
                pre=deadline("2024-05-17", "2024-05-20T02:00:00+00:00", late=True),
                review=deadline("2024-06-20", met), on_site={"photo_document_id": "D3"})
    filing(records, "F3", "京", "idc-a", "2024-06-28T01:00:00+00:00", "submitted",
           pre=deadline("2024-07-05"))
    filing(records, "F4", "京", "idc-b", "2024-04-15T01:00:00+00:00", "submitted_to_province",
                pre=deadline("2024-04-22", met), review=deadline("2024-07-20"))
    filing(records, "F6", "沪", "idc-a", "2024-03-31T16:30:00+00:00", "approved",
                pre=deadline("2024-04-08", met), review=deadline("2024-05-08", met, late=True),
                on_site=BOTH)
    filing(records, "F5", "沪", "idc-a", "2024-06-30T17:00:00+00:00", "submitted",
           pre=deadline("2024-07-08", met))
    filing(records, "F7", "京", "idc-a", "2024-03-10T01:00:00+00:00", "approved",
                pre=deadline("2024-03-15", met), on_site=BOTH)
    filing(records, "F8", "京", "idc-b", "2023-11-01T01:00:00+00:00", "approved")
    filing(records, "F9", "沪", "idc-a", "2024-07-02T01:00:00+00:00", "approved")

    now = NOW.isoformat()
    for path in ("subject.id_number", "responsible_person.id_number"):
        checker.save_finding(f2, Finding("F2", path, "invalid_checksum", "校验位错误", "bad check"),
                             "bulk", now, None)
    checker.save_finding(f1, Finding("F1", "subject.id_number", "underage", "未满18周岁", "under 18"),
                         "bulk", now, None)
    checker.check(f1, "bulk")  # nothing wrong with F1 now (its payload is empty): resolved

    for month, checks in ((Month(2024, 4), {"F1": "confirmed", "F4": "unreachable", "F6": "confirmed"}),
                          (Month(2024, 5), {"F2": "mismatch"}), (Month(2024, 3), {"F7": "confirmed"})):
        sample = Sample(month.label, "s", 10, (StratumSample(Stratum("京", "idc-a"), 9, tuple(checks)),))
        publish(records, sample, NOW)
        for filing_id, outcome in checks.items():
            record_check(records, filing_id, month, outcome, "", NOW)

    stock = draw_sample(records, QUARTER, "2024Q2-stock-seed", 10)
    publish(records, stock, NOW)
    for filing_id, outcome in STOCK_OUTCOMES.items():
        record_check(records, filing_id, QUARTER, outcome, "", NOW)

    for site in (
        ConnectedSite("idc-a", "京", "s1.cn", "2024-04-03T00:00:00+00:00", filed=True),
        ConnectedSite("idc-a", "京", "s2.cn", "2024-05-01T00:00:00+00:00", filed=False),
        ConnectedSite("idc-a", "京", "s3.cn", "2024-07-02T00:00:00+00:00", filed=True),
        ConnectedSite("idc-b", "京", "s4.cn", "2009-05-01T00:00:00+00:00", filed=True, pre_2010=True,
                      reverified_at="2010-06-01T00:00:00+00:00"),
        ConnectedSite("idc-b", "京", "s5.cn", "2009-08-01T00:00:00+00:00", filed=False, pre_2010=True,
                      reverified_at="2024-07-05T00:00:00+00:00"),
        ConnectedSite("idc-a", "沪", "s6.cn", "2024-06-30T15:59:59+00:00", filed=True),
    ):
        save_site(records, site)
    return services


@pytest.fixture
def dataset(services: Services, checker: IdChecker) -> Services:
    return build_dataset(services, checker)


STOCK_OUTCOMES = {"F1": "confirmed", "F2": "mismatch", "F7": "unreachable", "F8": "confirmed",
                  "F6": "confirmed"}
A, B, C = Stratum("京", "idc-a"), Stratum("京", "idc-b"), Stratum("沪", "idc-a")
BY_HAND = {
    A: Tally(filings=3, id_failed=1, findings=2, spot_checks=2, spot_confirmed=1,
             pre_verification_judged=3, pre_verification_timely=1, review_judged=2, review_timely=2,
             approved=2, evidence=1, sites=2, sites_filed=1,
             stock_checks=3, stock_confirmed=1, stock_unreachable=1),
    B: Tally(filings=1, spot_checks=1, spot_unreachable=1, pre_verification_judged=1,
             pre_verification_timely=1, sites=2, sites_filed=1, pre_2010=2, reverified=1,
             stock_checks=1, stock_confirmed=1),
    C: Tally(filings=1, spot_checks=1, spot_confirmed=1, pre_verification_judged=1,
             pre_verification_timely=1, review_judged=1, approved=1, evidence=1, sites=1, sites_filed=1,
             stock_checks=1, stock_confirmed=1),
}
# Figure -> (numerator, denominator) for the whole quarter, by hand from BY_HAND.
TOTAL = {
    "accuracy": (2, 4), "stock_accuracy": (3, 5), "id_check": (4, 5),
    "filing_rate": (3, 5), "pre_verification": (3, 5), "review": (2, 3), "evidence": (2, 3), "reverification": (1, 2),
}
BEIJING = {
    "accuracy": (1, 3), "stock_accuracy": (2, 4), "id_check": (3, 4),
    "filing_rate": (2, 4), "pre_verification": (2, 4), "review": (2, 2), "evidence": (1, 2), "reverification": (1, 2),
}
IDC_A = {
    "accuracy": (2, 3), "stock_accuracy": (2, 4), "id_check": (3, 4),
    "filing_rate": (2, 3), "pre_verification": (2, 4), "review": (2, 3), "evidence": (2, 3), "reverification": (0, 0),
}


def figures(tally: Tally) -> dict[str, tuple[int, int]]:
    return {figure.key: figure.counts(tally) for figure in FIGURES}


def test_the_quarter_matches_the_figures_computed_by_hand(dataset: Services) -> None:
    result = assess(dataset.backend.records, QUARTER, NOW)
    assert result.strata == BY_HAND
    assert figures(result.total()) == TOTAL
    assert figures(result.by_province()["京"]) == BEIJING
    assert figures(result.by_provider()["idc-a"]) == IDC_A
    assert result.as_of == "2024-07-10"
    assert list(result.check_runs) == ["2024-04", "2024-05", "2024-06"]

    rows = list(csv.reader(io.StringIO(render.quarterly_csv(result).removeprefix(render.CSV_BOM))))
    header, total = rows[0], rows[1]
    assert total[:3] == ["total", "", ""]
    accuracy = header.index("新增备案准确率（电话抽查） / New-filing accuracy (phone spot checks)")
    assert total[accuracy] == "0.5000"
    assert total[header.index("备案率 / Filing rate")] == "0.6000"
    assert [row[:3] for row in rows[1:]] == [
        ["total", "", ""], ["province", "京", ""], ["province", "沪", ""], ["provider", "", "idc-a"],
        ["provider", "", "idc-b"], ["stratum", "京", "idc-a"], ["stratum", "京", "idc-b"],
        ["stratum", "沪", "idc-a"]]

    charts = render.quarterly_charts(result)
    markdown = render.quarterly_markdown(result, charts)
    assert markdown.startswith("# 备案信息季度核查评估 2024Q2 / Quarterly filing assessment 2024Q2")
    for expected in ("50.0% (2/4)", "80.0% (4/5)", "66.7% (2/3)", "— (0/0)", "尚未运行 / not run yet",
                     "![provinces-quality.svg](provinces-quality.svg)"):
        assert expected in markdown
    for figure in FIGURES:
        assert figure.definition_zh in markdown and figure.definition_en in markdown
    assert sorted(charts) == ["providers-process.svg", "providers-quality.svg",
                              "provinces-process.svg", "provinces-quality.svg"]
    for svg in charts.values():
        ET.fromstring(svg)


def test_stock_accuracy_matches_the_figures_computed_by_hand(dataset: Services) -> None:
    records = dataset.backend.records
    sample = published(records, QUARTER)
    assert sample is not None
    # Every approved filing made before the quarter's end, by stratum; F9 (July) is not stock.
    assert {s.stratum: sorted(s.filing_ids) for s in sample.strata} == {
        A: ["F1", "F2", "F7"], B: ["F8"], C: ["F6"]}
    # Reproducible from the published seed; a smaller sample keeps one from every stratum.
    assert draw_sample(records, QUARTER, sample.seed, 10) == sample
    small = draw_sample(records, QUARTER, sample.seed, 3)
    assert [len(s.filing_ids) for s in small.strata] == [1, 1, 1]
    assert small == draw_sample(records, QUARTER, sample.seed, 3)

    result = assess(records, QUARTER, NOW)
    stock = FIGURE_BY_KEY["stock_accuracy"]
    by_province = {name: stock.counts(tally) for name, tally in result.by_province().items()}
    by_provider = {name: stock.counts(tally) for name, tally in result.by_provider().items()}
    assert by_province == {"京": (2, 4), "沪": (1, 1)}
    assert by_provider == {"idc-a": (2, 4), "idc-b": (1, 1)}
    assert stock.counts(result.total()) == (3, 5)
    # Beside the accuracy of the quarter's new filings, in the report people read.
    markdown = render.quarterly_markdown(result, render.quarterly_charts(result))
    province_row = next(line for line in markdown.splitlines() if line.startswith("| 京 北京市 |"))
    assert "50.0% (2/4)" in province_row and "33.3% (1/3)" in province_row
    header = next(line for line in markdown.splitlines() if line.startswith("| 省份 / Province |"))
    assert header.index("新增备案准确率") < header.index("存量备案准确率")


def test_worker_processes_give_the_same_figures(embedded: Services, embedded_checker: IdChecker) -> None:
    services = build_dataset(embedded, embedded_checker)
    serial = assess(services.backend.records, QUARTER, NOW)
    parallel = assess(services.backend.records, QUARTER, NOW,
                      runner=ProcessRunner(records_opener(Settings.from_env()), workers=2))
    assert parallel.strata == serial.strata == BY_HAND


def test_the_site_page_states_the_definitions_the_report_prints() -> None:
    """The checking standards (三.(三)3) are published: the operators' page includes the table
    generated from the figures the report computes."""
    operators = Path(__file__).resolve().parents[2] / "site" / "operators"
    for lang, page in (("zh", "oversight.md"), ("en", "oversight.en.md")):
        assert f'--8<-- "assessment-standards.{lang}.md"' in (operators / page).read_text()
    chinese = assessment_standards(load_rules(), "zh")
    english = assessment_standards(load_rules(), "en")
    for figure in FIGURES:
        assert f"| {figure.zh} | {figure.definition_zh} |" in chinese
        assert f"| {figure.en} | {figure.definition_en} |" in english
