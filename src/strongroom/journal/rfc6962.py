"""Merkle tree hashing and proofs, RFC 6962 section 2 (RFC 9162 section 2.1).

Leaf hash SHA-256(0x00 || entry), interior node SHA-256(0x01 || left || right), the empty
tree's root SHA-256(""). The proof code never reads storage (the transparency-dev/merkle
split): `inclusion(index, size)` and `consistency(size1, size2)` return a `ProofPlan`, the
IDs of the perfect subtrees whose hashes the caller must fetch, and `ProofPlan.rehash`
assembles the proof from them. A node ID is `(level, index)`: the perfect subtree covering
leaves [index * 2**level, (index + 1) * 2**level). Every proof element is the hash of a
range whose leftmost perfect subtree is the largest, so it folds from the right.

The verifiers follow RFC 9162 sections 2.1.3.2 and 2.1.4.2 (as transparency-dev/merkle's
`VerifyInclusion` / `VerifyConsistency`) and raise `ProofError` on any mismatch.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

NodeID = tuple[int, int]


class ProofError(ValueError):
    """A proof that does not verify, or a request no proof can answer."""


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def range_nodes(begin: int, end: int) -> list[NodeID]:
    """The perfect subtrees covering leaves [begin, end), left to right, largest first."""
    out: list[NodeID] = []
    while begin < end:
        level = (begin & -begin).bit_length() - 1 if begin else (end - begin).bit_length()
        while (1 << level) > end - begin:
            level -= 1
        out.append((level, begin >> level))
        begin += 1 << level
    return out


def fold(hashes: Sequence[bytes]) -> bytes:
    """The hash of a range given its perfect subtrees left to right (largest first)."""
    if not hashes:
        return EMPTY_ROOT
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = node_hash(h, acc)
    return acc


@dataclass(frozen=True)
class ProofPlan:
    """Which stored node hashes a proof needs, and how to combine them."""

    groups: tuple[tuple[NodeID, ...], ...]

    @property
    def node_ids(self) -> list[NodeID]:
        seen: dict[NodeID, None] = {}
        for group in self.groups:
            for nid in group:
                seen[nid] = None
        return list(seen)

    def rehash(self, hashes: Mapping[NodeID, bytes]) -> list[bytes]:
        try:
            return [fold([hashes[nid] for nid in group]) for group in self.groups]
        except KeyError as exc:
            raise ProofError(f"node {exc.args[0]} missing from storage") from exc


def _split(n: int) -> int:
    """The largest power of two smaller than n (n >= 2): RFC 6962's k."""
    return 1 << ((n - 1).bit_length() - 1)


def _plan(ranges: list[tuple[int, int]]) -> ProofPlan:
    return ProofPlan(tuple(tuple(range_nodes(a, b)) for a, b in ranges))


def inclusion(index: int, size: int) -> ProofPlan:
    """PATH(index, D[0:size]) as node IDs, bottom-up (RFC 6962 section 2.1.1)."""
    if not 0 <= index < size:
        raise ProofError(f"index {index} is not in a tree of size {size}")
    ranges: list[tuple[int, int]] = []
    lo, hi = 0, size
    while hi - lo > 1:
        mid = lo + _split(hi - lo)
        if index < mid:
            ranges.append((mid, hi))
            hi = mid
        else:
            ranges.append((lo, mid))
            lo = mid
    return _plan(ranges[::-1])


def consistency(size1: int, size2: int) -> ProofPlan:
    """PROOF(size1, D[0:size2]) as node IDs (RFC 6962 section 2.1.2)."""
    if not 0 <= size1 <= size2:
        raise ProofError(f"no consistency proof from size {size1} to size {size2}")
    if size1 in (0, size2):
        return ProofPlan(())
    ranges: list[tuple[int, int]] = []
    lo, hi, m, whole = 0, size2, size1, True
    while m != hi - lo:
        k = _split(hi - lo)
        if m <= k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo, m, whole = lo + k, m - k, False
    if not whole:
        ranges.append((lo, hi))
    return _plan(ranges[::-1])


def root_plan(size: int) -> ProofPlan:
    """The stored nodes whose fold is the root of the tree of `size` leaves."""
    return ProofPlan((tuple(range_nodes(0, size)),)) if size else ProofPlan(())


class Frontier:
    """The right edge of a growing tree: the perfect subtrees of [0, size), left to right.

    Appending leaves returns, for each leaf, the perfect subtrees it completes, so the
    caller stores each node hash once, as it completes, without reading anything back. The
    subtrees' levels are the set bits of `size`, largest first, so only their hashes are
    kept.
    """

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        if size.bit_count() != len(hashes):
            raise ValueError("frontier hashes do not match the tree size")
        self.size = size
        self._hashes = list(hashes)

    def extend(self, leaf_hashes: Iterable[bytes]) -> list[bytes]:
        """Add leaf hashes; return for each leaf the hashes of the subtrees it completes,
        concatenated from level 1 up (b"" for none; `completed` names them)."""
        hashes, size, ups = self._hashes, self.size, []
        sha256 = hashlib.sha256
        for h in leaf_hashes:
            size += 1
            if size & 1:
                ups.append(b"")
            else:
                # the new leaf completes one subtree per trailing zero bit of the new size
                up, n = [], size
                while not n & 1:
                    h = sha256(b"\x01" + hashes.pop() + h).digest()
                    up.append(h)
                    n >>= 1
                ups.append(b"".join(up))
            hashes.append(h)
        self.size = size
        return ups

    def append(self, lh: bytes) -> bytes:
        return self.extend((lh,))[0]

    def root(self) -> bytes:
        return fold(self._hashes)


def completed(leaf: int, up: bytes) -> list[tuple[int, int, bytes]]:
    """The subtrees that leaf `leaf` completes, as (level, index, hash), from the hashes
    `Frontier.extend` returned for it."""
    return [
        (level, ((leaf + 1) >> level) - 1, up_hash(up, level))
        for level in range(1, len(up) // HASH_SIZE + 1)
    ]


def up_hash(up: bytes, level: int) -> bytes:
    """The hash of the level-`level` subtree in a leaf's `up` (b"" if it holds none)."""
    return up[HASH_SIZE * (level - 1) : HASH_SIZE * level]


def completing_leaf(level: int, index: int) -> int:
    """The leaf whose append completes the subtree (level, index): its last one."""
    return ((index + 1) << level) - 1


def _check_hash(name: str, value: bytes) -> None:
    if len(value) != HASH_SIZE:
        raise ProofError(f"{name} has {len(value)} bytes, want {HASH_SIZE}")


def _match(calculated: bytes, expected: bytes) -> None:
    if not hmac.compare_digest(calculated, expected):
        raise ProofError("calculated root does not match the expected root")


def _decomp(index: int, size: int) -> tuple[int, int]:
    inner = (index ^ (size - 1)).bit_length()
    border = bin(index >> inner).count("1")
    return inner, border


def _chain_inner(seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    for i, h in enumerate(proof):
        seed = node_hash(seed, h) if (index >> i) & 1 == 0 else node_hash(h, seed)
    return seed


def _chain_inner_right(seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    for i, h in enumerate(proof):
        if (index >> i) & 1 == 1:
            seed = node_hash(h, seed)
    return seed


def _chain_border_right(seed: bytes, proof: Sequence[bytes]) -> bytes:
    for h in proof:
        seed = node_hash(h, seed)
    return seed


def root_from_inclusion_proof(index: int, size: int, lh: bytes, proof: Sequence[bytes]) -> bytes:
    if not 0 <= index < size:
        raise ProofError(f"index {index} is beyond size {size}")
    _check_hash("leaf hash", lh)
    for h in proof:
        _check_hash("proof element", h)
    inner, border = _decomp(index, size)
    if len(proof) != inner + border:
        raise ProofError(f"wrong proof size {len(proof)}, want {inner + border}")
    res = _chain_inner(lh, proof[:inner], index)
    return _chain_border_right(res, proof[inner:])


def verify_inclusion(index: int, size: int, lh: bytes, proof: Sequence[bytes], root: bytes) -> None:
    _match(root_from_inclusion_proof(index, size, lh, proof), root)


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> None:
    if size2 < size1 or size1 < 0:
        raise ProofError(f"size2 ({size2}) < size1 ({size1})")
    if size1 == 0:
        # Every tree extends the empty one, so such a proof proves nothing; the shared
        # vectors (from the CT and transparency-dev suites) require refusing it.
        raise ProofError("no consistency proof from the empty tree")
    if size1 == size2:
        if proof:
            raise ProofError("size1 == size2 but the proof is not empty")
        _match(root1, root2)
        return
    if not proof:
        raise ProofError("empty proof")
    for h in (root1, root2, *proof):
        _check_hash("hash", h)
    inner, border = _decomp(size1 - 1, size2)
    shift = (size1 & -size1).bit_length() - 1
    inner -= shift
    seed, start = proof[0], 1
    if size1 == 1 << shift:
        seed, start = root1, 0
    if len(proof) != start + inner + border:
        raise ProofError(f"wrong proof size {len(proof)}, want {start + inner + border}")
    rest = proof[start:]
    mask = (size1 - 1) >> shift
    hash1 = _chain_border_right(_chain_inner_right(seed, rest[:inner], mask), rest[inner:])
    _match(hash1, root1)
    hash2 = _chain_border_right(_chain_inner(seed, rest[:inner], mask), rest[inner:])
    _match(hash2, root2)
