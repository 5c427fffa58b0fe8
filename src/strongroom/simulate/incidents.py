"""Replays of real extraction incidents, scaled down in volume (each stops once contained,
or at its horizon or cap) but with their rate profile kept.

    dell-2024       ~5,000 requests a minute for weeks from a few partner accounts,
                    brute-forcing identifiers (three dealer accounts, permit checks with
                    half guessed numbers)
    tmobile-2023    ~0.9 M records a day from one API client (a police client with a
                    leaked list: every search a hit)
    facebook-2019   enumeration paced just under the tightest per-principal rate the
                    policy allows (computed from the policy's budgets)
    trello-2024     one account rotating through proxies, a new network per request,
                    to dodge per-IP limits
    registry-2026   one compromised dealer company account pulling tens of thousands of
                    permit checks and its ledger
"""

from __future__ import annotations

import random

from strongroom.simulate.attackers import Leaked, Triples, account, fastest_gap, network
from strongroom.simulate.calls import Call
from strongroom.simulate.campaign import Account, Campaign, Spec
from strongroom.simulate.scenarios import Builder
from strongroom.simulate.world import World

VERIFY = "POST /v1/permits/verify"
SEARCH = "POST /v1/persons/search"


def dell_2024(world: World, rng: random.Random, start: float, k: int) -> Campaign:
    triples = Triples(world, rng, hit_share=0.5)
    c = Campaign(
        Spec(
            "dell-2024",
            "~5,000 requests/minute from 3 partner (dealer) accounts, "
            "half the permit numbers guessed",
            triples.call,
            lambda r: 3 * 60 / 5000,
            horizon_days=21,
            cap_records=5000,
            cap_requests=20_000,
        ),
        start,
        rng,
    )
    dealers = world.registry.dealers
    for i in range(3):
        dealer_id, _dept = dealers[-1 - (i * 7) % len(dealers)]  # shops few users share
        account(
            world, c, "dealer", ip=f"{network(k)}.{10 + i}", label=f"dell-{i}", dealer=dealer_id
        )
    c.extra["rate_per_minute"] = 5000
    return c


def tmobile_2023(world: World, rng: random.Random, start: float, k: int) -> Campaign:
    leaked = Leaked(world, rng, hit_share=1.0)
    c = Campaign(
        Spec(
            "tmobile-2023",
            "~0.9 M records/day from one API client (police), every search a hit",
            leaked.call,
            lambda r: 86_400 / 900_000,
            horizon_days=7,
            cap_records=5000,
            cap_requests=20_000,
        ),
        start,
        rng,
    )
    account(world, c, "police", ip=f"{network(k)}.10", label="tmobile", user_agent="okhttp/4.9.3")
    c.extra["rate_per_day"] = 900_000
    return c


def facebook_2019(world: World, rng: random.Random, start: float, k: int) -> Campaign:
    gap = 1.05 * max(1.0, fastest_gap(world, "police", SEARCH))
    leaked = Leaked(world, rng, hit_share=0.3)
    c = Campaign(
        Spec(
            "facebook-2019",
            "enumeration paced just under the tightest per-principal rate budget",
            leaked.call,
            lambda r: gap,
            horizon_days=7,
            cap_records=5000,
            cap_requests=20_000,
        ),
        start,
        rng,
    )
    account(world, c, "police", ip=f"{network(k)}.10", label="facebook")
    c.extra["pace_seconds"] = round(gap, 2)
    return c


def trello_2024(world: World, rng: random.Random, start: float, k: int) -> Campaign:
    leaked = Leaked(world, rng, hit_share=0.5)
    c = Campaign(
        Spec(
            "trello-2024",
            "one account rotating through 1,000 proxies (a new network per request)",
            leaked.call,
            lambda r: 1.0,
            horizon_days=3,
            cap_records=5000,
            cap_requests=20_000,
        ),
        start,
        rng,
    )
    # A residential proxy pool: every address in its own network.
    proxies = tuple(f"{45 + i % 50}.{i // 50}.9.{i % 250 + 1}" for i in range(1000))
    account(world, c, "police", ip=proxies[0], label="trello", ips=proxies)
    return c


def registry_2026(world: World, rng: random.Random, start: float, k: int) -> Campaign:
    triples = Triples(world, rng, hit_share=0.9)

    def nxt(acct: Account, r: random.Random) -> Call:
        acct.cursor += 1
        if acct.cursor % 50 == 0:
            return Call("ledger")
        return triples.call(acct, r)

    c = Campaign(
        Spec(
            "registry-2026",
            "one compromised dealer company account pulling "
            "permit checks (a leaked buyer list) and its ledger",
            nxt,
            lambda r: 2.0,
            horizon_days=7,
            cap_records=5000,
            cap_requests=20_000,
        ),
        start,
        rng,
    )
    dealer_id, _ = world.registry.dealers[-2]
    account(world, c, "dealer", ip=f"{network(k)}.10", label="registry-2026", dealer=dealer_id)
    return c


INCIDENTS: dict[str, Builder] = {
    "dell-2024": dell_2024,
    "tmobile-2023": tmobile_2023,
    "facebook-2019": facebook_2019,
    "trello-2024": trello_2024,
    "registry-2026": registry_2026,
}
