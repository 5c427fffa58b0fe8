"""The metrics the core layers keep (strongroom/metrics.py): budget refusals by budget,
detections by family and containments by action, journal append latency. Read as deltas
of this process's registry, as a scrape would show them."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from strongroom.budgets import BudgetKeys, Budgets, BudgetSpec, MemoryBackend
from strongroom.clock import FakeClock
from strongroom.errors import TooManyRequests
from strongroom.journal import Journal
from tests.detect.detect_testkit import engine, event, only
from tests.journal.helpers import event as journal_event


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_budget_refusals_are_counted_by_budget() -> None:
    clock = FakeClock()
    b = Budgets(
        [
            BudgetSpec("m_minute", "principal", "requests", 2, 60),
            BudgetSpec("m_shadow", "principal", "requests", 1, 60, shadow=True),
        ],
        MemoryBackend(),
        clock,
    )
    keys = BudgetKeys(principal="metrics-p1", role="police")
    before = value("strongroom_budget_refusals_total", budget="m_minute")
    shadow_before = value("strongroom_budget_shadow_refusals_total", budget="m_shadow")
    b.reserve(keys)
    b.reserve(keys)  # the shadow budget would have refused this one
    for _ in range(3):
        with pytest.raises(TooManyRequests):
            b.reserve(keys)
    assert value("strongroom_budget_refusals_total", budget="m_minute") - before == 3
    assert value("strongroom_budget_shadow_refusals_total", budget="m_shadow") > shadow_before


def test_a_page_shortened_to_fit_is_not_a_refusal() -> None:
    b = Budgets(
        [BudgetSpec("m_records", "principal", "records", 10, 60)], MemoryBackend(), FakeClock()
    )
    keys = BudgetKeys(principal="metrics-p2", role="police")
    before = value("strongroom_budget_refusals_total", budget="m_records")
    r = b.reserve(keys, records=8)
    b.settle(r, 8, ["s1"])
    assert b.reserve(keys, records=5, min_records=1).records == 2  # shortened, not refused
    assert value("strongroom_budget_refusals_total", budget="m_records") == before
    with pytest.raises(TooManyRequests):
        b.reserve(keys, records=5, min_records=3)
    assert value("strongroom_budget_refusals_total", budget="m_records") == before + 1


def test_detections_by_family_and_containments_by_action() -> None:
    clock = FakeClock()
    eng = engine(clock, only({"velocity": {}, "enumeration": {}}))
    labels = {"family": "volume", "detector": "velocity", "shadow": "false"}
    before = value("strongroom_detections_total", **labels)
    throttles = value("strongroom_containments_total", action="throttle", shadow="false")
    fired = []
    for n in range(60):
        fired += [
            a.action for a in eng.observe(event(clock, "metrics-p3", sort_key=n, matched=False))
        ]
        clock.advance(0.5)
    assert "throttle" in fired
    assert value("strongroom_detections_total", **labels) > before
    assert value(
        "strongroom_containments_total", action="throttle", shadow="false"
    ) - throttles == fired.count("throttle")


def test_journal_append_latency_is_observed_per_waited_append(tmp_path: Path) -> None:
    journal = Journal.open(
        f"sqlite:///{tmp_path / 'j.db'}", signer=None, clock=FakeClock(), index_lag=None
    )
    try:
        before = value("strongroom_journal_append_seconds_count")
        for i in range(5):
            journal.append(journal_event(i))
        journal.append_unwaited(journal_event(5, outcome="refused"))  # nobody waits: not timed
        journal.flush()
        assert value("strongroom_journal_append_seconds_count") - before == 5
    finally:
        journal.close()
