"""The policy's `analytics:` section: views count a population by dimensions it has,
quasi-identifiers declare an allowed generalization, and every mistake is located."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers_policy import line_of, problems_of

from strongroom.policy import default_policy_text, load_default_policy
from strongroom.policy.model import ANALYTICS_UNIVERSES


def with_analytics(section: str) -> str:
    text = default_policy_text()
    return text[: text.index("\nanalytics:")] + "\n" + section.lstrip("\n")


def test_the_default_declares_views_over_every_universe() -> None:
    an = load_default_policy().analytics
    assert an.k == 10
    assert {v.universe for v in an.views.values()} == set(ANALYTICS_UNIVERSES)
    assert any(v.kind == "rows" for v in an.views.values())


QIS = (
    "  quasi_identifiers:\n    age: {generalize: band}\n"
    "    departement: {generalize: departement}\n"
)


@pytest.mark.parametrize(
    ("views", "fragment", "needle"),
    [
        (
            "    a: {description: d, universe: sales, dims: [holds_weapons]}\n",
            "sales are not counted by 'holds_weapons'",
            "universe: sales, dims: [holds_weapons]",
        ),
        (
            "    a: {description: d, universe: permits, kind: rows, dims: [kind]}\n",
            "row views are of persons",
            "universe: permits, kind: rows",
        ),
        (
            "    a: {description: d, universe: persons, dims: [commune]}\n",
            "'commune' is a quasi-identifier: declare its generalization",
            "dims: [commune]",
        ),
        (
            "    a: {description: d, universe: persons, dims: [age, age]}\n",
            "a dimension is named twice",
            "dims: [age, age]",
        ),
        (
            "    a: {description: d, universe: permits, dims: [departement, kind, status, age]}\n",
            "at most 3 dimensions",
            "dims: [departement, kind",
        ),
        (
            "    release_info: {description: d, universe: persons, dims: [age]}\n",
            "bad view name 'release_info'",
            "release_info:",
        ),
        (
            "    a: {description: d, universe: guns, dims: [age]}\n",
            "universe",
            "universe: guns",
        ),
    ],
)
def test_a_wrong_view_is_refused_at_its_line(
    tmp_path: Path, views: str, fragment: str, needle: str
) -> None:
    text = with_analytics(f"analytics:\n{QIS}  views:\n{views}")
    problems = problems_of(tmp_path, text)
    hits = [p for p in problems if fragment in p.message]
    assert hits, [str(p) for p in problems]
    assert hits[0].line == line_of(text, needle)


def test_a_generalization_a_quasi_identifier_does_not_have_is_refused(tmp_path: Path) -> None:
    text = with_analytics("analytics:\n  quasi_identifiers:\n    date: {generalize: band}\n")
    (p,) = problems_of(tmp_path, text)
    assert "date generalizes to day or month or year, not 'band'" in p.message
    assert p.line == line_of(text, "date: {generalize: band}")


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("  k: 0\n", "greater than or equal to 1"),
        ("  refresh_seconds: 60\n", "refresh_seconds is 0 (off) or at least 300"),
        ("  colour: blue\n", "unknown key 'colour'"),
    ],
)
def test_bad_settings_are_refused(tmp_path: Path, line: str, fragment: str) -> None:
    text = with_analytics(f"analytics:\n{line}")
    problems = problems_of(tmp_path, text)
    assert any(fragment in p.message for p in problems), [str(p) for p in problems]
