"""Governed exports: the only way bulk data leaves. Requested against a named dataset of
the policy, approved by a second person, minimized to the approved fields, capped,
watermarked (canary rows + a keyed fingerprint in identifier case) or small-cell
suppressed, generated once and downloadable once, then deleted; traceable back to its
export, requester and approver from a fragment.

    desk = ExportDesk(pipeline=..., store=ExportStore(engine), engine=engine, spec=...,
                      watermark=Watermark(export_key(honey_key)), exports_dir=home.exports_dir,
                      clock=clock)
    desk.request(caller, dataset=..., fields=[...], justification=...)  -> Answer
    desk.approve(approver, export_id) / desk.reject(approver, export_id, note)
    answer, download = desk.download(requester, export_id)   # bytes once, file unlinked
    desk.trace(operator, open(leaked_file))                  -> [{export, evidence}]
"""

from strongroom.exports.datasets import Catalogue, Scope, default_catalogue
from strongroom.exports.desk import Download, ExportDesk, StepResult
from strongroom.exports.store import ExportRecord, ExportStore, metadata
from strongroom.exports.suppression import DEFAULT_MIN_CELL, suppress
from strongroom.exports.watermark import Watermark, export_key

__all__ = [
    "DEFAULT_MIN_CELL",
    "Catalogue",
    "Download",
    "ExportDesk",
    "ExportRecord",
    "ExportStore",
    "Scope",
    "StepResult",
    "Watermark",
    "default_catalogue",
    "export_key",
    "metadata",
    "suppress",
]
