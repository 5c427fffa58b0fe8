"""`strongroom keys status|rotate`, on a home with its keys in files and on one with its
keys in an HSM (SoftHSM2); and a copy of a whole HSM-backed home, which must hold no PII
and no vault key."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from strongroom.cli.main import app
from strongroom.compose import compose
from strongroom.config import Home
from strongroom.registry.models import Address, Identity, Person
from strongroom.vault import FileKeyProvider, UnknownKeyError
from strongroom.vault.pkcs11_keys import Pkcs11KeyProvider
from tests.deployment import searchable_people
from tests.hsm_testkit import HsmToken

PIN_ENV = "SR_TEST_HSM_PIN"


def run(home: Path, *args: str):  # noqa: ANN201 - typer's Result
    env = {"STRONGROOM_HOME": str(home)}
    return CliRunner().invoke(app, list(args), env=env)


def ok(home: Path, *args: str) -> str:
    result = run(home, *args)
    assert result.exit_code == 0, result.output
    return str(result.output)


def journal_reasons(home: Path) -> list[str]:
    svc = compose(Home(home))
    try:
        journal = svc.journal
        return [str(journal.entry(i).get("reason")) for i in range(journal.size())]
    finally:
        svc.close()


def clear_values(home: Path) -> dict[str, list[str]]:
    """Every seeded person's name and address, decrypted through the home's own vault."""
    svc = compose(Home(home))
    values: dict[str, list[str]] = {"identity": [], "address": [], "public_id": []}
    try:
        vault = svc.vault
        with svc.engine.connect() as conn:
            for pid, *cols in conn.execute(
                select(
                    Person.public_id,
                    Identity.family_name_ct,
                    Identity.given_names_ct,
                    Address.street_ct,
                    Address.city_ct,
                )
                .join(Identity, Identity.person_id == Person.id)
                .join(Address, Address.person_id == Person.id)
            ):
                values["public_id"].append(pid)
                values["identity"] += [
                    vault.decrypt("identity", pid, "family_name", cols[0]) or "",
                    vault.decrypt("identity", pid, "given_names", cols[1]) or "",
                ]
                values["address"] += [
                    vault.decrypt("address", pid, "street", cols[2]) or "",
                    vault.decrypt("address", pid, "city", cols[3]) or "",
                ]
    finally:
        svc.close()
    return values


def test_status_and_rotation_on_a_file_home_are_journaled(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ok(home, "init")
    ok(home, "seed", "--persons", "12")
    before = clear_values(home)

    status = json.loads(ok(home, "keys", "status", "--json"))
    assert status["provider"] == "FileKeyProvider"
    usage = {s["store"]: s["versions"] for s in status["stores"]}
    assert set(usage) == {"identity", "address", "asset"}
    assert all(list(v) == ["1"] and v["1"] >= 1 for v in usage.values())

    out = ok(home, "keys", "rotate", "--store", "address", "--why", "annual rotation")
    assert f"address: KEK v2 current, {usage['address']['1']} data keys re-wrapped" in out
    after = json.loads(ok(home, "keys", "status", "--json"))
    address = next(s for s in after["stores"] if s["store"] == "address")
    assert address == {
        "store": "address",
        "current": 2,
        "versions": {"1": 0, "2": usage["address"]["1"]},
    }
    ok(home, "keys", "rotate", "--store", "address", "--retire")
    assert FileKeyProvider(Home(home).keys_dir).kek_versions("address") == [3]
    assert clear_values(home) == before

    for bad in (["--store", "weapons"], []):
        result = run(home, "keys", "rotate", *bad)
        assert result.exit_code == 2
        assert "Traceback" not in result.output
    assert "unknown key store 'weapons'" in run(home, "keys", "rotate", "--store", "weapons").output
    reasons = journal_reasons(home)
    assert reasons.count("kek_rotated") == 2
    assert reasons.count("key_status_read") == 2


@pytest.fixture
def hsm_home(
    tmp_path: Path, hsm_token: HsmToken, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    """An initialized, seeded home whose vault keys are in a SoftHSM2 token; the PIN in an
    environment variable (the token's folder and the PIN are outside the home)."""
    path = tmp_path / "home"
    monkeypatch.setenv(PIN_ENV, hsm_token.pin)
    out = ok(
        path,
        "init",
        "--key-provider",
        "pkcs11",
        "--pkcs11-module",
        hsm_token.module,
        "--pkcs11-token-label",
        hsm_token.label,
        "--pkcs11-pin-env",
        PIN_ENV,
    )
    assert f"keys:     pkcs11 (token '{hsm_token.label}')" in out
    assert not (path / "keys" / "vault.json").exists()
    ok(path, "seed", "--persons", "25")
    return {"path": path, "token": hsm_token}


def test_hsm_home_rotates_from_the_cli(hsm_home: dict[str, Any]) -> None:
    home, token = hsm_home["path"], hsm_home["token"]
    before = clear_values(home)
    status = json.loads(ok(home, "keys", "status", "--json"))
    assert status["provider"] == "Pkcs11KeyProvider"
    wraps = next(s for s in status["stores"] if s["store"] == "identity")["versions"]["1"]
    out = ok(home, "keys", "rotate", "--store", "identity", "--retire")
    assert f"identity: KEK v2 current, {wraps} data keys re-wrapped; retired: v1" in out
    provider = Pkcs11KeyProvider(token.module, token.label, token.pin)
    assert provider.kek_versions("identity") == [2]
    assert clear_values(home) == before
    assert "kek_rotated" in journal_reasons(home)


def test_hsm_home_without_its_pin_is_a_clear_error(
    hsm_home: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(PIN_ENV)
    result = run(hsm_home["path"], "keys", "status")
    assert result.exit_code == 2
    assert f"${PIN_ENV}, which is not set" in result.output
    assert "Traceback" not in result.output


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_a_copied_hsm_home_holds_no_pii_and_no_vault_key(
    hsm_home: dict[str, Any], tmp_path: Path
) -> None:
    """Everything on the server's disk (database, journal, config, policy, keys folder,
    exports, alerts) copied as a thief would, then searched byte for byte."""
    home, token = hsm_home["path"], hsm_home["token"]
    ok(home, "keys", "rotate", "--store", "address")  # a journaled admin action too
    values = clear_values(home)
    assert all(values.values())
    copy = tmp_path / "stolen"
    shutil.copytree(home, copy)
    files = _files(copy)
    assert {f.name for f in files} >= {"registry.db", "journal.db", "config.toml"}
    blobs = {f: f.read_bytes() for f in files}

    # Positive control: the search sees the rows of the copied database (public IDs are
    # stored in clear).
    registry = blobs[copy / "registry.db"]
    assert all(pid.encode() in registry for pid in values["public_id"])
    # No clear name or address, as typed or case-folded (values of 5+ bytes: shorter ones
    # turn up in random bytes by chance).
    clear = values["identity"] + values["address"]
    needles = {form for v in clear for form in (v, v.casefold()) if len(v.encode()) >= 5}
    assert len(needles) >= 20
    found = [(f.name, v) for f, b in blobs.items() for v in needles if v.encode() in b]
    assert found == []

    # No vault key file: the KEKs and HMAC keys are in the token, which is not in the home.
    assert not any(f.name == "vault.json" for f in files)
    assert not any(f.stat().st_size == 32 for f in files)
    assert not any(token.conf.parent in f.parents for f in files)
    # The PIN is neither in the config nor anywhere else in the home.
    assert not any(token.pin.encode() in b for b in blobs.values())
    assert PIN_ENV.encode() in blobs[copy / "config.toml"]

    # No key the process holds in memory is on disk either: the working HMAC keys derived in
    # the token, nor any unwrapped data key (raw, base64 or hex).
    provider = Pkcs11KeyProvider(token.module, token.label, token.pin)
    secrets = [provider.blind_index_key(), provider.pseudonym_key(), provider.honey_key()]
    svc = compose(Home(home))
    try:
        for dek_id, store, version, wrapped in svc.vault.wrapped_keys.all():
            secrets.append(provider.unwrap_dek(store, version, dek_id, wrapped))
    finally:
        svc.close()
    assert len(secrets) > 3
    forms = [f(s) for s in secrets for f in (bytes, base64.b64encode, lambda k: k.hex().encode())]
    assert not any(form in b for form in forms for b in blobs.values())
    # The home's remaining key files sign tokens and journal checkpoints; none opens data.
    assert sorted(p.name for p in (copy / "keys").iterdir()) == [
        "checkpoint.key",
        "checkpoint.vkey",
        "token_signing.json",
    ]


def test_init_refuses_a_half_configured_hsm_and_a_provider_switch(tmp_path: Path) -> None:
    home = tmp_path / "home"
    half = run(home, "init", "--key-provider", "pkcs11", "--pkcs11-token-label", "x")
    assert half.exit_code == 2 and "needs pkcs11_module" in half.output
    assert "Traceback" not in half.output and not (home / "config.toml").exists()
    bogus = run(home, "init", "--key-provider", "vault")
    assert bogus.exit_code == 2 and "key_provider must be one of file, pkcs11" in bogus.output
    ok(home, "init")
    ok(home, "seed", "--persons", "3")
    switch = run(
        home,
        "init",
        "--key-provider",
        "pkcs11",
        "--pkcs11-module",
        "/usr/lib/softhsm/libsofthsm2.so",
        "--pkcs11-token-label",
        "x",
        "--pkcs11-pin-env",
        PIN_ENV,
    )
    assert switch.exit_code == 2 and "would make them unreadable" in switch.output
    assert Home(home).settings().key_provider == "file"


def police_search(home: Path, people: list[tuple[str, str, str]]) -> list[bool]:
    """Whether an exact search over HTTP (the ASGI app of the home) finds each
    (public ID, family name, birth date)."""
    from fastapi.testclient import TestClient

    from strongroom.api.app import create_app

    svc = compose(Home(home))
    try:
        officer = svc.admin.add_principal(role="police", label="cli rotation test")
        token = svc.token_issuer.issue(role="police", subject=officer)
        client = TestClient(create_app(svc), raise_server_exceptions=False)
        found = []
        for pid, name, dob in people:
            r = client.post(
                "/v1/persons/search",
                headers={"Authorization": f"Bearer {token}"},
                json={"family_name": name, "birth_date": dob},
            )
            assert r.status_code == 200, r.text
            found.append(pid in [i["id"] for i in r.json()["items"]])
        client.close()
        return found
    finally:
        svc.close()


def some_people(home: Path, n: int) -> list[tuple[str, str, str]]:
    svc = compose(Home(home))
    try:
        return searchable_people(svc, n)
    finally:
        svc.close()


def test_blind_index_rotation_from_the_cli_on_a_file_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ok(home, "init")
    ok(home, "seed", "--persons", "12")
    people = some_people(home, 4)
    status = json.loads(ok(home, "keys", "status", "--json"))["blind_index"]
    assert [(v["version"], v["state"]) for v in status["versions"]] == [(1, "active")]
    assert set(status["rows"]) == {"identities", "permits", "weapons"}
    assert all(list(c) == ["1"] for c in status["rows"].values())

    # A run that stopped between minting the key and recording it: its key is used.
    assert FileKeyProvider(Home(home).keys_dir).add_blind_index_version() == 2
    out = ok(home, "keys", "rotate", "--blind-index", "--why", "annual rotation")
    total = status["progress"]["total"]
    assert f"blind index: key v2 current, {total} rows re-indexed; retired: v1" in out
    after = json.loads(ok(home, "keys", "status", "--json"))["blind_index"]
    assert [(v["version"], v["state"]) for v in after["versions"]] == [
        (1, "retired"),
        (2, "active"),
    ]
    assert after["progress"] == {"done": total, "total": total}
    assert "v2" in ok(home, "keys", "status") and "retired" in ok(home, "keys", "status")
    assert FileKeyProvider(Home(home).keys_dir).blind_index_versions() == [2]
    assert police_search(home, people) == [True] * len(people)
    both = run(home, "keys", "rotate", "--blind-index", "--store", "identity")
    assert both.exit_code == 2 and "not both" in both.output
    reasons = journal_reasons(home)
    assert reasons.count("blind_index_rotation_started") == 1
    assert reasons.count("blind_index_rotated") == 1


def test_hsm_home_rotates_its_blind_index_key_and_resumes(hsm_home: dict[str, Any]) -> None:
    """Interrupted half-way (through the service, as a killed command would leave it),
    shown by `keys status`, then resumed from the CLI; the token's old key destroyed."""
    home, token = hsm_home["path"], hsm_home["token"]
    people = some_people(home, 6)
    provider = Pkcs11KeyProvider(token.module, token.label, token.pin)
    assert provider.blind_index_versions() == [1]

    class Stop(Exception):
        pass

    def stop(done: int, total: int) -> None:
        if done >= 10:
            raise Stop

    svc = compose(Home(home))
    try:
        with pytest.raises(Stop):
            svc.admin.rotate_blind_index("hsm rotation", progress=stop, batch=5, settle=0)
    finally:
        svc.close()
    assert provider.blind_index_versions() == [1, 2]
    shown = ok(home, "keys", "status")
    assert "re-indexing under v2: 10 of" in shown
    assert police_search(home, people) == [True] * len(people)

    out = ok(home, "keys", "rotate", "--blind-index")
    assert "blind index: key v2 current" in out and "retired: v1" in out
    assert provider.blind_index_versions() == [2]
    # Creating what the token lacks (as `init` does) does not bring version 1 back.
    again = Pkcs11KeyProvider.create(token.module, token.label, token.pin)
    assert again.blind_index_versions() == [2]
    with pytest.raises(UnknownKeyError):
        Pkcs11KeyProvider(token.module, token.label, token.pin).blind_index_key(1)
    assert police_search(home, people) == [True] * len(people)
