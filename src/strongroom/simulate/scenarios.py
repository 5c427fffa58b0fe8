"""The attack scenarios of issue 6, each built on the world as a `Campaign`.

enumerator            random UUIDs on GET /v1/persons/{id} and a serial sweep on
                      POST /v1/weapons/lookup (a stolen prefecture account)
name-sweeper          exact searches, family names in alphabetical order against
                      birth dates swept day by day (a stolen police account)
postcode-sweeper      searches by postcode (a shape the policy refuses), then a sweep
                      of a leaked list département by département (prefecture)
low-and-slow          a prefecture agent's own département read under every budget,
                      in office hours, for 30 days
distributed-scraper   50 police accounts behind 20 IPs sharing one leaked list
insider               a prefecture agent harvesting full records (addresses) of the
                      département beyond any case, at a human pace
canary-hitter         reads through a département's files; the first canary read
                      should be the last answered request

The prefecture scenarios (low-and-slow, insider, canary-hitter) are insiders: they hold
the second factor, answer step-ups and log in again after a session suspension.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, timedelta

from strongroom.simulate.attackers import (
    IdList,
    Leaked,
    account,
    canary_departement,
    daily_allowance,
    departements_by_size,
    network,
    random_uuid,
    read,
    search,
)
from strongroom.simulate.calls import Call
from strongroom.simulate.campaign import Account, Campaign, Spec
from strongroom.simulate.world import World

Builder = Callable[[World, random.Random, float, int], Campaign]


def enumerator(world: World, rng: random.Random, start: float, k: int) -> Campaign:
    prefix, letter, first = "GL", "K", rng.randrange(10**7)

    def nxt(acct: Account, r: random.Random) -> Call:
        acct.cursor += 1
        if acct.cursor % 2:
            return Call("person", {"id": random_uuid(r)})
        return Call("weapon", {"serial": f"{prefix}{letter}{first + acct.cursor // 2:08d}"})

    c = Campaign(
        Spec(
            "enumerator",
            "random UUIDs on person reads, a serial sweep on weapon "
            "lookups (stolen prefecture account)",
            nxt,
            lambda r: 0.5,
            horizon_days=1,
            target=50,
            cap_requests=1500,
        ),
        start,
        rng,
    )
    dept = departements_by_size(world)[0]
    account(world, c, "prefecture", ip=f"{network(k)}.10", label="enumerator", departement=dept)
    return c


def name_sweeper(world: World, rng: random.Random, start: float, k: int) -> Campaign:
    names = world.registry.family_names[:400]

    def nxt(acct: Account, _r: random.Random) -> Call:
        i = acct.cursor
        acct.cursor += 1
        day = i // len(names)
        return search(names[i % len(names)], (date(1950, 1, 1) + timedelta(days=day)).isoformat())

    c = Campaign(
        Spec(
            "name-sweeper",
            "exact searches: family names alphabetically, birth "
            "dates day by day (stolen police account)",
            nxt,
            lambda r: 2.0,
            horizon_days=1,
            target=100,
            cap_records=200,
            cap_requests=3000,
        ),
        start,
        rng,
    )
    account(world, c, "police", ip=f"{network(k)}.10", label="name-sweeper")
    return c


def postcode_sweeper(world: World, rng: random.Random, start: float, k: int) -> Campaign:
    reg = world.registry
    postcodes = [f"{d:02d}{n:03d}" for d in range(1, 96) for n in (0, 100, 200)]
    by_dept = sorted(reg.sample, key=lambda p: (p.departement, p.family_name))

    def nxt(acct: Account, r: random.Random) -> Call:
        i = acct.cursor
        acct.cursor += 1
        if acct.index == 0:  # a directory-style query: refused by the policy's shape
            return Call("search", {"query": {"postcode": postcodes[i % len(postcodes)]}})
        p = by_dept[i % len(by_dept)]
        return search(p.family_name, p.birth_date)

    c = Campaign(
        Spec(
            "postcode-sweeper",
            "searches by postcode, then a leaked list swept "
            "département by département (police and prefecture accounts)",
            nxt,
            lambda r: 2.0,
            horizon_days=1,
            target=100,
            cap_records=200,
            cap_requests=3000,
        ),
        start,
        rng,
    )
    account(world, c, "police", ip=f"{network(k)}.10", label="postcode-sweeper")
    account(
        world,
        c,
        "prefecture",
        ip=f"{network(k)}.11",
        label="departement-sweeper",
        departement=departements_by_size(world)[0],
    )
    return c


def low_and_slow(world: World, rng: random.Random, start: float, k: int) -> Campaign:
    dept = departements_by_size(world)[min(1, len(world.registry.by_dept) - 1)]
    per_day = 0.9 * daily_allowance(world, "prefecture")
    per_day = max(1.0, min(per_day, 200.0))
    ids = IdList(world.registry.by_dept[dept], rng)
    c = Campaign(
        Spec(
            "low-and-slow",
            "a prefecture agent's own département read under every budget, office hours, 30 days",
            ids.call,
            lambda r: r.uniform(0.8, 1.2) * 8 * 3600 / per_day,
            horizon_days=30,
            target=1000,
            hours=(9, 17),
            cap_requests=5000,
            second_factor=True,
        ),
        start,
        rng,
    )
    c.extra["pace_records_per_day"] = round(per_day, 1)
    account(
        world,
        c,
        "prefecture",
        ip=f"{network(k)}.10",
        label="low-and-slow",
        departement=dept,
        user_agent="Mozilla/5.0 sim-prefecture-3",
    )
    return c


def distributed_scraper(world: World, rng: random.Random, start: float, k: int) -> Campaign:
    leaked = Leaked(world, rng, hit_share=0.8)
    c = Campaign(
        Spec(
            "distributed-scraper",
            "50 police accounts behind 20 proxy IPs splitting one leaked list",
            leaked.call,
            lambda r: r.uniform(40, 80),
            horizon_days=3,
            target=5000,
            cap_records=7500,
            cap_requests=20_000,
        ),
        start,
        rng,
    )
    proxies = [f"185.{k}.{i}.{20 + i}" for i in range(20)]  # 20 networks
    for i in range(50):
        account(world, c, "police", ip=proxies[i % 20], label=f"scraper-{i}")
    return c


def insider(world: World, rng: random.Random, start: float, k: int) -> Campaign:
    dept = departements_by_size(world)[0]
    ids = IdList(world.registry.by_dept[dept], rng)
    c = Campaign(
        Spec(
            "insider",
            "a prefecture agent harvesting full records (addresses) "
            "of the département beyond any case, at a human pace",
            ids.call,
            lambda r: r.uniform(30, 90),
            horizon_days=5,
            target=200,
            target_note="records outside the caseload",
            hours=(8.5, 18),
            cap_records=400,
            second_factor=True,
        ),
        start,
        rng,
    )
    account(
        world,
        c,
        "prefecture",
        ip=f"{network(k)}.10",
        label="insider",
        departement=dept,
        user_agent="Mozilla/5.0 sim-prefecture-1",
    )
    return c


def canary_hitter(world: World, rng: random.Random, start: float, k: int) -> Campaign:
    dept = canary_departement(world) or departements_by_size(world)[0]
    ordinary = [p for p in world.registry.by_dept[dept] if not p.canary]
    rng.shuffle(ordinary)
    canaries = world.registry.canaries_in(dept)
    at = min(len(ordinary), rng.randint(5, 15))
    people = ordinary[:at] + canaries[:1] + ordinary[at:]

    def nxt(acct: Account, _r: random.Random) -> Call:
        acct.cursor += 1  # round and round the département until something stops it
        return read(people[(acct.cursor - 1) % len(people)])

    c = Campaign(
        Spec(
            "canary-hitter",
            "reads through a département's files and meets a honey record",
            nxt,
            lambda r: r.uniform(20, 60),
            horizon_days=1,
            target=None,
            target_note="no record answered after the first canary",
            hours=None,
            second_factor=True,
        ),
        start,
        rng,
    )
    c.extra["canary_available"] = bool(canaries)
    account(world, c, "prefecture", ip=f"{network(k)}.10", label="canary-hitter", departement=dept)
    return c


CORE: dict[str, Builder] = {
    "enumerator": enumerator,
    "name-sweeper": name_sweeper,
    "postcode-sweeper": postcode_sweeper,
    "low-and-slow": low_and_slow,
    "distributed-scraper": distributed_scraper,
    "insider": insider,
    "canary-hitter": canary_hitter,
}
