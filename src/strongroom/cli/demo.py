"""`strongroom demo`: a ready-to-try deployment on the embedded defaults."""

from __future__ import annotations

import json
import shlex
from typing import Any

from strongroom.cli.common import console
from strongroom.cli.seeding import load_fixtures, read_demo, run_seed, write_demo
from strongroom.config import Home
from strongroom.errors import BadRequest

DEMO_CASE = "CASE-2026-0001"
DEMO_JUSTIFICATION = "Renewal review of a hunting permit, demo case file"


def wanted_principals(fixtures: dict[str, Any]) -> dict[str, dict[str, str]]:
    """One staff principal per role, tied to the demo's dealer and département."""
    return {
        "dealer": {"dealer": fixtures["dealer_id"]},
        "police": {},
        "prefecture": {"departement": fixtures["departement"]},
        "auditor": {},
        "admin": {},
    }


def create_demo_principals(service: Any, fixtures: dict[str, Any]) -> dict[str, str]:
    """One staff principal per role (idempotent: kept in demo.json)."""
    doc = read_demo(service.home)
    principals: dict[str, str] = doc.get("principals", {})
    known = {p["id"] for p in service.admin.list_principals()}
    for role, extra in wanted_principals(fixtures).items():
        if principals.get(role) not in known:
            principals[role] = service.admin.add_principal(role=role, label=f"demo {role}", **extra)
    doc["principals"] = principals
    write_demo(service.home, doc)
    return principals


def demo_case(service: Any, fixtures: dict[str, Any]) -> str:
    """The demo's prefecture case (a renewal) with the demo owner linked: a prefecture
    agent reads full records only through an open case of its unit (kept in demo.json)."""
    doc = read_demo(service.home)
    unit = f"prefecture:{fixtures['departement']}"
    known = {c["id"] for c in service.cases.list_all(unit, "open")}
    if doc.get("case") not in known:
        operator = service.admin.operator()
        case = service.cases.open_as_operator(
            operator, unit=unit, kind="renewal", reference=DEMO_CASE
        )
        service.cases.link_as_operator(
            operator, case["id"], fixtures["owner_id"], "the holder's renewal file"
        )
        doc["case"] = case["id"]
        write_demo(service.home, doc)
    return str(doc["case"])


def demo_tokens(
    service: Any, fixtures: dict[str, Any], principals: dict[str, str]
) -> dict[str, str]:
    return {
        "owner": service.token_issuer.issue(role="owner", subject=fixtures["owner_id"]),
        "dealer": service.token_issuer.issue(role="dealer", subject=principals["dealer"]),
        "dealer_ledger": service.token_issuer.issue(
            role="dealer", subject=principals["dealer"], purpose="ledger_keeping"
        ),
        "police": service.token_issuer.issue(role="police", subject=principals["police"]),
        "prefecture": service.token_issuer.issue(
            role="prefecture",
            subject=principals["prefecture"],
            case=demo_case(service, fixtures),
            justification=DEMO_JUSTIFICATION,
        ),
    }


def prepare_demo(home: Home, *, persons: int, base_url: str) -> None:
    from strongroom.compose import compose
    from strongroom.initialize import initialize

    initialize(home)
    if home.settings().production:
        raise BadRequest(
            f'{home.config_path} sets mode = "production": the demo prints unbound '
            "tokens, which production refuses. Run the demo in a home of its own."
        )
    fixtures = load_fixtures(home)
    if fixtures is None:
        run_seed(home, persons=persons, seed=1)
        fixtures = load_fixtures(home)
    if fixtures is None:  # pragma: no cover - run_seed always writes it
        raise RuntimeError("seeding wrote no demo fixtures")
    service = compose(home)
    try:
        principals = create_demo_principals(service, fixtures)
        tokens = demo_tokens(service, fixtures, principals)
    finally:
        service.close()
    print_examples(base_url, fixtures, principals, tokens)


def _curl(base: str, token: str, method: str, path: str, body: dict[str, Any] | None = None) -> str:
    parts = [
        "curl -s",
        f"-X {method}" if method != "GET" else "",
        f"-H {shlex.quote('Authorization: Bearer ' + token)}",
    ]
    if body is not None:
        parts += ["-H 'Content-Type: application/json'", f"-d {shlex.quote(json.dumps(body))}"]
    parts.append(shlex.quote(base + path))
    return " ".join(p for p in parts if p)


def print_examples(
    base: str, f: dict[str, Any], principals: dict[str, str], tokens: dict[str, str]
) -> None:
    verify = {
        "permit_number": f["permit_number"],
        "family_name": f["family_name"],
        "birth_date": f["birth_date"],
    }
    examples: list[tuple[str, str, str | None, str, str, dict[str, Any] | None]] = [
        ("owner: my own record", "owner", tokens["owner"], "GET", "/v1/me", None),
        (
            "dealer: verify a buyer's permit",
            "dealer",
            tokens["dealer"],
            "POST",
            "/v1/permits/verify",
            verify,
        ),
        (
            "dealer: my sales ledger",
            "dealer --purpose ledger_keeping",
            tokens["dealer_ledger"],
            "GET",
            "/v1/ledger",
            None,
        ),
        (
            "police: a weapon by serial",
            "police",
            tokens["police"],
            "POST",
            "/v1/weapons/lookup",
            {"serial": f["weapon_serial"]},
        ),
        (
            "police: exact person search",
            "police",
            tokens["police"],
            "POST",
            "/v1/persons/search",
            {"family_name": f["family_name"], "birth_date": f["birth_date"]},
        ),
        (
            f"prefecture ({f['departement']}): a person of my département, through the "
            "demo's renewal case",
            "prefecture",
            tokens["prefecture"],
            "GET",
            f"/v1/persons/{f['owner_id']}",
            None,
        ),
        (
            "auditor: the journal's signed checkpoint",
            "auditor",
            None,
            "GET",
            "/v1/journal/checkpoint",
            None,
        ),
        ("admin: containments in force", "admin", None, "GET", "/v1/containments", None),
    ]
    console.print("\n[bold]Strongroom demo[/bold]: principals", principals)
    console.print(
        "Each example as `strongroom call` (a DPoP-bound token and a fresh proof per request; "
        "the key lives in the home) and, in demo mode only, as curl with a bearer token "
        "(5 minutes; mint fresh ones with `.venv/bin/strongroom token issue`).\n"
    )
    for title, role, token, method, path, body in examples:
        console.print(f"[bold]# {title}[/bold]")
        who, _, options = role.partition(" ")
        call = [".venv/bin/strongroom call", who, method, path, options]
        if body is not None:
            call.append(shlex.quote(json.dumps(body)))
        console.print(" ".join(c for c in call if c), soft_wrap=True, highlight=False)
        if token is not None:
            console.print(_curl(base, token, method, path, body), soft_wrap=True, highlight=False)
        console.print()
