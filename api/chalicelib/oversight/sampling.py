"""The monthly sample of new filings for phone spot checks (notice 二.(二)3(1), 三.(三)1).

Population: the filings made in the month (China Standard Time) that have reached the
province (their history has ``submit_to_province``) and are not cancelled: what the filing
center's system holds.

Strata: (province, access provider). Allocation: proportional to the stratum's population,
by largest remainder in exact integer arithmetic (ties broken by the stratum's name), with at
least one filing from every non-empty stratum (taken back from the strata most above their
exact share, so the sample exceeds the requested size only when there are more non-empty
strata than that) and never more than the stratum holds.

Draw: within a stratum, ``random.Random(f"{seed}|{month}|{province}|{provider}").sample``
over the stratum's filing ids sorted. ``random.Random`` seeded with a string is the same on
every platform and Python version since 3.2 (it hashes the string with SHA-512), so anyone
holding the same records and the published seed draws the same sample.

The worksheet lists, for the filing center's staff, what a phone check needs: the contact
mobile (never an ID number). It is written to the output file only, never logged.

The existing stock (存量, 二.(二)3(2), 三.(三)2) is sampled the same way once a quarter:
the population is every filing approved now and made before the quarter's end (the ``state``
index, province by province), the strata and the draw are the monthly ones with the quarter's
label (``2024Q2``) in place of the month's. A stock sample and its checks are records of their
own kinds, found by quarter.

Outcomes (``record_check``): ``confirmed`` (the responsible person confirmed the filing),
``mismatch`` (something did not match) or ``unreachable`` (the contact mobile did not reach
them: the contact details are themselves part of what is verified, 一.2). Each is a
``spot_check`` record, found by month; all three count as checks done, only ``confirmed``
counts as accurate.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..deadlines import china_day
from ..errors import Conflict, Invalid
from ..filings import FILING
from ..ports import IndexEntry, Record, Records
from ..validators.filing_number import PROVINCES
from ..workflow import APPROVED, CANCELLED
from .periods import MONTH_INDEX, Month, Quarter
from .store import put, scan

SAMPLE = "oversight_sample"
SPOT_CHECK = "spot_check"
SPOT_CHECK_MONTH_INDEX = "spot_check_month"
STOCK_SAMPLE = "oversight_stock_sample"
STOCK_CHECK = "stock_check"
STOCK_CHECK_INDEX = "stock_check_quarter"
Period = Month | Quarter
"""A month (new filings) or a quarter (the approved stock)."""
REACHED_PROVINCE = "submit_to_province"
MAX_SAMPLE = 5000
MAX_NOTE = 500
CONFIRMED = "confirmed"
OUTCOMES: dict[str, tuple[str, str]] = {
    CONFIRMED: ("属实", "confirmed"),
    "mismatch": ("不符", "mismatch"),
    "unreachable": ("无法联系", "unreachable"),
}


@dataclass(frozen=True, order=True)
class Stratum:
    province: str
    provider: str

    @property
    def label(self) -> str:
        return f"{self.province}|{self.provider}"


def in_population(body: Mapping[str, Any]) -> bool:
    """Whether a filing is in its month's sampling population."""
    return body.get("state") != CANCELLED and any(
        step.get("action") == REACHED_PROVINCE for step in body.get("history", ()))


def allocate(sizes: Mapping[Stratum, int], total: int) -> dict[Stratum, int]:
    """How many to draw from each stratum: proportional, largest remainder, at least one."""
    population = sum(sizes.values())
    if population <= total:
        return dict(sizes)
    share = {stratum: divmod(total * size, population) for stratum, size in sizes.items() if size}
    counts = {stratum: min(size, max(1, share[stratum][0])) for stratum, size in sizes.items() if size}
    by_remainder = sorted(share, key=lambda stratum: (-share[stratum][1], stratum))
    left = total - sum(counts.values())
    while left < 0:
        # The minimum of one overshot: take back from the stratum most above its exact share.
        reducible = [stratum for stratum in counts if counts[stratum] > 1]
        if not reducible:
            break
        most = max(reducible, key=lambda s: (counts[s] * population - total * sizes[s], s))
        counts[most] -= 1
        left += 1
    while left > 0:
        open_strata = [stratum for stratum in by_remainder if counts[stratum] < sizes[stratum]]
        for stratum in open_strata[:left]:
            counts[stratum] += 1
        left -= len(open_strata[:left])
    return counts


@dataclass(frozen=True)
class StratumSample:
    stratum: Stratum
    population: int
    filing_ids: tuple[str, ...]


@dataclass(frozen=True)
class Sample:
    month: str
    seed: str
    size: int  # as requested
    strata: tuple[StratumSample, ...]

    @property
    def population(self) -> int:
        return sum(stratum.population for stratum in self.strata)

    @property
    def filing_ids(self) -> tuple[str, ...]:
        return tuple(filing_id for stratum in self.strata for filing_id in stratum.filing_ids)

    def to_body(self) -> dict[str, Any]:
        return {"month": self.month, "seed": self.seed, "size": self.size, "strata": [
            {"province": s.stratum.province, "provider": s.stratum.provider,
             "population": s.population, "filing_ids": list(s.filing_ids)} for s in self.strata]}

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> Sample:
        return cls(str(body["month"]), str(body["seed"]), int(body["size"]), tuple(
            StratumSample(Stratum(str(s["province"]), str(s["provider"])), int(s["population"]),
                          tuple(s["filing_ids"])) for s in body["strata"]))


def draw(population: Mapping[Stratum, Iterable[str]], month: Period, seed: str,
         size: int) -> Sample:
    """The sample of ``size`` from filing ids grouped by stratum (order does not matter), for
    a month's new filings or a quarter's stock."""
    if not 1 <= size <= MAX_SAMPLE:
        raise Invalid(f"样本量应在1至{MAX_SAMPLE}之间", f"The sample size must be 1 to {MAX_SAMPLE}",
                      field="size")
    if not seed.strip():
        raise Invalid("请给出公布的随机种子", "Give the published seed", field="seed")
    ids = {stratum: sorted(members) for stratum, members in population.items()}
    counts = allocate({stratum: len(members) for stratum, members in ids.items()}, size)
    strata = []
    for stratum in sorted(counts):
        # Reproducible on purpose: the published seed must give everyone the same sample.
        rng = random.Random(f"{seed}|{month.label}|{stratum.label}")  # noqa: S311
        chosen = rng.sample(ids[stratum], counts[stratum])
        strata.append(StratumSample(stratum, len(ids[stratum]), tuple(sorted(chosen))))
    return Sample(month.label, seed, size, tuple(strata))


def month_population(records: Records, month: Month) -> dict[Stratum, list[str]]:
    """The month's sampling population: filing ids by stratum."""
    population: dict[Stratum, list[str]] = {}
    for record in scan(records, MONTH_INDEX, month.label):
        if in_population(record.body):
            stratum = Stratum(str(record.body["province"]), str(record.body["provider"]))
            population.setdefault(stratum, []).append(record.key)
    return population


def stock_population(records: Records, quarter: Quarter) -> dict[Stratum, list[str]]:
    """The quarter's stock: filing ids approved now and made before the quarter's end, by stratum."""
    end = quarter.end.isoformat()
    population: dict[Stratum, list[str]] = {}
    for province in PROVINCES:
        for record in scan(records, "state", f"province:{province.character}#{APPROVED}", sort_to=end):
            if str(record.body["created_at"]) < end:
                stratum = Stratum(str(record.body["province"]), str(record.body["provider"]))
                population.setdefault(stratum, []).append(record.key)
    return population


def draw_sample(records: Records, period: Period, seed: str, size: int) -> Sample:
    """A month's sample of new filings, or a quarter's sample of the approved stock."""
    population = (stock_population(records, period) if isinstance(period, Quarter)
                  else month_population(records, period))
    return draw(population, period, seed, size)


def parse_period(label: str) -> Period:
    """``2024-05`` (a month) or ``2024Q2`` (a quarter, for the stock)."""
    return Quarter.parse(label) if "Q" in label.upper() else Month.parse(label)


def _kinds(period: Period) -> tuple[str, str, str]:
    """(sample kind, check kind, check index) for a month's new filings or a quarter's stock."""
    if isinstance(period, Quarter):
        return STOCK_SAMPLE, STOCK_CHECK, STOCK_CHECK_INDEX
    return SAMPLE, SPOT_CHECK, SPOT_CHECK_MONTH_INDEX


def publish(records: Records, sample: Sample, now: datetime) -> Record:
    """Store the period's sample, so that outcomes can be recorded against it. A seed, once
    published, stays: drawing again with it (data may have grown) replaces the sample.
    Only a period that has ended is sampled: its filings are all in, and a seed is not
    spent on a period whose population is still growing."""
    period = parse_period(sample.month)
    if period.last_day >= china_day(now):
        raise Conflict(f"{sample.month} 尚未结束，不能抽样", f"{sample.month} has not ended yet: it cannot be sampled",
                       field="quarter" if isinstance(period, Quarter) else "month")
    kind = _kinds(period)[0]
    known = records.get(kind, sample.month)
    if known is not None and known.body["seed"] != sample.seed:
        seed = known.body["seed"]
        raise Conflict(f"本月样本已用随机种子“{seed}”公布", f"This month's sample was published with the seed {seed!r}",
                       field="seed")
    return put(records, kind, sample.month, {**sample.to_body(), "drawn_at": now.isoformat()}, (),
               known)


def published(records: Records, month: Period) -> Sample | None:
    known = records.get(_kinds(month)[0], month.label)
    return None if known is None else Sample.from_body(known.body)


@dataclass(frozen=True)
class WorksheetRow:
    """One phone call to make: what the caller asks about, and the number to call."""

    number: int
    filing_id: str
    province: str
    provider: str
    subject_type: str
    subject_name: str
    responsible_name: str
    website_name: str
    domains: str
    contact_mobile: str


def worksheet(records: Records, sample: Sample) -> list[WorksheetRow]:
    rows = []
    for number, filing_id in enumerate(sample.filing_ids, start=1):
        record = records.get(FILING, filing_id)
        if record is None:
            continue
        body = record.body
        payload = body.get("payload", {})
        subject = payload.get("subject", {})
        person = payload.get("responsible_person", subject)
        website = payload.get("website", {})
        rows.append(WorksheetRow(
            number, filing_id, str(body["province"]), str(body["provider"]),
            str(payload.get("subject_type", "")), str(subject.get("name", "")),
            str(person.get("name", "")), str(website.get("name", "")),
            " ".join(website.get("domains", [])), str(payload.get("contact", {}).get("mobile", ""))))
    return rows


def record_check(records: Records, filing_id: str, month: Period, outcome: str, note: str,
                 now: datetime, checked_by: str = "") -> Record:
    """Record the outcome of the phone check of a sampled filing, new (a month) or stock (a
    quarter); recording again replaces it, keeping the earlier outcomes in ``history``."""
    if outcome not in OUTCOMES:
        raise Invalid(f"结果应为{'、'.join(zh for zh, _ in OUTCOMES.values())}之一",
                      f"The outcome must be one of {', '.join(OUTCOMES)}", field="outcome")
    sample = published(records, month)
    if sample is None or filing_id not in sample.filing_ids:
        raise Invalid("该备案不在该期已公布的样本中", "The filing is not in this period's published sample",
                      field="filing_id")
    filing = records.get(FILING, filing_id)
    if filing is None:
        raise Invalid("备案不存在", "Filing not found", field="filing_id")
    _, kind, index = _kinds(month)
    key = f"{month.label}.{filing_id}"
    known = records.get(kind, key)
    history = list(known.body.get("history", [])) if known is not None else []
    if known is not None:
        history.append({name: known.body[name] for name in ("outcome", "note", "recorded_at")})
    body = {"filing_id": filing_id, "month": month.label, "provider": str(filing.body["provider"]),
            "province": str(filing.body["province"]), "outcome": outcome, "note": note.strip()[:MAX_NOTE],
            "recorded_at": now.isoformat(), "checked_by": checked_by, "history": history}
    return put(records, kind, key, body, (IndexEntry(index, month.label, filing_id),), known)
