"""The console's indexes beside the journal (journal_alerts, journal_activity): the alerts
and hourly curves read from them are the ones read from the log itself, on a journal of
varied traffic, after appends from two writers and many threads at once, and on a journal
whose index was written before these tables existed (rebuilt when it is opened)."""

from __future__ import annotations

import json
import random
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select
from typer.testing import CliRunner

from strongroom.cli.journal_cmds import journal_app
from strongroom.clock import FakeClock
from strongroom.config import Home
from strongroom.detect.containment import Action, new_containment
from strongroom.gate.audit import AUTHENTICATION_ALERTS, alert_dict
from strongroom.journal import Journal, activity, engines, load_signer, store, tables
from strongroom.journal.activity import RecentActivity

from .helpers import T0, event

HOUR = 3600
DAY = 86_400
HOURS = 8
UNTIL = T0 + HOURS * HOUR + 1
SELECTIONS: list[dict[str, str]] = [
    {},
    {"principal": "p-a"},
    {"principal": "p-d"},
    {"principal": "p-nobody"},
    {"role": "police"},
    {"role": "prefecture"},
    {"role": "dealer"},
]


def traffic(n: int, seed: int, over: float = HOURS * HOUR) -> list[dict[str, Any]]:
    """Entries over `over` seconds (HOURS hours): accesses allowed, masked, refused and by
    an administrator (which the curves leave out), the detectors' decisions and security
    events."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        ts = T0 + rng.uniform(0, over)
        who = rng.choice(["p-a", "p-b", "p-c", "p-d", "p-e"])
        role = "prefecture" if who in ("p-d", "p-e") else "police"
        roll = rng.random()
        if roll < 0.04:
            fam = rng.choice([("velocity",), ("honey",), ("breadth", "enumeration")])
            risk = rng.choice([20.0, 55.0, 91.0])
            c = new_containment("suspend_principal", who, ts, risk=risk, families=fam)
            out.append(
                Action(
                    "suspend_principal" if risk > 90 else "throttle",
                    who,
                    ts,
                    risk=risk,
                    families=fam,
                    role=role,
                    containment=c if risk > 90 else None,
                ).to_entry()
            )
            continue
        if roll < 0.08:
            reason = rng.choice([*AUTHENTICATION_ALERTS, "token_expired"])
            out.append(
                event(
                    0,
                    principal=who,
                    role=role,
                    kind="security",
                    endpoint="oauth",
                    outcome="refused",
                    reason=reason,
                    ts=ts,
                    subjects=(),
                    records=0,
                )
            )
            continue
        subjects = tuple(f"s-{rng.randrange(60)}" for _ in range(rng.choice([1, 1, 2, 4])))
        out.append(
            event(
                0,
                principal=who,
                role=role,
                kind="admin" if roll < 0.1 else "access",
                outcome=rng.choice(["allowed", "allowed", "masked", "refused"]),
                subjects=subjects,
                records=len(subjects),
                ts=ts,
            )
        )
    out.sort(key=lambda e: e["ts"])  # appended in time order, as the service does
    return out


def from_log_and_index(j: Journal, monkeypatch: pytest.MonkeyPatch, read: Any) -> tuple[Any, Any]:
    """`read(activity)` from the log (nothing indexed, readers not allowed to index), then
    from the indexes (the reader catches them up)."""
    assert j.indexed_size() == 0
    with monkeypatch.context() as m:
        m.setattr(activity, "CATCH_UP_MAX", 0)
        slow = read(RecentActivity(j))
    fast = read(RecentActivity(j))
    assert j.indexed_size() == j.size()
    return slow, fast


def alerts_shown(scan: activity.Scan, **filters: Any) -> list[dict[str, Any]]:
    """The alerts as the console and /v1/alerts show them (gate/audit.py's filters)."""
    out = []
    for index, e in scan.entries:
        a = alert_dict(index, e)
        if "family" in filters and filters["family"] not in a["families"]:
            continue
        if "role" in filters and a["role"] != filters["role"]:
            continue
        if "severity" in filters and a["severity"] < filters["severity"]:
            continue
        out.append(a)
    return out


ALERT_FILTERS: list[dict[str, Any]] = [
    {},
    {"family": "honey"},
    {"family": "authentication"},
    {"role": "prefecture"},
    {"severity": 4},
    {"family": "velocity", "role": "police", "severity": 2},
]


def test_indexed_alerts_and_curves_are_the_logs(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    entries = traffic(1500, seed=5)
    j = Journal.open(db_url, signer=None, clock=FakeClock(), index_lag=None)
    for e in entries:
        j.append(e)

    def read(act: RecentActivity) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, sel in enumerate(SELECTIONS):
            got = act.curves(T0, UNTIL, HOUR, **sel)
            out[f"curves{k}"] = (got["peer_role"], got["series"])
        for since in (T0, T0 + 5 * HOUR):
            for who in (None, "p-b"):
                scan = act.alerts(since, AUTHENTICATION_ALERTS, who)
                for k, f in enumerate(ALERT_FILTERS):
                    out[f"alerts {since} {who} {k}"] = alerts_shown(scan, **f)
        return out

    slow, fast = from_log_and_index(j, monkeypatch, read)
    assert fast == slow
    # and both are what the entries say
    for k, sel in enumerate(SELECTIONS):
        want = direct(entries, **sel)
        counted = {p["start"]: (p["records"], p["subjects"]) for p in fast[f"curves{k}"][1]}
        assert {s: v for s, v in counted.items() if v != (0, 0)} == want, sel
    assert fast["curves1"][0] == "police" and fast["curves2"][0] == "prefecture"
    assert any(p["peers"] for p in fast["curves1"][1])
    assert fast[f"alerts {T0} None 1"], "the traffic holds honey alerts"
    assert fast[f"alerts {T0} None 2"], "and authentication ones"
    j.close()


def direct(
    entries: list[dict[str, Any]],
    *,
    principal: str | None = None,
    role: str | None = None,
    bucket: int = HOUR,
) -> dict[int, tuple[int, int]]:
    """Records and distinct subjects per hour (or `bucket` seconds) counted over the
    entries themselves: those that disclosed data (allowed, masked), not to an
    administrator."""
    recs: dict[int, int] = defaultdict(int)
    subs: dict[int, set[str]] = defaultdict(set)
    for e in entries:
        if e["outcome"] not in ("allowed", "masked") or e["kind"] == "admin":
            continue
        if principal not in (None, e["principal"]) or role not in (None, e["role"]):
            continue
        s = int(e["ts"] // bucket * bucket)
        recs[s] += e["records"]
        subs[s].update(e["subjects"])
    return {s: (recs[s], len(subs[s])) for s in recs}


def test_indexed_daily_curves_are_the_logs(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Daily curves (distinct subjects of a day, which its hours cannot sum) from
    journal_activity_daily, against the log's and a direct count, over four days."""
    entries = traffic(1500, seed=11, over=4 * DAY)
    j = Journal.open(db_url, signer=None, clock=FakeClock(), index_lag=None)
    for e in entries:
        j.append(e)
    until = T0 + 4 * DAY + 1

    def read(act: RecentActivity) -> dict[str, Any]:
        out = {}
        for k, sel in enumerate(SELECTIONS):
            got = act.curves(T0, until, DAY, **sel)
            out[f"curves{k}"] = (got["peer_role"], got["series"], got["scanned"])
        return out

    slow, fast = from_log_and_index(j, monkeypatch, read)
    for k, sel in enumerate(SELECTIONS):
        assert fast[f"curves{k}"][:2] == slow[f"curves{k}"][:2], sel
        assert fast[f"curves{k}"][2] == 0 and slow[f"curves{k}"][2] > 0  # index, log
        counted = {p["start"]: (p["records"], p["subjects"]) for p in fast[f"curves{k}"][1]}
        want = direct(entries, bucket=DAY, **sel)
        assert {s: v for s, v in counted.items() if v != (0, 0)} == want, sel
    # A day's distinct subjects are fewer than the sum of its hours'.
    hours = sum(v[1] for v in direct(entries, bucket=HOUR).values() if v)
    assert sum(v[1] for v in direct(entries, bucket=DAY).values()) < hours
    j.close()


def test_index_stays_exact_with_two_writers_and_many_threads(db_url: str) -> None:
    """Two journals on one database (two server processes) each append from four threads
    and index their own entries as they go, interleaved with the other's."""
    entries = traffic(1600, seed=9)
    first = Journal.open(db_url, signer=None, clock=FakeClock(), index_lag=16)
    second = Journal.open(db_url, signer=None, clock=FakeClock(), index_lag=16)
    writers = [first, second]

    def work(k: int) -> None:
        for n, e in enumerate(entries[k::8]):
            writers[(k + n) % 2].append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    deadline = time.monotonic() + 30
    while first.indexed_size() < first.size() and time.monotonic() < deadline:
        time.sleep(0.05)  # the writers index the rest when idle
    assert first.size() == len(entries)
    assert first.indexed_size() == len(entries)
    act = RecentActivity(first)
    got = act.curves(T0, UNTIL, HOUR)
    assert got["scanned"] == 0  # from the index
    counted = {p["start"]: (p["records"], p["subjects"]) for p in got["series"]}
    assert {s: v for s, v in counted.items() if v != (0, 0)} == direct(entries)
    for sel in SELECTIONS[1:]:
        want = direct(entries, **sel)
        series = act.curves(T0, UNTIL, HOUR, **sel)["series"]
        counted = {p["start"]: (p["records"], p["subjects"]) for p in series}
        assert {s: v for s, v in counted.items() if v != (0, 0)} == want, sel
    scan = act.alerts(T0, AUTHENTICATION_ALERTS)
    assert scan.scanned == 0
    want_alerts = sorted(
        (e["ts"], e["principal"])
        for e in entries
        if e.get("endpoint") == "detect"
        or (e["kind"] == "security" and e.get("reason") in AUTHENTICATION_ALERTS)
    )
    assert sorted((e["ts"], e["principal"]) for _, e in scan.entries) == want_alerts
    first.close()
    second.close()


def to_layout_1(url: str) -> None:
    """Make the journal's index database what software before the console indexes left:
    the investigation indexes, no alerts or activity tables, no layout version."""
    _, index = engines.make_engines(url)
    with engines.writing(index, index=True) as conn:
        for table in (
            tables.alerts,
            tables.activity,
            tables.activity_subjects,
            tables.activity_daily,
            tables.activity_daily_subjects,
        ):
            table.drop(conn)
        conn.execute(
            delete(tables.index_meta).where(tables.index_meta.c.key == tables.INDEX_VERSION_KEY)
        )
    index.dispose()


def test_a_journal_indexed_before_the_console_indexes_gets_them(db_url: str) -> None:
    entries = traffic(600, seed=2)
    j = Journal.open(db_url, signer=None, clock=FakeClock(), index_lag=None)
    for e in entries:
        j.append(e)
    j.catch_up_index()
    j.close()
    to_layout_1(db_url)
    # Opened again, the index is emptied and the writer rebuilds it from the log when idle.
    j = Journal.open(db_url, signer=None, clock=FakeClock())
    assert j.indexed_size() < len(entries)
    deadline = time.monotonic() + 30
    while j.indexed_size() < j.size() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert j.indexed_size() == len(entries)
    got = RecentActivity(j).curves(T0, UNTIL, HOUR)
    assert got["scanned"] == 0
    counted = {p["start"]: (p["records"], p["subjects"]) for p in got["series"]}
    assert {s: v for s, v in counted.items() if v != (0, 0)} == direct(entries)
    j.close()


def test_journal_reindex_builds_an_old_journals_indexes_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = Home(tmp_path / "home")
    home.ensure_dirs()
    home.write_config(home.default_settings())
    monkeypatch.setenv("STRONGROOM_HOME", str(home.path))
    url = home.settings().journal_url
    assert CliRunner().invoke(journal_app, ["init-key"]).exit_code == 0
    entries = traffic(400, seed=4)
    j = Journal.open(url, signer=load_signer(home.keys_dir), clock=FakeClock(), index_lag=None)
    for e in entries:
        j.append(e)
    j.make_checkpoint()
    j.catch_up_index()
    j.close()
    to_layout_1(url)
    res = CliRunner().invoke(journal_app, ["reindex"])
    assert res.exit_code == 0, res.output
    assert f"the indexes cover {len(entries)} of {len(entries)}" in res.output
    j = Journal.open(url, signer=None, clock=FakeClock(), index_lag=None)
    assert j.indexed_size() == len(entries)
    with monkeypatch.context() as m:
        m.setattr(activity, "CATCH_UP_MAX", 0)  # the reader must not index anything itself
        got = RecentActivity(j).curves(T0, UNTIL, HOUR, principal="p-c")
    j.close()
    assert got["scanned"] == 0
    counted = {p["start"]: (p["records"], p["subjects"]) for p in got["series"]}
    assert {s: v for s, v in counted.items() if v != (0, 0)} == direct(entries, principal="p-c")
    # The log and its checkpoint are untouched: verification still holds.
    res = CliRunner().invoke(journal_app, ["verify", "--json", "--offline"])
    assert res.exit_code == 0 and json.loads(res.output)["ok"] is True, res.output


def test_old_hours_subjects_are_forgotten_one_hour_at_a_time(db_url: str) -> None:
    """The subjects an hour counted are kept ACTIVITY_KEEP_SECONDS behind the newest hour,
    then deleted an hour at a time; the hour's counts stay."""
    j = Journal.open(db_url, signer=None, clock=FakeClock(), index_lag=None)
    days = tables.ACTIVITY_KEEP_SECONDS // HOUR
    for h in range(days + 3):
        j.append(event(0, principal="p-a", subjects=("s-1", "s-2"), ts=T0 + h * HOUR))
    j.catch_up_index()
    t = tables.activity_subjects

    def hours() -> list[int]:
        return j._query(
            lambda c: sorted({int(h) for h in c.execute(select(t.c.hour)).scalars()}),
            index=True,
        )

    assert len(hours()) == days + 3
    with engines.writing(j.index_engine, index=True) as conn:
        assert store.prune_activity(conn) == 2
    assert hours()[0] == int(T0 + HOUR)
    with engines.writing(j.index_engine, index=True) as conn:
        assert store.prune_activity(conn) == 2
        assert store.prune_activity(conn) == 0  # the rest is within the keep
    assert hours()[0] == int(T0 + 2 * HOUR)
    got = RecentActivity(j).curves(T0, T0 + 3 * HOUR, HOUR, principal="p-a")
    assert [p["subjects"] for p in got["series"]] == [2, 2, 2]
    j.close()
