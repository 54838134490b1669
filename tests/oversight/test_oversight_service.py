"""Findings and connected sites through the oversight service: who sees what, and the
provider's site feed (all saved or none, filed worked out from the archive)."""

from __future__ import annotations

import random
from datetime import date, datetime

import pytest
from chalicelib.auth import Principal
from chalicelib.errors import Forbidden, Invalid, NotFound
from chalicelib.oversight.periods import Month
from chalicelib.oversight.sites import CONNECTED_INDEX, CONNECTED_SITE
from chalicelib.ports import Record
from chalicelib.services import Services

from beian.synthetic import filing_payload, resident_id_number


def staff(services: Services, role: str, *, provider: str | None = None, province: str | None = None) -> Principal:
    return Principal(f"{role}-1", role, provider if provider is not None else services.settings.provider,
                     province if province is not None else services.settings.province)


def underage_filing(services: Services, rng: random.Random, now: datetime) -> str:
    payload = filing_payload(rng, "individual")
    payload["subject"]["id_number"] = resident_id_number(rng, birth=date(now.year - 15, 3, 1))
    view, _ = services.filings.submit(payload)  # valid number, so accepted; checked on arrival
    return str(view["id"])


def test_findings_are_seen_by_the_provider_and_the_filing_center_each_in_scope(
        services: Services, rng: random.Random, now: datetime) -> None:
    flagged = underage_filing(services, rng, now)
    services.filings.submit(filing_payload(rng, "enterprise"))  # clean: no finding
    month = Month.of(now.date()).label
    oversight = services.oversight

    def listed(who: Principal, **query: str) -> list[str]:
        return [finding["filing_id"] for finding in oversight.findings(who, query)["findings"]]

    assert listed(staff(services, "verifier")) == [flagged]
    assert listed(staff(services, "compliance_officer")) == [flagged]
    assert listed(staff(services, "verifier", provider="other-idc")) == []
    assert listed(staff(services, "filing_center"), month=month) == [flagged]
    assert listed(staff(services, "filing_center"), month=month, provider="other-idc") == []
    assert listed(staff(services, "inspector"), month=month, province=services.settings.province) == [flagged]
    assert listed(staff(services, "reviewer"), month=month) == [flagged]
    assert listed(staff(services, "reviewer", province="沪"), month=month) == []
    with pytest.raises(Invalid) as missing:
        oversight.findings(staff(services, "filing_center"), {})
    assert missing.value.field == "month"
    with pytest.raises(Invalid) as bad_limit:
        oversight.findings(staff(services, "verifier"), {"limit": "0"})
    assert bad_limit.value.field == "limit"
    for query in ({"cursor": "not a cursor"}, {"month": "2024-13"}):
        with pytest.raises(Invalid) as refused:
            oversight.findings(staff(services, "filing_center"), {"month": month, **query})
        assert refused.value.field in query
    with pytest.raises(Invalid) as searched:
        services.archive.search(staff(services, "inspector"),
                                {"provider": "demo-idc", "cursor": "W10=", "purpose": "inspection",
                                 "reference": "检查函-1"})
    assert searched.value.field == "cursor"
    with pytest.raises(Forbidden):
        oversight.findings(Principal(f"applicant:{flagged}", "applicant", filing=flagged), {})
    (finding,) = oversight.of_filing(staff(services, "filing_center"), flagged)["findings"]
    assert (finding["code"], finding["field"], finding["state"]) == ("underage", "subject.id_number", "open")
    with pytest.raises(NotFound):  # another provider's staff learn nothing, not even that it exists
        oversight.of_filing(staff(services, "verifier", provider="other-idc"), flagged)
    audited = {entry["action"] for entry in services.audit.export_for(staff(services, "inspector"))["entries"]}
    assert {"findings.list", "findings.view"} <= audited


def test_a_page_of_findings_continues_from_its_cursor(services: Services, rng: random.Random,
                                                      now: datetime) -> None:
    flagged = {underage_filing(services, rng, now) for _ in range(3)}
    seen: list[str] = []
    query = {"limit": "2"}
    while True:
        page = services.oversight.findings(staff(services, "verifier"), query)
        seen += [finding["filing_id"] for finding in page["findings"]]
        if page["cursor"] is None:
            break
        query = {"limit": "2", "cursor": page["cursor"]}
    assert sorted(seen) == sorted(flagged)


def test_connected_sites_are_saved_with_filed_worked_out_from_the_archive(
        services: Services, rng: random.Random) -> None:
    officer = staff(services, "compliance_officer")
    reply = services.oversight.report_sites(officer, {"sites": [
        {"domain": "Example-Shop.cn", "province": "京", "connected_at": "2024-05-01T09:00:00+08:00",
         "filing_number": "京ICP备2024012345号-1"},
        {"domain": "old-forum.com.cn", "province": "京", "connected_at": "2009-06-01T09:00:00+08:00",
         "pre_2010": True, "reverified_at": "2010-08-20T10:00:00+08:00"},
        {"domain": "unfiled.net", "province": "京", "connected_at": "2024-06-01T00:00:00Z"},
    ]})
    assert reply == {"saved": 3, "filed": 1, "pre_2010": 1}
    stored = {record.body["domain"]: record.body for record in
              services.backend.records.query(CONNECTED_INDEX, "京", limit=10).records}
    assert stored["example-shop.cn"]["filed"] is True
    assert stored["example-shop.cn"]["connected_at"] == "2024-05-01T01:00:00+00:00"
    assert stored["old-forum.com.cn"]["reverified_at"] == "2010-08-20T02:00:00+00:00"
    assert stored["unfiled.net"]["filed"] is False
    assert all(body["provider"] == services.settings.provider for body in stored.values())
    assert services.backend.records.get(CONNECTED_SITE, f"{services.settings.provider}.unfiled.net") is not None


def test_a_site_with_an_approved_filing_here_counts_as_filed(services: Services, rng: random.Random) -> None:
    payload = filing_payload(rng, "enterprise")
    view, _ = services.filings.submit(payload)
    domain = view["payload"]["website"]["domains"][0]
    officer = staff(services, "compliance_officer")
    site = {"domain": domain, "province": services.settings.province, "connected_at": "2024-07-01T00:00:00Z"}
    assert services.oversight.report_sites(officer, {"sites": [site]})["filed"] == 0  # submitted, not approved
    record = services.backend.records.get("filing", view["id"])
    assert record is not None
    services.backend.records.save(Record(record.kind, record.key, {**record.body, "state": "approved"},
                                         record.version, record.indexes))
    assert services.oversight.report_sites(officer, {"sites": [site]})["filed"] == 1


def test_bad_sites_are_all_reported_and_none_is_saved(services: Services) -> None:
    officer = staff(services, "compliance_officer")
    with pytest.raises(Invalid) as refused:
        services.oversight.report_sites(officer, {"sites": [
            {"domain": "good.cn", "province": "京", "connected_at": "2024-05-01T09:00:00+08:00"},
            {"domain": "http://bad/", "province": "XX", "connected_at": "2024-05-01"},
            "not a site",
            {"domain": "x.cn", "province": "京", "connected_at": "2024-05-01T09:00:00Z",
             "reverified_at": "2024-06-01T00:00:00Z", "filing_number": "ICP123"},
            {"domain": "future.cn", "province": "京", "connected_at": "2099-01-01T00:00:00Z"},
            {"domain": "not-old.cn", "province": "京", "connected_at": "2020-01-01T00:00:00Z", "pre_2010": True},
            {"domain": "old.cn", "province": "京", "connected_at": "2008-01-01T00:00:00Z"},
            {"domain": "backwards.cn", "province": "京", "connected_at": "2008-01-01T00:00:00Z", "pre_2010": True,
             "reverified_at": "2007-01-01T00:00:00Z"},
        ]})
    fields = {error["field"] for error in refused.value.details}
    assert fields == {"sites[1].domain", "sites[1].province", "sites[1].connected_at", "sites[2]",
                      "sites[3].reverified_at", "sites[3].filing_number", "sites[4].connected_at",
                      "sites[5].pre_2010", "sites[6].pre_2010", "sites[7].reverified_at"}
    assert all(error["message_zh"] and error["message_en"] for error in refused.value.details)
    assert services.backend.records.query(CONNECTED_INDEX, "京", limit=10).records == []
    for body in ({}, {"sites": []}, {"sites": [{}] * 501}):
        with pytest.raises(Invalid) as empty:
            services.oversight.report_sites(officer, body)
        assert empty.value.field == "sites"
    with pytest.raises(Forbidden):
        services.oversight.report_sites(staff(services, "verifier"), {"sites": []})
