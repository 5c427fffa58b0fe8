"""`Secret`: a decrypted value passed around inside the service that never prints itself.

Modelled on starlette's `datastructures.Secret`, but stricter: `str()` hides the value too,
so an f-string, a log line or a traceback can only ever show `**********`. The value is
reached on purpose, with `reveal()`.
"""

from __future__ import annotations

import hmac

MASK = "**********"


class Secret:
    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("Secret holds a str")
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"{type(self).__name__}('{MASK}')"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return format(MASK, spec)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash((Secret, self._value))

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> tuple[object, ...]:
        # Pickling would carry the clear value out of process; refuse rather than leak.
        raise TypeError("a Secret cannot be pickled")
