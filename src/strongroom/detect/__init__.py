"""Detection and containment: streaming detectors over the gate's access events, a
decaying risk score per principal and IP prefix, and a response ladder (alert, throttle,
step-up, suspend session, suspend principal and revoke its tokens, block the IP prefix)
whose containments every worker enforces. Findings leave as OCSF Detection Findings.
"""

from strongroom.detect.config import (
    LADDER,
    DetectConfig,
    DetectConfigError,
    DetectorSettings,
    RoleProfile,
    Rung,
)
from strongroom.detect.containment import (
    Action,
    Containment,
    ContainmentStore,
    MemoryContainmentStore,
)
from strongroom.detect.engine import DetectionEngine
from strongroom.detect.ocsf import Incident, finding
from strongroom.detect.rfc5424_syslog import SyslogSink
from strongroom.detect.signals import Signal
from strongroom.detect.sinks import JsonLinesSink, Sink
from strongroom.detect.store import SqlContainmentStore
from strongroom.detect.table import FAMILIES
from strongroom.detect.webhook import WebhookSink

__all__ = [
    "FAMILIES",
    "LADDER",
    "Action",
    "Containment",
    "ContainmentStore",
    "DetectConfig",
    "DetectConfigError",
    "DetectionEngine",
    "DetectorSettings",
    "Incident",
    "JsonLinesSink",
    "MemoryContainmentStore",
    "RoleProfile",
    "Rung",
    "Signal",
    "Sink",
    "SqlContainmentStore",
    "SyslogSink",
    "WebhookSink",
    "finding",
]
