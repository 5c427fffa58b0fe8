"""The gate: the one path every read or write of registry data takes.

`Pipeline` runs each request through containment, policy, budgets, the use case's work,
the journal and the detectors. The use cases hold a pipeline, grouped by audience:
`RegistryTasks` (owners, dealers, police, prefecture), `AuditTasks` (auditors, the DPO),
`CaseTasks` (a unit's cases, which full-record reads are bound to), `AdminTasks`
(administrators, the local operator); exports have their desk
(`strongroom.exports.ExportDesk`).
"""

from strongroom.gate.administration import AdminTasks
from strongroom.gate.audit import AuditTasks
from strongroom.gate.break_glass import BreakGlassWindows
from strongroom.gate.cases import CaseTasks
from strongroom.gate.owner_accesses import OwnerAccesses
from strongroom.gate.pipeline import Answer, Disclosure, Pipeline, Task
from strongroom.gate.registry_tasks import RegistryTasks

__all__ = [
    "AdminTasks",
    "Answer",
    "AuditTasks",
    "BreakGlassWindows",
    "CaseTasks",
    "Disclosure",
    "OwnerAccesses",
    "Pipeline",
    "RegistryTasks",
    "Task",
]
