"""Public IDs of seeded subjects show no order or sequence: all UUIDv4, insertion order
uncorrelated with sorted order (Spearman's rank correlation near 0), no constant step."""

from __future__ import annotations

import math
import uuid
from itertools import pairwise
from pathlib import Path

from seed_testkit import seeded
from sqlalchemy import text

from strongroom.ids import is_public_id


def _spearman(order: list[str]) -> float:
    """Rank correlation between insertion rank and sorted rank (no ties: IDs are unique)."""
    n = len(order)
    rank = {v: r for r, v in enumerate(sorted(order))}
    d2 = sum((i - rank[v]) ** 2 for i, v in enumerate(order))
    return 1 - 6 * d2 / (n * (n * n - 1))


def test_public_ids_show_no_order(tmp_path: Path) -> None:
    s = seeded(f"sqlite:///{tmp_path / 'r.db'}", tmp_path / "keys", persons=1000)
    with s.engine.connect() as conn:
        tables = {
            t: [r[0] for r in conn.execute(text(f"SELECT public_id FROM {t} ORDER BY id"))]
            for t in ("persons", "permits", "weapons", "sales", "dealers")
        }
    s.engine.dispose()
    persons = tables["persons"]
    assert len(persons) == 1000
    for name, ids in tables.items():
        assert all(is_public_id(i) for i in ids), name
        assert all(i[14] == "4" and uuid.UUID(i).version == 4 for i in ids), name
        assert len(set(ids)) == len(ids), name
        if len(ids) >= 100:
            # Under no order the statistic has standard deviation 1/sqrt(n - 1): five of
            # them (a false alarm about once in two million runs), 0.16 for 1,000 IDs.
            assert abs(_spearman(ids)) < 5 / math.sqrt(len(ids) - 1), name
    steps = [uuid.UUID(b).int - uuid.UUID(a).int for a, b in pairwise(persons)]
    assert len(set(steps)) == len(steps)
    assert sum(x > 0 for x in steps) not in (0, len(steps))
