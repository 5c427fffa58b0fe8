"""The shipped default policy: loads, encodes the registry's roles, reveals nothing beyond
need, and the generated docs/policy-matrix.md matches it."""

from __future__ import annotations

from pathlib import Path

import pytest

from strongroom.policy import (
    DEFAULT_POLICY_PATH,
    compile_policy,
    load_default_policy,
    load_policy,
    resolve,
)
from strongroom.policy import matrix as policy_matrix

REPO = Path(__file__).resolve().parents[2]
SOURCE = "src/strongroom/policy/default_policy.yaml"


@pytest.fixture(scope="module")
def policy():
    return load_default_policy()


def test_default_loads_from_path_and_package(policy) -> None:
    assert load_policy(DEFAULT_POLICY_PATH) == policy
    assert (REPO / SOURCE).resolve() == DEFAULT_POLICY_PATH.resolve()


ROLES = ("owner", "dealer", "police", "prefecture", "auditor", "admin")
STAFF_ROLES = ("dealer", "police", "prefecture", "auditor", "admin")


def test_roles_match_the_registry(policy) -> None:
    assert tuple(policy.roles) == ROLES
    assert compile_policy(policy, b"k" * 32).staff_roles() == STAFF_ROLES
    for name, role in policy.roles.items():
        assert role.staff == (name in STAFF_ROLES)
        assert role.mfa_required == role.staff
        assert role.token_lifetime_seconds <= 300
        assert role.default_purpose in role.purposes


def test_required_purposes_exist(policy) -> None:
    expected = {
        "owner": {"self_service"},
        "dealer": {"sale_verification", "ledger_keeping"},
        "police": {"police_check", "investigation", "case_management"},
        "prefecture": {"case_work", "break_glass", "case_management"},
        "auditor": {"audit"},
        "admin": {"administration"},
    }
    for role, purposes in expected.items():
        assert set(policy.roles[role].purposes) == purposes
    inv = policy.purposes["investigation"]
    assert inv.case_required and inv.justification.required and inv.step_up
    assert policy.purposes["case_work"].case_required
    assert policy.purposes["break_glass"].break_glass is not None
    # Need to know: every full-record purpose reads only subjects of an open case.
    assert inv.object_scope == "open_case"
    assert policy.purposes["case_work"].object_scope == ["own_departement", "open_case"]
    assert policy.purposes["break_glass"].break_glass.object_scope == "open_case"


def test_no_rule_reveals_beyond_need(policy) -> None:
    """The property the checker enforces, restated over the compiled views."""
    compiled = compile_policy(policy, b"k" * 32)
    for role, purpose in resolve.pairs(policy):
        view = compiled.view(role, purpose)
        assert view.visible <= resolve.needs(policy, purpose), (role, purpose)


def test_who_sees_what(policy) -> None:
    compiled = compile_policy(policy, b"k" * 32)

    def visible(role: str, purpose: str) -> frozenset[str]:
        return compiled.view(role, purpose).visible

    for purpose in ("sale_verification", "ledger_keeping"):
        assert not any(f.startswith("address.") for f in visible("dealer", purpose))
        assert "identity.birth_date" not in visible("dealer", purpose)
    assert visible("dealer", "sale_verification") == {
        "permit.status",
        "permit.categories",
        "permit.expires",
        "ban.banned",
        "ref.permit_id",
    }
    police = compiled.view("police", "police_check")
    assert police.actions["identity.family_name"] == "partial"
    assert not any(f.startswith("address.") for f in police.visible)
    case = compiled.view("prefecture", "case_work")
    assert {"identity.family_name", "address.street"} <= case.plain
    assert policy.roles["prefecture"].object_scope == "own_departement"
    assert visible("auditor", "audit") == frozenset()
    assert visible("admin", "administration") == frozenset()
    owner = visible("owner", "self_service")
    assert {"identity.family_name", "address.street", "permit.number", "weapon.serial"} <= owner
    assert "ban.banned" not in owner


def test_budgets_span_a_minute_to_ninety_days(policy) -> None:
    windows = {b.window_seconds for b in policy.budgets}
    assert min(windows) == 60
    assert max(windows) == 90 * 86400
    police_day = [
        b
        for b in policy.budgets
        if b.roles == ["police"] and b.unit == "subjects" and b.window_seconds == 86400
    ]
    assert police_day and police_day[0].limit < 100  # tens per shift, not thousands


def test_policy_matrix_doc_is_up_to_date(policy) -> None:
    doc = REPO / "docs" / "policy-matrix.md"
    assert doc.read_text(encoding="utf-8") == policy_matrix.render_markdown(policy, SOURCE), (
        f"docs/policy-matrix.md is stale; run: {policy_matrix.REGENERATE}"
    )
