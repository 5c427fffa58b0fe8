"""The static audit: every rule over one deployment's policy, OpenAPI document and
(optional) deployment file.

    audit = load_audit_input("policy.yaml", "openapi.json", deployment="deployment.yaml")
    report = run_audit(audit)
    report.failed(Severity.HIGH)   # True when a finding is high or critical
"""

from __future__ import annotations

from dataclasses import dataclass, field

from strongroom.posture.findings import AllOf, Finding, Rule, Severity
from strongroom.posture.inputs import AuditInput
from strongroom.posture.rules_access import (
    IdentityBesideAddress,
    LinkedPiiResponse,
    RefreshUnprotected,
    ScopeSpansTasks,
    ScopeTooBroad,
    TokenLifetime,
)
from strongroom.posture.rules_endpoints import (
    EndpointUngoverned,
    GuessableId,
    PageSizeUncapped,
    PiiFilter,
    RecordBudgetMissing,
    SearchUnspecific,
)
from strongroom.posture.rules_keys import DatabasePasswordInConfig, VaultKeysInFiles
from strongroom.posture.rules_policy import (
    AnalyticsSmallK,
    AnalyticsUngeneralized,
    DetectorOff,
    ExportWithoutApproval,
    MaskedFilterable,
    PolicyCheck,
    PolicyInvalid,
    PurposeWithoutJustification,
    ResponseOff,
)
from strongroom.posture.rules_witnesses import JournalUnwitnessed

DEFAULT_RULES = AllOf(
    [
        RecordBudgetMissing(),
        PageSizeUncapped(),
        PiiFilter(),
        SearchUnspecific(),
        GuessableId(),
        EndpointUngoverned(),
        ScopeTooBroad(),
        ScopeSpansTasks(),
        TokenLifetime(),
        RefreshUnprotected(),
        IdentityBesideAddress(),
        LinkedPiiResponse(),
        MaskedFilterable(),
        ExportWithoutApproval(),
        PurposeWithoutJustification(),
        DetectorOff(),
        ResponseOff(),
        AnalyticsSmallK(),
        AnalyticsUngeneralized(),
        PolicyCheck(),
        PolicyInvalid(),
        VaultKeysInFiles(),
        JournalUnwitnessed(),
        DatabasePasswordInConfig(),
    ]
)


@dataclass
class AuditReport:
    rules: tuple[Rule, ...]
    findings: list[Finding]
    artifacts: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        out = {s.label: 0 for s in Severity}
        for f in self.findings:
            out[f.severity.label] += 1
        return out

    def failed(self, threshold: Severity) -> bool:
        return any(f.severity >= threshold for f in self.findings)

    def by_rule(self, rule_id: str) -> list[Finding]:
        return [f for f in self.findings if f.rule_id == rule_id]

    def to_dict(self) -> dict[str, object]:
        return {
            "artifacts": self.artifacts,
            "counts": self.counts(),
            "findings": [f.to_dict() for f in self.findings],
        }


def run_audit(audit: AuditInput, rules: AllOf = DEFAULT_RULES) -> AuditReport:
    findings = sorted(
        rules.check(audit), key=lambda f: (-f.severity, f.rule_id, f.location.uri, f.location.line)
    )
    artifacts = [audit.policy_uri, audit.openapi_uri]
    if audit.deployment_uri:
        artifacts.append(audit.deployment_uri)
    if audit.config_uri:
        artifacts.append(audit.config_uri)
    return AuditReport(rules=tuple(rules), findings=findings, artifacts=artifacts)
