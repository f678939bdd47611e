"""Roles and what they may do, in one place (API.md, "Who may do what")."""
from __future__ import annotations

import enum

from flask_babel import lazy_gettext as _l


class Role(enum.StrEnum):
    CISO = "ciso"
    CHIEF_OFFICER = "chief_officer"
    SECURITY_OFFICER = "security_officer"
    SECURITY_MANAGER = "security_manager"
    SYSTEM_ADMIN = "system_admin"
    CSIRT = "csirt"
    REPORTER = "reporter"
    AUDITOR = "auditor"
    ADMIN = "admin"


ROLE_LABELS = {
    Role.CISO: _l("最高情報セキュリティ責任者"),
    Role.CHIEF_OFFICER: _l("統括情報セキュリティ責任者"),
    Role.SECURITY_OFFICER: _l("情報セキュリティ責任者"),
    Role.SECURITY_MANAGER: _l("情報セキュリティ管理者"),
    Role.SYSTEM_ADMIN: _l("情報システム管理者"),
    Role.CSIRT: _l("CSIRT要員"),
    Role.REPORTER: _l("職員"),
    Role.AUDITOR: _l("監査担当"),
    Role.ADMIN: _l("管理者"),
}


class Permission(enum.StrEnum):
    INCIDENT_CREATE = "incident:create"
    INCIDENT_READ_ALL = "incident:read_all"
    INCIDENT_EDIT = "incident:edit"
    INCIDENT_OVERRIDE_SEVERITY = "incident:override_severity"
    INCIDENT_WORK = "incident:work"            # acknowledge, tasks, notes, evidence
    INCIDENT_OVERRIDE_GATE = "incident:override_gate"
    INCIDENT_CLOSE = "incident:close"
    ROSTER_MANAGE = "roster:manage"
    AUDIT_VERIFY = "audit:verify"
    RISK_READ = "risk:read"        # the risk register and its inputs (read with the reviews)
    RISK_MANAGE = "risk:manage"    # assess rows, enter findings, changes of circumstance, near misses


P = Permission
_OFFICER = {P.INCIDENT_CREATE, P.INCIDENT_READ_ALL, P.INCIDENT_WORK, P.RISK_READ}
_CSIRT = _OFFICER | {P.INCIDENT_EDIT, P.INCIDENT_OVERRIDE_SEVERITY}
_EXECUTIVE = _CSIRT | {P.INCIDENT_OVERRIDE_GATE, P.INCIDENT_CLOSE}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.REPORTER: frozenset({P.INCIDENT_CREATE}),
    Role.CSIRT: frozenset(_CSIRT | {P.RISK_MANAGE}),  # the register is kept by the CSIRT (and admins)
    Role.SECURITY_MANAGER: frozenset(_OFFICER),
    Role.SECURITY_OFFICER: frozenset(_OFFICER),
    Role.SYSTEM_ADMIN: frozenset(_OFFICER),
    Role.CHIEF_OFFICER: frozenset(_EXECUTIVE),
    Role.CISO: frozenset(_EXECUTIVE),
    Role.AUDITOR: frozenset({P.INCIDENT_READ_ALL, P.AUDIT_VERIFY, P.RISK_READ}),
    Role.ADMIN: frozenset(set(Permission)),
}


def permissions_for(roles: set[str]) -> frozenset[Permission]:
    granted: set[Permission] = set()
    for role in roles:
        granted |= ROLE_PERMISSIONS.get(Role(role), frozenset())
    return frozenset(granted)


def roles_with(permission: Permission) -> frozenset[str]:
    """The roles that grant `permission`: whom a task may be assigned to, who may cover a role."""
    return frozenset(role.value for role, granted in ROLE_PERMISSIONS.items() if permission in granted)


# Field-level rules (issue 15): the fields that change what the system does for everyone, and the
# permission that setting each one needs, per operation. Sending such a field without it is 403
# naming the field, even where the operation itself is allowed (a 職員 may report an incident but
# not record it as acknowledged: an acknowledged incident is never escalated). The other fields
# need only the operation's own permission, given here too so the table reads whole.
OPERATION_PERMISSIONS: dict[str, Permission] = {
    "incident.create": P.INCIDENT_CREATE,
    "incident.update": P.INCIDENT_EDIT,
    "stage.move": P.INCIDENT_EDIT,
    "task.create": P.INCIDENT_WORK,
    "task.update": P.INCIDENT_WORK,
    "deadline.met": P.INCIDENT_WORK,
    "notice.create": P.INCIDENT_EDIT,
}
FIELD_PERMISSIONS: dict[str, dict[str, Permission]] = {
    # recording times after the fact is acknowledging: it stops escalation and starts the clocks
    "incident.create": {"reported_at": P.INCIDENT_WORK, "acknowledged_at": P.INCIDENT_WORK,
                        # the reporting facts (issue 17): when the situation was known to be reportable
                        # moves the statutory clocks, and the encryption withdraws duties: CSIRT's
                        # judgement, not the reporter's; the 機関 and the facts that only add duties
                        # may come from whoever reports
                        "recognized_at": P.INCIDENT_EDIT, "personal_data.encrypted": P.INCIDENT_EDIT,
                        "organ": P.INCIDENT_CREATE, "personal_data.held_in": P.INCIDENT_CREATE,
                        "personal_data.public_exposure": P.INCIDENT_CREATE,
                        # who works the case is the CSIRT's choice, not the reporter's
                        "owner": P.INCIDENT_WORK, "members": P.INCIDENT_WORK},
    "incident.update": {"severity": P.INCIDENT_OVERRIDE_SEVERITY, "severity_reason": P.INCIDENT_OVERRIDE_SEVERITY,
                        "recognized_at": P.INCIDENT_EDIT, "personal_data.encrypted": P.INCIDENT_EDIT,
                        "organ": P.INCIDENT_EDIT, "personal_data.held_in": P.INCIDENT_EDIT,
                        "personal_data.public_exposure": P.INCIDENT_EDIT},
    "stage.move": {"override": P.INCIDENT_OVERRIDE_GATE},  # closing and reopening: INCIDENT_CLOSE, by target
    "task.create": {"required": P.INCIDENT_WORK, "assignee": P.INCIDENT_WORK},
    "task.update": {"done": P.INCIDENT_WORK, "assignee": P.INCIDENT_WORK},
    "deadline.met": {"met_at": P.INCIDENT_WORK},
    "notice.create": {"due_at": P.INCIDENT_EDIT},
}
