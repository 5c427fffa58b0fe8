"""Masking functions and compiled views: partial hides length, generalize coarsens,
pseudonyms are stable per requester and unlinkable across requesters, deny by default."""

from __future__ import annotations

import datetime as dt

import pytest

from strongroom.errors import Forbidden
from strongroom.policy import compile_policy, load_default_policy
from strongroom.policy.masking import departement_of, partial, pseudonym

KEY = bytes(range(32))

RECORD = {
    "identity.family_name": "Dupont-Moreau",
    "identity.given_names": "Jean",
    "identity.birth_date": dt.date(1984, 5, 2),
    "identity.birth_place": "Lyon",
    "address.street": "12 rue des Lilas",
    "address.city": "Ajaccio",
    "address.postcode": "20090",
    "address.departement": "2A",
    "permit.number": "P-123456",
    "permit.status": "valid",
    "permit.categories": ["B", "C"],
    "permit.expires": "2027-01-31",
    "weapon.serial": "SN-998877",
    "ban.banned": False,
    "ref.person_id": "0b9f1c5e-7d37-4f7e-9a51-0a4f3d6f2a11",
    "internal.pk": 42,
}


@pytest.fixture(scope="module")
def compiled():
    return compile_policy(load_default_policy(), KEY)


def test_partial_keeps_length_constant() -> None:
    mask = partial(8)
    short, long_ = mask("Li", "r"), mask("Dupont-Moreau-Lefebvre", "r")
    assert short == "L*******"
    assert long_ == "D*******"
    assert len(short) == len(long_) == 8
    assert mask("", "r") == "********"
    assert mask(None, "r") is None


def test_departement_of_postcodes() -> None:
    assert departement_of("75011") == "75"
    assert departement_of("20090") == "2A"  # Ajaccio, Corse-du-Sud
    assert departement_of("20200") == "2B"  # Bastia, Haute-Corse
    assert departement_of("97110") == "971"  # Guadeloupe
    assert departement_of("01000") == "01"


def test_pseudonym_stable_per_requester_and_distinct_across() -> None:
    mask = pseudonym(KEY, "ref.person_id", 16)
    a1, a2 = mask("subject-1", "dealer-a"), mask("subject-1", "dealer-a")
    b = mask("subject-1", "dealer-b")
    other = mask("subject-2", "dealer-a")
    assert a1 == a2
    assert a1 != b
    assert a1 != other
    assert len(a1) == 16 and a1.isalnum() and "subject" not in a1
    # A different key gives unrelated pseudonyms; a different field too.
    assert pseudonym(bytes(32), "ref.person_id", 16)("subject-1", "dealer-a") != a1
    assert pseudonym(KEY, "ref.sale_id", 16)("subject-1", "dealer-a") != a1


def test_pseudonym_framing_prevents_concatenation_collisions() -> None:
    mask = pseudonym(KEY, "f", 16)
    assert mask("bc", "a") != mask("c", "ab")


def test_short_key_refused() -> None:
    with pytest.raises(ValueError):
        compile_policy(load_default_policy(), b"short")


def test_police_check_view(compiled) -> None:
    view = compiled.view("police", "police_check")
    out = view.apply(RECORD, "officer-1")
    assert out["identity.family_name"] == "D*******"
    assert out["identity.given_names"] == "J*******"
    assert out["identity.birth_date"] == "1984"
    assert out["permit.status"] == "valid"
    assert out["ref.person_id"] == RECORD["ref.person_id"]
    for gone in (
        "address.street",
        "address.city",
        "address.postcode",
        "permit.number",
        "identity.birth_place",
        "internal.pk",
    ):
        assert gone not in out
    assert "address.street" not in view.revealed
    assert "identity.family_name" in view.revealed
    assert "identity.family_name" not in view.plain
    assert view.visible == view.revealed


def test_dealer_verification_never_sees_identity_or_address(compiled) -> None:
    view = compiled.view("dealer", "sale_verification")
    out = view.apply(RECORD, "dealer-1")
    assert set(out) == {"permit.status", "permit.categories", "permit.expires", "ban.banned"}
    assert not any(f.startswith(("identity.", "address.", "weapon.")) for f in view.visible)


def test_dealer_ledger_pseudonymizes_buyer(compiled) -> None:
    view = compiled.view("dealer", "ledger_keeping")
    a = view.apply(RECORD, "dealer-a")["ref.person_id"]
    b = view.apply(RECORD, "dealer-b")["ref.person_id"]
    assert a != RECORD["ref.person_id"] and a != b
    assert view.apply(RECORD, "dealer-a")["ref.person_id"] == a


def test_generalize_postcode_in_a_custom_policy() -> None:
    policy = load_default_policy()
    rules = {
        **policy.rules,
        "police": {
            **policy.rules["police"],
            "investigation": {"address.*": "generalize", "identity.birth_date": "generalize"},
        },
    }
    compiled = compile_policy(policy.model_copy(update={"rules": rules}), KEY)
    view = compiled.view("police", "investigation")
    out = view.apply(RECORD, "officer-1")
    # postcode -> département; street, city and departement have no coarser form (drop).
    assert out == {"address.postcode": "2A", "identity.birth_date": "1984"}
    assert view.visible == {"address.postcode", "identity.birth_date"}


def test_deny_by_default(compiled) -> None:
    for role, purpose in (("auditor", "audit"), ("admin", "administration")):
        view = compiled.view(role, purpose)
        assert view.visible == frozenset()
        assert view.revealed == frozenset()
        assert view.apply(RECORD, "x") == {}
        assert view.weight == 0


def test_view_for_undeclarable_purpose_is_refused(compiled) -> None:
    with pytest.raises(Forbidden) as info:
        compiled.view("dealer", "investigation")
    assert info.value.reason == "purpose_not_allowed"


def test_none_values_stay_none(compiled) -> None:
    view = compiled.view("police", "police_check")
    out = view.apply({"identity.family_name": None, "identity.birth_date": None}, "o")
    assert out == {"identity.family_name": None, "identity.birth_date": None}
