"""Posture tools: a static audit of a deployment's policy, OpenAPI document and deployment
file (`audit.py`, rules in `rules_*.py`, SARIF 2.1.0 in `sarif.py`), and a live extraction
drill that plays an attacker against a running instance (`drill.py`).

    report = run_audit(load_audit_input("policy.yaml", "openapi.json"))
    print(report.counts(), report.failed(Severity.HIGH))
"""

from strongroom.posture.audit import DEFAULT_RULES, AuditReport, run_audit
from strongroom.posture.findings import AllOf, BaseRule, Finding, Location, Rule, Severity
from strongroom.posture.inputs import AuditInput, load_audit_input
from strongroom.posture.sarif import to_sarif
from strongroom.posture.targets import TargetRefused, check_target

__all__ = [
    "DEFAULT_RULES",
    "AllOf",
    "AuditInput",
    "AuditReport",
    "BaseRule",
    "Finding",
    "Location",
    "Rule",
    "Severity",
    "TargetRefused",
    "check_target",
    "load_audit_input",
    "run_audit",
    "to_sarif",
]
