"""RFC 8785 (JSON Canonicalization Scheme) bytes, fast.

The `rfc8785` package is the reference and is pure Python (~40 us for a journal entry);
orjson with sorted keys writes the same bytes for the values journal entries hold, in about
a tenth of that. They differ only on numbers and key order, so `canonical()` first walks
the value and takes orjson only where the two agree:

- integers within the I-JSON range (|n| <= 2**53 - 1), and booleans and null;
- floats that are not integral (their shortest round-trip form is the ECMAScript one) but
  for magnitudes in [1e-6, 1e-5), which orjson writes with an exponent and ECMAScript in
  full (1e-6 -> 0.000001), and integral floats below 2**53, written as the integer JCS
  prints for them (1.0 -> 1);
- object keys that are ASCII (JCS orders keys by UTF-16 code units, orjson by code points:
  the same for ASCII);
- str, list, dict only (orjson also writes tuples, dataclasses, UUIDs and dates, which
  JCS does not define).

Anything else (NaN, huge integers, non-ASCII keys, other types) goes to `rfc8785`, which
either writes it or raises. A property test holds the two equal on random values.
"""

from __future__ import annotations

import math
from typing import Any

import orjson
import rfc8785

_MAX_SAFE = 2**53 - 1


class _Slow(Exception):
    pass


_PLAIN = frozenset({str, bool, type(None)})


def _as_is(v: Any) -> bool:
    """True when orjson writes `v` exactly as JCS; False when integral floats must become
    integers first; raises _Slow when only rfc8785 can decide."""
    t = type(v)
    if t in _PLAIN:
        return True
    if t is dict:
        same = True
        for k, x in v.items():
            if type(k) is not str or not k.isascii():
                raise _Slow
            if type(x) not in _PLAIN and not _as_is(x):
                same = False
        return same
    if t is list:
        same = True
        for x in v:
            if type(x) not in _PLAIN and not _as_is(x):
                same = False
        return same
    if t is int:
        if -_MAX_SAFE <= v <= _MAX_SAFE:
            return True
        raise _Slow
    if t is float:
        if not v.is_integer():
            # orjson writes [1e-6, 1e-5) with an exponent, ECMAScript in full
            if math.isfinite(v) and not 1e-6 <= abs(v) < 1e-5:
                return True
            raise _Slow
        if -_MAX_SAFE <= v <= _MAX_SAFE:
            return False
    raise _Slow


def _ints(v: Any) -> Any:
    """A copy of `v` (already checked by `_as_is`) with integral floats as integers."""
    t = type(v)
    if t is dict:
        return {k: _ints(x) for k, x in v.items()}
    if t is list:
        return [_ints(x) for x in v]
    if t is float and v.is_integer():
        return int(v)
    return v


def canonical(value: Any) -> bytes:
    """The RFC 8785 canonical JSON bytes of `value`; raises what `rfc8785.dumps` raises
    (CanonicalizationError, TypeError, ValueError) for what JCS cannot write."""
    try:
        if not _as_is(value):
            value = _ints(value)
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except (_Slow, orjson.JSONEncodeError):
        return rfc8785.dumps(value)
