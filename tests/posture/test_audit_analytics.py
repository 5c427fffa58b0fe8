"""The audit's analytics rules: SR020 (k too small) and SR021 (a quasi-identifier left
ungeneralized), by severity, located at the line that holds the flaw; the shipped default
has neither."""

from __future__ import annotations

from pathlib import Path

import pytest

from strongroom.policy import DEFAULT_POLICY_PATH, default_policy_text
from strongroom.posture import Severity, load_audit_input, run_audit
from strongroom.posture.audit import AuditReport
from strongroom.posture.rules_policy import AnalyticsSmallK, AnalyticsUngeneralized

OPENAPI = {"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": {}}


def audit(tmp_path: Path, analytics: str) -> tuple[AuditReport, list[str]]:
    text = default_policy_text()
    text = text[: text.index("\nanalytics:")] + "\n" + analytics.lstrip("\n")
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    report = run_audit(load_audit_input(str(path), OPENAPI))
    return report, text.splitlines()


def view(dims: str, kind: str = "counts", universe: str = "persons") -> str:
    return (
        f"    v_{kind}:\n      description: d\n      universe: {universe}\n"
        f"      kind: {kind}\n      dims: [{dims}]\n"
    )


def test_the_default_policy_has_no_analytics_finding() -> None:
    report = run_audit(load_audit_input(str(DEFAULT_POLICY_PATH), OPENAPI))
    assert report.by_rule(AnalyticsSmallK.id) == []
    assert report.by_rule(AnalyticsUngeneralized.id) == []


@pytest.mark.parametrize(
    ("k", "severity"),
    [(1, Severity.CRITICAL), (3, Severity.HIGH), (7, Severity.MEDIUM), (10, None), (25, None)],
)
def test_a_small_k_is_reported_by_how_small(
    tmp_path: Path, k: int, severity: Severity | None
) -> None:
    report, lines = audit(
        tmp_path,
        f"analytics:\n  k: {k}\n  quasi_identifiers:\n    departement: {{generalize: region}}\n"
        f"  views:\n{view('departement')}",
    )
    found = report.by_rule(AnalyticsSmallK.id)
    if severity is None:
        assert found == []
        return
    (f,) = found
    assert f.severity == severity
    assert lines[f.location.line - 1].strip() == f"k: {k}"


def test_k_without_views_is_not_reported(tmp_path: Path) -> None:
    report, _ = audit(tmp_path, "analytics:\n  k: 2\n")
    assert report.by_rule(AnalyticsSmallK.id) == []


QIS = (
    "  quasi_identifiers:\n    departement: {generalize: departement}\n"
    "    age: {generalize: AGE}\n    date: {generalize: DATE}\n"
)


@pytest.mark.parametrize(
    ("age", "date", "views", "expected"),
    [
        ("band", "month", view("departement, age"), []),
        ("none", "month", view("departement, age"), [("'age'", Severity.HIGH)]),
        ("none", "month", view("departement, age", "rows"), [("'age'", Severity.CRITICAL)]),
        (
            "band",
            "day",
            view("date", universe="permits"),
            [("'date'", Severity.HIGH)],
        ),
        ("none", "month", view("departement"), [("no view uses it", Severity.LOW)]),
    ],
)
def test_an_ungeneralized_quasi_identifier_is_reported(
    tmp_path: Path, age: str, date: str, views: str, expected: list[tuple[str, Severity]]
) -> None:
    qis = QIS.replace("AGE", age).replace("DATE", date)
    report, lines = audit(tmp_path, f"analytics:\n  k: 10\n{qis}  views:\n{views}")
    found = report.by_rule(AnalyticsUngeneralized.id)
    assert [(f.severity) for f in found] == [s for _, s in expected]
    for f, (fragment, _) in zip(found, expected, strict=True):
        assert fragment in f.message
        assert "generalize:" in lines[f.location.line - 1]


def test_narrow_age_bands_are_reported(tmp_path: Path) -> None:
    qis = (
        "  quasi_identifiers:\n    departement: {generalize: departement}\n"
        "    age: {generalize: band, width: 2}\n"
    )
    report, lines = audit(tmp_path, f"analytics:\n  k: 10\n{qis}  views:\n{view('age')}")
    (f,) = report.by_rule(AnalyticsUngeneralized.id)
    assert f.severity == Severity.MEDIUM and "2 year" in f.message
    assert "width: 2" in lines[f.location.line - 1]
