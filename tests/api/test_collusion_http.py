"""Four eyes turned into a ring, over HTTP (issue 18's colluding agents): an insider fills
its own renewal cases with targets of its département, and a colleague of the same unit
approves every link that waits for a second agent. Linking and case growth suspend the
insider; then the colleague works a case of its own the same way. With the collusion
detector on, having approved for an agent since suspended, it is suspended within a few
links; with it off, the same colleague is only alerted on and keeps reading.

Both agents hold their login and its second factor (they answer step-ups and log in again
after a session suspension); both stacks differ only in the policy's collusion detector."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from strongroom.policy import default_policy_text
from tests.api.test_link_detection_http import Insider, morning, targets
from tests.deployment import Deployment, build_deployment

OWN_LINKS = 12  # links the colleague makes to a case of its own


def defence_off() -> str:
    text = default_policy_text()
    start = text.index("  collusion:\n")
    end = text.index("  context:\n")
    return text[:start] + "  collusion: {enabled: false}\n" + text[end:]


@pytest.fixture(scope="module")
def stacks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Deployment]]:
    deps = {
        "on": build_deployment(tmp_path_factory.mktemp("on"), persons=2500),
        "off": build_deployment(
            tmp_path_factory.mktemp("off"), persons=2500, policy_text=defence_off()
        ),
    }
    yield deps
    for dep in deps.values():
        dep.client.close()
        dep.service.close()


@dataclass
class Ring:
    insider: Insider
    colleague: Insider
    approvals: int = 0
    colleague_reads_before_stop: int = 0


def approve(colleague: Insider, case: str, subject: str) -> bool:
    r = colleague.send(
        "POST",
        f"/v1/cases/{case}/subjects/{subject}/approve",
        {"purpose": "case_management"},
    )
    return r.status_code == 200


def run(dep: Deployment) -> Ring:
    morning(dep)
    subjects = targets(dep, 60)
    unit = dep.fixtures["busiest"]
    admin = dep.service.admin
    ring = Ring(
        Insider(dep, admin.add_principal(role="prefecture", departement=unit, label="insider")),
        Insider(dep, admin.add_principal(role="prefecture", departement=unit, label="ring")),
    )
    me, mate = ring.insider, ring.colleague
    # The insider: one case, every link past the tenth approved by the colleague.
    case = str(me.open_case().json()["id"])
    queue = subjects[:40]
    while queue and not me.suspended:
        subject = queue.pop(0)
        r = me.link(case, subject)
        if r.status_code != 201:
            break
        if r.json()["status"] == "pending" and approve(mate, case, subject):
            ring.approvals += 1
        me.read(case, subject)
    assert me.suspended, "the insider itself was never suspended"
    # The colleague, on a case of its own, targets of its own.
    own = str(mate.open_case().json()["id"])
    for subject in subjects[40 : 40 + OWN_LINKS]:
        if mate.suspended:
            break
        r = mate.link(own, subject)
        if r.status_code == 201 and r.json()["status"] == "active":
            mate.read(own, subject)
    return ring


@pytest.fixture(scope="module")
def rings(stacks: dict[str, Deployment]) -> dict[str, Ring]:
    return {name: run(dep) for name, dep in stacks.items()}


def families_of(dep: Deployment, principal: str) -> set[str]:
    return {
        f
        for c in dep.service.detector.list_containments()
        if c.principal == principal and c.action == "suspend_principal"
        for f in c.families
    }


def test_without_the_detector_the_approver_keeps_reading(rings: dict[str, Ring]) -> None:
    off = rings["off"]
    assert off.approvals >= 1
    assert not off.colleague.suspended
    assert off.colleague.records >= OWN_LINKS - 2, off.colleague.records


def test_the_approver_of_a_suspended_insider_is_suspended_on_its_own_case(
    rings: dict[str, Ring], stacks: dict[str, Deployment]
) -> None:
    on, off = rings["on"], rings["off"]
    assert on.approvals >= 1
    assert on.colleague.suspended
    assert on.colleague.records < off.colleague.records
    assert on.colleague.records <= 6, on.colleague.records
    assert {"collusion", "case_growth"} <= families_of(stacks["on"], on.colleague.principal)


def test_approvals_journal_whose_link_they_approved(
    rings: dict[str, Ring], stacks: dict[str, Deployment]
) -> None:
    """The approval's journal entry names the linker (a pseudonymous principal ID): what
    the detector follows, and what an investigator follows after it."""
    on = rings["on"]
    dep = stacks["on"]
    entries = [
        e
        for e in dep.service.journal.entries_since(0)
        if e.get("principal") == on.colleague.principal
        and str(e.get("endpoint", "")).endswith("/approve")
        and e.get("outcome") == "allowed"
    ]
    assert entries and all(e["detail"]["for"] == on.insider.principal for e in entries)
