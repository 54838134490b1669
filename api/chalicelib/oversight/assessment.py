"""The quarterly assessment per province and per access provider (notice 二.(二)3(2), 三.(三)2).

What is read: the filings made in the quarter's three months (China Standard Time; the
``month`` index), the open findings of those months, the spot checks recorded for those
months, the phone checks of the quarter's sample of the approved stock (存量), and the
connected sites connected by the quarter's end. States are as they are when
the report runs; deadlines are judged on the report's day (``as_of``).

How: the work is cut into units (each month's filings in day slices, each province's
connected sites, each month's findings and spot checks). A unit streams its index a page at a
time and counts into one ``Tally`` per stratum (province, provider): memory is constant per
stratum, whatever the number of filings. Units run in this process (``SerialRunner``) or in
worker processes (``ProcessRunner``, spawned, each with its own connection to the backend);
their tallies are added up. The figures (``FIGURES``) are ratios of the summed counts, so a
province's or provider's figure is its strata's counts added, never an average of rates.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, Protocol

from ..deadlines import china_day
from ..errors import Invalid
from ..ports import Records
from ..validators.filing_number import PROVINCES
from ..workflow import APPROVED, PRE_VERIFICATION, REVIEW
from .idcheck import FINDING_MONTH_INDEX, last_run
from .periods import FIRST_SORT, LAST_SORT, MONTH_INDEX, Quarter
from .sampling import CONFIRMED, SPOT_CHECK_MONTH_INDEX, STOCK_CHECK_INDEX, Stratum
from .sites import CONNECTED_INDEX
from .store import scan

SLICES_PER_MONTH = 4
FILINGS, FINDINGS, SPOT_CHECKS, SITES = "filings", "findings", "spot_checks", "sites"
STOCK_CHECKS = "stock_checks"
UNREACHABLE = "unreachable"


@dataclass
class Tally:
    """Counts for one stratum (or a sum of strata)."""

    filings: int = 0  # made in the quarter
    id_failed: int = 0  # ... with at least one open finding of the automatic check
    findings: int = 0  # open findings on them
    spot_checks: int = 0  # phone checks recorded for the quarter's months
    spot_confirmed: int = 0
    spot_unreachable: int = 0
    pre_verification_judged: int = 0  # met, or not met and past due
    pre_verification_timely: int = 0  # met by the due day
    review_judged: int = 0
    review_timely: int = 0
    approved: int = 0  # approved now
    evidence: int = 0  # ... with the on-site photo and verification form on record
    sites: int = 0  # connected by the quarter's end
    sites_filed: int = 0  # ... holding an approved filing
    pre_2010: int = 0  # ... connected before on-site verification began
    reverified: int = 0  # ... of those, re-verified on site by the quarter's end
    stock_checks: int = 0  # phone checks of the quarter's sample of the approved stock
    stock_confirmed: int = 0
    stock_unreachable: int = 0

    @property
    def id_passed(self) -> int:
        return self.filings - self.id_failed

    def add(self, other: Tally) -> None:
        for name in COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))


COUNTS = tuple(item.name for item in fields(Tally))
COUNT_LABELS: dict[str, tuple[str, str]] = {
    "filings": ("本季度新增备案", "filings made in the quarter"),
    "id_failed": ("自动核查未通过的备案", "filings failing the automatic ID check"),
    "findings": ("未关闭的核查问题", "open findings"),
    "spot_checks": ("电话抽查完成", "phone checks done"),
    "spot_confirmed": ("抽查属实", "checks confirmed"),
    "spot_unreachable": ("抽查无法联系", "checks unreachable"),
    "pre_verification_judged": ("预核验已到期或已完成", "pre-verifications judged"),
    "pre_verification_timely": ("预核验按期完成", "pre-verifications on time"),
    "review_judged": ("审核已到期或已完成", "reviews judged"),
    "review_timely": ("审核按期完成", "reviews on time"),
    "approved": ("已通过审核", "approved"),
    "evidence": ("当面核验材料齐备", "with on-site evidence"),
    "sites": ("已接入网站", "connected sites"),
    "sites_filed": ("已备案的接入网站", "connected sites filed"),
    "pre_2010": ("当面核验启动前接入的网站", "sites connected before on-site verification"),
    "reverified": ("其中已完成当面核验", "of which re-verified"),
    "stock_checks": ("存量电话核查完成", "stock phone checks done"),
    "stock_confirmed": ("存量核查属实", "stock checks confirmed"),
    "stock_unreachable": ("存量核查无法联系", "stock checks unreachable"),
}


@dataclass(frozen=True)
class Figure:
    """One rate of the assessment, with its definition as printed in the report."""

    key: str
    zh: str
    en: str
    numerator: str  # a Tally attribute
    denominator: str
    definition_zh: str
    definition_en: str

    def rate(self, tally: Tally) -> float | None:
        denominator = getattr(tally, self.denominator)
        return getattr(tally, self.numerator) / denominator if denominator else None

    def counts(self, tally: Tally) -> tuple[int, int]:
        return getattr(tally, self.numerator), getattr(tally, self.denominator)


FIGURES: tuple[Figure, ...] = (
    Figure("accuracy", "新增备案准确率（电话抽查）", "New-filing accuracy (phone spot checks)", "spot_confirmed",
           "spot_checks",
           "本季度各月新增备案样本中，电话核实属实的件数 ÷ 已完成电话抽查的件数（属实、不符、无法联系均计为已完成）。",
           "Of the phone checks recorded for the quarter's monthly samples of new filings, the share "
           "that confirmed the filing (confirmed, mismatch and unreachable all count as checks done)."),
    Figure("stock_accuracy", "存量备案准确率（电话抽查）", "Stock accuracy (phone spot checks)", "stock_confirmed",
           "stock_checks",
           "本季度存量样本（季度末前备案、现已通过审核的全部备案，按省和接入服务单位分层抽取）中，电话核实属实的件数 ÷ "
           "已完成电话核查的件数（属实、不符、无法联系均计为已完成）。",
           "Of the phone checks recorded for the quarter's sample of the stock (every filing made "
           "before the quarter's end and approved now, drawn by province and provider), the share "
           "that confirmed the filing (confirmed, mismatch and unreachable all count as checks done)."),
    Figure("id_check", "证件自动核查通过率", "Automatic ID check pass rate", "id_passed", "filings",
           "本季度新增备案中，没有未关闭核查问题的件数 ÷ 本季度新增备案件数。",
           "Of the filings made in the quarter, the share with no open finding of the automatic "
           "check of ID numbers and unit codes."),
    Figure("filing_rate", "备案率", "Filing rate", "sites_filed", "sites",
           "季度末已接入网站中，持有已通过审核备案的网站数 ÷ 季度末已接入网站数（接入服务单位的接入记录）。",
           "Of the websites connected by the quarter's end (the providers' access records), the share "
           "holding an approved filing."),
    Figure("pre_verification", "预核验及时率", "Pre-verification on time",
           "pre_verification_timely", "pre_verification_judged",
           "本季度新增备案中，预核验期限（规则文件所定的工作日数）已届满或已完成的件数为分母，其中在期限内完成的件数为分子；"
           "未完成且已逾期的计为不及时，未到期的不计入。",
           "Of the quarter's filings whose pre-verification deadline has been met or has passed, the "
           "share met by the due day; overdue and still pending counts as late, not yet due is left out."),
    Figure("review", "审核及时率", "Review on time", "review_timely",
           "review_judged",
           "本季度新增备案中，省通信管理局审核期限（规则文件所定的工作日数）已届满或已完成的件数为分母，其中在期限内完成的件数为分子；"
           "未完成且已逾期的计为不及时，未到期的不计入。",
           "Of the quarter's filings whose provincial review deadline has been met or has passed, the "
           "share met by the due day; overdue and still pending counts as late, not yet due is left out."),
    Figure("evidence", "当面核验材料齐备率", "On-site evidence present", "evidence", "approved",
           "本季度新增且已通过审核的备案中，留存了现场照片和《网站备案信息真实性核验单》的件数 ÷ 已通过审核件数。",
           "Of the quarter's filings now approved, the share with the on-site photo and the "
           "verification form on record."),
    Figure("reverification", "存量网站核验进度", "Re-verification of pre-2010 sites", "reverified",
           "pre_2010",
           "当面核验启动前接入的网站中，季度末前已完成当面核验的网站数 ÷ 此类网站数（三.（一）6）。",
           "Of the websites connected before on-site verification began, the share re-verified on "
           "site by the quarter's end (三.(一)6)."),
)


@dataclass(frozen=True)
class Unit:
    """One index range to read and count."""

    kind: str
    index: str
    value: str
    sort_from: str = FIRST_SORT
    sort_to: str = LAST_SORT


@dataclass(frozen=True)
class AsOf:
    today: str  # the report's day, China Standard Time, ISO date: deadlines are judged on it
    quarter_end: str  # UTC ISO instant: sites and re-verifications count up to it


def plan(quarter: Quarter) -> list[Unit]:
    """The units of a quarter, largest first."""
    units = [Unit(FILINGS, MONTH_INDEX, month.label, start, end)
             for month in quarter.months for start, end in month.slices(SLICES_PER_MONTH)]
    units += [Unit(SITES, CONNECTED_INDEX, province, sort_to=quarter.end.isoformat())
              for province in (province.character for province in PROVINCES)]
    units += [Unit(FINDINGS, FINDING_MONTH_INDEX, month.label) for month in quarter.months]
    units += [Unit(SPOT_CHECKS, SPOT_CHECK_MONTH_INDEX, month.label) for month in quarter.months]
    units.append(Unit(STOCK_CHECKS, STOCK_CHECK_INDEX, quarter.label))
    return units


def judged(deadline: Mapping[str, Any] | None, today: str) -> bool | None:
    """True if met on time, False if late (or pending past due), None if not yet due."""
    if not deadline:
        return None
    if deadline.get("met_at"):
        return not deadline.get("late")
    return False if today > str(deadline["due"]) else None


def _count_filing(tally: Tally, body: Mapping[str, Any], as_of: AsOf) -> None:
    tally.filings += 1
    deadlines = body.get("deadlines", {})
    for name, prefix in ((PRE_VERIFICATION, "pre_verification"), (REVIEW, "review")):
        outcome = judged(deadlines.get(name), as_of.today)
        if outcome is not None:
            setattr(tally, f"{prefix}_judged", getattr(tally, f"{prefix}_judged") + 1)
            setattr(tally, f"{prefix}_timely", getattr(tally, f"{prefix}_timely") + outcome)
    if body.get("state") == APPROVED:
        tally.approved += 1
        on_site = body.get("on_site") or {}
        tally.evidence += bool(on_site.get("photo_document_id") and on_site.get("form_document_id"))


def _count_site(tally: Tally, body: Mapping[str, Any], as_of: AsOf) -> None:
    tally.sites += 1
    tally.sites_filed += bool(body.get("filed"))
    if body.get("pre_2010"):
        tally.pre_2010 += 1
        reverified = body.get("reverified_at")
        tally.reverified += bool(reverified and str(reverified) <= as_of.quarter_end)


def _check_counter(prefix: str) -> Callable[[Tally, Mapping[str, Any], AsOf], None]:
    """Counts a phone check into ``<prefix>_checks``, ``_confirmed`` and ``_unreachable``."""

    def count(tally: Tally, body: Mapping[str, Any], as_of: AsOf) -> None:
        outcome = body.get("outcome")
        for name, counted in (("checks", True), ("confirmed", outcome == CONFIRMED),
                              ("unreachable", outcome == UNREACHABLE)):
            setattr(tally, f"{prefix}_{name}", getattr(tally, f"{prefix}_{name}") + counted)

    return count


COUNTERS: dict[str, Callable[[Tally, Mapping[str, Any], AsOf], None]] = {
    FILINGS: _count_filing, SITES: _count_site, SPOT_CHECKS: _check_counter("spot"),
    STOCK_CHECKS: _check_counter("stock"),
}


def tally_unit(records: Records, unit: Unit, as_of: AsOf) -> dict[Stratum, Tally]:
    """Read one unit and count it per stratum."""
    tallies: dict[Stratum, Tally] = {}
    previous = ""
    for record in scan(records, unit.index, unit.value, sort_from=unit.sort_from,
                       sort_to=unit.sort_to):
        body = record.body
        stratum = Stratum(str(body["province"]), str(body["provider"]))
        tally = tallies.get(stratum) or tallies.setdefault(stratum, Tally())
        if unit.kind == FINDINGS:
            # A filing's findings are adjacent: sorted by the filing's created_at, then key.
            tally.findings += 1
            tally.id_failed += body["filing_id"] != previous
            previous = str(body["filing_id"])
        else:
            COUNTERS[unit.kind](tally, body, as_of)
    return tallies


class Runner(Protocol):
    def run(self, units: list[Unit], as_of: AsOf) -> Iterator[dict[Stratum, Tally]]: ...


class SerialRunner:
    """Runs units one after another in this process."""

    def __init__(self, records: Records) -> None:
        self._records = records

    def run(self, units: list[Unit], as_of: AsOf) -> Iterator[dict[Stratum, Tally]]:
        return (tally_unit(self._records, unit, as_of) for unit in units)


def _tally_in_worker(job: tuple[Callable[[], Records], Unit, AsOf]) -> dict[Stratum, Tally]:
    open_records, unit, as_of = job
    return tally_unit(open_records(), unit, as_of)


class ProcessRunner:
    """Runs units in ``workers`` spawned processes (a forked child would share the parent's
    database connection), each opening its own records port with ``open_records``: a picklable
    callable the wiring hands over (``services.records_opener``), since the domain builds no
    backend itself."""

    def __init__(self, open_records: Callable[[], Records], workers: int) -> None:
        self._open_records = open_records
        self._workers = workers

    def run(self, units: list[Unit], as_of: AsOf) -> Iterator[dict[Stratum, Tally]]:
        jobs = [(self._open_records, unit, as_of) for unit in units]
        with multiprocessing.get_context("spawn").Pool(min(self._workers, len(jobs))) as pool:
            yield from pool.imap_unordered(_tally_in_worker, jobs)


@dataclass
class Assessment:
    quarter: str
    generated_at: str
    as_of: str
    strata: dict[Stratum, Tally] = field(default_factory=dict)
    check_runs: dict[str, Mapping[str, Any] | None] = field(default_factory=dict)

    def merge(self, tallies: Mapping[Stratum, Tally]) -> None:
        for stratum, tally in tallies.items():
            self.strata.setdefault(stratum, Tally()).add(tally)

    def grouped(self, key: Callable[[Stratum], str]) -> dict[str, Tally]:
        groups: dict[str, Tally] = {}
        for stratum in sorted(self.strata):
            groups.setdefault(key(stratum), Tally()).add(self.strata[stratum])
        return dict(sorted(groups.items()))

    def by_province(self) -> dict[str, Tally]:
        return self.grouped(lambda stratum: stratum.province)

    def by_provider(self) -> dict[str, Tally]:
        return self.grouped(lambda stratum: stratum.provider)

    def total(self) -> Tally:
        total = Tally()
        for tally in self.strata.values():
            total.add(tally)
        return total


def assess(records: Records, quarter: Quarter, now: datetime, runner: Runner | None = None,
           on_unit: Callable[[], None] | None = None) -> Assessment:
    """The quarter's assessment as of ``now`` (a quarter under way gives interim figures);
    ``on_unit`` is called as each unit is done."""
    if quarter.first_day > china_day(now):
        raise Invalid(f"{quarter.label} 尚未开始", f"{quarter.label} has not begun yet", field="quarter")
    units = plan(quarter)
    as_of = AsOf(china_day(now).isoformat(), quarter.end.isoformat())
    result = Assessment(quarter.label, now.isoformat(timespec="seconds"), as_of.today)
    for tallies in (runner or SerialRunner(records)).run(units, as_of):
        result.merge(tallies)
        if on_unit is not None:
            on_unit()
    for month in quarter.months:
        result.check_runs[month.label] = last_run(records, month)
    return result
