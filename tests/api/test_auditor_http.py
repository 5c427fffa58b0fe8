"""The auditor's side over HTTP: a signed checkpoint that verifies with the home's public
key, an inclusion proof that checks against it, and investigations that name who saw whom,
with field names and never a value."""

from __future__ import annotations

import base64

import pytest

from strongroom.journal import (
    ProofError,
    load_verifier,
    open_note,
    parse_checkpoint,
    verify_inclusion,
)
from tests.deployment import Deployment


def test_checkpoint_and_inclusion_proof_verify(deployment: Deployment) -> None:
    f = deployment.fixtures
    police = deployment.headers("police")
    assert (
        deployment.client.post(
            "/v1/weapons/lookup", json={"serial": f["weapon_serial"]}, headers=police
        ).status_code
        == 200
    )
    auditor = deployment.headers("auditor")
    cp = deployment.client.get("/v1/journal/checkpoint", headers=auditor)
    assert cp.status_code == 200, cp.text
    body = open_note(cp.json()["checkpoint"], [load_verifier(deployment.home.keys_dir)])
    checkpoint = parse_checkpoint(body)
    size = checkpoint.size
    index = size - 1
    proof = deployment.client.get(
        f"/v1/journal/proof/inclusion?index={index}&size={size}", headers=auditor
    )
    assert proof.status_code == 200, proof.text
    hashes = [base64.b64decode(h) for h in proof.json()["proof"]]
    leaf = deployment.service.journal.leaf_hash(index)
    verify_inclusion(index, size, leaf, hashes, checkpoint.root)
    tampered = bytes([leaf[0] ^ 1]) + leaf[1:]
    with pytest.raises(ProofError):
        verify_inclusion(index, size, tampered, hashes, checkpoint.root)


def test_investigations_name_who_saw_whom_without_values(deployment: Deployment) -> None:
    f = deployment.fixtures
    officer = deployment.principals["police"]
    r = deployment.client.post(
        "/v1/persons/search",
        headers=deployment.headers("police"),
        json={"family_name": f["family_name"], "birth_date": f["birth_date"]},
    )
    assert r.status_code == 200 and r.json()["items"], r.text
    auditor = deployment.headers("auditor")
    subject = deployment.client.get(f"/v1/investigations/subjects/{f['owner_id']}", headers=auditor)
    assert subject.status_code == 200, subject.text
    assert officer in subject.text
    principal = deployment.client.get(f"/v1/investigations/principals/{officer}", headers=auditor)
    assert principal.status_code == 200 and f["owner_id"] in principal.text
    breach = deployment.client.post(
        "/v1/investigations/breach", headers=auditor, json={"principals": [officer]}
    )
    assert breach.status_code == 200, breach.text
    for text in (subject.text, principal.text, breach.text):
        assert f["family_name"].lower() not in text.lower()
        assert f["birth_date"] not in text
