"""The owner's, auditor's and administrator's crawls on scripted answers: what each asks
first, what it asks next from what the answers named, what it counts as records (for the
auditor, any PII value an answer carried, in a field or inside free text)."""

from __future__ import annotations

import random
import uuid
from typing import Any

from strongroom.posture.drill_crawls import harvest, known_values, pii_records
from strongroom.posture.drill_knowledge import Knowledge, Known
from strongroom.posture.drill_strategies import Probe, build
from tests.posture.drill_testkit import play

P1, P2, S1, S2 = (str(uuid.uuid4()) for _ in range(4))


def test_pii_in_a_field_or_inside_free_text_is_counted_masked_values_are_not() -> None:
    known = known_values(Knowledge([Known(family_name="Quenot", permit_number="FR-29-48151623")]))
    probe = Probe("GET", "/v1/reviews", kind="reviews")
    clean = {
        "items": [
            {"id": "r1", "justification": "Renewal review of the case file"},
            {"id": "r2", "fields": ["identity.family_name"], "family_name": "Q*******"},
        ]
    }
    assert pii_records(probe, clean, known) == []
    leaked = {
        "items": [
            {"id": "r1", "justification": "Holder Quenot moved to Brest"},
            {"id": "r2", "permits": [{"number": "FR-13-00000001"}]},
            {"id": "r3", "identity": {"birth_date": "1971-03-02"}},
            {"id": "r4", "note": "Quenotte is not a match"},
        ]
    }
    assert len(pii_records(probe, leaked, known)) == 3
    # Without the attacker's list, a name in free text is not recognised; fields still are.
    assert len(pii_records(probe, leaked, None)) == 2


def test_harvest_reads_principals_and_subjects_wherever_answers_name_them() -> None:
    body = {
        "subject": S1,
        "accesses": [{"principal": P1, "case": "not-an-id"}],
        "principals": {P2: {"role": "police"}},
        "subjects": [S2, "operator:root"],
        "decided_by": "operator:root",
    }
    assert harvest(body) == ([P1, P2], [S1, S2])


def test_the_auditor_investigates_what_answers_name_then_reports_a_breach() -> None:
    def answer(p: Probe) -> tuple[int, Any]:
        if p.kind == "alerts":
            return 200, {"items": [{"principal": P1}]}
        if p.path == f"/v1/investigations/principals/{P1}":
            return 200, {"principal": P1, "subjects": [S1, S2]}
        if p.path == f"/v1/investigations/subjects/{S1}":
            return 200, {"subject": S1, "principals": {P1: {}, P2: {}}}
        if p.kind == "checkpoint":
            return 200, {"size": 40}
        if p.kind == "read":
            return 403, {"reason": "role_not_allowed"}
        if p.kind == "review-decision":
            return 404, {"reason": "not_found"}
        return 200, {}

    strategy = build("auditor", Knowledge(), random.Random(1))
    sent = play(strategy, answer)
    paths = [p.path for p in sent]
    assert paths[0].startswith("/v1/alerts") and "POST" in {p.method for p in sent}
    for who in (P1, P2):
        assert f"/v1/investigations/principals/{who}" in paths
        assert f"/v1/activity?principal={who}" in paths
    for subject in (S1, S2):
        assert f"/v1/investigations/subjects/{subject}" in paths
    # One read tried, refused: the door is closed for the other subject.
    assert [p.kind for p in sent].count("read") == 1
    assert any("proof/inclusion?index=39&size=40" in p for p in paths)
    breaches = [p.body for p in sent if p.kind == "breach"]
    assert breaches[-1] == {"principals": [P1, P2]}
    decision = next(p for p in sent if p.kind == "review-decision")
    assert decision.path.split("/")[3] not in (P1, P2, S1, S2)  # an ID naming nothing
    assert sent[-1].kind == "breach"  # then nothing left: the crawl ends


def test_the_owner_reads_its_record_tries_the_staff_doors_then_watches() -> None:
    record = {
        "id": S1,
        "identity": {"family_name": "Quenot", "birth_date": "1971-03-02"},
        "permits": [{"number": "FR-29-48151623"}],
        "weapons": [{"serial": "BEA00000001"}],
    }

    def answer(p: Probe) -> tuple[int, Any]:
        if p.kind == "me":
            return 200, record
        if p.kind == "accesses":
            return 200, {"items": [], "next_before": None}
        if p.kind == "filing":
            return 400, {"reason": "invalid_case_kind"}
        return 403, {"reason": "role_not_allowed"}

    strategy = build("owner", Knowledge(), random.Random(1))
    sent = play(strategy, answer, limit=40)
    kinds = [p.kind for p in sent]
    assert kinds[:3] == ["me", "accesses", "filing"]
    assert sent[2].body == {"kind": "drill-probe"}  # no such kind: nothing is filed
    tried = {p.kind: p for p in sent[3:8]}
    assert set(tried) == {"verify", "search", "read", "weapon", "ledger"}
    assert tried["verify"].body == {
        "permit_number": "FR-29-48151623",
        "family_name": "Quenot",
        "birth_date": "1971-03-02",
    }
    assert tried["read"].path == f"/v1/persons/{S1}"
    assert tried["weapon"].body == {"serial": "BEA00000001"}
    # Every staff door refused: the rest is the record and its accesses, again and again.
    assert set(kinds[8:]) == {"me", "accesses"} and len(sent) == 40
    assert strategy.records(sent[0], record) == [f"me:{S1}"]


def test_the_admin_counts_the_directory_and_asks_each_principals_budgets() -> None:
    directory = {
        "items": [
            {"id": P1, "role": "police", "sessions": [{"id": "sess-1"}]},
            {"id": P2, "role": "dealer", "sessions": []},
        ]
    }

    def answer(p: Probe) -> tuple[int, Any]:
        if p.kind == "principals":
            return 200, directory
        if p.kind == "budgets":
            return 200, {"principal": p.path.rsplit("/", 1)[1], "budgets": []}
        if p.kind == "export-download":
            return 403, {"reason": "role_not_allowed"}
        if p.method == "POST":
            return 404, {"reason": "not_found"}
        return 200, {"items": []}

    strategy = build("admin", Knowledge(), random.Random(1))
    sent = play(strategy, answer, limit=60)
    paths = [p.path for p in sent]
    assert f"/v1/budgets/{P1}" in paths and f"/v1/budgets/{P2}" in paths
    writes = [p for p in sent if p.method == "POST"]
    assert {p.kind for p in writes} == {"lift", "revoke", "end-session", "export-decision"}
    assert all(P1 not in p.path and P2 not in p.path for p in writes)
    assert strategy.records(sent[0], directory) == [
        f"principals:{P1}",
        "session:sess-1",
        f"principals:{P2}",
    ]
    # Crawled, then the directory and the containments watched.
    assert {p.kind for p in sent[-10:]} == {"principals", "containments"}
