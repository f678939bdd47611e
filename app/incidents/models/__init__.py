"""Incident models: the incident, its tasks, timeline and evidence."""
from app.incidents.models.evidence import Evidence
from app.incidents.models.incidents import (
    HELD_IN_LABELS,
    IMPACT_LABELS,
    SEVERITY_LABELS,
    SEVERITY_ORDER,
    SOURCE_LABELS,
    STAGE_LABELS,
    HeldIn,
    Impact,
    Incident,
    IncidentCount,
    IncidentMember,
    ReferenceCounter,
    Severity,
    Source,
    Stage,
)
from app.incidents.models.tasks import Task
from app.incidents.models.timeline import TimelineEvent

__all__ = [
    "Evidence", "HELD_IN_LABELS", "HeldIn", "IMPACT_LABELS", "SEVERITY_LABELS", "SEVERITY_ORDER", "SOURCE_LABELS", "STAGE_LABELS",
    "Impact", "Incident", "IncidentCount", "IncidentMember", "ReferenceCounter", "Severity", "Source", "Stage", "Task", "TimelineEvent",
]
