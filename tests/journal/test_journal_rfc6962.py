"""RFC 6962 hashing and proofs: the public vectors in tests/testdata, and a literal
reference implementation of RFC 6962 section 2.1 on random trees."""

from __future__ import annotations

import base64
import hashlib
import json
import random
from pathlib import Path

import pytest

from strongroom.journal import rfc6962
from strongroom.journal.rfc6962 import ProofError

from .helpers import completes


# -- reference: RFC 6962 section 2.1, literally ------------------------------------------
def ref_mth(d: list[bytes]) -> bytes:
    n = len(d)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + d[0]).digest()
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + ref_mth(d[:k]) + ref_mth(d[k:])).digest()


def ref_path(m: int, d: list[bytes]) -> list[bytes]:
    n = len(d)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return ref_path(m, d[:k]) + [ref_mth(d[k:])]
    return ref_path(m - k, d[k:]) + [ref_mth(d[:k])]


def ref_subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [ref_mth(d)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return ref_subproof(m, d[:k], b) + [ref_mth(d[k:])]
    return ref_subproof(m - k, d[k:], False) + [ref_mth(d[:k])]


def ref_proof(m: int, d: list[bytes]) -> list[bytes]:
    return ref_subproof(m, d, True) if 0 < m < len(d) else []


def all_nodes(d: list[bytes]) -> dict[tuple[int, int], bytes]:
    out = {}
    level = 0
    while (1 << level) <= len(d):
        for i in range(len(d) >> level):
            out[(level, i)] = ref_mth(d[i << level : (i + 1) << level])
        level += 1
    return out


# -- public vectors (tests/testdata) ---------------------------------------------------
def _b64(v: str | None) -> bytes:
    return base64.b64decode(v or "")


def test_tree_vectors(testdata: Path) -> None:
    vec = json.loads((testdata / "rfc6962/tree-vectors.json").read_text())
    leaves = [bytes.fromhex(x) for x in vec["leaf_inputs_hex"]]
    for n, root in enumerate(vec["root_hashes_hex_by_tree_size"]):
        f = rfc6962.Frontier()
        for leaf in leaves[:n]:
            f.append(rfc6962.leaf_hash(leaf))
        assert f.root().hex() == root
        assert ref_mth(leaves[:n]).hex() == root
    made = {}
    f = rfc6962.Frontier()
    for leaf in leaves:
        lh = rfc6962.leaf_hash(leaf)
        i = f.size
        made[(0, i)] = lh
        for level, idx, h in rfc6962.completed(i, f.append(lh)):
            assert rfc6962.completing_leaf(level, idx) == i
            made[(level, idx)] = h
    for level, hashes in enumerate(vec["node_hashes_hex_by_level"]):
        for idx, h in enumerate(hashes):
            assert made[(level, idx)].hex() == h
    # extend() from a frontier rebuilt mid-tree from stored nodes (as the writer loads it)
    # makes the same nodes
    for cut in range(len(leaves) + 1):
        f = rfc6962.Frontier(cut, [made[n] for n in rfc6962.range_nodes(0, cut)])
        ups = f.extend(rfc6962.leaf_hash(x) for x in leaves[cut:])
        for i, up in enumerate(ups, start=cut):
            assert len(up) == 32 * completes(i)
            for level, idx, h in rfc6962.completed(i, up):
                assert made[(level, idx)] == h
        assert f.root().hex() == vec["root_hashes_hex_by_tree_size"][-1]


def _check(path: Path, fn) -> str | None:
    v = json.loads(path.read_text())
    try:
        fn(v)
    except ProofError:
        return None if v["wantErr"] else f"{path}: rejected a valid proof"
    return f"{path}: accepted a bad proof" if v["wantErr"] else None


def test_inclusion_vectors(testdata: Path) -> None:
    files = sorted((testdata / "rfc6962/inclusion").rglob("*.json"))
    assert len(files) > 40

    def fn(v):
        rfc6962.verify_inclusion(
            v["leafIdx"],
            v["treeSize"],
            _b64(v["leafHash"]),
            [_b64(p) for p in v["proof"] or []],
            _b64(v["root"]),
        )

    errors = [e for f in files if (e := _check(f, fn))]
    assert errors == []
    assert any(json.loads(f.read_text())["wantErr"] is False for f in files)


def test_consistency_vectors(testdata: Path) -> None:
    files = sorted((testdata / "rfc6962/consistency").rglob("*.json"))
    assert len(files) > 30

    def fn(v):
        rfc6962.verify_consistency(
            v["size1"],
            v["size2"],
            [_b64(p) for p in v["proof"] or []],
            _b64(v["root1"]),
            _b64(v["root2"]),
        )

    errors = [e for f in files if (e := _check(f, fn))]
    assert errors == []


# -- our proofs against the reference --------------------------------------------------------
@pytest.mark.parametrize("seed", range(4))
def test_proofs_match_reference_on_random_trees(seed: int) -> None:
    rng = random.Random(seed)
    sizes = list(range(1, 34)) if seed == 0 else [rng.randint(34, 300) for _ in range(3)]
    for n in sizes:
        d = [rng.randbytes(rng.randint(0, 40)) for _ in range(n)]
        nodes = all_nodes(d)
        root = ref_mth(d)
        assert rfc6962.root_plan(n).rehash(nodes) == [root]
        for m in range(n) if n < 40 else rng.sample(range(n), 20):
            proof = rfc6962.inclusion(m, n).rehash(nodes)
            assert proof == ref_path(m, d)
            rfc6962.verify_inclusion(m, n, rfc6962.leaf_hash(d[m]), proof, root)
        for m in range(n + 1) if n < 40 else rng.sample(range(n + 1), 20):
            proof = rfc6962.consistency(m, n).rehash(nodes)
            assert proof == ref_proof(m, d)
            if m:
                rfc6962.verify_consistency(m, n, proof, ref_mth(d[:m]), root)


def test_plan_reads_few_nodes_at_ten_million() -> None:
    plan = rfc6962.inclusion(1_234_567, 10_000_000)
    assert len(plan.node_ids) <= 2 * 24
    assert len(rfc6962.consistency(3_000_001, 10_000_000).node_ids) <= 2 * 24


def test_bad_requests_are_refused() -> None:
    with pytest.raises(ProofError):
        rfc6962.inclusion(5, 5)
    with pytest.raises(ProofError):
        rfc6962.consistency(6, 5)
    with pytest.raises(ProofError):
        rfc6962.ProofPlan((((1, 0),),)).rehash({})
