"""The export workflow on SQLite and PostgreSQL: request, four-eyes approval, generation
once, download once, expiry on the injected clock, every step journaled."""

from __future__ import annotations

import csv
import io
import json
import stat

import pytest

from strongroom.errors import Conflict, Forbidden, NotFound
from tests.exports.conftest import JUSTIFICATION, Env

DATASET = "departement_permits_expiring"
ALL_FIELDS = [
    "ref.person_id",
    "ref.permit_id",
    "permit.kind",
    "permit.categories",
    "permit.expires",
    "address.departement",
]


def request(env: Env, fields: list[str] | None = None, fmt: str = "csv") -> str:
    answer = env.desk.request(
        env.requester,
        dataset=DATASET,
        fields=fields or ALL_FIELDS,
        justification=JUSTIFICATION,
        fmt=fmt,
    )
    assert answer.body["status"] == "pending"
    return str(answer.body["id"])


def fetch(env: Env, export_id: str) -> bytes:
    _, download = env.desk.download(env.requester, export_id)
    return b"".join(download.chunks())


def test_approved_export_downloads_once_then_is_gone(env: Env) -> None:
    export_id = request(env)
    env.desk.approve(env.approver, export_id, "renewal campaign")
    generated = env.desk.generate(env.requester, export_id).body
    path = env.exports_dir / f"{export_id}.csv"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert generated["rows"] == len(env.person_ids) + 3  # 120 real rows, 3 canaries

    data = fetch(env, export_id)
    assert not path.exists()
    rows = list(csv.DictReader(io.StringIO(data.decode())))
    assert len(rows) == generated["rows"]
    assert set(rows[0]) == set(ALL_FIELDS)
    real = {r["ref.permit_id"].lower() for r in rows} & set(env.permit_ids)
    assert real == set(env.permit_ids)  # every permit of the window, none beyond it
    assert env.store.get(export_id).status == "downloaded"

    with pytest.raises(Conflict) as again:
        env.desk.download(env.requester, export_id)
    assert again.value.reason == "already_downloaded"


def test_requester_cannot_approve_their_own_export(env: Env) -> None:
    export_id = request(env)
    with pytest.raises(Forbidden) as by_role:
        env.desk.approve(env.requester, export_id)
    assert by_role.value.reason == "role_not_allowed"
    # The same person holding an approver account too: four eyes still refuses.
    same_person = env.caller("admin", principal=env.requester.principal_id)
    with pytest.raises(Forbidden) as four_eyes:
        env.desk.approve(same_person, export_id)
    assert four_eyes.value.reason == "four_eyes"
    assert env.store.get(export_id).status == "pending"


def test_unapproved_or_rejected_export_cannot_be_downloaded(env: Env) -> None:
    pending = request(env)
    with pytest.raises(Conflict) as unapproved:
        env.desk.download(env.requester, pending)
    assert unapproved.value.reason == "not_approved"
    env.desk.reject(env.approver, pending, "no case for this")
    with pytest.raises(Conflict) as rejected:
        env.desk.download(env.requester, pending)
    assert rejected.value.reason == "not_approved"
    with pytest.raises(Conflict):
        env.desk.approve(env.caller("admin"), pending)
    assert list(env.exports_dir.glob("*")) == []


def test_only_the_requester_downloads(env: Env) -> None:
    export_id = request(env)
    env.desk.approve(env.approver, export_id)
    other = env.caller("prefecture")
    with pytest.raises(NotFound):
        env.desk.download(other, export_id)
    assert env.store.get(export_id).status == "approved"


def test_expiry_on_the_injected_clock(env: Env) -> None:
    ttl = env.policy.policy.exports.approval_ttl_seconds
    never_decided = request(env)
    env.clock.advance(ttl)
    with pytest.raises(Conflict) as late_approval:
        env.desk.approve(env.approver, never_decided)
    assert late_approval.value.reason == "expired"

    never_fetched = request(env)
    env.desk.approve(env.approver, never_fetched)
    env.clock.advance(ttl)
    with pytest.raises(Conflict) as late_download:
        env.desk.download(env.requester, never_fetched)
    assert late_download.value.reason == "expired"

    left_on_disk = request(env)
    env.desk.approve(env.approver, left_on_disk)
    env.desk.generate(env.requester, left_on_disk)
    assert (env.exports_dir / f"{left_on_disk}.csv").exists()
    env.clock.advance(env.desk.window)
    assert env.desk.expire_due() == 1
    assert not (env.exports_dir / f"{left_on_disk}.csv").exists()
    with pytest.raises(Conflict) as window_closed:
        env.desk.download(env.requester, left_on_disk)
    assert window_closed.value.reason == "expired"
    assert {env.store.get(i).status for i in (never_decided, never_fetched, left_on_disk)} == {
        "expired"
    }


def test_fields_beyond_the_purpose_are_refused(env: Env) -> None:
    with pytest.raises(Forbidden) as exc:
        env.desk.request(
            env.requester,
            dataset=DATASET,
            fields=["ref.permit_id", "identity.family_name"],
            justification=JUSTIFICATION,
        )
    assert exc.value.reason == "fields_not_allowed"
    assert exc.value.extra["refused"] == ["identity.family_name"]
    assert env.store.list() == []


def test_fields_beyond_the_approval_never_appear(env: Env) -> None:
    export_id = request(env, ["ref.permit_id", "permit.expires"], fmt="jsonl")
    env.desk.approve(env.approver, export_id)
    data = fetch(env, export_id).decode()
    rows = [json.loads(line) for line in data.splitlines()]
    assert {tuple(sorted(r)) for r in rows} == {("permit.expires", "ref.permit_id")}
    lowered = data.lower()
    assert not any(pid in lowered for pid in env.person_ids)  # no person ID leaked
    assert "hunting" not in data and "sport" not in data
    assert len(rows) <= env.policy.policy.exports.datasets[DATASET].max_rows


def test_rows_are_capped_at_max_rows(env: Env) -> None:
    spec = env.policy.policy.exports.datasets[DATASET]
    capped = spec.model_copy(update={"max_rows": 40})
    env.desk.spec = env.desk.spec.model_copy(
        update={"datasets": {**env.desk.spec.datasets, DATASET: capped}}
    )
    export_id = request(env)
    env.desk.approve(env.approver, export_id)
    rows = fetch(env, export_id).decode().splitlines()
    assert len(rows) == 1 + 40  # header + the cap, canaries included


def test_every_step_is_journaled(env: Env) -> None:
    export_id = request(env)
    with pytest.raises(Conflict):
        env.desk.download(env.requester, export_id)
    env.desk.approve(env.approver, export_id)
    fetch(env, export_id)
    entries = [e for e in env.entries() if e.get("detail", {}).get("export") == export_id]
    steps = [(e["endpoint"], e["outcome"], e.get("reason")) for e in entries]
    assert steps == [
        ("POST /v1/exports", "allowed", None),
        ("GET /v1/exports/{id}/download", "refused", "not_approved"),
        ("POST /v1/exports/{id}/approve", "allowed", None),
        ("GET /v1/exports/{id}/download", "allowed", None),
    ]
    download = entries[-1]
    assert download["records"] == env.store.get(export_id).row_count
    assert download["fields"] == sorted(ALL_FIELDS)
    assert download["principal"] == env.requester.principal_id
    # The journal holds IDs and field names, never a row's values.
    assert not any(pid in json.dumps(entries) for pid in env.permit_ids)
