"""A synthetic archive for demos, tests and benchmarks: ``beian demo seed --filings N``.

Filings are spread over a quarter (China Standard Time) across weighted provinces and access
providers, and walked through the workflow with plausible delays: most steps on time, some
late, some still pending when the world stops (``now``), some returned, a few cancelled. Each
is stored as the real path stores it: the payload from ``beian.synthetic`` (valid numbers
with valid checksums, never a real person's), sealed and hashed by ``FilingService.apply_payload``
(so the ID check really unseals it), the filing's own index entries plus the ``month`` entry,
and checked on arrival (``check_on_arrival``), which writes the findings.

Deliberate problems, with the share of filings:

* ``LEGACY_SHARE`` migrated from the legacy system (``legacy_import: true``, first history
  step ``import``), one number corrupted: wrong check character, unknown region, impossible
  birth date, a 15-digit first-generation number, or a unit code with a wrong check
  character. Such numbers cannot enter through the API's validation.
* ``UNDERAGE_SHARE`` whose holder is 14 to 17 on the day of filing (valid numbers: the API
  accepts them; the ID check flags them).
* ``DUPLICATE_SHARE`` reusing an earlier subject's number (the same subject filed twice).
* ``MISSING_EVIDENCE_SHARE`` of approvals without the on-site photo or form on record.

Then each month of the quarter gets its published sample (seed ``demo-<seed>``) with made-up
phone-check outcomes (``OUTCOME_SHARES``), so the demo report shows an accuracy rate.

Connected sites: each approved filing's domains (filed), ``UNFILED_SHARE`` extra sites with no
filing, and ``PRE_2010_SHARE`` sites connected before on-site verification began, most of them
re-verified in 2010. Filings and sites are written ``BATCH`` at a time through the Records
port's ``insert_many`` (one transaction each on SQLite); findings as the check finds them.

Everything follows from ``seed``: the same seed gives the same filings (the sealed bytes
differ, their nonces are random). Filing ids are a bijection of (seed mod 1024, index), so
seeds that differ modulo 1024 can share an archive; seeding the same one twice is refused.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import random
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from chalicelib import workflow
from chalicelib.consent import consent_record
from chalicelib.deadlines import Deadlines, china_day
from chalicelib.filings import FILING, FilingService, filing_indexes
from chalicelib.oversight.idcheck import check_on_arrival
from chalicelib.oversight.periods import Quarter, day_start
from chalicelib.oversight.sampling import Period, draw_sample, publish, published, record_check
from chalicelib.oversight.sites import ConnectedSite, save_site
from chalicelib.ports import Record, Records, VersionConflict
from chalicelib.rules import load_rules
from chalicelib.services import Services, utc_now
from chalicelib.steps import (
    closing_record,
    pre_verification_record,
    province_submission_record,
    return_record,
    review_record,
    website_numbers,
)
from chalicelib.validators import resident_id
from chalicelib.validators.filing_number import generate as filing_number

from beian.synthetic import filing_payload, resident_id_number

PROVIDERS = (("demo-idc", 30), ("yunhua-cloud", 24), ("jingxin-net", 15), ("haiyun-idc", 12),
             ("xinlian-host", 9), ("lanshan-net", 6), ("beichen-idc", 4))
PROVINCES = (("京", 18), ("粤", 20), ("沪", 14), ("浙", 12), ("苏", 10), ("鲁", 7), ("蜀", 6),
             ("鄂", 5), ("闽", 5), ("陕", 3))
SUBJECT_TYPES = (("enterprise", 56), ("individual", 26), ("institution", 6), ("government", 5),
                 ("social_group", 5), ("military", 2))
LEGACY_SHARE = 0.03
UNDERAGE_SHARE = 0.005
DUPLICATE_SHARE = 0.005
FOREIGN_SHARE = 0.03
MISSING_EVIDENCE_SHARE = 0.02
UNFILED_SHARE = 0.04
PRE_2010_SHARE = 0.10
MAX_FILINGS = 1 << 22  # per seed: seeds that differ modulo 1024 give distinct filing ids
ID_MULTIPLIER = 0x9E3779B1  # odd, so multiplying modulo 2**32 is a bijection
RECENT = 2000  # subject numbers kept for reuse as duplicates
ON_SITE_VERIFICATION_BEGAN = date(2010, 3, 31)  # 三.(一)1: by the end of March 2010
DAY = 86_400
BATCH = 1000  # filings inserted per transaction
SAMPLE_SIZE = 100  # per month, for the made-up phone checks
OUTCOME_SHARES = (("confirmed", 90), ("mismatch", 6), ("unreachable", 4))
# Where the made-up filings are returned: the stage's workflow action, the role that returns them, and why.
RETURNS = {
    "pre_verification": ("pre_verify_return", "verifier", "联系方式无法核实 / contact details could not be verified"),
    "review": ("return_to_provider", "reviewer", "核验单信息不全 / the verification form is incomplete"),
}


class CachedDeadlines(Deadlines):
    """Deadlines whose due dates are remembered per (deadline, day): a due date depends on
    nothing else, and the seeder starts millions of them."""

    def __init__(self) -> None:
        self._due: dict[tuple[str, date], dict[str, Any]] = {}

    def start(self, name: str, now: datetime) -> dict[str, Any]:
        key = (name, china_day(now))
        if key not in self._due:
            self._due[key] = super().start(name, now)
        return {**self._due[key], "started_at": now.isoformat()}


class AlreadySeeded(Exception):
    """Filings of this seed are already in the archive."""


@dataclass
class SeedSummary:
    filings: int = 0
    by_state: Counter[str] = field(default_factory=Counter)
    legacy: int = 0
    with_findings: int = 0
    sites: int = 0
    pre_2010: int = 0
    spot_checks: int = 0
    stock_checks: int = 0


class _Pick:
    """Picks a name with the probability of its weight."""

    def __init__(self, rng: random.Random, pairs: tuple[tuple[str, int], ...]) -> None:
        self._rng = rng
        self._names = [name for name, _ in pairs]
        self._cumulative = list(itertools.accumulate(weight for _, weight in pairs))

    def __call__(self) -> str:
        point = self._rng.random() * self._cumulative[-1]
        return self._names[bisect.bisect_right(self._cumulative, point)]


def demo_filing_id(seed: int, index: int, day: date) -> str:
    scrambled = ((seed * MAX_FILINGS + index) * ID_MULTIPLIER) % (1 << 32)
    return f"F{day:%Y%m%d}-{scrambled:08X}"


def _with_check(body: str, check: Callable[[str], str]) -> str:
    return body + check(body)


def corrupt(rng: random.Random, payload: dict[str, Any]) -> None:
    """Give one number of ``payload`` a defect the API's validation would refuse."""
    unit = "responsible_person" in payload
    person = payload["responsible_person" if unit else "subject"]
    if unit and (rng.random() < 0.4 or person["id_type"] != "resident_id_card"):
        code = str(payload["subject"]["id_number"])
        if payload["subject"]["id_type"] == "military_code_certificate":
            payload["subject"]["id_number"] = code[:3]  # too short
        else:
            flipped = "0" if code[-1] != "0" else "1"
            payload["subject"]["id_number"] = code[:-1] + flipped
        return
    if person["id_type"] != "resident_id_card":
        person.update(nationality="cn", id_type="resident_id_card")
        person["id_number"] = resident_id_number(rng)
    number = str(person["id_number"])
    defect = rng.randrange(4)
    if defect == 0:
        person["id_number"] = number[:17] + ("0" if number[17] != "0" else "1")
    elif defect == 1:
        person["id_number"] = _with_check("990101" + number[6:17], resident_id.calc_check_digit)
    elif defect == 2:
        person["id_number"] = _with_check(number[:10] + "13" + number[12:17], resident_id.calc_check_digit)
    else:
        person["id_number"] = number[:6] + number[8:17]


class Seeder:
    """Makes and stores the demo filings of one seed."""

    def __init__(self, services: Services, seed: int, quarter: Quarter, now: datetime) -> None:
        backend = services.backend
        sensitive = services.sensitive
        self._checker = services.id_checker
        self._filings = FilingService(services.settings, backend.records, backend.notifier,
                                      services.audit, sensitive, CachedDeadlines(), self._checker, utc_now)
        self._records = backend.records
        self._rules_version = load_rules().version
        self._rng = random.Random(seed)  # noqa: S311 -- synthetic data, reproducible on purpose
        self._seed = seed
        self._now = now
        self._start = day_start(quarter.first_day)
        self._span = (min(quarter.end, now) - self._start).total_seconds()
        if self._span <= 0:
            raise ValueError("the quarter has not begun at `now`")
        self._provider = _Pick(self._rng, PROVIDERS)
        self._province = _Pick(self._rng, PROVINCES)
        self._subject_type = _Pick(self._rng, SUBJECT_TYPES)
        self._serials: Counter[tuple[str, int]] = Counter()
        self._recent: dict[bool, deque[tuple[str, str]]] = {True: deque(maxlen=RECENT),
                                                             False: deque(maxlen=RECENT)}
        self.summary = SeedSummary()

    def run(self, filings: int, on_filing: Callable[[int], None] | None = None) -> SeedSummary:
        if not 1 <= filings <= MAX_FILINGS:
            raise ValueError(f"filings must be 1 to {MAX_FILINGS}")
        for start in range(0, filings, BATCH):
            made = [self.make(index) for index in range(start, min(filings, start + BATCH))]
            self._store(made)
            if on_filing is not None:
                on_filing(len(made))
        return self.summary

    def _at(self, moment: datetime, days: float) -> datetime:
        return moment + timedelta(seconds=days * DAY + self._rng.randrange(0, 8 * 3600))

    def make(self, index: int) -> tuple[Record, list[ConnectedSite]]:
        """The filing record of ``index`` (not yet stored) and the sites connected with it."""
        rng = self._rng
        created = self._start + timedelta(seconds=rng.random() * self._span)
        province, provider = self._province(), self._provider()
        body = self._new_body(index, created, province, provider)
        self._walk(body, created)
        indexes = filing_indexes(body)
        return Record(FILING, str(body["id"]), body, indexes=tuple(dict.fromkeys(indexes))), self._sites(body)

    def _store(self, made: list[tuple[Record, list[ConnectedSite]]]) -> None:
        """Insert a batch of filings in one go, check each as it arrives, then connect sites."""
        try:
            self._records.insert_many(record for record, _ in made)
        except VersionConflict as error:
            raise AlreadySeeded(f"seed {self._seed} is already in the archive") from error
        summary = self.summary
        for record, _ in made:
            findings = check_on_arrival(self._checker, record)
            summary.filings += 1
            summary.by_state[record.body["state"]] += 1
            summary.legacy += bool(record.body.get("legacy_import"))
            summary.with_findings += bool(findings)
        sites = [site for _, connected in made for site in connected]
        try:
            self._records.insert_many(site.record() for site in sites)
        except VersionConflict:
            # Two filings of one provider drew the same domain: the later access record wins.
            for site in sites:
                save_site(self._records, site)
        summary.sites += len(sites)
        summary.pre_2010 += sum(site.pre_2010 for site in sites)

    def _new_body(self, index: int, created: datetime, province: str, provider: str) -> dict[str, Any]:
        rng = self._rng
        subject_type = self._subject_type()
        foreign = rng.random() < FOREIGN_SHARE
        payload = filing_payload(rng, subject_type, nationality="foreign" if foreign else "cn")
        consent = payload.pop("consent")
        legacy = rng.random() < LEGACY_SHARE
        holder = payload.get("responsible_person", payload["subject"])
        if legacy:
            corrupt(rng, payload)
        elif rng.random() < UNDERAGE_SHARE and holder["id_type"] == "resident_id_card":
            filed_on = china_day(created)
            birth = filed_on - timedelta(days=rng.randrange(14 * 366, 18 * 365 - 2))
            holder["id_number"] = resident_id_number(rng, birth=birth)
        else:
            self._maybe_duplicate(payload)
        filing_id = demo_filing_id(self._seed, index, china_day(created))
        body: dict[str, Any] = {
            "id": filing_id, "state": workflow.SUBMITTED, "provider": provider, "province": province,
            "rules_version": self._rules_version,
            "token_hash": hashlib.sha256(rng.randbytes(32)).hexdigest(),
            "created_at": created.isoformat(), "updated_at": created.isoformat(),
            "history": [], "deadlines": {},
            "consent": consent_record(consent, created.isoformat()),
        }
        if legacy:
            body["legacy_import"] = True
        self._filings.apply_payload(body, payload)
        return body

    def _maybe_duplicate(self, payload: dict[str, Any]) -> None:
        subject = payload["subject"]
        recent = self._recent[payload["subject_type"] == "individual"]
        if recent and self._rng.random() < DUPLICATE_SHARE:
            subject["id_type"], subject["id_number"] = self._rng.choice(recent)
        else:
            recent.append((subject["id_type"], subject["id_number"]))

    def _step(self, body: dict[str, Any], action: str, at: datetime, actor: str, role: str) -> None:
        """What ``FilingService.act`` does to the body, without a principal or a save: the same
        transition from the table, through the same bookkeeping."""
        self._filings.take(body, workflow.transition(action, str(body["state"])), actor, role, at)

    def _returned(self, body: dict[str, Any], stage: str, at: datetime, actor: str, *, chance: float) -> bool:
        """Whether the filing is returned at ``stage`` (with probability ``chance``); if so, by ``actor``."""
        if self._rng.random() >= chance:
            return False
        action, role, reason = RETURNS[stage]
        self._step(body, action, at, actor, role)
        body["returns"] = [return_record(stage, actor, at, [reason])]
        return True

    def _walk(self, body: dict[str, Any], created: datetime) -> None:
        """Take the filing through the workflow until a step would fall after ``now``."""
        rng = self._rng
        verifier, reviewer = f"verifier:{body['provider']}-1", f"reviewer:{body['province']}-1"
        self._filings.move(body, workflow.SUBMIT, created)
        first = "import" if body.get("legacy_import") else "submit"
        actor = "legacy-import" if body.get("legacy_import") else f"applicant:{body['id']}"
        body["history"].append({"at": created.isoformat(), "action": first, "to": workflow.SUBMITTED,
                                "actor": actor})
        at = self._at(created, rng.uniform(0, 6) if rng.random() > 0.08 else rng.uniform(8, 16))
        if at > self._now:
            return
        if self._returned(body, "pre_verification", at, verifier, chance=0.06):
            return
        self._step(body, "pre_verify_pass", at, verifier, "verifier")
        body["pre_verification"] = pre_verification_record(verifier, at, "phone")
        at = self._at(at, rng.uniform(1, 20))
        if at > self._now:
            return
        self._record_on_site(body, at, verifier)
        self._step(body, "record_on_site", at, verifier, "verifier")
        at = self._at(at, rng.uniform(0, 2))
        if at > self._now:
            return
        self._step(body, "submit_to_province", at, verifier, "verifier")
        body["province_submission"] = province_submission_record(
            verifier, at, body["on_site"].get("form_document_id", ""), {})
        at = self._at(at, rng.uniform(1, 26) if rng.random() > 0.06 else rng.uniform(30, 45))
        if at > self._now:
            return
        if self._returned(body, "review", at, reviewer, chance=0.05):
            return
        self._approve(body, at, reviewer)
        at = self._at(at, rng.uniform(5, 60))
        if at <= self._now and rng.random() < 0.01:
            body["cancellation"] = closing_record(verifier, at, ["网站关闭 / site closed"], str(body["state"]))
            self._step(body, "cancel", at, verifier, "verifier")

    def _record_on_site(self, body: dict[str, Any], at: datetime, verifier: str) -> None:
        on_site: dict[str, Any] = {"verifier": verifier, "verified_at": at.isoformat(timespec="seconds"),
                                   "subject_type": body["subject_type"],
                                   "photo_document_id": f"D{self._rng.getrandbits(48):012X}",
                                   "form_document_id": f"D{self._rng.getrandbits(48):012X}"}
        if self._rng.random() < MISSING_EVIDENCE_SHARE:
            del on_site[self._rng.choice(("photo_document_id", "form_document_id"))]
        body["on_site"] = on_site

    def _approve(self, body: dict[str, Any], at: datetime, reviewer: str) -> None:
        self._step(body, "approve", at, reviewer, "reviewer")
        province, year = str(body["province"]), china_day(at).year
        self._serials[province, year] += 1
        number = filing_number(province, year, self._serials[province, year])
        body["filing_number"] = number
        body["website_numbers"] = website_numbers(number, body["payload"]["website"]["domains"], {})
        rules = load_rules()
        kind = rules.subject_type(str(body["subject_type"])).kind
        body["review"] = review_record(reviewer, at, {
            "checked": {item.id: "演示数据 / demo data" for item in rules.review.items_for(kind)},
            "form_document_id": body["on_site"].get("form_document_id", "")})

    def _sites(self, body: dict[str, Any]) -> list[ConnectedSite]:
        """The provider's access records that go with this filing."""
        rng = self._rng
        provider, province = str(body["provider"]), str(body["province"])
        sites: list[ConnectedSite] = []
        if body["state"] == workflow.APPROVED:
            connected = str(body["review"]["at"])
            sites += [ConnectedSite(provider, province, domain, connected, filed=True)
                      for domain in body["payload"]["website"]["domains"]]
        if rng.random() < UNFILED_SHARE:
            when = self._start + timedelta(seconds=rng.random() * self._span)
            sites.append(ConnectedSite(provider, province, f"unfiled-{body['id'].lower()}.cn",
                                       when.isoformat(), filed=False))
        if rng.random() < PRE_2010_SHARE:
            connected_on = ON_SITE_VERIFICATION_BEGAN - timedelta(days=rng.randrange(1, 700))
            reverified = None
            if rng.random() < 0.85:
                reverified = day_start(ON_SITE_VERIFICATION_BEGAN + timedelta(days=rng.randrange(1, 270)))
            sites.append(ConnectedSite(
                provider, province, f"legacy-{body['id'].lower()}.cn", day_start(connected_on).isoformat(),
                filed=rng.random() < 0.95, pre_2010=True,
                reverified_at=None if reverified is None else reverified.isoformat()))
        return sites


def record_demo_checks(records: Records, quarter: Quarter, seed: int, now: datetime) -> tuple[int, int]:
    """Draw each past month's sample of new filings (seed ``demo-<seed>``) and, once the quarter
    has ended, its sample of the approved stock (seed ``demo-<seed>-stock``), and record
    made-up outcomes, unless a sample is already published. Returns (new, stock) checks."""
    rng = random.Random(f"checks|{seed}")  # noqa: S311 -- synthetic data, reproducible on purpose
    outcome = _Pick(rng, OUTCOME_SHARES)
    recorded = {False: 0, True: 0}
    periods: list[Period] = [*quarter.months, quarter]
    for period in periods:
        stock = isinstance(period, Quarter)
        ended = period.last_day < china_day(now) if stock else period.first_day <= china_day(now)
        if not ended or published(records, period) is not None:
            continue
        sample = draw_sample(records, period, f"demo-{seed}{'-stock' if stock else ''}", SAMPLE_SIZE)
        if not sample.filing_ids:
            continue
        publish(records, sample, now)
        for filing_id in sample.filing_ids:
            record_check(records, filing_id, period, outcome(), "演示数据 / demo data", now, "demo")
            recorded[stock] += 1
    return recorded[False], recorded[True]


def default_quarter(now: datetime) -> Quarter:
    """The last full quarter before ``now`` (China Standard Time)."""
    return Quarter.of(china_day(now)).previous()


def seed_demo(services: Services, filings: int, *, seed: int, quarter: Quarter | None = None,
              now: datetime | None = None,
              on_filing: Callable[[int], None] | None = None) -> SeedSummary:
    """Fill the archive with ``filings`` synthetic filings of ``quarter`` as the world stands at
    ``now`` (default: the real time, and the last full quarter before it)."""
    moment = now or datetime.now(UTC)
    chosen = quarter or default_quarter(moment)
    summary = Seeder(services, seed, chosen, moment).run(filings, on_filing)
    summary.spot_checks, summary.stock_checks = record_demo_checks(services.backend.records, chosen, seed, moment)
    return summary
