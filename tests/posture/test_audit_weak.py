"""The audit finds every flaw planted in examples/weak/ (one test per flaw, by rule id),
located at the line that holds it."""

from __future__ import annotations

import pytest
from posture_testkit import EXAMPLES, line_of

from strongroom.posture import Severity, load_audit_input, run_audit

POLICY = EXAMPLES / "policy.yaml"
OPENAPI = EXAMPLES / "openapi.json"
DEPLOYMENT = EXAMPLES / "deployment.yaml"

# rule id, a fragment of the message, the file it is planted in, a needle on its line (or
# (needle, offset): a JSON object starts the line before its first member)
PLANTED = [
    ("SR001", "'police' receives registry records", POLICY, "GET /v1/persons/{id}:"),
    ("SR002", "page_size 500", POLICY, "page_size: 500"),
    ("SR003", "PII query parameter 'family_name'", OPENAPI, ('"name": "family_name"', -1)),
    ("SR003", "free-text query parameter 'q'", OPENAPI, ('"name": "q"', -1)),
    ("SR004", "['person.postcode'] alone", POLICY, "- [person.postcode]"),
    ("SR005", "'id' is an integer", OPENAPI, ('"name": "id"', -1)),
    ("SR006", "/v1/export-all", OPENAPI, ('"/v1/export-all"', 1)),
    ("SR007", "role 'police' holds broad scope 'registry:read'", POLICY, "SR007: one scope"),
    ("SR007", "broad scope 'admin'", OPENAPI, '"admin": "everything"'),
    ("SR008", "scope 'registry:read' opens", POLICY, "scope: registry:read"),
    ("SR009", "role 'police': access tokens live 3600 s", POLICY, "token_lifetime_seconds: 3600"),
    ("SR009", "access tokens live 86400 s", DEPLOYMENT, "access_token_lifetime_seconds"),
    ("SR010", "refresh tokens are not rotated", DEPLOYMENT, "rotate_refresh_tokens: false"),
    ("SR010", "no sender binding", DEPLOYMENT, "sender_constraint: none"),
    ("SR010", "password grant", DEPLOYMENT, "password]"),
    ("SR011", "category 'person' holds identity", POLICY, "  person:"),
    ("SR012", "GET /v1/persons/{id}: response schema", OPENAPI, None),
    (
        "SR013",
        "'person.family_name' is masked for police/police_check",
        POLICY,
        "filterable: [person.family_name]",
    ),
    ("SR014", "four_eyes is false", POLICY, "four_eyes: false"),
    ("SR015", "purpose 'case_work' reveals identity and address", POLICY, "  case_work:"),
    ("SR016", "detector 'velocity' is disabled", POLICY, "velocity: {enabled: false}"),
    ("SR016", "detector 'honey_records' is absent", POLICY, "detectors:"),
    ("SR016", "detector 'enumeration' runs in shadow", POLICY, "enumeration: {shadow"),
    ("SR017", "response 'throttle' is absent", POLICY, "responses:"),
    ("SR017", "response 'suspend_principal' is disabled", POLICY, "suspend_principal:"),
    ("SR018", "staff role 'police' must require MFA", POLICY, "mfa_required: false   "),
    ("SR020", "analytics.k is 3", POLICY, "k: 3 "),
    ("SR021", "'age' is published ungeneralized (none)", POLICY, "age: {generalize: none}"),
]


@pytest.fixture(scope="module")
def report():
    audit = load_audit_input(str(POLICY), str(OPENAPI), deployment=str(DEPLOYMENT))
    return run_audit(audit)


@pytest.mark.parametrize(
    ("rule_id", "fragment", "file", "needle"), PLANTED, ids=[f"{p[0]}-{p[1][:30]}" for p in PLANTED]
)
def test_planted_flaw_is_found(report, rule_id, fragment, file, needle) -> None:
    hits = [f for f in report.by_rule(rule_id) if fragment in f.message]
    assert hits, f"{rule_id} did not report {fragment!r}"
    loc = hits[0].location
    assert loc.uri == str(file)
    if needle is not None:
        text, offset = needle if isinstance(needle, tuple) else (needle, 0)
        assert loc.line == line_of(file, text) + offset


def test_openapi_findings_carry_a_json_pointer(report) -> None:
    (guess,) = report.by_rule("SR005")
    assert guess.location.pointer == "/paths/~1v1~1persons~1{id}/get/parameters/0"
    linked = {f.location.pointer for f in report.by_rule("SR012")}
    assert "/paths/~1v1~1persons~1{id}/get/responses/200/content/application~1json/schema" in linked


def test_weak_example_fails_at_high_but_has_no_critical(report) -> None:
    assert report.failed(Severity.HIGH)
    assert not report.failed(Severity.CRITICAL)
    assert len({f.rule_id for f in report.findings}) >= 18


def test_masked_filterable_is_reported_once(report) -> None:
    # The policy checker words the same problem; SR018 leaves it to SR013.
    assert not [f for f in report.by_rule("SR018") if "masked" in f.message]
    assert len(report.by_rule("SR013")) == 1


def test_unreadable_policy_is_critical(tmp_path) -> None:
    bad = tmp_path / "policy.yaml"
    bad.write_text("version: 1\nroles: {}\nfields:\n  identity: [oops\n", encoding="utf-8")
    report = run_audit(load_audit_input(str(bad), str(OPENAPI)))
    (finding,) = report.by_rule("SR019")
    assert finding.severity is Severity.CRITICAL and finding.location.line >= 4
    # The OpenAPI rules still run.
    assert report.by_rule("SR005")
