"""Storage errors become the project's errors at the registry's boundary.

Whatever SQLAlchemy raises (a lost connection, a full pool, a missing table) leaves the
registry as `StorageUnavailable`, a 503 problem: the gate then settles the request's budget
and journals it like any other refusal, and no driver message reaches a client.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from sqlalchemy.exc import SQLAlchemyError

from strongroom.errors import Unavailable

log = logging.getLogger("strongroom.registry")


class StorageUnavailable(Unavailable):
    """The registry's database could not serve the request."""


@contextlib.contextmanager
def storage_errors() -> Iterator[None]:
    try:
        yield
    except SQLAlchemyError as exc:
        # The type only: a driver's message may quote parameters, and so PII.
        log.error("registry storage error: %s", type(exc).__name__)
        raise StorageUnavailable(
            "the registry is unavailable; try again shortly",
            reason="storage_unavailable",
            headers={"Retry-After": "1"},
        ) from exc
