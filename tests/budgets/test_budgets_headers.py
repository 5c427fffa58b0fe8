"""RateLimit-Policy and RateLimit (draft-ietf-httpapi-ratelimit-headers): Structured Field
Lists of one String Item with integer / string parameters, for the most constrained
enforcing budget; the 429 carries Retry-After and the refusing budget."""

from __future__ import annotations

import re

import pytest

from strongroom.budgets import Backend, BudgetKeys, Budgets, BudgetSpec
from strongroom.budgets.ratelimit_headers import policy_field
from strongroom.clock import FakeClock
from strongroom.errors import TooManyRequests

# RFC 9651: sf-string, then parameters ;key=sf-integer or ;key=sf-string
SF_ITEM = re.compile(
    r'^"((?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*)"'
    r'((?:;[a-z*][a-z0-9_.*-]*=(?:-?\d{1,15}|"(?:[^"\\]|\\["\\])*"))*)$'
)


def parse(field: str) -> tuple[str, dict[str, str]]:
    m = SF_ITEM.match(field)
    assert m, f"not an sf-item: {field!r}"
    params = dict(p.split("=", 1) for p in m.group(2).split(";")[1:])
    return m.group(1), params


def keys() -> BudgetKeys:
    return BudgetKeys(principal="p1", role="police")


def test_headers_name_the_most_constrained_budget(backend: Backend) -> None:
    clock = FakeClock()
    b = Budgets(
        [
            BudgetSpec("req_min", "principal", "requests", 60, 60),
            BudgetSpec("rec_hour", "principal", "records", 100, 3600),
            BudgetSpec("tight_shadow", "principal", "requests", 1, 60, shadow=True),
        ],
        backend,
        clock,
    )
    r = b.reserve(keys(), records=80)
    b.settle(r, 70, [])
    h = b.headers(r)
    name, policy = parse(h["RateLimit-Policy"])
    assert (name, policy) == ("rec_hour", {"q": "100", "w": "3600", "qu": '"records"'})
    name, live = parse(h["RateLimit"])
    assert (name, live) == ("rec_hour", {"r": "30", "t": "3660"})


def test_refusal_carries_retry_after_and_the_budget(backend: Backend) -> None:
    b = Budgets([BudgetSpec("req_min", "principal", "requests", 1, 60)], backend, FakeClock())
    b.reserve(keys())
    with pytest.raises(TooManyRequests) as info:
        b.reserve(keys())
    h = info.value.headers
    assert h["Retry-After"] == "61"
    assert parse(h["RateLimit"]) == ("req_min", {"r": "0", "t": "61"})
    assert info.value.extra["budget"] == "req_min"


def test_no_enforcing_budget_no_headers(backend: Backend) -> None:
    b = Budgets(
        [BudgetSpec("s", "principal", "requests", 5, 60, shadow=True)], backend, FakeClock()
    )
    assert b.headers(b.reserve(keys())) == {}


def test_policy_names_are_escaped_sf_strings() -> None:
    name, _ = parse(policy_field('a"b\\c', 1, 60, "requests"))
    assert name == 'a\\"b\\\\c'
