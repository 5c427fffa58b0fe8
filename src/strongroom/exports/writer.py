"""Write an export file in one pass, row by row: CSV (RFC 4180) or JSON Lines, created
0600 and exclusive (O_EXCL: never through a pre-planted file or symlink), written to a
`.part` name and renamed when complete, with its SHA-256 computed on the way.

Memory is bounded by one row and the stdio buffer, whatever the export's size.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FORMATS = {
    "csv": ("csv", "text/csv; charset=utf-8"),
    "jsonl": ("jsonl", "application/jsonl; charset=utf-8"),
}
PROGRESS_EVERY = 5000


@dataclass(frozen=True)
class Written:
    path: Path
    rows: int
    sha256: str
    size: int


class _HashingFile(io.RawIOBase):
    """Binary sink that hashes what passes through."""

    def __init__(self, fd: int) -> None:
        self._f = os.fdopen(fd, "wb", buffering=1 << 16)
        self.digest = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        b = bytes(data)
        self.digest.update(b)
        self.size += len(b)
        self._f.write(b)
        return len(b)

    def close(self) -> None:
        if not self._f.closed:
            self._f.flush()
            os.fsync(self._f.fileno())
            self._f.close()
        super().close()


def open_exclusive(path: Path) -> int:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    return os.open(path, flags, 0o600)


def write_export(
    path: Path,
    fmt: str,
    columns: Sequence[str],
    rows: Iterable[Mapping[str, Any]],
    progress: Callable[[int], None] | None = None,
) -> Written:
    """Write `rows` (only `columns`, in that order) to `path`; return what was written."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}")
    part = path.with_name(path.name + ".part")
    sink = _HashingFile(open_exclusive(part))
    text = io.TextIOWrapper(io.BufferedWriter(sink, 1 << 16), encoding="utf-8", newline="")
    count = 0
    try:
        if fmt == "csv":
            out = csv.writer(text, lineterminator="\r\n")
            out.writerow(columns)
            for row in rows:
                out.writerow(["" if row.get(c) is None else row.get(c) for c in columns])
                count += 1
                if progress is not None and count % PROGRESS_EVERY == 0:
                    progress(count)
        else:
            dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
            for row in rows:
                text.write(dumps({c: row.get(c) for c in columns}))
                text.write("\n")
                count += 1
                if progress is not None and count % PROGRESS_EVERY == 0:
                    progress(count)
        text.flush()
        text.close()
    except BaseException:
        text.close()
        part.unlink(missing_ok=True)
        raise
    os.replace(part, path)
    if progress is not None:
        progress(count)
    return Written(path=path, rows=count, sha256=sink.digest.hexdigest(), size=sink.size)
