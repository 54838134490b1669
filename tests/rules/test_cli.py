"""``beian workdays add`` and ``beian rules show`` on their own Typer app."""

from __future__ import annotations

import typer
from typer.testing import CliRunner

from beian.remote.rules import register

app = typer.Typer()
register(app)
# A wide terminal, so rich does not fold the names the tests look for.
runner = CliRunner(env={"COLUMNS": "240"})


def test_workdays_add_prints_the_date_in_chinese_and_english() -> None:
    result = runner.invoke(app, ["workdays", "add", "2025-09-28", "5"])
    assert result.exit_code == 0, result.output
    assert "2025-10-11" in result.output
    assert "依据已公布的节假日安排" in result.output
    assert "based on the published holiday schedule" in result.output


def test_workdays_add_says_when_a_date_is_provisional() -> None:
    result = runner.invoke(app, ["workdays", "add", "2027-03-01", "5"])
    assert result.exit_code == 0, result.output
    assert "暂定" in result.output and "provisional" in result.output


def test_workdays_add_refuses_a_bad_date() -> None:
    assert runner.invoke(app, ["workdays", "add", "2025-02-30", "5"]).exit_code != 0
    assert runner.invoke(app, ["workdays", "add", "2025-02-01", "-1"]).exit_code != 0


def test_rules_show_lists_the_subject_types() -> None:
    result = runner.invoke(app, ["rules", "show"])
    assert result.exit_code == 0, result.output
    for name in ("机关", "事业单位", "社会团体", "企业", "军队", "个人", "Enterprise"):
        assert name in result.output


def test_rules_show_lists_documents_and_fields_for_a_subject_type() -> None:
    result = runner.invoke(app, ["rules", "show", "--subject-type", "enterprise"])
    assert result.exit_code == 0, result.output
    output = result.output
    assert output.index("工商营业执照") < output.index("组织机构代码证书")
    for expected in ("身份证", "台胞证", "contact.office_phone", "一.1(1)", "website.domains"):
        assert expected in output
    assert "护照 / Passport" not in output
    assert "contact.home_phone" not in output


def test_rules_show_for_a_foreign_individual() -> None:
    result = runner.invoke(app, ["rules", "show", "--subject-type", "individual", "--nationality", "foreign"])
    assert result.exit_code == 0, result.output
    assert "护照" in result.output and "身份证" not in result.output
    assert "contact.home_phone" in result.output
    assert "办公电话或住宅电话" in result.output


def test_rules_show_says_whose_rule_a_provider_rule_is() -> None:
    listed = runner.invoke(app, ["rules", "show"]).output
    (row,) = [line for line in listed.splitlines() if "other_unit" in line]
    assert "本单位规则 / the provider's rule" in row
    shown = runner.invoke(app, ["rules", "show", "--subject-type", "other_unit"]).output
    (row,) = [line for line in shown.splitlines() if "登记证书" in line]
    assert "本单位规则" in row
    assert "统一社会信用代码" in row


def test_rules_show_refuses_an_unknown_subject_type() -> None:
    result = runner.invoke(app, ["rules", "show", "--subject-type", "company"])
    assert result.exit_code == 2
    assert "enterprise" in result.output
