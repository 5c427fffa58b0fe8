"""The embedded deployment's budgets on disk (budgets/state_file.py): what one process
spent is refused by the next one to open the file, counts from processes that used the
file one after the other add up, and what left its window is not restored."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from strongroom.budgets import BudgetKeys, Budgets, BudgetSpec, MemoryBackend
from strongroom.budgets.state_file import BudgetStateFile, counts, subjects
from strongroom.clock import FakeClock
from strongroom.errors import TooManyRequests

REQUESTS = BudgetSpec("requests_hour", "principal", "requests", 5, 3600)
SUBJECTS = BudgetSpec("subjects_day", "principal", "subjects", 3, 86400)


def _open(path: Path, clock: FakeClock) -> tuple[Budgets, BudgetStateFile]:
    backend = MemoryBackend(track_changes=True)
    state = BudgetStateFile(path, backend, clock, interval=3600)  # flushed by the test
    return Budgets([REQUESTS, SUBJECTS], backend, clock), state


def _spend(budgets: Budgets, principal: str, subject: str | None = None) -> None:
    r = budgets.reserve(BudgetKeys(principal=principal), requests=1, subjects=1)
    budgets.settle(r, records=1, subjects=[subject] if subject else [])


def test_requests_spent_before_a_restart_are_refused_after_it(tmp_path: Path) -> None:
    clock = FakeClock()
    budgets, state = _open(tmp_path / "b.db", clock)
    for _ in range(5):
        _spend(budgets, "alice")
    state.close()

    budgets, state = _open(tmp_path / "b.db", clock)
    with pytest.raises(TooManyRequests):
        _spend(budgets, "alice")
    _spend(budgets, "bob")  # another key is untouched
    state.close()


def test_distinct_subjects_are_restored(tmp_path: Path) -> None:
    clock = FakeClock()
    budgets, state = _open(tmp_path / "b.db", clock)
    for s in ("p1", "p2", "p3"):
        _spend(budgets, "carol", s)
    state.close()

    clock.advance(60)
    budgets, state = _open(tmp_path / "b.db", clock)
    with pytest.raises(TooManyRequests):
        _spend(budgets, "carol", "p4")
    state.close()


def test_counts_of_processes_that_used_the_file_add_up(tmp_path: Path) -> None:
    """A CLI command run beside a stopped server leaves its share without overwriting the
    server's: counts are written as deltas."""
    clock = FakeClock()
    first, first_state = _open(tmp_path / "b.db", clock)
    second, second_state = _open(tmp_path / "b.db", clock)
    for _ in range(3):
        _spend(first, "dave")
    for _ in range(2):
        _spend(second, "dave")
    first_state.close()
    second_state.close()

    third, third_state = _open(tmp_path / "b.db", clock)
    with pytest.raises(TooManyRequests):
        _spend(third, "dave")
    third_state.close()


def test_what_left_its_window_is_neither_restored_nor_kept(tmp_path: Path) -> None:
    clock = FakeClock()
    budgets, state = _open(tmp_path / "b.db", clock)
    for s in ("p1", "p2", "p3"):
        _spend(budgets, "erin", s)
    state.close()

    clock.advance(86400 * 2)
    budgets, state = _open(tmp_path / "b.db", clock)
    for s in ("p4", "p5", "p6"):
        _spend(budgets, "erin", s)
    state.flush()
    with state.engine.connect() as conn:
        kept = conn.execute(select(subjects.c.subject).order_by(subjects.c.subject)).scalars()
        assert list(kept) == ["p4", "p5", "p6"]
        rows = conn.execute(select(func.sum(counts.c.count))).scalar()
        assert rows == 3  # the three new requests; the old ones' buckets are gone
    state.close()


def test_a_failed_write_keeps_the_changes_for_the_next(tmp_path: Path) -> None:
    clock = FakeClock()
    budgets, state = _open(tmp_path / "b.db", clock)
    for _ in range(5):
        _spend(budgets, "frank")
    with state.engine.begin() as conn:
        conn.execute(counts.delete())
        conn.exec_driver_sql("ALTER TABLE budget_counts RENAME TO parked")
    state.flush()  # fails: the table is gone; the changes are put back
    with state.engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE parked RENAME TO budget_counts")
    state.close()  # writes them

    budgets, state = _open(tmp_path / "b.db", clock)
    with pytest.raises(TooManyRequests):
        _spend(budgets, "frank")
    state.close()
