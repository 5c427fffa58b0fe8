"""Audit rules about the policy's safeguards: masking that can be queried around, exports
without approval, identity + address without a justification, detectors and responses that
are off, analytics views with a small k or an ungeneralized quasi-identifier, and whatever
the policy checker itself refuses."""

from __future__ import annotations

from collections.abc import Iterator

from strongroom.policy.model import UNGENERALIZED
from strongroom.posture import policy_facts as facts
from strongroom.posture import vocabulary as vocab
from strongroom.posture.findings import BaseRule, Finding, Location, Severity
from strongroom.posture.inputs import AuditInput

MIN_JUSTIFICATION = 10
CORE_DETECTORS = ("velocity", "enumeration", "breadth", "honey_records")
MORE_DETECTORS = ("peer_deviation", "coordination", "linking", "case_growth")
CORE_RESPONSES = ("alert", "throttle", "suspend_session", "suspend_principal")
MORE_RESPONSES = ("step_up", "block_ip_prefix")
MASKED_MARK = " is masked for "  # how policy/checks.py words this problem
# Most statistical offices publish no cell under 10 persons from a register of persons;
# under 5 a cell is as good as a name to anyone who knows the place.
ANALYTICS_K = 10
ANALYTICS_K_HIGH = 5
MIN_AGE_BAND = 5


class MaskedFilterable(BaseRule):
    id = "SR013"
    name = "masked-field-filterable"
    title = "Masked field that remains filterable or sortable"
    help = (
        "Remove the field from `filterable`/`sortable` or reveal it to every caller of "
        "the endpoint: a masked value that can be filtered on is recovered one query at "
        "a time."
    )

    def check(self, audit: AuditInput) -> Iterator[Finding]:
        policy = audit.policy
        if policy is None:
            return
        for eid, spec in policy.endpoints.items():
            for kind in ("filterable", "sortable"):
                for i, field in enumerate(getattr(spec, kind)):
                    masked = sorted(
                        f"{r}/{p}"
                        for r, p in facts.callers(policy, eid)
                        if facts.shown(policy, r, p).get(field, "deny") != "reveal"
                    )
                    if masked:
                        yield self.finding(
                            f"{eid}: {kind} field {field!r} is masked for {', '.join(masked)}",
                            audit.policy_at(("endpoints", eid, kind, i)),
                        )


class ExportWithoutApproval(BaseRule):
    id = "SR014"
    name = "export-without-approval"
    title = "Exports without independent approval"
    help = (
        "Set `exports.four_eyes: true` and name approver roles distinct from the "
        "requester roles (an administrator who approves but never sees the rows)."
    )

    def check(self, audit: AuditInput) -> Iterator[Finding]:
        policy = audit.policy
        if policy is None:
            return
        ex = policy.exports
        if not (ex.datasets or ex.requester_roles):
            return
        if not ex.four_eyes:
            yield self.finding(
                "exports.four_eyes is false: a requester may approve their own export",
                audit.policy_at(("exports", "four_eyes")),
            )
        if not ex.approver_roles:
            yield self.finding(
                "exports have no approver role", audit.policy_at(("exports",), key=True)
            )
        for role in sorted(set(ex.requester_roles) & set(ex.approver_roles)):
            yield self.finding(
                f"role {role!r} both requests and approves exports",
                audit.policy_at(("exports", "approver_roles")),
                severity=Severity.MEDIUM,
            )


class PurposeWithoutJustification(BaseRule):
    id = "SR015"
    name = "purpose-without-justification"
    title = "Purpose reveals identity and address without a justification"
    help = (
        f"Require a justification (`justification: {{required: true, min_length: "
        f"{MIN_JUSTIFICATION}}}` or more) and a case reference for purposes under which "
        "staff see who lives where; the journal then says why."
    )

    def check(self, audit: AuditInput) -> Iterator[Finding]:
        policy = audit.policy
        if policy is None:
            return
        for name, spec in policy.purposes.items():
            j = spec.justification
            if j.required and j.min_length >= MIN_JUSTIFICATION:
                continue
            for role, rspec in policy.roles.items():
                if name not in rspec.purposes or rspec.object_scope in facts.NO_REACH:
                    continue
                clear = [f for f, a in facts.shown(policy, role, name).items() if a == "reveal"]
                if any(vocab.is_identity(f) for f in clear) and any(
                    vocab.is_address(f) for f in clear
                ):
                    yield self.finding(
                        f"purpose {name!r} reveals identity and address to role {role!r} "
                        "without a required justification",
                        audit.policy_at(("purposes", name), key=True),
                    )
                    break


class AnalyticsSmallK(BaseRule):
    id = "SR020"
    name = "analytics-small-k"
    title = "Analytics views publish cells counting few persons"
    help = (
        f"Set `analytics.k` to {ANALYTICS_K} or more: cells counting fewer persons are "
        "suppressed, with complements; with a small k the views publish groups small "
        "enough to single a person out."
    )

    def check(self, audit: AuditInput) -> Iterator[Finding]:
        policy = audit.policy
        if policy is None or not policy.analytics.views:
            return
        k = policy.analytics.k
        if k >= ANALYTICS_K:
            return
        if k == 1:
            message, severity = "analytics.k is 1: no cell is suppressed", Severity.CRITICAL
        elif k < ANALYTICS_K_HIGH:
            message, severity = f"analytics.k is {k}", Severity.HIGH
        else:
            message, severity = f"analytics.k is {k}, under {ANALYTICS_K}", Severity.MEDIUM
        yield self.finding(message, audit.policy_at(("analytics", "k")), severity=severity)


class AnalyticsUngeneralized(BaseRule):
    id = "SR021"
    name = "analytics-quasi-identifier-ungeneralized"
    title = "Analytics quasi-identifier published ungeneralized"
    help = (
        "Generalize every quasi-identifier a view uses: age in bands of 5 years or more "
        "(`generalize: band`), communes by size band, dates by month or year. Exact ages, "
        "commune names and days combine into a key that names one person."
    )

    def check(self, audit: AuditInput) -> Iterator[Finding]:
        policy = audit.policy
        if policy is None:
            return
        an = policy.analytics
        used = {d for v in an.views.values() for d in v.dims}
        for qi, spec in an.quasi_identifiers.items():
            where = audit.policy_at(("analytics", "quasi_identifiers", qi, "generalize"))
            users = sorted(n for n, v in an.views.items() if qi in v.dims)
            rows = [n for n in users if an.views[n].kind == "rows"]
            if (qi, spec.generalize) in UNGENERALIZED:
                if qi not in used:
                    yield self.finding(
                        f"quasi-identifier {qi!r} is declared ungeneralized "
                        f"({spec.generalize}), though no view uses it yet",
                        where,
                        severity=Severity.LOW,
                    )
                    continue
                yield self.finding(
                    f"quasi-identifier {qi!r} is published ungeneralized ({spec.generalize}) "
                    f"by {', '.join(users)}",
                    where,
                    severity=Severity.CRITICAL if rows else Severity.HIGH,
                )
            elif qi == "age" and spec.generalize == "band" and spec.width < MIN_AGE_BAND:
                yield self.finding(
                    f"age bands of {spec.width} year(s) barely generalize ages",
                    audit.policy_at(("analytics", "quasi_identifiers", qi, "width")),
                    severity=Severity.MEDIUM,
                )


def _switch_findings(
    rule: BaseRule,
    audit: AuditInput,
    section: str,
    specs: dict,
    core: tuple[str, ...],
    more: tuple[str, ...],
) -> Iterator[Finding]:
    for names, weak in ((core, False), (more, True)):
        for name in names:
            spec = specs.get(name)
            if spec is None:
                yield rule.finding(
                    f"{section[:-1]} {name!r} is absent",
                    audit.policy_at((section,), key=True),
                    severity=Severity.MEDIUM if weak else Severity.HIGH,
                )
            elif not spec.enabled:
                yield rule.finding(
                    f"{section[:-1]} {name!r} is disabled",
                    audit.policy_at((section, name, "enabled")),
                    severity=Severity.MEDIUM if weak else Severity.HIGH,
                )
            elif spec.shadow:
                yield rule.finding(
                    f"{section[:-1]} {name!r} runs in shadow mode (never acts)",
                    audit.policy_at((section, name, "shadow")),
                    severity=Severity.LOW if weak else Severity.MEDIUM,
                )


class DetectorOff(BaseRule):
    id = "SR016"
    name = "detector-off"
    title = "Detector absent, disabled or in shadow mode"
    help = (
        "Enable the velocity, enumeration, breadth and honey-record detectors (shadow "
        "mode only while sizing a new threshold); peer deviation and coordination catch "
        "the slow and the distributed extractor, linking and case growth the insider "
        "who fills cases to read through them."
    )

    def check(self, audit: AuditInput) -> Iterator[Finding]:
        if audit.policy is not None:
            yield from _switch_findings(
                self, audit, "detectors", audit.policy.detectors, CORE_DETECTORS, MORE_DETECTORS
            )


class ResponseOff(BaseRule):
    id = "SR017"
    name = "response-off"
    title = "Containment response absent, disabled or in shadow mode"
    help = (
        "Keep the response ladder complete and enforcing: alert, throttle, "
        "suspend_session and suspend_principal (step_up and block_ip_prefix advised); a "
        "detector without a response only writes reports."
    )

    def check(self, audit: AuditInput) -> Iterator[Finding]:
        if audit.policy is not None:
            yield from _switch_findings(
                self, audit, "responses", audit.policy.responses, CORE_RESPONSES, MORE_RESPONSES
            )


class PolicyCheck(BaseRule):
    id = "SR018"
    name = "policy-check"
    title = "The policy checker refuses this file"
    help = (
        "Fix the file until `strongroom policy check` accepts it: the service refuses "
        "to start on it."
    )

    def check(self, audit: AuditInput) -> Iterator[Finding]:
        for p in audit.policy_problems:
            if MASKED_MARK in p.message:
                continue  # SR013 reports it, with its own fix
            yield self.finding(p.message, Location(p.file, p.line, p.column))


class PolicyInvalid(BaseRule):
    id = "SR019"
    name = "policy-invalid"
    title = "The policy file cannot be read"
    severity = Severity.CRITICAL
    help = "Fix the file's syntax and shape; no other policy rule could run on it."

    def check(self, audit: AuditInput) -> Iterator[Finding]:
        for p in audit.policy_errors:
            yield self.finding(p.message, Location(p.file, p.line, p.column))
