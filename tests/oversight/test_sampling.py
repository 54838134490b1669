"""The monthly sample: allocation, reproducibility from the seed, the worksheet, outcomes."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta

import pytest
from chalicelib.errors import Conflict, Invalid
from chalicelib.oversight import render
from chalicelib.oversight.periods import Month, Quarter
from chalicelib.oversight.sampling import (
    SPOT_CHECK,
    Stratum,
    allocate,
    draw,
    draw_sample,
    publish,
    published,
    record_check,
    worksheet,
)
from chalicelib.services import Services
from hypothesis import given
from hypothesis import strategies as st

from beian.demo import seed_demo

MONTH = Month(2024, 2)
A, B, C = Stratum("京", "idc-a"), Stratum("京", "idc-b"), Stratum("沪", "idc-a")
ID_NUMBER = re.compile(r"(?<![0-9A-Z])\d{17}[\dX](?![0-9A-Z])|(?<!\d)\d{15}(?!\d)")


def population(sizes: dict[Stratum, int]) -> dict[Stratum, list[str]]:
    return {stratum: [f"F{stratum.province}{stratum.provider}-{n:05d}" for n in range(size)]
            for stratum, size in sizes.items()}


def test_allocation_is_proportional_with_at_least_one_per_stratum() -> None:
    assert allocate({A: 700, B: 290, C: 10}, 100) == {A: 70, B: 29, C: 1}
    assert allocate({A: 995, B: 3, C: 2}, 10) == {A: 8, B: 1, C: 1}
    assert allocate({A: 5, B: 0, C: 1}, 100) == {A: 5, B: 0, C: 1}
    # Largest remainder, ties broken by the stratum: 10 x 1/3 = 3.33 each, one more for A.
    assert allocate({A: 3, B: 3, C: 3}, 7) == {A: 3, B: 2, C: 2}


@given(st.lists(st.integers(0, 500), min_size=1, max_size=12), st.integers(1, 300))
def test_allocation_never_exceeds_a_stratum_and_meets_the_size(sizes: list[int], total: int) -> None:
    strata = {Stratum("京", f"p{n:02d}"): size for n, size in enumerate(sizes)}
    counts = allocate(strata, total)
    assert all(0 < counts[s] <= size for s, size in strata.items() if size)
    non_empty = sum(1 for size in sizes if size)
    assert sum(counts.values()) == min(sum(sizes), max(total, non_empty))


def test_the_same_seed_draws_the_same_sample_and_another_seed_another() -> None:
    members = population({A: 400, B: 150, C: 50})
    first = draw(members, MONTH, "2024-02-published", 60)
    again = draw({s: list(reversed(ids)) for s, ids in members.items()}, MONTH, "2024-02-published", 60)
    other = draw(members, MONTH, "another-seed", 60)
    assert first == again
    assert first.filing_ids != other.filing_ids
    assert len(first.filing_ids) == len(other.filing_ids) == 60
    assert [len(s.filing_ids) for s in first.strata] == [40, 15, 5]
    assert draw(members, Month(2024, 3), "2024-02-published", 60).filing_ids != first.filing_ids


def test_anyone_can_redraw_a_stratum_from_the_published_seed() -> None:
    members = population({A: 400, B: 150, C: 50})
    sample = draw(members, MONTH, "s", 60)
    by_hand = sorted(random.Random(f"s|{MONTH.label}|{B.province}|{B.provider}").sample(sorted(members[B]), 15))
    assert list(sample.strata[1].filing_ids) == by_hand


def test_bad_sizes_and_seeds_are_refused() -> None:
    with pytest.raises(Invalid):
        draw(population({A: 10}), MONTH, "s", 0)
    with pytest.raises(Invalid):
        draw(population({A: 10}), MONTH, " ", 5)


def test_a_sample_from_the_archive_gives_a_worksheet_and_takes_outcomes(embedded: Services) -> None:
    world = datetime(2024, 4, 20, tzinfo=UTC)
    records = embedded.backend.records
    seed_demo(embedded, 400, seed=7, quarter=Quarter(2024, 1), now=world)
    # The demo published each month's sample with seed "demo-7": redrawing gives it again.
    sample = draw_sample(records, MONTH, "demo-7", 100)
    assert sample == published(records, MONTH)
    assert sample.filing_ids != draw_sample(records, MONTH, "other-seed", 100).filing_ids
    rows = worksheet(records, sample)
    assert [row.filing_id for row in rows] == list(sample.filing_ids)
    for row in rows:
        filing = records.get("filing", row.filing_id)
        assert filing is not None and filing.body["state"] != "cancelled"
        assert any(step["action"] == "submit_to_province" for step in filing.body["history"])
        assert re.fullmatch(r"1\d{10}", row.contact_mobile)
    text = render.worksheet_csv(rows) + render.worksheet_markdown(sample, rows)
    assert rows[0].contact_mobile in text
    assert not ID_NUMBER.search(text)

    publish(records, sample, world)  # the same seed again: fine
    with pytest.raises(Conflict):
        publish(records, draw_sample(records, MONTH, "other-seed", 100), world)
    checked = sample.filing_ids[0]
    record_check(records, checked, MONTH, "mismatch", "联系人称未办理", world)
    saved = record_check(records, checked, MONTH, "confirmed", "复核属实", world, "checker-1")
    assert saved.body["outcome"] == "confirmed" and saved.body["checked_by"] == "checker-1"
    assert [entry["outcome"] for entry in saved.body["history"]][-1] == "mismatch"
    assert records.get(SPOT_CHECK, f"{MONTH.label}.{checked}") is not None
    with pytest.raises(Invalid):
        record_check(records, checked, MONTH, "maybe", "", world)
    with pytest.raises(Invalid):
        record_check(records, checked, Month(2024, 3), "confirmed", "", world)


def test_a_month_is_sampled_only_once_it_has_ended_and_a_refusal_names_the_seed(embedded: Services) -> None:
    records = embedded.backend.records
    ends = datetime(2024, 2, 29, 15, 59, tzinfo=UTC)  # 23:59 on its last day in China
    with pytest.raises(Conflict) as early:
        publish(records, draw_sample(records, MONTH, "seed-1", 10), ends)
    assert early.value.field == "month" and "2024-02" in early.value.message_en
    after = ends + timedelta(minutes=1)
    publish(records, draw_sample(records, MONTH, "seed-1", 10), after)
    with pytest.raises(Conflict) as reseeded:
        publish(records, draw_sample(records, MONTH, "seed-2", 10), after)
    assert reseeded.value.field == "seed" and "'seed-1'" in reseeded.value.message_en
