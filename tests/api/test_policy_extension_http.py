"""Adding a role or a budget key is a declaration, not a code change: a role written only
into policy.yaml works end to end over HTTP (principal, token, gate, budgets, journal)."""

from __future__ import annotations

from pathlib import Path

import yaml

from strongroom.policy import DEFAULT_POLICY_PATH
from tests.deployment import build_deployment


def customs_policy() -> str:
    """The shipped policy plus a `customs` role: weapon lookups at the border, its own
    budget keyed per principal, nothing else."""
    doc = yaml.safe_load(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))
    doc["roles"]["customs"] = {
        "description": "Customs officers: weapon lookups at the border.",
        "staff": True,
        "scopes": ["weapons:lookup"],
        "purposes": ["police_check"],
        "default_purpose": "police_check",
        "object_scope": "none",
        "token_lifetime_seconds": 300,
        "mfa_required": True,
        "step_up_max_age_seconds": 900,
    }
    doc["rules"]["customs"] = {
        "police_check": {
            "ref.weapon_id": "reveal",
            "weapon.category": "reveal",
            "weapon.status": "reveal",
            "permit.status": "reveal",
        }
    }
    doc["endpoints"]["POST /v1/weapons/lookup"]["roles"].append("customs")
    doc["budgets"].append(
        {
            "name": "customs_lookups_hour",
            "key": "principal",
            "unit": "requests",
            "limit": 3,
            "window_seconds": 3600,
            "roles": ["customs"],
        }
    )
    return yaml.safe_dump(doc, sort_keys=False)


def test_a_role_declared_in_the_policy_alone_works_end_to_end(tmp_path: Path) -> None:
    dep = build_deployment(tmp_path / "home", persons=60, policy_text=customs_policy())
    try:
        officer = dep.service.admin.add_principal(role="customs", label="border post")
        headers = dep.headers("customs", officer)
        serial = dep.fixtures["weapon_serial"]
        answers = [
            dep.client.post("/v1/weapons/lookup", json={"serial": serial}, headers=headers)
            for _ in range(4)
        ]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        assert set(answers[0].json()) == {"id", "category", "status", "holder_permit_valid"}
        assert answers[3].json()["budget"] == "customs_lookups_hour"
        # Its scope is the policy's: no person endpoint, whatever the token asks.
        denied = dep.client.get(f"/v1/persons/{dep.fixtures['owner_id']}", headers=headers)
        assert denied.status_code == 403
        journal = dep.service.journal
        journal.flush()  # refusals are committed without their caller waiting
        entries = [journal.entry(i) for i in range(journal.size())]
        assert [e["outcome"] for e in entries if e.get("role") == "customs"][:4] == [
            "allowed",
            "allowed",
            "allowed",
            "refused",
        ]
    finally:
        dep.client.close()
        dep.service.close()
