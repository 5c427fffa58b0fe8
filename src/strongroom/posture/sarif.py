"""SARIF 2.1.0 output (OASIS Static Analysis Results Interchange Format), so audit findings
show up in code-scanning tools: one run, the rules in `tool.driver.rules`, each result with
`ruleId`, `ruleIndex`, `level`, `message.text` and a physical location (artifact URI and
1-based `region.startLine`); OpenAPI findings also carry their JSON pointer as a logical
location."""

from __future__ import annotations

from typing import Any

from strongroom import __version__
from strongroom.posture.audit import AuditReport

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def _security_severity(level: int) -> str:
    # GitHub code scanning reads `security-severity` (0.0-10.0) to rank security results.
    return {1: "3.0", 2: "5.5", 3: "8.0", 4: "9.5"}[level]


def to_sarif(report: AuditReport) -> dict[str, Any]:
    rules = list(report.rules)
    index = {r.id: i for i, r in enumerate(rules)}
    driver = {
        "name": "strongroom-audit",
        "version": __version__,
        "rules": [
            {
                "id": r.id,
                "name": r.name,
                "shortDescription": {"text": r.title},
                "fullDescription": {"text": r.title},
                "help": {"text": r.help},
                "defaultConfiguration": {"level": r.severity.sarif_level},
                "properties": {
                    "security-severity": _security_severity(r.severity),
                    "tags": ["security"],
                },
            }
            for r in rules
        ],
    }
    results = []
    for f in report.findings:
        loc: dict[str, Any] = {
            "physicalLocation": {
                "artifactLocation": {"uri": f.location.uri},
                "region": {
                    "startLine": max(1, f.location.line),
                    "startColumn": max(1, f.location.column),
                },
            }
        }
        if f.location.pointer is not None:
            loc["logicalLocations"] = [{"fullyQualifiedName": f.location.pointer, "kind": "member"}]
        result: dict[str, Any] = {
            "ruleId": f.rule_id,
            "level": f.severity.sarif_level,
            "message": {"text": f"{f.message}. Fix: {f.fix}"},
            "locations": [loc],
            "properties": {
                "severity": f.severity.label,
                "security-severity": _security_severity(f.severity),
            },
        }
        if f.rule_id in index:
            result["ruleIndex"] = index[f.rule_id]
        results.append(result)
    return {
        "version": SARIF_VERSION,
        "$schema": SARIF_SCHEMA,
        "runs": [
            {
                "tool": {"driver": driver},
                "artifacts": [{"location": {"uri": uri}} for uri in report.artifacts],
                "results": results,
            }
        ],
    }
