"""What the static audit reports: a `Finding` (rule, severity, located message, fix) and the
`Rule` shape every check follows.

Rules are small objects, one check each, combined with `AllOf` (the composition of
sigstore's `verify/policy.py`): a deployment is audited by running every rule over one
`AuditInput` and collecting what they find. Severities order as low < medium < high <
critical; `--fail-on` compares against that order.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING, ClassVar, Protocol

if TYPE_CHECKING:
    from strongroom.posture.inputs import AuditInput


class Severity(IntEnum):
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @classmethod
    def parse(cls, name: str) -> Severity:
        try:
            return cls[name.strip().upper()]
        except KeyError:
            raise ValueError(
                f"unknown severity {name!r}; one of: low, medium, high, critical"
            ) from None

    @property
    def label(self) -> str:
        return self.name.lower()

    @property
    def sarif_level(self) -> str:
        """SARIF 2.1.0 §3.27.10 `level`: error, warning or note."""
        return {Severity.LOW: "note", Severity.MEDIUM: "warning"}.get(self, "error")


@dataclass(frozen=True)
class Location:
    """Where a finding points: a file (or URL) and a 1-based line; for OpenAPI findings
    also the RFC 6901 JSON pointer of the offending node."""

    uri: str
    line: int = 1
    column: int = 1
    pointer: str | None = None

    def __str__(self) -> str:
        where = f"{self.uri}:{self.line}"
        return f"{where} ({self.pointer})" if self.pointer is not None else where


@dataclass(frozen=True)
class Finding:
    rule_id: str
    rule_name: str
    severity: Severity
    message: str
    fix: str
    location: Location

    def to_dict(self) -> dict[str, object]:
        loc = self.location
        return {
            "rule_id": self.rule_id,
            "rule": self.rule_name,
            "severity": self.severity.label,
            "message": self.message,
            "fix": self.fix,
            "location": {
                "uri": loc.uri,
                "line": loc.line,
                "column": loc.column,
                "pointer": loc.pointer,
            },
        }


class Rule(Protocol):
    id: str
    name: str
    title: str
    severity: Severity  # the default; a finding may be more or less severe
    help: str

    def check(self, audit: AuditInput) -> Iterable[Finding]: ...


class BaseRule:
    """Holds a rule's metadata and builds its findings; subclasses write `check`."""

    id: ClassVar[str]
    name: ClassVar[str]
    title: ClassVar[str]
    severity: ClassVar[Severity] = Severity.HIGH
    help: ClassVar[str]

    def finding(
        self,
        message: str,
        location: Location,
        *,
        fix: str | None = None,
        severity: Severity | None = None,
    ) -> Finding:
        return Finding(
            self.id, self.name, severity or self.severity, message, fix or self.help, location
        )

    def check(self, audit: AuditInput) -> Iterable[Finding]:
        raise NotImplementedError


class AllOf:
    """Every rule, run in order over the same input; findings in rule order."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        ids = [r.id for r in rules]
        if len(ids) != len(set(ids)):
            raise ValueError("rule ids must be unique")
        self.rules = tuple(rules)

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules)

    def check(self, audit: AuditInput) -> list[Finding]:
        out: list[Finding] = []
        for rule in self.rules:
            out.extend(rule.check(audit))
        return out
