"""Imports every model so that Alembic and `alembic check` see the whole schema."""
from app.audit.models import AuditEntry, AuditHead  # noqa: F401
from app.auth.models import ApiToken, LoginFailure, Membership, User  # noqa: F401
from app.core.db import Base  # noqa: F401
from app.deadlines.models import Deadline  # noqa: F401
from app.escalation.models import Escalation, RosterPolicy  # noqa: F401
from app.incidents.models import Evidence, Incident, IncidentMember, ReferenceCounter, Task, TimelineEvent  # noqa: F401
from app.intake.models import Report, ReportAddition  # noqa: F401
from app.jobs.models import TickJob  # noqa: F401
from app.notifications.models import Notification, NotificationChoice, OnCallOverride, OnCallRotation  # noqa: F401
from app.organizations.models import Organization  # noqa: F401
from app.records.models import PostIncidentRecord, Recommendation  # noqa: F401
from app.risks.models import CircumstanceChange, Finding, NearMiss, RiskAssessment  # noqa: F401
