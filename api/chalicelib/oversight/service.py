"""Oversight through the API: findings for the provider and the filing center, and the
provider's own feed of connected websites (the filing rate's denominator)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from .. import policy
from ..audit import AuditLog
from ..auth import Principal
from ..deadlines import china_day
from ..errors import Invalid, invalid_cursor
from ..ports import BadCursor, Record, Records
from ..rules import load_rules
from ..validators import domain as domain_name
from ..validators import filing_number as filing_numbers
from ..validators.exceptions import ValidationError
from .idcheck import FINDING_FILING_INDEX, FINDING_MONTH_INDEX, FINDING_PROVIDER_INDEX
from .periods import Month
from .sites import ConnectedSite, save_site

MAX_PAGE = 500
# Times a record can hold: converting anything nearer the calendar's ends to China time overflows.
EARLIEST, LATEST = datetime(1900, 1, 1, tzinfo=UTC), datetime(2999, 12, 31, tzinfo=UTC)
MAX_SITES_PER_REQUEST = 500
PROVINCE_CHARACTERS = frozenset(province.character for province in filing_numbers.PROVINCES)
FilingLoader = Callable[[Principal, str, str], Record]
"""``FilingService.load_for``: the filing if the caller may take the action on it."""
APPROVED = "approved"  # the workflow's state name; oversight does not import the workflow


class OversightService:
    def __init__(self, records: Records, audit: AuditLog, load_filing: FilingLoader,
                 clock: Callable[[], datetime]) -> None:
        self._records = records
        self._audit = audit
        self._load_filing = load_filing
        self._clock = clock

    def findings(self, principal: Principal, query: Mapping[str, str]) -> dict[str, Any]:
        """Open findings, a page at a time: a provider's staff see their provider's, oldest
        first; the filing center and inspectors see one month's (``month``), optionally one
        provider's or province's; a reviewer sees one month's in the province."""
        policy.require(principal, "findings")
        limit = _limit(query.get("limit", "100"))
        scope = policy.scope_filter(principal)
        if scope is not None and scope[0] == "provider":
            index, value, wanted = FINDING_PROVIDER_INDEX, scope[1], {}
        else:
            month = query.get("month")
            if not month:
                raise Invalid("请给出月份（month=YYYY-MM）", "Give the month (month=YYYY-MM)", field="month")
            index, value = FINDING_MONTH_INDEX, Month.parse(month).label
            wanted = {key: query[key] for key in ("provider", "province") if query.get(key)}
            if scope is not None:  # a reviewer: the province's filings only
                wanted[scope[0]] = scope[1]
        try:
            page = self._records.query(index, value, limit=limit, after=query.get("cursor") or None)
        except BadCursor as error:
            raise invalid_cursor() from error
        found = [record.body for record in page.records
                 if all(record.body.get(field) == expected for field, expected in wanted.items())]
        self._audit.record(principal, "findings.list", f"findings:{index}:{value}",
                           details={"count": len(found), **wanted})
        return {"findings": found, "cursor": page.cursor}

    def of_filing(self, principal: Principal, filing_id: str) -> dict[str, Any]:
        """Every finding of one filing in the caller's scope, open and resolved."""
        self._load_filing(principal, filing_id, "findings")
        page = self._records.query(FINDING_FILING_INDEX, filing_id, limit=MAX_PAGE)
        self._audit.record(principal, "findings.view", f"filing:{filing_id}")
        return {"filing": filing_id, "findings": [record.body for record in page.records]}

    def report_sites(self, principal: Principal, body: Mapping[str, Any]) -> dict[str, Any]:
        """Store the provider's access records of the websites it connects (all or none).

        A site counts as filed if the provider gives its filing number or the archive holds an
        approved filing for the domain from this provider."""
        policy.require(principal, "connected_sites")
        raw = body.get("sites")
        if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_SITES_PER_REQUEST:
            raise Invalid(f"sites 须为 1 到 {MAX_SITES_PER_REQUEST} 个网站的列表",
                          f"sites must be a list of 1 to {MAX_SITES_PER_REQUEST} websites", field="sites")
        errors: list[dict[str, str]] = []
        checked = [self._site(principal.provider, item, f"sites[{position}]", errors)
                   for position, item in enumerate(raw)]
        sites = [site for site in checked if site is not None]
        if errors:
            raise Invalid("接入网站信息有误，未保存任何一条，请逐项修改后重新提交",
                          "Some sites have errors; none was saved. Correct each one and send again",
                          details=errors)
        self._audit.record(principal, "connected_sites.report", f"provider:{principal.provider}",
                           details={"count": len(sites)})
        for site in sites:
            save_site(self._records, site)
        return {"saved": len(sites), "filed": sum(site.filed for site in sites),
                "pre_2010": sum(site.pre_2010 for site in sites)}

    def _site(self, provider: str, item: object, path: str, errors: list[dict[str, str]]) -> ConnectedSite | None:
        """The site ``item`` describes, or None with its errors added to ``errors`` (once any
        item has failed, later ones are only checked: nothing will be saved)."""

        def error(name: str, zh: str, en: str) -> None:
            errors.append({"field": f"{path}.{name}" if name else path, "code": "invalid",
                           "message_zh": zh, "message_en": en})

        if not isinstance(item, Mapping):
            error("", "每个网站须为一个对象", "each site must be an object")
            return None
        try:
            domain = domain_name.validate(str(item.get("domain", "")))
        except ValidationError as problem:
            error("domain", problem.message_zh, problem.message_en)
            domain = ""
        province = item.get("province")
        if not isinstance(province, str) or province not in PROVINCE_CHARACTERS:
            error("province", "省份须为备案号中的省级简称，如“京”",
                  "province must be a filing-number character such as 京")
        now = self._clock().astimezone(UTC).isoformat()
        connected_at = _moment(item.get("connected_at"), "connected_at", error)
        reverified_at = _moment(item["reverified_at"], "reverified_at", error) if item.get("reverified_at") else None
        for name, moment in (("connected_at", connected_at), ("reverified_at", reverified_at)):
            if moment and moment > now:
                error(name, f"{name} 不能晚于现在", f"{name} cannot be in the future")
        if connected_at and reverified_at and reverified_at < connected_at:
            error("reverified_at", "补做核验不能早于接入", "reverified_at cannot be before connected_at")
        pre_2010 = item.get("pre_2010", False)
        if not isinstance(pre_2010, bool):
            error("pre_2010", "pre_2010 须为 true 或 false", "pre_2010 must be true or false")
        elif connected_at and pre_2010 != (_china_day(connected_at) < load_rules().effective):
            began = load_rules().effective.isoformat()
            error("pre_2010", f"pre_2010 须与接入时间一致：{began} 之前接入的为 true，之后的为 false",
                  f"pre_2010 must match connected_at: true before {began}, false from then on")
        if reverified_at and not pre_2010:
            error("reverified_at", "只有当面核验启动前接入的网站需要补做核验",
                  "only sites connected before on-site verification began are re-verified")
        number = item.get("filing_number")
        if number:
            try:
                number = filing_numbers.validate(str(number))
            except ValidationError as problem:
                error("filing_number", problem.message_zh, problem.message_en)
        if errors or not (domain and connected_at):
            return None
        filed = bool(number) or self._approved_here(provider, domain)
        return ConnectedSite(provider, str(province), domain, connected_at, filed, bool(pre_2010), reverified_at)

    def _approved_here(self, provider: str, domain: str) -> bool:
        page = self._records.query("domain", domain, limit=MAX_PAGE)
        return any(record.body.get("provider") == provider and record.body.get("state") == APPROVED
                   for record in page.records)


def _limit(raw: str) -> int:
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_PAGE:
        raise Invalid(f"limit 须为 1 到 {MAX_PAGE} 的整数", f"limit must be a whole number 1-{MAX_PAGE}", field="limit")
    return int(raw)


def _china_day(moment: str) -> date:
    return china_day(datetime.fromisoformat(moment))


def _moment(raw: object, name: str, error: Callable[[str, str, str], None]) -> str | None:
    """An ISO 8601 time with its UTC offset, as UTC ISO text (how records are ordered)."""
    try:  # at the calendar's ends an offset can carry a time past year 1 or 9999
        given = datetime.fromisoformat(str(raw))
        moment = given.astimezone(UTC) if given.tzinfo is not None else None
    except (ValueError, OverflowError):
        moment = None
    if moment is None or not EARLIEST <= moment <= LATEST:
        error(name, f"{name} 须为带时区的 ISO 8601 时间，如 2024-01-05T09:00:00+08:00",
              f"{name} must be an ISO 8601 time with its offset, e.g. 2024-01-05T09:00:00+08:00")
        return None
    return moment.isoformat()
