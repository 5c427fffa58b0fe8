"""Risk, the response ladder and containment, on synthetic streams."""

import uuid

import pytest
from detect_testkit import CANARY, config, engine, event, only

from strongroom.clock import FakeClock
from strongroom.detect.config import LADDER, Rung
from strongroom.detect.containment import new_containment
from strongroom.detect.ladder import due
from strongroom.detect.state import Scored
from strongroom.errors import BadRequest, Conflict, NotFound


def _burst(clock, eng, n=120, **kw):
    actions = []
    for _ in range(n):
        actions += eng.observe(event(clock, **kw))
        clock.advance(0.5)
    return actions


def test_one_noisy_family_never_suspends() -> None:
    clock = FakeClock()
    eng = engine(clock, only({"velocity": {}}))
    actions = _burst(clock, eng, n=400)
    fired = {a.action for a in actions}
    assert fired == {"alert"}  # velocity alone is capped at 45: alert, not even throttle
    assert eng.check("p-1", "s-1", "198.51.100.7") is None
    assert eng.throttle_factor("p-1") == 1.0


def test_throttle_exposes_its_factor() -> None:
    clock = FakeClock()
    cfg = only(
        {"velocity": {}},
        alert={"threshold": 20},
        throttle={"threshold": 40, "params": {"factor": 0.5}},
    )
    eng = engine(clock, cfg)
    actions = _burst(clock, eng)
    assert [a.action for a in actions] == ["alert", "throttle"]
    assert eng.throttle_factor("p-1") == 0.5
    assert eng.check("p-1", "s-1", None) is None  # a throttle does not block
    clock.advance(3601)
    assert eng.throttle_factor("p-1") == 1.0  # it expires


def test_two_families_climb_to_suspension_and_it_bites_on_the_next_request() -> None:
    clock = FakeClock()
    revoked: list[str] = []
    eng = engine(clock, only({"velocity": {}, "enumeration": {}}), revoke_principal=revoked.append)
    seen = []
    for n in range(60):
        seen += eng.observe(event(clock, sort_key=n, matched=True))
        clock.advance(0.5)
        if "suspend_principal" in {a.action for a in seen}:
            break
    ladder = [a.action for a in seen]
    assert ladder[:3] == ["alert", "throttle", "step_up"]
    assert "suspend_session" in ladder and ladder[-1] in ("suspend_principal", "block_ip_prefix")
    assert revoked == ["p-1"]
    c = eng.check("p-1", "another-session", "192.0.2.1")
    assert c is not None and c.action == "suspend_principal"
    assert set(c.families) >= {"volume", "enumeration"}
    entry = next(a for a in seen if a.action == "suspend_principal").to_entry()
    assert entry["outcome"] == "contained" and entry["reason"] == "contained:suspend_principal"
    assert entry["detail"]["target"] == "p-1" and entry["kind"] == "security"


def test_a_login_that_comes_back_after_its_session_was_cut_suspends_the_principal() -> None:
    """Risk between the session and the principal rungs: the session is suspended; the
    same principal carrying on from a new session (it holds the password and the second
    factor) is suspended as a principal, not given one more session."""
    clock = FakeClock()
    revoked: list[str] = []
    cfg = only(
        {"velocity": {}, "enumeration": {}},
        alert={"threshold": 30},
        throttle={"threshold": 50},
        step_up={"threshold": 60},
        suspend_session={"threshold": 75},
        suspend_principal={"threshold": 100},
    )
    eng = engine(clock, cfg, revoke_principal=revoked.append)
    seen = []
    for n in range(60):
        seen += eng.observe(event(clock, sort_key=n, matched=True, session="s-1"))
        clock.advance(0.5)
        if "suspend_session" in {a.action for a in seen}:
            break
    assert "suspend_principal" not in {a.action for a in seen}
    c = eng.check("p-1", "s-1", None)
    assert c is not None and c.action == "suspend_session"
    # A new login, with its fresh second factor, gets in ...
    assert eng.check("p-1", "s-2", None, auth_time=clock.now()) is None
    again = eng.observe(event(clock, sort_key=61, matched=True, session="s-2"))
    assert [a.action for a in again] == ["suspend_principal"]  # ... once
    assert revoked == ["p-1"]
    c = eng.check("p-1", "s-3", None)
    assert c is not None and c.action == "suspend_principal"


def test_step_up_is_satisfied_by_a_later_authentication() -> None:
    clock = FakeClock()
    cfg = only({"enumeration": {}}, step_up={"threshold": 40})
    eng = engine(clock, cfg)
    for n in range(12):
        eng.observe(event(clock, sort_key=n * 10, matched=True))
        clock.advance(10)
    c = eng.check("p-1", "s-1", None)
    assert c is not None and c.action == "step_up"
    assert eng.check("p-1", "s-1", None, auth_time=c.created_at - 60) is not None
    assert eng.check("p-1", "s-1", None, auth_time=clock.now()) is None


def test_shadow_response_records_but_does_not_contain() -> None:
    clock = FakeClock()
    revoked: list[str] = []
    eng = engine(
        clock,
        only({"honey": {}}, suspend_principal={"threshold": 90, "shadow": True}),
        revoke_principal=revoked.append,
    )
    actions = eng.observe(event(clock, subjects=(CANARY,)))
    assert [(a.action, a.shadow) for a in actions] == [("suspend_principal", True)]
    assert actions[0].to_entry()["outcome"] == "allowed"
    assert actions[0].to_entry()["reason"] == "detect:shadow:suspend_principal"
    assert eng.check("p-1", "s-1", None) is None and revoked == []


def test_shadow_detector_alerts_without_risk() -> None:
    clock = FakeClock()
    findings: list[dict] = []

    class Collect:
        def emit(self, f: dict) -> None:
            findings.append(f)

    eng = engine(clock, only({"honey": {"shadow": True}}), sinks=[Collect()])
    assert eng.observe(event(clock, subjects=(CANARY,))) == []
    assert eng.risk("p-1") == 0 and eng.check("p-1", None, None) is None
    assert len(findings) == 1 and findings[0]["unmapped"]["shadow"] is True


def test_lift_records_who_and_why_and_sticks() -> None:
    clock = FakeClock()
    recorded = []
    eng = engine(clock, only({"honey": {}}), on_action=recorded.append)
    eng.observe(event(clock, subjects=(CANARY,)))
    c = eng.check("p-1", "s-1", None)
    assert c is not None
    with pytest.raises(BadRequest):
        eng.lift(c.id, by="admin-1", why=" ")
    lifted = eng.lift(c.id, by="admin-1", why="canary seeded on a real case file")
    assert lifted.lifted_by == "admin-1" and lifted.lifted_at == clock.now()
    assert eng.check("p-1", "s-1", None) is None
    assert eng.risk("p-1") == 0
    lift_entry = recorded[-1].to_entry()
    assert lift_entry["kind"] == "admin" and lift_entry["detail"]["by"] == "admin-1"
    assert lift_entry["detail"]["why"] == "canary seeded on a real case file"
    eng.observe(event(clock))  # an ordinary read afterwards is not re-contained
    assert eng.check("p-1", "s-1", None) is None
    with pytest.raises(Conflict):
        eng.lift(c.id, by="admin-1", why="again")
    with pytest.raises(NotFound):
        eng.lift(str(uuid.uuid4()), by="admin-1", why="no such")
    listed = eng.list_containments()
    assert c.id in {x.id for x in listed} and len(listed) >= 2  # session + principal
    assert all(x.lifted_by == "admin-1" for x in listed)


def test_risk_decays_with_time() -> None:
    clock = FakeClock()
    eng = engine(clock, only({"velocity": {}}))
    _burst(clock, eng, n=60)
    high = eng.risk("p-1")
    clock.advance(900)
    assert eng.risk("p-1") == pytest.approx(high / 2, rel=0.05)


def test_block_ip_prefix_blocks_other_principals_on_it() -> None:
    clock = FakeClock()
    cfg = only({"honey": {}, "enumeration": {}})
    eng = engine(clock, cfg)
    for n in range(12):
        eng.observe(event(clock, "bot", ip="203.0.113.50", sort_key=n, matched=True))
        clock.advance(5)
    eng.observe(event(clock, "bot", ip="203.0.113.50", subjects=(CANARY,)))
    c = eng.check("someone-else", None, "203.0.113.77")
    assert c is not None and c.action == "block_ip_prefix"
    assert c.ip_prefix == "203.0.113.0/24"
    assert eng.check("someone-else", None, "203.0.114.77") is None
    assert eng.prefix_risk("203.0.113.1") >= 95


def test_state_per_principal_stays_small() -> None:
    clock = FakeClock()
    eng = engine(clock, config())
    for n in range(5000):
        eng.observe(
            event(
                clock,
                subjects=(str(uuid.uuid4()), str(uuid.uuid4())),
                endpoint=f"GET /v1/e{n % 5}",
                sort_key=n % 97,
                ip=f"10.{n % 7}.0.1",
                user_agent=f"ua-{n % 9}",
                matched=True,
            )
        )
        clock.advance(7)
    assert 0 < eng.state_size_bytes("p-1") <= 2048


@pytest.mark.parametrize(
    ("families", "suspends"),
    [
        (("breadth", "peer", "drift"), False),  # one kind of evidence: how much is read
        (("peer", "drift"), False),
        (("breadth", "enumeration"), True),  # amount and pattern
        (("peer", "volume"), True),  # amount and rate
        (("drift",), False),
    ],
)
def test_only_independent_evidence_suspends(families: tuple[str, ...], suspends: bool) -> None:
    rungs = [Rung(action, 10.0 * (k + 1)) for k, action in enumerate(LADDER)]
    fired = {r.action for r in due(Scored(), rungs, 100.0, families, False, lambda _: False)}
    assert {"alert", "throttle", "step_up"} <= fired
    assert ("suspend_principal" in fired) is suspends
    assert ("block_ip_prefix" in fired) is suspends
    honey = {r.action for r in due(Scored(), rungs, 100.0, families, True, lambda _: False)}
    assert "suspend_principal" in honey  # a honey hit alone is enough


def test_one_administrators_lift_never_takes_a_honey_containment_along() -> None:
    """The episode's containments go with a lift, except those a honey read set off: they
    wait for a second administrator (the gate's four eyes), whatever else is lifted."""
    clock = FakeClock()
    eng = engine(clock, only({"honey": {}}))
    eng.observe(event(clock, subjects=(CANARY,)))
    honey = eng.check("p-1", "s-1", None)
    assert honey is not None and honey.four_eyes
    other = new_containment("throttle", "p-1", clock.now(), families=("volume",), factor=0.5)
    eng.store.add(other)
    eng.lift(other.id, by="admin-1", why="the throttle was a false positive")
    assert eng.check("p-1", "s-1", None) == honey
    assert eng.containment(honey.id) == honey and honey.lifted_at is None


def test_lifting_a_prefix_block_frees_the_network_not_the_principal_behind_it() -> None:
    clock = FakeClock()
    eng = engine(clock, only({"honey": {}}))
    eng.observe(event(clock, "reader", ip="203.0.113.50", subjects=(CANARY,)))
    block = eng.check("someone-else", None, "203.0.113.77")
    assert block is not None and block.action == "block_ip_prefix"
    eng.lift(block.id, by="admin-1", why="the office is not the reader")
    assert eng.check("someone-else", None, "203.0.113.77") is None
    held = eng.check("reader", "s-1", None)
    assert held is not None and held.action == "suspend_principal"
    # The other way round the episode goes along: the reader's lift takes his block too.
    eng.observe(event(clock, "reader-2", ip="198.51.100.8", subjects=(CANARY,)))
    own = eng.check("reader-2", None, None)
    assert own is not None and eng.check("x", None, "198.51.100.9") is not None
    eng.lift(own.id, by="admin-1", why="canary seeded on a real case file")
    assert eng.check("x", None, "198.51.100.9") is None
