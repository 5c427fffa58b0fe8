"""Search specificity: a search must name one of an endpoint's alternatives exactly (e.g.
family name + birth date, or a permit number), each value a single exact scalar. Wildcards
(`*`, `%`, `?`), ranges (`..`), lists, mappings, booleans and empty values are refused:
they turn a lookup into a sweep. Refusals never echo the value."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from strongroom.errors import BadRequest, InsufficientSpecificity

WILDCARDS = ("*", "%", "?", "..")


class SearchRule:
    __slots__ = ("endpoint", "alternatives", "allowed")

    def __init__(self, endpoint: str, alternatives: list[list[str]], filterable: list[str]) -> None:
        self.endpoint = endpoint
        self.alternatives = tuple(frozenset(alt) for alt in alternatives)
        self.allowed = frozenset().union(*self.alternatives, filterable)

    def check(self, given: Mapping[str, object]) -> None:
        if not isinstance(given, Mapping):
            raise InsufficientSpecificity("search criteria must be a mapping of field to value")
        unknown = sorted(str(k) for k in given if k not in self.allowed)
        if unknown:
            raise BadRequest(
                f"{self.endpoint} cannot be searched by {', '.join(unknown)}",
                reason="field_not_searchable",
                extra={"fields": unknown},
            )
        for name, value in given.items():
            problem = _why_not_exact(value)
            if problem:
                raise InsufficientSpecificity(
                    f"{name}: {problem}; searches take exact values only",
                    extra={"field": name},
                )
        if self.alternatives and not any(alt <= given.keys() for alt in self.alternatives):
            wanted = " or ".join("+".join(sorted(alt)) for alt in self.alternatives)
            raise InsufficientSpecificity(
                f"{self.endpoint} needs exactly one of: {wanted}",
                extra={"alternatives": [sorted(alt) for alt in self.alternatives]},
            )


def _why_not_exact(value: object) -> str | None:
    if value is None:
        return "no value"
    if isinstance(value, bool):
        return "a boolean is not an identifying value"
    if isinstance(value, int | dt.date):
        return None
    if isinstance(value, str):
        if not value.strip():
            return "empty value"
        if any(w in value for w in WILDCARDS):
            return "wildcard, prefix or range"
        return None
    return f"a {type(value).__name__} is not a single exact value"
