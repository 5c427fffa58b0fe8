"""Sort keys: where a searched value falls in its order, for the enumeration and
coordination detectors, which look for requests that advance in order (an alphabetical
name sweep, serials or permit numbers counted up, IDs walked in sorted order).

A sort key goes to the detectors only (`AccessEvent.sort_key`), never to the journal, and
it keeps no more of the value than its order needs:

    family name     the rank of its first three letters (a-z after normalization): a
                    sweep through the alphabet advances, and the name is not kept
    number          permit number or serial: its last four digits, after a keyed hash of
                    everything before them (the vault's blind-index key, domain "sort"):
                    counting up within a block of 10,000 stays in order, the block itself
                    cannot be read back
    public ID       its first 48 bits: random IDs walked in sorted order advance
"""

from __future__ import annotations

import re
from collections.abc import Callable

from strongroom.vault.blind_index import normalize

LETTERS = 3
LOW_DIGITS = 4
BLOCK_BITS = 24
_TRAILING_DIGITS = re.compile(r"(\d+)\D*$")
_HEX = re.compile(r"^[0-9a-f]{12}")

Keyed = Callable[[str, str], bytes]  # (kind, value) -> keyed digest: the vault's blind index


def name_key(family_name: str) -> float | None:
    letters = [c for c in normalize(family_name) if "a" <= c <= "z"][:LETTERS]
    if not letters:
        return None
    key = 0
    for i in range(LETTERS):
        key = key * 27 + (ord(letters[i]) - 96 if i < len(letters) else 0)
    return float(key)


def number_key(value: str, keyed: Keyed) -> float | None:
    canonical = normalize(value)
    m = _TRAILING_DIGITS.search(canonical)
    if m is None:
        return None
    digits = m.group(1)
    low = int(digits[-LOW_DIGITS:])
    block = canonical[: m.start(1)] + digits[:-LOW_DIGITS]
    # The block is hashed even when empty-looking, so a short number still gets a block.
    mark = int.from_bytes(keyed("sort", block or "#")[: BLOCK_BITS // 8], "big")
    return float(mark * 10**LOW_DIGITS + low)


def id_key(public_id: str) -> float | None:
    m = _HEX.match(public_id.replace("-", "").lower())
    return float(int(m.group(0), 16)) if m else None
