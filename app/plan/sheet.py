"""The 緊急時連絡体制 sheet of a body: what CSIRT members print after every roster import and
keep at hand for when the system itself is down (災害・インフラ) — the contacts, the escalation
chain per severity, the stages with their first checklist items, and the reporting deadlines."""
from __future__ import annotations

from sqlalchemy import select

from app.auth.models import Membership, User
from app.core.db import db
from app.core.durations import parse_duration
from app.core.permissions import ROLE_LABELS, Role
from app.core.playbooks import playbooks
from app.core.timeutil import now_utc
from app.deadlines.services import rules_for
from app.escalation.policy import SEVERITIES, levels_for
from app.escalation.services import severity_name, target_name
from app.incidents.playbook import playbook_for
from app.notifications.oncall import named_deputies
from app.organizations.models import Organization
from app.organizations.services import get_profile

ROLE_ORDER = [r.value for r in (Role.CISO, Role.CHIEF_OFFICER, Role.SECURITY_OFFICER, Role.SECURITY_MANAGER,
                                Role.SYSTEM_ADMIN, Role.CSIRT, Role.ADMIN)]
FIRST_ITEMS = 3


def _contacts(organization: Organization) -> list[dict]:
    """Everyone with a role in the chain (not 職員 or auditors), by rank, with their deputies as
    the escalation finds them (oncall.named_deputies): also those without a chain role of their
    own, with a telephone number, since nobody can look one up when the system is down."""
    rows = db.session.execute(
        select(User, Membership.role).join(Membership, Membership.user_id == User.id)
        .where(Membership.organization_id == organization.id, Membership.active.is_(True),
               Membership.role.in_(ROLE_ORDER)).order_by(User.name)).all()
    deputies = named_deputies(organization.id, list({user.id for user, _role in rows}))
    people = [{"role": role, "role_label": str(ROLE_LABELS[Role(role)]), "name": user.name, "email": user.email,
               "phone": user.phone or "", "available": user.available,
               "deputies": [{"name": d.name, "phone": d.phone or "", "available": d.available}
                            for d in deputies.get(user.id, [])]}
              for user, role in rows]
    return sorted(people, key=lambda p: (ROLE_ORDER.index(p["role"]), p["name"]))


def _after(seconds: int) -> str:
    return "直ちに" if seconds == 0 else (f"{seconds // 3600}時間後" if seconds % 3600 == 0 and seconds >= 3600
                                        else f"{seconds // 60}分後")


def _japanese(duration: str | None) -> str | None:
    """30d → 30日, 4h → 4時間, 15m → 15分."""
    if duration is None:
        return None
    return duration[:-1] + {"s": "秒", "m": "分", "h": "時間", "d": "日"}[duration[-1]]


def contact_sheet(organization: Organization) -> dict:
    profile = get_profile(organization.code)
    chains = []
    for severity in SEVERITIES:
        levels, source = levels_for(organization.id, severity)
        chains.append({"severity": severity_name(severity), "source": "名簿" if source == "roster" else "標準",
                       "levels": [{"who": "、".join(target_name(t) for t in level.notify),
                                   "after": _after(int(parse_duration(level.after).total_seconds())),
                                   "only": {"office_hours": "勤務時間内のみ", "off_hours": "勤務時間外のみ"}.get(level.only or "", ""),
                                   "inform": level.inform}
                                  for level in levels]})
    playbook = playbook_for(playbooks().checklists, profile)
    stages = []
    for stage in playbooks().stages:
        items = [i for i in playbook.items if i.stage == stage.code and i.source == "common"
                 and i.conditions <= {f"rules:{profile.reporting.rules}"}][:FIRST_ITEMS]
        stages.append({"label": stage.label, "purpose": stage.purpose, "items": [i.title for i in items]})
    rules, options = rules_for(organization.code)
    deadlines = [{"label": r.label, "category": r.category, "after": _japanese(r.due.after),
                  "malicious": _japanese(r.due.after_when_malicious), "source": r.source,
                  "counts_from": "報告対象と認識した時から" if r.counts_from == "recognized_at" else "検知から"}
                 for r in rules.deadlines]
    return {"organization": organization, "profile": profile, "contacts": _contacts(organization), "chains": chains,
            "stages": stages, "deadlines": deadlines, "notices": rules.notices, "rules": rules,
            "preliminary_days": options.preliminary_days, "generated_at": now_utc()}
