"""Every kind of policy error is refused and located at its line (and column)."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers_policy import line_of, mutate, problems_of

from strongroom.errors import BadRequest
from strongroom.policy import PolicyError, load_policy, load_policy_text


def only(problems: list, fragment: str):
    hits = [p for p in problems if fragment in p.message]
    assert hits, [str(p) for p in problems]
    return hits[0]


def test_policy_error_is_a_bad_request_with_problems(tmp_path: Path) -> None:
    text = mutate(
        "    police_check:\n      ref.person_id: reveal",
        "    police_check:\n      ref.nothing: reveal",
    )
    path = tmp_path / "p.yaml"
    path.write_text(text)
    with pytest.raises(BadRequest) as info:
        load_policy(path)
    assert isinstance(info.value, PolicyError)
    assert info.value.reason == "invalid_policy"
    assert str(info.value.problems[0]).startswith(f"{path}:")


def test_invalid_yaml_names_line(tmp_path: Path) -> None:
    text = "version: 1\nroles:\n  owner: {staff: [unclosed\n"
    (p,) = problems_of(tmp_path, text)
    assert "invalid YAML" in p.message
    assert p.line >= 3


def test_duplicate_key_is_an_error(tmp_path: Path) -> None:
    text = mutate(
        "      identity.birth_date: generalize   # birth year",
        "      identity.birth_date: generalize\n      identity.birth_date: reveal",
    )
    p = only(problems_of(tmp_path, text), "duplicate key 'identity.birth_date'")
    assert p.line == line_of(text, "identity.birth_date: reveal")
    assert p.column == 7


def test_unknown_role_in_rules(tmp_path: Path) -> None:
    text = mutate("  police:\n    police_check:\n", "  polise:\n    police_check:\n")
    p = only(problems_of(tmp_path, text), "unknown role 'polise'")
    assert (p.line, p.column) == (line_of(text, "  polise:"), 3)


def test_unknown_role_in_endpoint(tmp_path: Path) -> None:
    text = mutate(
        "    roles: [police, prefecture]\n    page_size: 10",
        "    roles: [police, gendarme]\n    page_size: 10",
    )
    p = only(problems_of(tmp_path, text), "unknown role 'gendarme'")
    assert p.line == line_of(text, "[police, gendarme]")


def test_unknown_field_in_rule(tmp_path: Path) -> None:
    text = mutate(
        "      identity.birth_date: generalize   # birth year", "      identity.shoe_size: reveal"
    )
    p = only(problems_of(tmp_path, text), "unknown field 'identity.shoe_size'")
    assert p.line == line_of(text, "identity.shoe_size")


def test_unknown_purpose_in_role(tmp_path: Path) -> None:
    text = mutate(
        "purposes: [police_check, investigation, case_management]",
        "purposes: [police_check, investigation, case_management, fishing]",
    )
    p = only(problems_of(tmp_path, text), "unknown purpose 'fishing'")
    assert p.line == line_of(text, "fishing]")


def test_purpose_no_role_can_use(tmp_path: Path) -> None:
    text = mutate(
        "  administration:\n    description:",
        "  orphan:\n    description: nobody\n    needs: []\n  administration:\n    description:",
    )
    p = only(problems_of(tmp_path, text), "purpose 'orphan' is not usable by any role")
    assert p.line == line_of(text, "  orphan:")


def test_rule_beyond_need(tmp_path: Path) -> None:
    # A dealer verifying a permit does not need the buyer's address.
    text = mutate(
        "      ref.permit_id: reveal      # to record",
        "      address.*: partial\n      ref.permit_id: reveal      # to record",
    )
    p = only(problems_of(tmp_path, text), "beyond what purpose 'sale_verification'")
    assert p.line == line_of(text, "address.*: partial")
    assert "address.street" in p.message


def test_pseudonym_beyond_need_is_refused_too(tmp_path: Path) -> None:
    text = mutate(
        "      identity.birth_date: generalize   # birth year",
        "      identity.birth_date: generalize\n      address.street: pseudonym",
    )
    only(problems_of(tmp_path, text), "rule pseudonym on 'address.street' shows")


def test_filterable_masked_field(tmp_path: Path) -> None:
    text = mutate(
        "    page_size: 10\n", "    page_size: 10\n    filterable: [identity.family_name]\n"
    )
    p = only(problems_of(tmp_path, text), "filterable field 'identity.family_name' is masked")
    assert "police/police_check (partial)" in p.message
    assert p.line == line_of(text, "filterable: [identity.family_name]")


def test_sortable_denied_field(tmp_path: Path) -> None:
    text = mutate("    sortable: [sale.sold_at]", "    sortable: [identity.birth_date]")
    only(problems_of(tmp_path, text), "sortable field 'identity.birth_date' is masked")


def test_default_purpose_not_in_purposes(tmp_path: Path) -> None:
    text = mutate("default_purpose: police_check", "default_purpose: case_work")
    p = only(problems_of(tmp_path, text), "default_purpose 'case_work' is not in")
    assert p.line == line_of(text, "default_purpose: case_work")
    assert p.column == len("    default_purpose: ") + 1


def test_wrong_type_is_located(tmp_path: Path) -> None:
    text = mutate("    page_size: 10\n", "    page_size: ten\n")
    p = only(problems_of(tmp_path, text), "page_size")
    assert p.line == line_of(text, "page_size: ten")
    assert "integer" in p.message


def test_unknown_key_is_located(tmp_path: Path) -> None:
    text = mutate("    token_lifetime_seconds: 300\n", "    token_lifetime: 300\n")
    p = only(problems_of(tmp_path, text), "unknown key 'token_lifetime'")
    assert p.line == line_of(text, "token_lifetime: 300")


def test_missing_key_is_located_at_its_mapping(tmp_path: Path) -> None:
    text = mutate("    object_scope: own_dealer\n", "")
    p = only(problems_of(tmp_path, text), "required key 'object_scope' is missing")
    # Reported at the dealer mapping, which starts on the line after `dealer:`.
    assert line_of(text, "  dealer:") <= p.line <= line_of(text, "  police:")


def test_wrong_type_inside_a_list_item(tmp_path: Path) -> None:
    text = mutate(
        "limit: 50,\n     window_seconds: 86400, roles: [police]}",
        "limit: -5,\n     window_seconds: 86400, roles: [police]}",
    )
    p = only(problems_of(tmp_path, text), "budgets.")
    assert "limit" in p.message
    assert p.line == line_of(text, "limit: -5")


def test_unknown_response_name_is_located(tmp_path: Path) -> None:
    text = mutate("  step_up: {threshold: 60}", "  nuke_from_orbit: {threshold: 60}")
    p = only(problems_of(tmp_path, text), "responses.nuke_from_orbit")
    assert (p.line, p.column) == (line_of(text, "nuke_from_orbit"), 3)


def test_bad_action_is_located(tmp_path: Path) -> None:
    text = mutate("      ban.banned: reveal\n", "      ban.banned: show\n")
    p = only(problems_of(tmp_path, text), "ban.banned")
    assert p.line == line_of(text, "ban.banned: show")


def test_staff_role_must_require_mfa(tmp_path: Path) -> None:
    text = mutate(
        "mfa_required: true\n    step_up_max_age_seconds: 43200",
        "mfa_required: false\n    step_up_max_age_seconds: 43200",
    )
    p = only(problems_of(tmp_path, text), "staff role 'dealer' must require MFA")
    assert p.line == line_of(text, "mfa_required: false", nth=1)


def test_role_without_endpoint_scope(tmp_path: Path) -> None:
    text = mutate(
        "scopes: [weapons:lookup, persons:search, persons:read, cases:write]",
        "scopes: [weapons:lookup, persons:search, cases:write]",
    )
    only(problems_of(tmp_path, text), "role 'police' lacks scope 'persons:read'")


def test_endpoint_role_without_usable_purpose(tmp_path: Path) -> None:
    text = mutate(
        "    roles: [dealer]\n    purposes: [ledger_keeping]",
        "    roles: [dealer, police]\n    purposes: [ledger_keeping]",
    )
    problems = problems_of(tmp_path, text)
    p = only(problems, "role 'police' may declare none of this endpoint's purposes")
    assert p.line == line_of(text, "roles: [dealer, police]")
    only(problems, "role 'police' lacks scope 'ledger:read'")


def test_rule_for_purpose_the_role_may_not_declare(tmp_path: Path) -> None:
    text = mutate(
        "  dealer:\n    sale_verification:\n",
        "  dealer:\n    case_work: {}\n    sale_verification:\n",
    )
    p = only(problems_of(tmp_path, text), "role 'dealer' may not declare purpose 'case_work'")
    assert p.line == line_of(text, "case_work: {}")


def test_break_glass_needs_step_up(tmp_path: Path) -> None:
    text = mutate(
        "    justification: {required: true, min_length: 40}\n    step_up: true\n",
        "    justification: {required: true, min_length: 40}\n",
    )
    only(problems_of(tmp_path, text), "break-glass purpose must require justification")


def test_generalize_on_field_without_generalization(tmp_path: Path) -> None:
    text = mutate(
        "      identity.given_names: partial\n      identity.birth_date",
        "      identity.given_names: generalize\n      identity.birth_date",
    )
    p = only(problems_of(tmp_path, text), "'identity.given_names' has no generalization")
    assert p.line == line_of(text, "identity.given_names: generalize")


def test_budget_unknown_endpoint_and_duplicate_name(tmp_path: Path) -> None:
    text = mutate("endpoints: [GET /v1/ledger]}", "endpoints: [GET /v1/ledgers]}")
    text = text.replace("name: police_subjects_30d", "name: police_subjects_day")
    problems = problems_of(tmp_path, text)
    assert only(problems, "unknown endpoint 'GET /v1/ledgers'").line == line_of(
        text, "GET /v1/ledgers"
    )
    assert only(problems, "duplicate budget name 'police_subjects_day'").line == line_of(
        text, "name: police_subjects_day", nth=1
    )


def test_export_field_beyond_need(tmp_path: Path) -> None:
    # case_work needs no sale data: an export of it under case_work is refused.
    text = mutate(
        "permit.expires, address.departement]", "permit.expires, address.departement, sale.sold_at]"
    )
    p = only(problems_of(tmp_path, text), "export field 'sale.sold_at' is beyond")
    assert p.line == line_of(text, "address.departement, sale.sold_at]")


def test_response_ladder_must_climb(tmp_path: Path) -> None:
    text = mutate("  throttle: {threshold: 50", "  throttle: {threshold: 20")
    p = only(problems_of(tmp_path, text), "throttle threshold 20.0 is below alert")
    assert p.line == line_of(text, "throttle: {threshold: 20")


def test_all_problems_reported_at_once(tmp_path: Path) -> None:
    text = mutate(
        "      identity.birth_date: generalize   # birth year", "      identity.shoe_size: reveal"
    )
    text = text.replace("default_purpose: police_check", "default_purpose: case_work")
    problems = problems_of(tmp_path, text)
    assert len(problems) >= 2
    assert problems == sorted(problems)


def test_empty_and_non_mapping_files(tmp_path: Path) -> None:
    assert "empty" in problems_of(tmp_path, "")[0].message
    with pytest.raises(PolicyError) as info:
        load_policy_text("- a\n- b\n", "list.yaml")
    assert "mapping at the top level" in info.value.problems[0].message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PolicyError) as info:
        load_policy(tmp_path / "nope.yaml")
    assert "cannot read" in info.value.problems[0].message


def test_unknown_budget_key_names_its_line(tmp_path: Path) -> None:
    # Budget keys are declared once, in budgets/spec.py; the policy is checked against them.
    text = mutate(
        "  - {name: principal_requests_minute, key: principal,",
        "  - {name: principal_requests_minute, key: principl,",
    )
    p = only(problems_of(tmp_path, text), "unknown budget key 'principl'")
    assert p.line == line_of(text, "key: principl")


def test_sign_in_lock_must_come_after_the_free_failures(tmp_path: Path) -> None:
    text = mutate("  lock_after: 10\n", "  lock_after: 3\n")
    p = only(problems_of(tmp_path, text), "lock_after must be above free_failures")
    assert p.line >= line_of(text, "sign_in:")


def test_sign_in_unknown_setting_is_an_error(tmp_path: Path) -> None:
    text = mutate("  lock_after: 10\n", "  lock_after: 10\n  lockout_after: 5\n")
    p = only(problems_of(tmp_path, text), "lockout_after")
    assert p.line == line_of(text, "lockout_after")
