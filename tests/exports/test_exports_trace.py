"""Tracing leaked exports: 20 exports of the same rows, each identified from a 50-row
fragment after shuffling and dropping a column; the canaries alone after lower-casing;
nothing from a file that never left through an export."""

from __future__ import annotations

import csv
import io
import random
import uuid

from strongroom.exports import Watermark, export_key
from strongroom.exports.watermark import find_ids
from tests.exports.conftest import JUSTIFICATION, Env

DATASET = "departement_permits_expiring"
FIELDS = [
    "ref.person_id",
    "ref.permit_id",
    "permit.kind",
    "permit.categories",
    "permit.expires",
    "address.departement",
]


def make_export(env: Env, fmt: str = "csv") -> tuple[str, str, str]:
    requester = env.caller("prefecture")
    approver = env.caller("admin")
    export_id = env.desk.request(
        requester, dataset=DATASET, fields=FIELDS, justification=JUSTIFICATION, fmt=fmt
    ).body["id"]
    env.desk.approve(approver, export_id)
    _, download = env.desk.download(requester, export_id)
    text = b"".join(download.chunks()).decode()
    return export_id, text, f"{requester.principal_id}|{approver.principal_id}"


def fragment(text: str, rng: random.Random, drop: str, size: int = 50) -> list[str]:
    rows = list(csv.DictReader(io.StringIO(text)))
    rng.shuffle(rows)
    keep = [f for f in FIELDS if f != drop]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=keep, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows[:size])
    return out.getvalue().splitlines()


def test_each_of_20_exports_is_named_from_a_shuffled_50_row_fragment(sqlite_env: Env) -> None:
    env = sqlite_env
    rng = random.Random(20)
    made = [make_export(env) for _ in range(20)]
    operator = env.caller("admin")
    for n, (export_id, text, who) in enumerate(made):
        drop = FIELDS[n % len(FIELDS)]  # an ID column for a third of them
        hits = env.desk.trace(operator, fragment(text, rng, drop))
        assert [h["id"] for h in hits] == [export_id], (n, drop, hits)
        requester, approver = who.split("|")
        assert hits[0]["requester"] == requester
        assert hits[0]["decided_by"] == approver
    # Tracing is journaled, naming the export (no row values).
    traced = [e for e in env.entries() if e["endpoint"] == "export trace"]
    assert len(traced) == 20 and traced[0]["detail"]["exports"] == [made[0][0]]


def test_fingerprint_survives_json_and_merged_leaks(sqlite_env: Env) -> None:
    env = sqlite_env
    a, text_a, _ = make_export(env, fmt="jsonl")
    b, text_b, _ = make_export(env)
    merged = text_a.splitlines()[:30] + fragment(text_b, random.Random(1), "permit.kind", 30)
    random.Random(2).shuffle(merged)
    assert {h["id"] for h in env.desk.trace(env.caller("admin"), merged)} == {a, b}


def test_canaries_survive_lower_casing(sqlite_env: Env) -> None:
    env = sqlite_env
    export_id, text, _ = make_export(env)
    lowered = text.lower().splitlines()
    real = set(env.permit_ids)
    canary_lines = [line for line in lowered[1:] if not set(find_ids(line)) & real]
    assert len(canary_lines) == 3  # 120 real rows: the minimum of 3 canaries
    leak = [
        lowered[0],
        *[line for line in lowered[1:] if line not in canary_lines][:47],
        canary_lines[0],
    ]
    hits = env.desk.trace(env.caller("admin"), leak)
    assert [h["id"] for h in hits] == [export_id]
    assert hits[0]["evidence"]["canary_lines"] == 1
    assert hits[0]["evidence"]["fingerprint_lines"] == 0


def test_lowercased_fragment_without_canary_names_nobody(sqlite_env: Env) -> None:
    env = sqlite_env
    make_export(env)
    clean = [f"{p},{q}" for p, q in zip(env.person_ids, env.permit_ids, strict=True)]
    assert env.desk.trace(env.caller("admin"), clean) == []


def test_marked_ids_stay_the_same_uuids_and_match_only_their_export() -> None:
    wm = Watermark(export_key(b"k" * 32))
    rng = random.Random(5)
    mine, other = wm.fingerprint_key("export-a"), wm.fingerprint_key("export-b")
    wrong_bits = 0
    for _ in range(300):
        value = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        marked = wm.mark_id(value, mine)
        assert uuid.UUID(marked) == uuid.UUID(value) and marked.lower() == value
        seen = wm.observe(marked)
        assert seen.bits == sum(ch in "abcdef" for ch in value)
        assert Watermark.matches(mine, seen)
        if Watermark.matches(other, seen):
            wrong_bits += seen.bits
    assert wrong_bits < 40  # chance matches stay far below the evidence threshold


def test_canary_ids_are_well_formed_and_per_export() -> None:
    wm = Watermark(export_key(b"k" * 32))
    ids = {wm.canary_id(f"export-{e}", i, "ref.person_id") for e in range(5) for i in range(50)}
    assert len(ids) == 250
    assert all(uuid.UUID(i).version == 4 and str(uuid.UUID(i)) == i for i in ids)
    assert wm.fingerprint_key("a") != wm.fingerprint_key("b")
