"""The fast canonical JSON writer agrees with the rfc8785 reference byte for byte, and
raises where it raises."""

from __future__ import annotations

import math
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from strongroom.journal.canonical import canonical

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**60), max_value=2**60)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.floats(min_value=-1e22, max_value=1e22).map(float.__floor__).map(float)
    | st.text()
)
keys = st.text(max_size=6) | st.sampled_from(["ts", "a", "A", "é", "\ue000", "\U0001f600"])
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=5),
    max_leaves=20,
)


def reference(value: Any) -> bytes | type[Exception]:
    try:
        return rfc8785.dumps(value)
    except Exception as exc:  # noqa: BLE001 - the kind of failure is what we compare
        return type(exc)


def ours(value: Any) -> bytes | type[Exception]:
    try:
        return canonical(value)
    except Exception as exc:  # noqa: BLE001
        return type(exc)


@settings(max_examples=1500, deadline=None)
@given(values)
def test_matches_reference(value: Any) -> None:
    assert ours(value) == reference(value)


@pytest.mark.parametrize(
    "value",
    [
        1767225600.0,
        1767225600.25,
        -0.0,
        0.1,
        1e-7,
        1e-5,
        1e16,
        1e21,
        2.0**53,
        2.0**53 - 1,
        1e-6,
        -1e-6,
        9.99e-6,
        3.1078030877770066e-06,
        9.9e-7,
        1.5e-5,
        2**53 - 1,
        2**53,
        -(2**53),
        5e-324,
        1.7976931348623157e308,
        math.nan,
        math.inf,
        {"b": 1, "a": [1.0, {"é": 2, "e": 3}]},
        {"\ue000": 1, "\U0001f600": 2},
        'a\x00\x1f\x7f"\\\n\u2028😀',
        "\ud800",
        (1, 2),
        {1: "x"},
        b"bytes",
    ],
)
def test_edges_match_reference(value: Any) -> None:
    assert ours(value) == reference(value)


def test_fast_path_is_taken_for_journal_entries(monkeypatch: pytest.MonkeyPatch) -> None:
    entry = {
        "v": 1,
        "ts": 1767225600.5,
        "kind": "access",
        "principal": "p",
        "subjects": ["a", "b"],
        "records": 2,
        "detail": {"matched": False},
    }

    def refuse(_: Any) -> bytes:
        raise AssertionError("fell back to the reference writer")

    monkeypatch.setattr(rfc8785, "dumps", refuse)
    assert canonical(entry) == (
        b'{"detail":{"matched":false},"kind":"access",'
        b'"principal":"p","records":2,"subjects":["a","b"],'
        b'"ts":1767225600.5,"v":1}'
    )
