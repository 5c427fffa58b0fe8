"""The operator's side of containment (issue 22), over real HTTP against the composed app.

The story of the issue: an agent in the office links a honey record to a case, the risk
jump blocks the office's whole IP prefix for an hour, and every role, the administrator
included, is refused. An administrator who signed in with a passkey is spared by a block
aimed at the network (journaled, naming the block); one who signed in with a password and
TOTP is not, nor is any other role, nor a passkey administrator whose own principal is
contained."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select

from strongroom.auth.acr import ACR_MFA, ACR_PHR
from strongroom.detect.containment import new_containment
from strongroom.registry.models import Person
from tests.api.test_sign_in_attacks_http import PASSWORD, attempt, code_at, enroll
from tests.auth.auth_testkit import BoundSession, push_authorization
from tests.auth.auth_testkit import redeem as kit_redeem
from tests.auth.webauthn_testkit import SoftAuthenticator
from tests.deployment import Deployment

# One /24 each (the prefix the detectors pool addresses into): the tests share a stack,
# and a network's risk outlives its block.
OFFICE = "192.0.2."
OTHER_OFFICE = "203.0.113."
ELSEWHERE = "198.51.100.9"
LIFTS = "/v1/containments/{id}"
WHY = "honey read traced to a test account; office network cleared by the SOC"


def at(dep: Deployment, host: str) -> TestClient:
    """A browser or script at `host`: the app sees this peer address."""
    return TestClient(dep.app, client=(host, 40000), raise_server_exceptions=False)


def redeem(dep: Deployment, http: TestClient, location: str, verifier: str) -> BoundSession:
    token_endpoint = dep.service.authorization_server.token_endpoint
    return kit_redeem(http, dep.clock, token_endpoint, location, verifier)


class Admin:
    """An administrator with a password, a TOTP seed and a passkey, signing in anywhere."""

    def __init__(self, dep: Deployment, label: str) -> None:
        self.dep = dep
        self.id = dep.service.admin.add_principal(role="admin", label=label)
        self.username, self.secret = enroll(dep, self.id)
        self.device = SoftAuthenticator(dep.service.authorization_server.passkeys.origin)
        totp = self.totp(at(dep, ELSEWHERE))
        options = totp.call("POST", "/oauth/webauthn/register/options")
        assert options.status_code == 200, options.text
        added = totp.call(
            "POST",
            "/oauth/webauthn/register/verify",
            json={"credential": self.device.create(options.json()), "name": "key"},
        )
        assert added.status_code == 201, added.text
        # Signed out there: a live session on another network would refuse the sign-ins
        # from the office (issue 19's rule against a second network).
        dep.service.authorization_server.logout(totp.claims()["sid"])
        dep.clock.advance(31)  # the enrollment's TOTP step is spent

    def totp(self, http: TestClient) -> BoundSession:
        uri, verifier = push_authorization(http)
        login = attempt(http, self.username, PASSWORD, code_at(self.dep, self.secret), uri)
        assert login.status_code == 303, login.text
        session = redeem(self.dep, http, login.headers["location"], verifier)
        assert session.claims()["acr"] == ACR_MFA
        return session

    def passkey(self, http: TestClient) -> BoundSession:
        uri, verifier = push_authorization(http)
        options = http.post(
            "/oauth/webauthn/authenticate/options",
            json={"client_id": "console", "request_uri": uri},
        )
        assert options.status_code == 200, options.text
        r = http.post(
            "/oauth/webauthn/authenticate/verify",
            json={
                "client_id": "console",
                "request_uri": uri,
                "credential": self.device.get(options.json()),
            },
        )
        assert r.status_code == 200, r.text
        session = redeem(self.dep, http, r.json()["redirect_to"], verifier)
        assert session.claims()["acr"] == ACR_PHR
        return session


def honey_in(dep: Deployment) -> str:
    """A honey record of the agents' département (set-up reads the registry directly)."""
    svc = dep.service
    with svc.registry.session() as s:
        ids = s.execute(
            select(Person.public_id).where(Person.departement == dep.fixtures["departement"])
        ).scalars()
        return next(i for i in ids if svc.canaries.contains(i))


def link_honey_from(dep: Deployment, http: TestClient) -> Response:
    """A prefecture agent opens a renewal case and links a honey record to it: naming one
    is enough for the honey detector (no task needs one), before any read."""
    agent = dep.principals["prefecture"]
    headers = dep.headers("prefecture", agent, purpose="case_management")
    r = http.post("/v1/cases", json={"kind": "renewal", "reference": "R-22"}, headers=headers)
    assert r.status_code == 201, r.text
    return http.post(
        f"/v1/cases/{r.json()['id']}/subjects",
        json={"subject_id": honey_in(dep), "reason": "named in the renewal file"},
        headers=headers,
    )


def prefix_block(dep: Deployment, office: str) -> dict[str, Any]:
    items = dep.service.detector.list_containments(include_lifted=False)
    now = dep.clock.now()
    blocks = [c.to_dict() for c in items if c.ip_prefix == office + "0/24" and c.active(now)]
    assert len(blocks) == 1, blocks
    return blocks[0]


def entries(dep: Deployment, since: int) -> list[dict[str, Any]]:
    journal = dep.service.journal
    journal.flush()
    return [journal.entry(i) for i in range(since, journal.size())]


def test_a_prefix_block_spares_only_an_administrator_signed_in_with_a_passkey(
    deployment: Deployment,
) -> None:
    dep = deployment
    admin = Admin(dep, "soc on duty")
    office = at(dep, OFFICE + "20")
    strong = admin.passkey(office)
    weak = admin.totp(office)
    assert strong.call("GET", "/v1/containments").status_code == 200

    assert link_honey_from(dep, at(dep, OFFICE + "31")).status_code == 201
    block = prefix_block(dep, OFFICE)

    # Everyone else in the office is out: another role, and the same administrator with
    # a password and TOTP (a phished password and code must not pass a network block).
    police = office.post(
        "/v1/weapons/lookup", json={"serial": "SN-0001"}, headers=dep.headers("police")
    )
    assert police.status_code == 403 and police.json()["reason"] == "contained"
    keyed = office.post(
        "/v1/weapons/lookup",
        json={"serial": "SN-0001"},
        headers=dep.headers("police", acr=ACR_PHR),
    )
    assert keyed.status_code == 403, "a passkey spares those who lift blocks, nobody else"
    refused = weak.call("GET", "/v1/containments")
    assert refused.status_code == 403 and refused.json()["reason"] == "contained"

    since = dep.service.journal.size()
    spared = strong.call("GET", "/v1/containments")
    assert spared.status_code == 200, spared.text
    assert block["id"] in {c["id"] for c in spared.json()["items"]}
    journaled = [e for e in entries(dep, since) if e.get("reason") == "containment_spared"]
    assert len(journaled) == 1, journaled
    assert journaled[0]["principal"] == admin.id
    assert journaled[0]["outcome"] == "allowed"
    assert journaled[0]["detail"]["containment"] == block["id"]
    assert journaled[0]["detail"]["ip_prefix"] == block["ip_prefix"]

    # A containment aimed at the administrator himself is not a network block: no key
    # gets him past it.
    own = new_containment("suspend_principal", admin.id, dep.clock.now(), families=("test",))
    dep.service.detector.store.add(own)
    dep.clock.advance(2)  # the engine re-reads the shared store
    mine = strong.call("GET", "/v1/containments")
    assert mine.status_code == 403 and mine.json()["reason"] == "contained"


def test_the_office_story_two_administrators_with_passkeys_lift_a_honey_block(
    deployment: Deployment,
) -> None:
    """The issue's story to its end: the block came from a honey read, so the first
    administrator in the office only asks for the lift, cannot approve it himself, and a
    second administrator's approval lets the office back in. Every step is journaled."""
    dep = deployment
    first, second = Admin(dep, "soc on duty"), Admin(dep, "soc lead")
    office = at(dep, OTHER_OFFICE + "20")
    assert link_honey_from(dep, at(dep, OTHER_OFFICE + "31")).status_code == 201
    block = prefix_block(dep, OTHER_OFFICE)
    assert block["four_eyes"] is True and "honey" in block["families"]
    path = f"/v1/containments/{block['id']}"
    requester, approver = first.passkey(office), second.passkey(at(dep, OTHER_OFFICE + "21"))

    since = dep.service.journal.size()
    asked = requester.call("POST", path + "/lift", json={"why": WHY})
    assert asked.status_code == 200, asked.text
    assert asked.json()["lift_requested"]["requested_by"] == first.id
    again = requester.call("POST", path + "/lift", json={"why": WHY})
    assert again.status_code == 409 and again.json()["reason"] == "lift_pending"
    own = requester.call("POST", path + "/approve", json={"note": "mine"})
    assert own.status_code == 403 and own.json()["reason"] == "four_eyes"
    listed = requester.call("GET", "/v1/containments").json()["items"]
    pending = next(c for c in listed if c["id"] == block["id"])
    assert pending["lifted_at"] is None and pending["lift_request"]["why"] == WHY
    police = office.post(
        "/v1/weapons/lookup", json={"serial": "SN-0001"}, headers=dep.headers("police")
    )
    assert police.status_code == 403, "a request alone lifts nothing"

    approved = approver.call("POST", path + "/approve", json={"note": "checked the case file"})
    assert approved.status_code == 200, approved.text
    lifted = approved.json()["lifted"]
    assert (lifted["lifted_by"], lifted["lifted_why"]) == (second.id, WHY)
    assert approved.json()["requested_by"] == first.id
    twice = approver.call("POST", path + "/approve", json={})
    assert twice.status_code == 409, twice.text
    unknown = approver.call("POST", "/v1/containments/no-such-thing/approve", json={})
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("application/problem+json")
    smuggled = approver.call("POST", path + "/approve", json={"note": "ok", "as": first.id})
    assert smuggled.status_code in (400, 422), smuggled.text
    assert smuggled.headers["content-type"].startswith("application/problem+json")

    back = office.post(
        "/v1/weapons/lookup", json={"serial": "SN-0001"}, headers=dep.headers("police")
    )
    assert back.status_code != 403, back.text
    # The office is back; the agent who linked the honey record is not (with a token newer
    # than the suspension's revocation of his old ones, his containment answers).
    agent = dep.principals["prefecture"]
    dep.clock.advance(2)
    still = office.post(
        "/v1/weapons/lookup", json={"serial": "SN-0001"}, headers=dep.headers("prefecture", agent)
    )
    assert still.status_code == 403 and still.json()["reason"] == "contained", still.text
    lifts = [
        e
        for e in entries(dep, since)
        if e["kind"] == "access"
        and e["endpoint"] in {f"POST {LIFTS}/lift", f"POST {LIFTS}/approve"}
    ]
    assert [(e["principal"], e["outcome"], e.get("reason")) for e in lifts] == [
        (first.id, "allowed", None),
        (first.id, "refused", "lift_pending"),
        (first.id, "refused", "four_eyes"),
        (second.id, "allowed", None),
        (second.id, "refused", "conflict"),
        (second.id, "refused", "not_found"),
        (second.id, "refused", "invalid_input"),
    ]
    assert lifts[0]["detail"]["four_eyes"] == "requested"
    assert lifts[3]["detail"]["requested_by"] == first.id
    # The approval lifted the block alone, and journaled it as an administrative action.
    lifted_entries = [e for e in entries(dep, since) if e.get("reason") == "containment_lifted"]
    assert [e["detail"]["containment"] for e in lifted_entries] == [block["id"]]
    assert {(e["kind"], e["detail"]["by"], e["detail"]["why"]) for e in lifted_entries} == {
        ("admin", second.id, WHY)
    }
