"""The registers of 三.(一)1, 三.(三)4-5 and 四: the filing department, province inspections and
penalties summarised per quarter, training sessions and who attended; through the CLI on a
local archive, with the domain's refusals checked directly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer
from chalicelib.deadlines import china_day
from chalicelib.errors import Invalid
from chalicelib.oversight.periods import Quarter
from chalicelib.oversight.registers import (
    department,
    inspection_summary,
    record_inspection,
    trainings,
)
from chalicelib.rules import load_rules
from chalicelib.services import current_services, utc_now
from typer.testing import CliRunner

from beian.operator.registers import register

app = typer.Typer()
register(app)
runner = CliRunner(env={"COLUMNS": "240"})
NOW = datetime(2024, 7, 10, 2, 0, tzinfo=UTC)


@pytest.fixture
def archive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BEIAN_BACKEND", "embedded")
    monkeypatch.setenv("BEIAN_DATA_DIR", str(tmp_path / "var"))
    return tmp_path


def invoke(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def audited_actions() -> list[str]:
    return [entry["action"] for entry in current_services().audit.entries()]


def test_the_filing_department_register_names_leader_and_verifiers(archive: Path) -> None:
    recent = (china_day(utc_now()) - timedelta(days=30)).isoformat()
    invoke("register", "department", "set", "--department", "备案核验部", "--leader", "王伟",
           "--leader-title", "副总经理", "--verifier", f"李娜@{recent}", "--verifier", "张敏",
           "--verifier", "刘洋@2020-03-01")
    output = invoke("register", "department", "show")
    assert "备案核验部" in output and "王伟" in output and "副总经理" in output
    assert "李娜" in output and recent in output
    # The yearly assessment of 三.(一)1: never done (张敏) or over a year ago (刘洋) is listed.
    assert output.split("Not assessed within a year")[1].split() == [":", "张敏,", "刘洋"]
    provider = current_services().settings.provider
    invoke("register", "department", "set", "--department", "备案核验部", "--leader", "赵强",
           "--leader-title", "总经理", "--verifier", "李娜@2024-03-01")
    body = department(current_services().backend.records, provider)
    assert body is not None and body["leader"]["name"] == "赵强"
    assert body["history"][0]["leader"]["name"] == "王伟"  # the earlier register is kept
    assert audited_actions().count("register.department") == 2
    twice = runner.invoke(app, ["register", "department", "set", "--department", "部", "--leader", "王伟",
                                "--leader-title", "经理", "--verifier", "李娜", "--verifier", "李娜"])
    assert twice.exit_code == 2 and "twice" in twice.output


def test_inspections_and_penalties_are_summarised_per_quarter(archive: Path) -> None:
    first, second = load_rules().accountability.articles
    invoke("register", "inspection", "add", "--province", "京", "--provider", "idc-a", "--date", "2024-04-10",
           "--findings", "抽查20件，均有当面核验记录", "--outcome", "no_issue")
    invoke("register", "inspection", "add", "--province", "京", "--provider", "idc-b", "--date", "2024-05-06",
           "--findings", "3件未当面核验", "--outcome", "order_to_correct", "--article", first,
           "--decision", "京通管〔2024〕1号：限期补做当面核验", "--correct-by", "2024-06-06")
    invoke("register", "inspection", "add", "--province", "沪", "--provider", "idc-b", "--date", "2024-06-20",
           "--findings", "提交不真实备案信息", "--outcome", "penalty", "--article", second,
           "--decision", "沪通管〔2024〕2号：罚款")
    invoke("register", "inspection", "add", "--province", "沪", "--provider", "idc-b", "--date", "2024-07-01",
           "--findings", "下季度的检查", "--outcome", "no_issue")
    summary = inspection_summary(current_services().backend.records, Quarter(2024, 2))
    counts = {name: (c.inspections, c.with_issues, c.orders, c.penalties) for name, c in summary.by_province.items()}
    assert counts == {"京": (2, 1, 1, 0), "沪": (1, 1, 0, 1)}
    counts = {name: (c.inspections, c.with_issues, c.orders, c.penalties) for name, c in summary.by_provider.items()}
    assert counts == {"idc-a": (1, 0, 0, 0), "idc-b": (2, 2, 1, 1)}
    assert summary.by_article == {first: 1, second: 1}
    output = invoke("register", "inspection", "summary", "--quarter", "2024Q2")
    assert "按省 / By province" in output and "idc-b" in output and second in output
    assert "register.inspection_summary" in audited_actions()

    records = current_services().backend.records
    for bad, field in (({"outcome": "penalty", "article": "第九条"}, "article"),
                       ({"outcome": "order_to_correct", "article": first}, "correct_by"),
                       ({"outcome": "sanction"}, "outcome"), ({"province": "X"}, "province"),
                       ({"outcome": "order_to_correct", "correct_by": "next week"}, "correct_by")):
        arguments = {"province": "京", "provider": "idc-a", "inspected_on": "2024-04-10", "findings": "x",
                     "outcome": "penalty", "article": first, "decision": "d", "correct_by": None, **bad}
        with pytest.raises(Invalid) as refused:
            record_inspection(records, **arguments, now=NOW, by="t")  # type: ignore[arg-type]
        assert refused.value.field == field


def test_training_sessions_record_who_attended(archive: Path) -> None:
    invoke("register", "training", "add", "--date", "2024-05-20", "--title", "备案政策法规与业务知识",
           "--organiser", "备案中心", "--attendee", "李娜@idc-a", "--attendee", "张敏@idc-a",
           "--attendee", "刘洋@idc-b")
    output = invoke("register", "training", "list", "--quarter", "2024Q2")
    assert "备案政策法规与业务知识" in output and "idc-a" in output
    (session,) = trainings(current_services().backend.records, Quarter(2024, 2))
    assert [a["name"] for a in session["attendees"]] == ["李娜", "张敏", "刘洋"]
    future = runner.invoke(app, ["register", "training", "add", "--date", "2099-01-01", "--title", "t",
                                 "--organiser", "o", "--attendee", "a@b"])
    assert future.exit_code == 2 and "future" in future.output
    no_provider = runner.invoke(app, ["register", "training", "add", "--date", "2024-05-21", "--title", "t",
                                      "--organiser", "o", "--attendee", "李娜"])
    assert no_provider.exit_code == 2
