"""Name the export a leaked file (or a fragment of it) came from.

The file is read as lines of text, whatever its format: every UUID on a line is checked
against the canary marks, and its letters' case compared with what each watermarked
export's fingerprint key gives it (watermark.py). A line matches an export when every
UUID on it has exactly that export's case pattern; for any other export this happens by
chance with probability 2^-(letters on the line), independently line by line. An export
is named when a canary of it is found, or when its matching lines carry at least
MIN_EVIDENCE_BITS letters in all (chance: about 2^-40 per export on file), on at least
MIN_LINES lines.

A file merged from several exports names each of them: lines are scored one by one.
Cost: one keyed BLAKE2b per (UUID, export on file), the fingerprint read on at most
MAX_FINGERPRINT_LINES lines (canaries on every line).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from strongroom.exports.store import ExportStore
from strongroom.exports.watermark import Observation, Watermark, find_ids

MIN_EVIDENCE_BITS = 40
MIN_LINES = 3
MAX_FINGERPRINT_LINES = 5_000


@dataclass
class Evidence:
    export_id: str
    canary_lines: int = 0
    fingerprint_lines: int = 0
    fingerprint_bits: int = 0

    @property
    def conclusive(self) -> bool:
        return self.canary_lines > 0 or (
            self.fingerprint_bits >= MIN_EVIDENCE_BITS and self.fingerprint_lines >= MIN_LINES
        )


@dataclass
class Reading:
    """What a file holds that tracing needs: per line, the UUIDs' fingerprint bits, and
    every UUID's canary mark."""

    lines: int = 0
    ids: int = 0
    observations: list[list[Observation]] = field(default_factory=list)
    marks: dict[bytes, set[int]] = field(default_factory=dict)


def read(lines: Iterable[str], watermark: Watermark) -> Reading:
    out = Reading()
    for number, line in enumerate(lines):
        out.lines += 1
        seen = list(find_ids(line))
        if not seen:
            continue
        out.ids += len(seen)
        for value in seen:
            out.marks.setdefault(watermark.canary_mark(value), set()).add(number)
        if len(out.observations) < MAX_FINGERPRINT_LINES:
            obs = [o for o in (watermark.observe(v) for v in seen) if o.bits]
            if obs:
                out.observations.append(obs)
    return out


def score(reading: Reading, export_ids: Iterable[str], watermark: Watermark) -> dict[str, Evidence]:
    found: dict[str, Evidence] = {}
    for export_id in export_ids:
        fkey = watermark.fingerprint_key(export_id)
        lines = bits = 0
        for obs in reading.observations:
            if all(Watermark.matches(fkey, o) for o in obs):
                lines += 1
                bits += sum(o.bits for o in obs)
        if lines:
            found[export_id] = Evidence(export_id, fingerprint_lines=lines, fingerprint_bits=bits)
    return found


def trace_lines(lines: Iterable[str], store: ExportStore, watermark: Watermark) -> list[Evidence]:
    """Conclusive evidence per export, strongest first."""
    reading = read(lines, watermark)
    found = score(reading, store.watermarked(), watermark)
    owners = store.exports_by_marks(list(reading.marks))
    canary_lines: dict[str, set[int]] = {}
    for mark, export_id in owners.items():
        canary_lines.setdefault(export_id, set()).update(reading.marks[mark])
    for export_id, where in canary_lines.items():
        found.setdefault(export_id, Evidence(export_id)).canary_lines = len(where)
    hits = [e for e in found.values() if e.conclusive]
    return sorted(hits, key=lambda e: (-e.canary_lines, -e.fingerprint_bits, e.export_id))
