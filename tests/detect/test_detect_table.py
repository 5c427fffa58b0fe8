"""The registration table: one entry per detector, and everything derived from it."""

from __future__ import annotations

import pytest
from detect_testkit import config, engine, event

from strongroom.clock import FakeClock
from strongroom.detect import DetectConfig, DetectConfigError
from strongroom.detect.detector import Ports
from strongroom.detect.risk import RiskModel
from strongroom.detect.table import (
    ALIASES,
    BY_NAME,
    DETECTORS,
    EVIDENCE,
    FAMILIES,
    FAMILY_CAPS,
    FAMILY_HALF_LIFE,
    entry,
    independent,
)


def test_each_entry_builds_its_detector_under_its_name_and_family() -> None:
    c = DetectConfig()
    for e in DETECTORS:
        d = e.detector(c, Ports())
        assert (d.name, d.family) == (e.name, e.family)
        slot = e.state()
        assert slot is None or slot.nbytes() > 0


def test_families_and_their_figures_come_from_the_table() -> None:
    assert FAMILIES == (
        "volume",
        "enumeration",
        "breadth",
        "peer",
        "coordination",
        "honey",
        "drift",
        "linking",
        "case_growth",
        "collusion",
        "context",
    )
    assert FAMILY_CAPS["honey"] == 100 and FAMILY_CAPS["context"] == 20
    assert FAMILY_HALF_LIFE["volume"] == 900
    assert EVIDENCE == {"breadth": "amount", "peer": "amount", "drift": "amount"}
    assert independent(["breadth", "peer", "drift"]) == 1
    assert independent(["breadth", "volume"]) == 2
    rm = RiskModel(DetectConfig())
    assert rm.caps == [FAMILY_CAPS[f] for f in FAMILIES]


def test_aliases_and_parameters_are_the_tables() -> None:
    assert ALIASES["peer_deviation"] == "peer" and ALIASES["honey_records"] == "honey"
    assert entry("cusum") is BY_NAME["drift"]
    assert entry("nope") is None
    for e in DETECTORS:
        for key, default in e.params.items():
            assert DetectConfig().param(e.name, key) == default
        # Every known parameter is accepted under the detector's name and its aliases.
        for name in (e.name, *e.aliases):
            params = {k: v for k, v in e.params.items()}
            DetectConfig.from_policy_section({name: {"params": params}}, None)
    with pytest.raises(DetectConfigError, match=r"^detectors\.honey_records\.params\.rsk:"):
        DetectConfig.from_policy_section({"honey_records": {"params": {"rsk": 1}}}, None)


def test_the_engine_runs_the_enabled_entries_in_table_order() -> None:
    clock = FakeClock()
    eng = engine(clock, config({"coordination": {"enabled": False}}))
    observing = [d.name for d, _, _ in eng.detectors]
    assert observing == [e.name for e in DETECTORS if e.name not in ("coordination", "drift")]
    assert [d.name for d, _, _ in eng._day_closers] == ["peer", "drift"]
    eng.observe(event(clock))
    st = eng.states["p-1"]
    # One slot per built detector, each of the type its entry declares.
    built = [e for e in DETECTORS if e.name != "coordination"]
    assert [type(s) for s in st.slots] == [type(e.state()) for e in built]
