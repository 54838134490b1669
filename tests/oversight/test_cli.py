"""``beian report ...`` and ``beian demo seed`` on a local archive, on their own Typer app."""

from __future__ import annotations

import csv
import dataclasses
import io
import pickle
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from chalicelib.filings import FILING
from chalicelib.integrity import RecordTampered
from chalicelib.oversight.render import CSV_BOM
from chalicelib.oversight.sampling import STOCK_CHECK
from chalicelib.services import current_services
from typer.testing import CliRunner

from beian.operator.reports import register

app = typer.Typer()
register(app)
runner = CliRunner(env={"COLUMNS": "240"})
MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
ID_NUMBER = re.compile(r"(?<![0-9A-Z])\d{17}[\dX](?![0-9A-Z])|(?<!\d)\d{15}(?!\d)")


@pytest.fixture
def archive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BEIAN_BACKEND", "embedded")
    monkeypatch.setenv("BEIAN_DATA_DIR", str(tmp_path / "var"))
    result = runner.invoke(app, ["demo", "seed", "--filings", "300", "--quarter", "2024Q1", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert "演示数据 / Demo data" in result.output and "300" in result.output
    return tmp_path


def invoke(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    assert not MOBILE.search(result.output) and not ID_NUMBER.search(result.output)
    return result.output


def private(path: Path) -> bool:
    return stat.S_IMODE(path.stat().st_mode) == 0o600


def test_seeding_the_same_seed_twice_is_refused(archive: Path) -> None:
    result = runner.invoke(app, ["demo", "seed", "--filings", "5", "--quarter", "2024Q1", "--seed", "3"])
    assert result.exit_code == 2
    assert "已在档案中" in result.output and "already in the archive" in result.output


def test_the_bulk_check_and_the_findings_of_a_month_and_a_provider(archive: Path) -> None:
    output = invoke("report", "check-ids", "--quarter", "2024Q1")
    assert "批量核查 / Bulk check" in output and "2024-03" in output
    output = invoke("report", "findings", "--month", "2024-01", "--out", str(archive / "f"))
    assert "未关闭的核查问题 / Open findings" in output
    rows = list(csv.reader(io.StringIO((archive / "f" / "findings.csv").read_text().removeprefix(CSV_BOM))))
    assert rows[0][0] == "备案编号 / Filing" and len(rows) > 1
    assert invoke("report", "findings", "--provider", "demo-idc", "--out", str(archive / "g"))
    assert runner.invoke(app, ["report", "check-ids"]).exit_code != 0


def test_the_monthly_sample_writes_a_private_worksheet_and_takes_outcomes(archive: Path) -> None:
    out = archive / "sample"
    output = invoke("report", "sample", "--month", "2024-02", "--seed", "demo-3", "--out", str(out))
    assert "抽样" in output and "合计 / Total" in output
    worksheet = (out / "worksheet.csv").read_text()
    assert private(out / "worksheet.csv") and private(out / "worksheet.md")
    assert MOBILE.search(worksheet) and not ID_NUMBER.search(worksheet)
    first = next(csv.reader(io.StringIO(worksheet.removeprefix(CSV_BOM).splitlines()[1])))[1]
    output = invoke("report", "record-check", first, "--month", "2024-02", "--outcome", "unreachable",
                    "--note", "三次未接通")
    assert "无法联系 / unreachable" in output
    refused = runner.invoke(app, ["report", "sample", "--month", "2024-02", "--seed", "other"])
    assert refused.exit_code == 2 and "'demo-3'" in refused.output  # names the seed it was published with
    future = runner.invoke(app, ["report", "sample", "--month", "2099-01", "--seed", "s"])
    assert future.exit_code == 2 and "has not ended" in future.output
    assert runner.invoke(app, ["report", "record-check", first, "--month", "2024-02",
                               "--outcome", "perhaps"]).exit_code == 2


def assessment_total(archive: Path, name: str) -> dict[str, str]:
    """The total row of a quarterly report run now, by column."""
    invoke("report", "quarterly", "--quarter", "2024Q1", "--out", str(archive / name), "--workers", "1", "--quiet")
    rows = list(csv.reader(io.StringIO((archive / name / "assessment.csv").read_text().removeprefix(CSV_BOM))))
    return dict(zip(rows[0], rows[1], strict=True))


def test_the_stock_sample_takes_outcomes_that_the_quarterly_report_counts(archive: Path) -> None:
    # The demo drew the quarter's stock sample with its own seed and recorded every outcome.
    refused = runner.invoke(app, ["report", "sample", "--quarter", "2024Q1", "--seed", "another"])
    assert refused.exit_code == 2 and "'demo-3-stock'" in refused.output
    out = archive / "stock"
    output = invoke("report", "sample", "--quarter", "2024Q1", "--seed", "demo-3-stock", "--out", str(out))
    assert "2024Q1" in output and "合计 / Total" in output
    assert private(out / "worksheet.csv")
    rows = list(csv.reader(io.StringIO((out / "worksheet.csv").read_text().removeprefix(CSV_BOM))))[1:]
    before = assessment_total(archive, "q1")
    checks, confirmed = "存量电话核查完成 / stock phone checks done", "存量核查属实 / stock checks confirmed"
    assert int(before[checks]) == len(rows) > 0  # every sampled filing checked once
    records = current_services().backend.records
    changed = [row[1] for row in rows[:3]]
    were_confirmed = sum(records.get(STOCK_CHECK, f"2024Q1.{filing_id}").body["outcome"] == "confirmed"
                         for filing_id in changed)
    for filing_id in changed:
        assert "2024Q1" in invoke("report", "record-check", filing_id, "--quarter", "2024Q1", "--outcome", "mismatch")
    after = assessment_total(archive, "q2")
    assert after[checks] == before[checks]  # recording again replaces an outcome
    assert int(after[confirmed]) == int(before[confirmed]) - were_confirmed
    stock = "存量备案准确率（电话抽查） / Stock accuracy (phone spot checks)"
    assert float(after[stock]) == round(int(after[confirmed]) / int(after[checks]), 4)
    both = runner.invoke(app, ["report", "sample", "--month", "2024-01", "--quarter", "2024Q1", "--seed", "s"])
    assert both.exit_code != 0 and "--quarter" in both.output


def test_the_quarterly_report_writes_csv_markdown_and_charts(archive: Path) -> None:
    out = archive / "q"
    output = invoke("report", "quarterly", "--quarter", "2024Q1", "--out", str(out), "--workers", "1")
    assert output.index("合计 / Overall") < output.index("按省 / By province") < output.index(
        "按接入服务单位 / By access provider")
    assert sorted(path.name for path in out.iterdir()) == [
        "assessment.csv", "providers-process.svg", "providers-quality.svg", "provinces-process.svg",
        "provinces-quality.svg", "report.md"]
    report = (out / "report.md").read_text()
    assert report.startswith("# 备案信息季度核查评估 2024Q1")
    assert not ID_NUMBER.search(report) and not MOBILE.search(report)
    bad = runner.invoke(app, ["report", "quarterly", "--quarter", "2024Q5"])
    assert bad.exit_code == 2 and "YYYYQn" in bad.output
    future = runner.invoke(app, ["report", "quarterly", "--quarter", "2099Q1", "--workers", "1"])
    assert future.exit_code == 2 and "has not begun" in future.output


def test_a_tampered_filing_stops_the_quarterly_report_with_its_name_not_a_hang(archive: Path) -> None:
    services = current_services()
    (filing,) = services.integrity.unverified.query("provider", services.settings.provider, limit=1).records
    services.integrity.unverified.save(dataclasses.replace(filing, body={**filing.body, "state": "approved"}))
    assert pickle.loads(pickle.dumps(RecordTampered(FILING, filing.key))).key == filing.key  # crosses processes
    done = subprocess.run([str(Path(sys.executable).with_name("beian")), "report", "quarterly", "--quarter", "2024Q1",
                           "--workers", "2", "--quiet"], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 3 and f"filing:{filing.key}" in " ".join(done.stderr.split()), done.stderr
    audit_actions = [entry["action"] for entry in services.audit.entries()]
    assert "report.quarterly" not in audit_actions  # refused, so not reported as run
