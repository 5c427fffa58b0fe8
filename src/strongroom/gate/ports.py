"""What the gate needs from the layers below it, as small protocols. The composition root
(`strongroom.service`) plugs in the real policy, budgets, journal, detectors and vault."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from strongroom.context import Caller
from strongroom.events import AccessEvent


class FieldView(Protocol):
    revealed: frozenset[str]
    visible: frozenset[str]

    def apply(self, record: Mapping[str, object], requester_id: str) -> dict[str, object]: ...


class PolicyPort(Protocol):
    def check_purpose(self, caller: Caller, endpoint_id: str) -> str: ...
    def view(self, role: str, purpose: str) -> FieldView: ...
    def check_search(self, endpoint_id: str, given: Mapping[str, object]) -> None: ...
    def page_size(self, endpoint_id: str) -> int: ...
    def weight(self, fields: Iterable[str]) -> int: ...


class BudgetsPort(Protocol):
    def reserve(
        self, keys: Any, *, requests: int = 1, records: int = 0, subjects: int = 0
    ) -> Any: ...
    def settle(self, reservation: Any, records: int, subjects: Iterable[str]) -> None: ...
    def headers(self, reservation: Any) -> dict[str, str]: ...


class JournalPort(Protocol):
    def append(self, entry: dict[str, Any]) -> int: ...


class DetectorPort(Protocol):
    def observe(self, event: AccessEvent) -> list[Any]: ...
    def check(
        self, principal: str, session: str | None, ip: str | None, *, auth_time: float | None = None
    ) -> Any | None: ...
    def throttle_factor(self, principal: str) -> float: ...


class VaultPort(Protocol):
    decrypt_count: int

    def decrypt(self, store: str, row_id: str, field: str, blob: bytes | None) -> str | None: ...
    def blind_index(self, kind: str, *values: str) -> bytes: ...
