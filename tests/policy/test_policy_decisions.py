"""check_purpose, check_search, page_size and weight on the shipped default."""

from __future__ import annotations

import datetime as dt

import pytest

from strongroom.auth.acr import ACR_MFA, ACR_PHR
from strongroom.clock import FakeClock
from strongroom.context import Caller
from strongroom.errors import BadRequest, Forbidden, InsufficientSpecificity, Unauthorized
from strongroom.policy import compile_policy, load_default_policy

SEARCH = "POST /v1/persons/search"
PERSON = "GET /v1/persons/{id}"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def compiled(clock: FakeClock):
    return compile_policy(load_default_policy(), b"k" * 32, clock=clock)


def police(**kw: object) -> Caller:
    base: dict[str, object] = {
        "principal_id": "p1",
        "role": "police",
        "scopes": frozenset({"persons:search", "persons:read"}),
        "acr": ACR_PHR,
    }
    base.update(kw)
    return Caller(**base)  # type: ignore[arg-type]


def refused(compiled, caller: Caller, endpoint: str = PERSON) -> str:
    with pytest.raises(Forbidden) as info:
        compiled.check_purpose(caller, endpoint)
    return str(info.value.reason)


def test_default_purpose_applies(compiled) -> None:
    assert compiled.check_purpose(police(), SEARCH) == "police_check"


def test_scope_missing(compiled) -> None:
    assert refused(compiled, police(scopes=frozenset({"persons:search"}))) == "scope_missing"


def test_role_not_allowed(compiled) -> None:
    dealer = Caller(principal_id="d", role="dealer", scopes=frozenset({"persons:read"}))
    assert refused(compiled, dealer) == "role_not_allowed"


def test_unknown_endpoint_and_role_fail_closed(compiled) -> None:
    assert refused(compiled, police(), "DELETE /v1/everything") == "endpoint_unknown"
    assert refused(compiled, police(role="hacker")) == "role_unknown"


def test_purpose_not_allowed(compiled) -> None:
    assert refused(compiled, police(purpose="case_work")) == "purpose_not_allowed"
    # The endpoint narrows purposes: a dealer cannot verify under ledger_keeping.
    dealer = Caller(
        principal_id="d",
        role="dealer",
        purpose="ledger_keeping",
        scopes=frozenset({"permits:verify"}),
    )
    assert refused(compiled, dealer, "POST /v1/permits/verify") == "purpose_not_allowed"


def test_purpose_missing_without_default(compiled) -> None:
    policy = load_default_policy()
    roles = {
        **policy.roles,
        "police": policy.roles["police"].model_copy(update={"default_purpose": None}),
    }
    c = compile_policy(policy.model_copy(update={"roles": roles}), b"k" * 32)
    assert refused(c, police()) == "purpose_missing"


def test_justification_and_case_required(compiled, clock: FakeClock) -> None:
    now = clock.now()
    assert (
        refused(compiled, police(purpose="investigation", case="C-1", auth_time=now))
        == "justification_required"
    )
    assert (
        refused(
            compiled,
            police(purpose="investigation", case="C-1", auth_time=now, justification="too short"),
        )
        == "justification_required"
    )
    assert (
        refused(compiled, police(purpose="investigation", auth_time=now, justification="x" * 25))
        == "case_required"
    )
    ok = police(
        purpose="investigation",
        case="C-1",
        auth_time=now,
        justification="armed robbery, suspect identified by witness",
    )
    assert compiled.check_purpose(ok, PERSON) == "investigation"


def test_step_up_needs_recent_mfa(compiled, clock: FakeClock) -> None:
    caller = police(
        purpose="investigation", case="C-1", justification="j" * 30, auth_time=clock.now()
    )
    clock.advance(3601)  # police step_up_max_age_seconds is 3600
    with pytest.raises(Unauthorized) as info:
        compiled.check_purpose(caller, PERSON)
    assert info.value.reason == "insufficient_user_authentication"
    assert info.value.extra["max_age"] == 3600
    assert 'max_age="3600"' in info.value.headers["WWW-Authenticate"]
    with pytest.raises(Unauthorized):
        compiled.check_purpose(
            police(purpose="investigation", case="C-1", justification="j" * 30), PERSON
        )


def test_break_glass_requires_step_up_and_long_justification(compiled, clock) -> None:
    agent = Caller(
        principal_id="a",
        role="prefecture",
        purpose="break_glass",
        scopes=frozenset({"persons:read"}),
        justification="urgent" * 10,
        case="b6a8a7d2-3c1e-4c57-9d1e-2f0a4f8b9c11",
    )
    with pytest.raises(Unauthorized):
        compiled.check_purpose(agent, PERSON)
    fresh = Caller(
        principal_id="a",
        role="prefecture",
        purpose="break_glass",
        scopes=frozenset({"persons:read"}),
        justification="urgent" * 10,
        case="b6a8a7d2-3c1e-4c57-9d1e-2f0a4f8b9c11",
        acr=ACR_PHR,
        auth_time=clock.now(),
    )
    assert compiled.check_purpose(fresh, PERSON) == "break_glass"
    assert compiled.purpose("break_glass").break_glass.duration_seconds == 3600


def test_a_totp_session_cannot_pass_a_step_up_that_asks_for_a_passkey(compiled, clock) -> None:
    """The downgrade: a phished password and TOTP code, however fresh, do not open an
    investigation; the challenge names the level the client must come back with."""
    totp = police(
        purpose="investigation",
        case="C-1",
        justification="j" * 30,
        acr=ACR_MFA,
        auth_time=clock.now(),
    )
    with pytest.raises(Unauthorized) as info:
        compiled.check_purpose(totp, PERSON)
    challenge = info.value.headers["WWW-Authenticate"]
    assert f'acr_values="{ACR_PHR}"' in challenge and 'max_age="3600"' in challenge
    for forged in ("phr", "urn:other:acr:phr", None):
        with pytest.raises(Unauthorized):
            compiled.check_purpose(police(**{**totp.__dict__, "acr": forged}), PERSON)
    assert compiled.check_purpose(police(**{**totp.__dict__, "acr": ACR_PHR}), PERSON)


@pytest.mark.parametrize(
    "given",
    [
        {"identity.family_name": "Dupont", "identity.birth_date": "1984-05-02"},
        {"identity.family_name": "Dupont", "identity.birth_date": dt.date(1984, 5, 2)},
        {"permit.number": "P-123456"},
    ],
)
def test_specific_searches_pass(compiled, given) -> None:
    compiled.check_search(SEARCH, given)


@pytest.mark.parametrize(
    "given",
    [
        {"identity.family_name": "Dupont"},  # too little
        {"identity.birth_date": "1984-05-02"},
        {},
        {"identity.family_name": "Dup*", "identity.birth_date": "1984-05-02"},  # wildcard
        {"identity.family_name": "Dup%", "identity.birth_date": "1984-05-02"},
        {"identity.family_name": "Dup?nt", "identity.birth_date": "1984-05-02"},
        {"identity.family_name": "Dupont", "identity.birth_date": "1984.."},  # range
        {"identity.family_name": "Dupont", "identity.birth_date": "1980..1990"},
        {"identity.family_name": ["Dupont", "Martin"], "identity.birth_date": "1984-05-02"},
        {"identity.family_name": {"prefix": "D"}, "identity.birth_date": "1984-05-02"},
        {"identity.family_name": "", "identity.birth_date": "1984-05-02"},
        {"identity.family_name": "   ", "identity.birth_date": "1984-05-02"},
        {"identity.family_name": None, "identity.birth_date": "1984-05-02"},
        {"identity.family_name": True, "identity.birth_date": "1984-05-02"},
        {"permit.number": "P-12*"},
    ],
)
def test_unspecific_searches_refused(compiled, given) -> None:
    with pytest.raises(InsufficientSpecificity) as info:
        compiled.check_search(SEARCH, given)
    assert info.value.reason == "insufficient_specificity"
    for value in given.values():
        if isinstance(value, str) and value.strip():
            assert value not in info.value.detail  # never echo what was asked


def test_unknown_search_field_refused(compiled) -> None:
    with pytest.raises(BadRequest) as info:
        compiled.check_search(SEARCH, {"address.postcode": "75011", "permit.number": "P-1"})
    assert info.value.reason == "field_not_searchable"


def test_page_size(compiled) -> None:
    assert compiled.page_size(SEARCH) == 10
    assert compiled.page_size("GET /v1/ledger") == 50
    with pytest.raises(Forbidden):
        compiled.page_size("GET /v1/nothing")


def test_weight_links_cost_most(compiled) -> None:
    identity = ["identity.family_name", "identity.birth_date"]  # 4 + 4
    address = ["address.street"]  # 6
    weapon = ["weapon.serial"]  # 4
    assert compiled.weight([]) == 0
    assert compiled.weight(identity) == 8
    assert compiled.weight(identity + address) == 8 + 6 + 10
    assert compiled.weight(identity + weapon) == 8 + 4 + 8
    assert compiled.weight(identity + address + weapon) == 8 + 6 + 4 + 30
    with pytest.raises(ValueError):
        compiled.weight(["identity.shoe_size"])


def test_specs_exposed(compiled) -> None:
    assert compiled.role("owner").object_scope == "self"
    assert compiled.endpoint(SEARCH).scope == "persons:search"
    with pytest.raises(Forbidden):
        compiled.purpose("fishing")
