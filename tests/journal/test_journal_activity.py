"""The console's reads of the journal (journal/activity.py): alerts are the detector's and
security entries only, newest first; curves count records and distinct subjects per bucket
exactly as a direct count over the entries does, the same from the indexes
(journal_alerts, journal_activity) as from the log (the summaries kept for settled
buckets, or a fresh read); the cap of a read from the log is honoured and said."""

from __future__ import annotations

import random
from collections import defaultdict

import pytest

from strongroom.clock import FakeClock
from strongroom.detect.containment import Action, new_containment
from strongroom.journal import Journal, activity
from strongroom.journal.activity import RecentActivity

from .helpers import T0, event

HOUR = 3600


def journal_with_traffic(db_url: str, hours: int = 6) -> tuple[Journal, list[dict]]:
    rng = random.Random(3)
    j = Journal.open(db_url, signer=None, clock=FakeClock(), index_lag=None)
    entries = []
    for i in range(hours * 60):  # one a minute
        who = rng.choice(["p-a", "p-b", "p-c", "p-d"])
        role = "prefecture" if who == "p-d" else "police"
        subjects = tuple(f"s-{rng.randrange(40)}" for _ in range(rng.choice([1, 1, 3])))
        outcome = "refused" if i % 17 == 0 else "allowed"
        e = event(
            i,
            principal=who,
            role=role,
            subjects=subjects,
            records=len(subjects),
            outcome=outcome,
            ts=T0 + i * 60,
        )
        entries.append(e)
        j.append(e)
    return j, entries


def direct(entries: list[dict], bucket: int, *, principal=None, role=None) -> dict:
    recs: dict[int, int] = defaultdict(int)
    subs: dict[int, set] = defaultdict(set)
    for e in entries:
        if e["outcome"] != "allowed":
            continue
        if principal is not None and e["principal"] != principal:
            continue
        if role is not None and e["role"] != role:
            continue
        s = int(e["ts"] // bucket * bucket)
        recs[s] += e["records"]
        subs[s].update(e["subjects"])
    return {s: (recs[s], len(subs[s])) for s in recs}


@pytest.fixture
def from_the_log(monkeypatch: pytest.MonkeyPatch) -> None:
    """Readers never index the journal's tail themselves: with index_lag=None nothing is
    indexed, so they read the log."""
    monkeypatch.setattr(activity, "CATCH_UP_MAX", 0)


def test_curves_match_a_direct_count_cold_and_from_the_summaries(
    db_url: str, from_the_log: None
) -> None:
    j, entries = journal_with_traffic(db_url)
    act = RecentActivity(j)
    until = T0 + 6 * HOUR + 1
    for selection in ({}, {"principal": "p-a"}, {"role": "prefecture"}):
        want = direct(entries, HOUR, **selection)
        for attempt in ("cold", "cached"):
            got = act.curves(T0, until, HOUR, **selection)
            counted = {p["start"]: (p["records"], p["subjects"]) for p in got["series"]}
            assert {s: v for s, v in counted.items() if v != (0, 0)} == want, (
                selection,
                attempt,
            )
    # The principal's peers: the other police principals, their mean per bucket.
    got = act.curves(T0, until, HOUR, principal="p-a")
    assert got["peer_role"] == "police"
    first = got["series"][0]
    peers = [direct(entries, HOUR, principal=p).get(int(T0), (0, 0)) for p in ("p-b", "p-c")]
    assert first["peers"] == 2
    assert first["peer_records"] == sum(r for r, _ in peers) / 2
    # Settled buckets come from their summaries: a fresh reader reads all six hours, a
    # second read only the last hour (not settled yet).
    assert RecentActivity(j).curves(T0, until, HOUR)["scanned"] == len(entries)
    assert act.curves(T0, until, HOUR)["scanned"] == 60
    j.close()


def test_capped_curves_say_so_and_fill_in_on_the_next_views(
    db_url: str, from_the_log: None
) -> None:
    j, entries = journal_with_traffic(db_url)
    want = direct(entries, HOUR)
    act = RecentActivity(j, max_entries=150)  # two and a half hours of the six
    until = T0 + 6 * HOUR + 1
    views = []
    for _ in range(5):  # each view completes at least one more hour
        got = act.curves(T0, until, HOUR)
        views.append(got)
        assert got["scanned"] <= 150
    assert views[0]["truncated"] and not views[-1]["truncated"]
    first = {p["start"]: p["records"] for p in views[0]["series"]}
    assert first[int(T0 + 5 * HOUR)] == want[int(T0 + 5 * HOUR)][0]  # the newest, whole
    last = {p["start"]: (p["records"], p["subjects"]) for p in views[-1]["series"]}
    assert {k: v for k, v in last.items() if v != (0, 0)} == want
    j.close()


def test_alerts_are_the_detectors_and_security_entries_newest_first(
    db_url: str, monkeypatch: pytest.MonkeyPatch, from_the_log: None
) -> None:
    j, _ = journal_with_traffic(db_url, hours=2)
    c = new_containment("suspend_principal", "p-b", T0 + 7000, risk=91.0, families=("honey",))
    j.append(Action("suspend_principal", "p-b", T0 + 7000, risk=91.0, containment=c).to_entry())
    j.append(
        event(
            0,
            principal="p-c",
            kind="security",
            endpoint="oauth",
            outcome="refused",
            reason="authorization_code_replay",
            ts=T0 + 7100,
            subjects=(),
            records=0,
        )
    )
    j.append(event(0, principal="p-a", ts=T0 + 7200))
    act = RecentActivity(j)
    scan = act.alerts(T0, {"authorization_code_replay"})
    assert [e["reason"] for _, e in scan.entries] == [
        "authorization_code_replay",
        "contained:suspend_principal",
    ]
    assert not scan.truncated and scan.scanned == j.size()
    only_b = act.alerts(T0, {"authorization_code_replay"}, principal="p-b")
    assert [e["principal"] for _, e in only_b.entries] == ["p-b"]
    # Once indexed, the log is read only above what the index covers.
    j.catch_up_index()
    assert act.alerts(T0, {"authorization_code_replay"}).entries == scan.entries
    j.append(Action("throttle", "p-a", T0 + 7300, risk=55.0, families=("velocity",)).to_entry())
    polled = act.alerts(T0, {"authorization_code_replay"})
    assert polled.scanned == 1 and polled.entries[0][1]["principal"] == "p-a"
    j.catch_up_index()
    assert act.alerts(T0, {"authorization_code_replay"}).scanned == 0
    for _ in range(3):
        j.append(event(0, principal="p-a", ts=T0 + 7400))
    # The window stops the read: an hour back reads about an hour of entries.
    recent = RecentActivity(j).alerts(T0 + 7000 - HOUR, {"authorization_code_replay"})
    assert recent.scanned == 3  # the entries appended since the index's last catch-up
    monkeypatch.setattr(activity, "ALERT_MAX_ENTRIES", 10)
    capped = RecentActivity(j).alerts(T0, {"authorization_code_replay"})
    assert capped.truncated and capped.scanned == 3
    assert [e["principal"] for _, e in capped.entries] == ["p-a", "p-c", "p-b"]  # last 10
    j.close()
