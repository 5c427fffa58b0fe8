"""Helpers for the policy tests: mutate the shipped default and find where a line is."""

from __future__ import annotations

from pathlib import Path

import pytest

from strongroom.policy import PolicyError, default_policy_text, load_policy


def line_of(text: str, needle: str, nth: int = 0) -> int:
    """1-based line number of the nth line containing needle."""
    hits = [i + 1 for i, line in enumerate(text.splitlines()) if needle in line]
    if len(hits) <= nth:
        raise AssertionError(f"{needle!r} not in text")
    return hits[nth]


def mutate(old: str, new: str, count: int = 1) -> str:
    text = default_policy_text()
    if old not in text:
        raise AssertionError(f"{old!r} not in the default policy")
    return text.replace(old, new, count)


def problems_of(tmp_path: Path, text: str, name: str = "policy.yaml") -> list:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    for p in info.value.problems:
        assert p.file == str(path)
    return info.value.problems
