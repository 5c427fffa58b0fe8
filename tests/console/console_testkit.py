"""A home for the console's tests: a seeded deployment whose auditor and administrator
sign in with password + TOTP, one active containment to lift and one export request
waiting for its approver. The clock starts two hours ago so a served process, on the real
clock, takes over where the set-up left off (TOTP steps included)."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyotp
from fastapi.testclient import TestClient

from strongroom.clock import FakeClock
from strongroom.detect.containment import Action, Containment
from tests.deployment import Deployment, build_deployment

PASSWORD = "a long and boring passphrase"
CASE = "CASE-2026-0042"
WHY = "Renewal letters for the département, semester 1"


@dataclass
class Account:
    principal: str
    username: str
    secret: str

    def code(self, at: float | None = None) -> str:
        return pyotp.TOTP(self.secret).at(int(time.time() if at is None else at))


@dataclass
class ConsoleSetup:
    dep: Deployment
    auditor: Account
    admin: Account
    officer: Account  # a prefecture agent, for sign-ins outside the console
    contained: str  # the principal under containment
    containment: str
    export: str
    # A police unit's link waiting for four eyes: made by `linker`, decided by `second`.
    linker: Account
    second: Account
    link_case: str
    link_subject: str


def enroll(dep: Deployment, role: str, principal: str | None = None) -> Account:
    svc = dep.service
    principal = principal or dep.principals[role]
    username = f"{role}-{principal[:8]}"
    svc.admin.set_password(principal, username, PASSWORD)
    uri = svc.authorization_server.credentials.begin_totp_enrollment(principal)
    secret = pyotp.parse_uri(uri).secret
    svc.authorization_server.credentials.confirm_totp_enrollment(
        principal, pyotp.TOTP(secret).at(int(dep.clock.now()))
    )
    return Account(principal, username, secret)


def console_setup(path: Path, **options: object) -> ConsoleSetup:
    dep = build_deployment(path, persons=60, clock=FakeClock(time.time() - 7200), **options)  # type: ignore[arg-type]
    auditor, admin = enroll(dep, "auditor"), enroll(dep, "admin")
    officer = enroll(dep, "prefecture")
    # Some history for the journal and the investigations: the police officer reads.
    police = dep.headers("police")
    for serial in ("NOSUCH-1", dep.fixtures["weapon_serial"]):
        dep.client.post("/v1/weapons/lookup", json={"serial": serial}, headers=police)
    # A containment as the detectors' ladder decides it: journaled as an action (the
    # alert the console lists) and kept in the store every worker reads.
    contained = dep.principals["police"]
    containment = Containment(
        id=str(uuid.uuid4()),
        action="suspend_principal",
        principal=contained,
        created_at=dep.clock.now(),
        risk=93.0,
        families=("enumeration", "velocity"),
    )
    dep.service.detector.store.add(containment)
    action = Action(
        action="suspend_principal",
        principal=contained,
        ts=dep.clock.now(),
        risk=93.0,
        families=("enumeration", "velocity"),
        role="police",
        containment=containment,
    )
    dep.service.journal.append(action.to_entry())
    # An export request waiting for an approver (four eyes).
    r = dep.client.post(
        "/v1/exports",
        headers=dep.headers("prefecture", case=CASE, justification=WHY),
        json={
            "dataset": "departement_permits_expiring",
            "fields": ["ref.permit_id", "permit.expires", "permit.kind"],
            "justification": WHY,
            "format": "csv",
        },
    )
    assert r.status_code == 201, r.text
    # A break-glass access waiting for the data protection officer's review.
    other = dep.fixtures["person_elsewhere"]
    glass = dep.headers(
        "prefecture",
        purpose="break_glass",
        case=dep.case("prefecture", other),
        acr="urn:strongroom:acr:phr",
        auth_time=dep.clock.now(),
        justification="Urgent: the holder moved yesterday and a suspension is pending now",
    )
    r2 = dep.client.get(f"/v1/persons/{other}", headers=glass)
    assert r2.status_code == 200, r2.text
    # Two officers of one police unit: the first links a person of another département,
    # which waits for a second agent of the unit.
    unit_departement = dep.fixtures["departement"]
    linker, second = (
        enroll(
            dep,
            "police",
            dep.service.admin.add_principal(
                role="police", departement=unit_departement, label=f"officer {n}"
            ),
        )
        for n in (1, 2)
    )
    link_case, outside = link_waiting(dep, linker)
    dep.clock.advance(60)
    return ConsoleSetup(
        dep,
        auditor,
        admin,
        officer,
        contained,
        containment.id,
        str(r.json()["id"]),
        linker,
        second,
        link_case,
        outside,
    )


def link_waiting(dep: Deployment, linker: Account) -> tuple[str, str]:
    """A new case of the linker's police unit with a person of another département linked:
    the link waits for a second agent. Returns (case, subject)."""
    managing = dep.headers("police", linker.principal, purpose="case_management")
    opened = dep.client.post(
        "/v1/cases", json={"kind": "investigation", "reference": "PV-2026-0907"}, headers=managing
    )
    assert opened.status_code == 201, opened.text
    case = str(opened.json()["id"])
    outside = dep.fixtures["person_elsewhere"]
    linked = dep.client.post(
        f"/v1/cases/{case}/subjects",
        json={"subject_id": outside, "reason": "seen with the suspect at the range"},
        headers=managing,
    )
    assert linked.status_code == 201 and linked.json()["status"] == "pending", linked.text
    return case, outside


@contextlib.contextmanager
def console_on(backend: str, path: Path) -> Iterator[ConsoleSetup]:
    """A console setup on the embedded SQLite files or on PostgreSQL (registry and journal
    each in their own database), the `console` client registered; closed after."""
    from tests.conftest import pg_database

    with contextlib.ExitStack() as stack:
        urls = {}
        if backend == "postgresql":
            urls = {
                "registry_url": stack.enter_context(pg_database()),
                "journal_url": stack.enter_context(pg_database()),
            }
        s = console_setup(path, **urls)
        srv = s.dep.service.authorization_server
        s.dep.service.admin.register_client(
            "console", public=True, redirect_uris=[srv.public_url + "/console/callback"]
        )
        yield s
        s.dep.client.close()
        s.dep.service.close()


def verification_status(http: TestClient) -> str:
    """The journal verification's status fragment once the run has ended (waits up to 10 s)."""
    for _ in range(200):
        status = http.get("/console/journal/verification").text
        if "data-poll-done" in status:
            return status
        time.sleep(0.05)
    return status
