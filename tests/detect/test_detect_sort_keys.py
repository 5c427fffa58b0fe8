"""The sort keys the gate gives the detectors: order kept where a sweep shows, the value
itself not kept, and never journaled."""

from __future__ import annotations

import hashlib
from itertools import pairwise

from strongroom.events import AccessEvent
from strongroom.gate.sort_keys import id_key, name_key, number_key


def keyed(kind: str, value: str) -> bytes:
    return hashlib.sha256(f"secret|{kind}|{value}".encode()).digest()


def test_names_keep_alphabetical_order_by_their_first_letters() -> None:
    names = ["Adam", "Allard", "Bernard", "Dupont", "Dupuis", "Éléonore", "Martin", "Zola"]
    keys = [name_key(n) for n in names]
    assert keys == sorted(keys)  # type: ignore[type-var]
    assert name_key("Dupont") == name_key("DUPOND")  # three letters: the name is not kept
    assert name_key("Le Gall") == name_key("Legrand")
    assert name_key("'-") is None


def test_numbers_count_up_within_a_block_and_hide_the_block() -> None:
    run = [number_key(f"FR-75-0012{n:04d}", keyed) for n in range(3000, 3012)]
    assert all(b is not None and a is not None and b - a == 1 for a, b in pairwise(run))
    # The block (everything before the last four digits) is a keyed hash: neighbouring
    # blocks land far apart, other départements elsewhere again.
    a = number_key("FR-75-00129999", keyed)
    b = number_key("FR-75-00130000", keyed)
    c = number_key("FR-13-00129999", keyed)
    assert a is not None and b is not None and c is not None
    assert abs(b - a) > 10_000 and abs(c - a) > 10_000
    assert number_key("BEK00001234", keyed) != number_key("BRK00001234", keyed)
    assert number_key("no digits", keyed) is None


def test_ids_order_by_their_leading_bits() -> None:
    ids = ["00000000-0000-4000-8000-000000000001", "7fffffff-0000-4000-8000-000000000001"]
    assert id_key(ids[0]) == 0.0 and (id_key(ids[1]) or 0) > 0
    assert id_key("not-an-id") is None


def test_the_sort_key_never_reaches_the_journal() -> None:
    ev = AccessEvent(
        ts=1.0,
        kind="access",
        principal="p",
        role="police",
        endpoint="POST /v1/persons/search",
        outcome="allowed",
        detail={"matched": True},
        sort_key=1234.0,
    )
    entry = ev.to_entry()
    assert "sort_key" not in entry and "sort_key" not in entry["detail"]
