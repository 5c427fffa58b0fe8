"""Passkey ceremonies (`auth/webauthn_passkeys.py`) against a software authenticator with
real keys, CBOR and signatures: what a browser and a phone would send, and what an attacker
could replay, forge or clone."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from strongroom.auth.store import make_auth_engine, metadata, passkeys
from strongroom.auth.webauthn_passkeys import (
    CHALLENGE_LIFETIME,
    PasskeyRefused,
    Passkeys,
    relying_party,
)
from strongroom.clock import FakeClock
from tests.auth.webauthn_testkit import SoftAuthenticator

PUBLIC_URL = "https://strongroom.example:8443"
ORIGIN = "https://strongroom.example:8443"
PID = "11111111-2222-3333-4444-555555555555"
PAR = "par-digest-1"


@pytest.fixture
def engine(tmp_path: Path) -> sa.Engine:
    engine = make_auth_engine(f"sqlite:///{tmp_path / 'auth.db'}")
    metadata.create_all(engine)
    return engine


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def keys(engine: sa.Engine, clock: FakeClock) -> Passkeys:
    rp_id, origin = relying_party(PUBLIC_URL)
    return Passkeys(engine, rp_id=rp_id, origin=origin, clock=clock)


def register(keys: Passkeys, device: SoftAuthenticator, pid: str = PID) -> None:
    options = keys.registration_options(pid, "officer")
    keys.verify_registration(pid, device.create(options), name="work phone")


def test_relying_party_comes_from_the_public_url() -> None:
    assert relying_party(PUBLIC_URL) == ("strongroom.example", ORIGIN)


def test_register_then_sign_in(keys: Passkeys, clock: FakeClock) -> None:
    device = SoftAuthenticator(ORIGIN)
    options = keys.registration_options(PID, "officer")
    assert options["rp"]["id"] == "strongroom.example"
    assert options["attestation"] == "none"
    assert options["authenticatorSelection"]["userVerification"] == "required"
    info = keys.verify_registration(PID, device.create(options), name="work phone")
    assert info.credential_id == device.id and info.name == "work phone"
    assert info.transports == ["internal", "hybrid"] and not info.flagged

    # The next registration excludes the key already held.
    again = keys.registration_options(PID, "officer")
    assert [c["id"] for c in again["excludeCredentials"]] == [device.id]

    clock.advance(5)
    options = keys.authentication_options(PAR)
    assert "allowCredentials" not in options or options["allowCredentials"] == []
    done = keys.verify_authentication(PAR, device.get(options))
    assert (done.principal_id, done.credential_id) == (PID, device.id)
    [stored] = keys.list(PID)
    assert stored.sign_count == 1 and stored.last_used_at == clock.now()


def test_several_passkeys_per_account_and_removal(keys: Passkeys) -> None:
    phone, laptop = SoftAuthenticator(ORIGIN), SoftAuthenticator(ORIGIN)
    register(keys, phone)
    register(keys, laptop)
    assert {p.credential_id for p in keys.list(PID)} == {phone.id, laptop.id}
    assert not keys.remove("someone-else", phone.id)  # only the owner removes
    assert keys.remove(PID, phone.id)
    with pytest.raises(PasskeyRefused) as refused:
        keys.verify_authentication(PAR, phone.get(keys.authentication_options(PAR)))
    assert refused.value.reason == "unknown_passkey"
    keys.verify_authentication(PAR, laptop.get(keys.authentication_options(PAR)))


@pytest.mark.parametrize("ceremony", ["register", "authenticate"])
def test_an_answer_made_for_another_origin_is_refused(keys: Passkeys, ceremony: str) -> None:
    """A phishing site relays our challenge; the browser writes its own origin into
    clientDataJSON, and the signature covers it."""
    device = SoftAuthenticator(ORIGIN)
    phishing = "https://strongroom-example.login.test"
    if ceremony == "register":
        options = keys.registration_options(PID, "officer")
        with pytest.raises(PasskeyRefused) as refused:
            keys.verify_registration(PID, device.create(options, origin=phishing))
    else:
        register(keys, device)
        options = keys.authentication_options(PAR)
        with pytest.raises(PasskeyRefused) as refused:
            keys.verify_authentication(PAR, device.get(options, origin=phishing))
    assert refused.value.reason == "wrong_origin"


def test_an_assertion_for_another_rp_id_is_refused(keys: Passkeys) -> None:
    device = SoftAuthenticator(ORIGIN)
    register(keys, device)
    device.rp_id = "example"  # an authenticator asked by a parent domain
    with pytest.raises(PasskeyRefused) as refused:
        keys.verify_authentication(PAR, device.get(keys.authentication_options(PAR)))
    assert refused.value.reason == "wrong_rp_id"


def test_a_challenge_is_answered_once_and_only_where_it_was_issued(
    keys: Passkeys, clock: FakeClock
) -> None:
    device = SoftAuthenticator(ORIGIN)
    register(keys, device)
    options = keys.authentication_options(PAR)
    answer = device.get(options)
    keys.verify_authentication(PAR, answer)
    with pytest.raises(PasskeyRefused) as replayed:
        keys.verify_authentication(PAR, answer)
    assert replayed.value.reason == "unknown_challenge"

    # A challenge issued for one sign-in does not complete another.
    other = device.get(keys.authentication_options("par-digest-2"))
    with pytest.raises(PasskeyRefused):
        keys.verify_authentication(PAR, other)

    # Nor does one that has expired, nor a registration challenge used to sign in.
    late = device.get(keys.authentication_options(PAR))
    clock.advance(CHALLENGE_LIFETIME + 1)
    with pytest.raises(PasskeyRefused):
        keys.verify_authentication(PAR, late)
    crossed = device.get(
        {**keys.registration_options(PID, "officer"), "rpId": "strongroom.example"}
    )
    with pytest.raises(PasskeyRefused):
        keys.verify_authentication(PID, crossed)


def test_a_registration_challenge_is_bound_to_its_principal(keys: Passkeys) -> None:
    options = keys.registration_options(PID, "officer")
    with pytest.raises(PasskeyRefused) as refused:
        keys.verify_registration("another-principal", SoftAuthenticator(ORIGIN).create(options))
    assert refused.value.reason == "unknown_challenge"
    assert keys.list("another-principal") == []


def test_a_sign_count_going_backwards_flags_the_passkey(keys: Passkeys) -> None:
    device = SoftAuthenticator(ORIGIN)
    register(keys, device)
    for _ in range(3):
        keys.verify_authentication(PAR, device.get(keys.authentication_options(PAR)))
    clone = device.get(keys.authentication_options(PAR), sign_count=2)
    with pytest.raises(PasskeyRefused) as refused:
        keys.verify_authentication(PAR, clone)
    assert refused.value.reason == "sign_count_regressed"
    assert refused.value.principal_id == PID
    [stored] = keys.list(PID)
    assert stored.flagged and stored.sign_count == 3
    # Flagged: even the genuine device is refused until the passkey is removed.
    with pytest.raises(PasskeyRefused) as again:
        keys.verify_authentication(PAR, device.get(keys.authentication_options(PAR)))
    assert again.value.reason == "passkey_flagged"


def test_a_forged_signature_does_not_flag_the_passkey(keys: Passkeys) -> None:
    """Only a valid signature with a stale count is evidence of a clone; anyone who knows
    a credential ID must not be able to lock its owner out."""
    device = SoftAuthenticator(ORIGIN)
    register(keys, device)
    keys.verify_authentication(PAR, device.get(keys.authentication_options(PAR)))
    forger = SoftAuthenticator(ORIGIN)
    forger.credential_id, forger.user_handle = device.credential_id, device.user_handle
    with pytest.raises(PasskeyRefused) as refused:
        keys.verify_authentication(PAR, forger.get(keys.authentication_options(PAR), sign_count=0))
    assert refused.value.reason == "bad_signature"
    assert not keys.list(PID)[0].flagged


def test_user_verification_is_required(keys: Passkeys) -> None:
    device = SoftAuthenticator(ORIGIN)
    register(keys, device)
    with pytest.raises(PasskeyRefused) as refused:
        keys.verify_authentication(
            PAR, device.get(keys.authentication_options(PAR), user_verified=False)
        )
    assert refused.value.reason == "user_not_verified"


def test_one_key_cannot_be_registered_to_two_accounts(keys: Passkeys, engine: sa.Engine) -> None:
    device = SoftAuthenticator(ORIGIN)
    register(keys, device)
    with pytest.raises(PasskeyRefused):
        register(keys, device, pid="another-principal")
    with engine.connect() as conn:
        owners = conn.execute(sa.select(passkeys.c.principal_id)).scalars().all()
    assert owners == [PID]
