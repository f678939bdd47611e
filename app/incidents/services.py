"""The rules for incidents. Pages and the API both call these; they flush, never commit."""
from __future__ import annotations

import datetime as dt
import unicodedata
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import false, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Row
from sqlalchemy.orm import aliased

from app.auth.models import User
from app.core.db import db
from app.core.errors import Conflict, NotFound, ValidationFailed
from app.core.playbooks import playbooks
from app.core.timeutil import CLOCK_SKEW, display_zone, format_display, now_utc
from app.incidents import events, people, timeline
from app.incidents.access import authorize, organization_for_input, readable_organizations, visibility_clause
from app.incidents.models import SEVERITY_ORDER, Incident, IncidentCount, IncidentMember, ReferenceCounter, Stage
from app.incidents.schemas import IncidentCreate, IncidentFields, IncidentQuery, IncidentUpdate
from app.incidents.severity import Facts, asset_ranks, derive_severity
from app.incidents.tasks import sync_playbook_tasks
from app.organizations.models import Organization
from app.organizations.profiles import Profile
from app.organizations.services import get_profile, organization_id_for

FIELD_LABELS = {
    "title": "件名", "description": "内容", "threat_category": "脅威区分", "subcategory": "小区分",
    "detected_at": "検知日時", "source": "報告元", "network_segments": "ネットワーク", "impacts": "被害",
    "asset_classes": "情報資産の分類", "personal_data": "個人情報", "severity": "重大度",
    "severity_reason": "重大度の理由", "recognized_at": "報告対象と認識した日時", "organ": "機関",
}
# personal_data's members that the field-level rules guard by name (app/core/permissions.py)
GUARDED_PERSONAL_DATA = ("held_in", "encrypted", "public_exposure")
# what a change of calls for other checklist items (the category's, or those of a report's need)
CHECKLIST_FACTS = {"threat_category", "subcategory", "personal_data", "network_segments", "organ"}


# --- validation against the body's profile ------------------------------------------------

def _check_against_profile(profile: Profile, data: IncidentFields, category: str,
                           incident: Incident | None = None) -> None:
    errors: dict[str, str] = {}
    cat = profile.category(category)
    if cat is None:
        errors["threat_category"] = _("%(org)sの脅威区分から選んでください。", org=profile.name)
    if data.subcategory and (cat is None or data.subcategory not in {s.code for s in cat.subcategories}):
        errors["subcategory"] = _("選んだ脅威区分の小区分ではありません。")
    unknown = set(data.network_segments or ()) - set(profile.segment_codes())
    if unknown:
        errors["network_segments"] = _("%(org)sにないネットワーク区分です: %(codes)s", org=profile.name, codes=", ".join(sorted(unknown)))
    axes = {axis.code: {lv.code for lv in axis.levels} for axis in profile.asset_classification.axes}
    for axis, level in (data.asset_classes or {}).items():
        if axis not in axes or level not in axes[axis]:
            errors["asset_classes"] = _("%(org)sの分類にない値です: %(axis)s=%(level)s", org=profile.name, axis=axis, level=level)
    if data.detected_at and data.detected_at > now_utc() + CLOCK_SKEW:
        errors["detected_at"] = _("未来の日時は指定できません。")
    if data.organ and profile.reporting.organ(data.organ) is None:
        errors["organ"] = _("%(org)sの機関から選んでください。", org=profile.name)
    errors |= _recognition_time(data, incident)
    errors |= _paper_times(data)
    if errors:
        raise ValidationFailed(_("入力内容に誤りがあります。"), errors)


def _recognition_time(data: IncidentFields, incident: Incident | None) -> dict[str, str]:
    """detected ≤ recognized ≤ now: a reportable situation is known at detection at the earliest."""
    sent = data.model_fields_set
    detected = data.detected_at if "detected_at" in sent else (incident.detected_at if incident else None)
    recognized = data.recognized_at if "recognized_at" in sent else (incident.recognized_at if incident else None)
    if recognized is None or detected is None:
        return {}
    if "recognized_at" in sent and recognized > now_utc() + CLOCK_SKEW:
        return {"recognized_at": _("未来の日時は指定できません。")}
    if recognized < detected:
        return {"recognized_at" if "recognized_at" in sent else "detected_at":
                _("報告対象と認識した日時は検知日時より前にはできません。")}
    return {}


def _paper_times(data: IncidentFields) -> dict[str, str]:
    """detected ≤ reported ≤ acknowledged ≤ now, for an incident entered after the fact."""
    errors, earlier = {}, getattr(data, "detected_at", None)
    for name in ("reported_at", "acknowledged_at"):
        value = getattr(data, name, None)
        if value is None:
            continue
        if value > now_utc() + CLOCK_SKEW:
            errors[name] = _("未来の日時は指定できません。")
        elif earlier is not None and value < earlier:
            errors[name] = _("検知日時・報告日時より前にはできません。")
        earlier = value
    return errors


def _apply_fields(incident: Incident, data: IncidentFields) -> None:
    for name in ("title", "description", "threat_category", "subcategory", "detected_at", "recognized_at", "organ",
                 "source"):
        if name in data.model_fields_set:
            setattr(incident, name, getattr(data, name) if getattr(data, name) is not None else _blank(name))
    if "network_segments" in data.model_fields_set:
        incident.network_segments = sorted(set(data.network_segments or ()))
    if "impacts" in data.model_fields_set:
        incident.impacts = sorted({i.value for i in data.impacts or ()})
        incident.impact_outage = "outage" in incident.impacts
    if "asset_classes" in data.model_fields_set:
        incident.asset_classes = dict(sorted((data.asset_classes or {}).items()))
    if "personal_data" in data.model_fields_set:
        pd = data.personal_data
        incident.pd_persons = pd.persons if pd else 0
        for flag in ("sensitive", "my_number", "financial_damage", "malicious", "ordinance_sensitive", "encrypted",
                     "public_exposure"):
            setattr(incident, f"pd_{flag}", bool(pd and getattr(pd, flag)))
        incident.pd_held_in = sorted({h.value for h in pd.held_in}) if pd else []
        incident.pd_involved = bool(pd and (pd.involved or pd.persons > 0 or pd.sensitive or pd.my_number
                                                 or pd.ordinance_sensitive))


def sent_fields(data: IncidentFields) -> set[str]:
    """The fields a caller sent, for the field-level rules: personal_data's guarded members as
    `personal_data.<name>`."""
    sent = set(data.model_fields_set)
    if data.personal_data is not None:
        sent |= {f"personal_data.{name}" for name in GUARDED_PERSONAL_DATA if name in data.personal_data.model_fields_set}
    return sent


def normalize_for_search(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def _refresh_search_text(incident: Incident) -> None:
    incident.search_text = normalize_for_search("\n".join((incident.reference, incident.title, incident.description or "")))


def _blank(name: str) -> Any:
    """What a field sent as null clears to (the schemas refuse null for those an incident needs)."""
    return "" if name == "description" else None


def incident_facts(profile: Profile, incident: Incident) -> Facts:
    flags = {name for name, value in incident.personal_data.items() if value is True}
    return Facts(
        segments=frozenset(incident.network_segments or ()),
        impacts=frozenset(incident.impacts or ()),
        flags=frozenset(flags),
        persons=incident.pd_persons or 0,
        ranks=asset_ranks(profile, incident.asset_classes or {}),
    )


def severity_basis(incident: Incident) -> str | None:
    profile = get_profile(incident.organization.code)
    return derive_severity(playbooks().severity_rules, incident_facts(profile, incident))[1]


def _recompute_severity(profile: Profile, incident: Incident) -> None:
    computed, _reason = derive_severity(playbooks().severity_rules, incident_facts(profile, incident))
    incident.computed_severity = computed.value
    if incident.severity_overridden_at is None:
        incident.severity = computed.value


# --- references ---------------------------------------------------------------------------

def _next_reference_number(organization_id: int, year: int) -> int:
    """Increments the counter under a row lock, in one statement (gapless: a rolled-back insert
    rolls it back too)."""
    session = db.session
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = insert(ReferenceCounter).values(organization_id=organization_id, year=year, last_number=1)
    return session.execute(
        statement.on_conflict_do_update(index_elements=[ReferenceCounter.organization_id, ReferenceCounter.year],
                                        set_={"last_number": ReferenceCounter.last_number + 1})
        .returning(ReferenceCounter.last_number)
    ).scalar_one()


# --- commands -----------------------------------------------------------------------------

def open_incident(user: User, data: IncidentCreate, reported_at: dt.datetime | None = None) -> Incident:
    """`reported_at`: when the report it is opened from arrived (intake.open_from_report); the
    incident is reported from then on, or earlier if the paper record says so."""
    org = organization_for_input(user, data.organization)
    profile = get_profile(org.code)
    _check_against_profile(profile, data, data.threat_category)
    authorize(user, org.id, "incident.create", sent_fields(data),
              _l("この団体のインシデントを登録する権限がありません。"))
    owner, members = people.resolve_people(org.id, data.owner, data.members, data.model_fields_set)
    now = now_utc()
    year = now.astimezone(display_zone()).year
    number = _next_reference_number(org.id, year)
    incident = Incident(
        organization=org, organization_id=org.id, ref_year=year, ref_number=number,
        reference=f"{org.reference_prefix}-{year}-{number:04d}", reporter_id=user.id,
        stage=Stage.TRIAGE.value, description="", source="internal", created_at=now, updated_at=now,
        network_segments=[], impacts=[], asset_classes={},
    )
    _apply_fields(incident, data)
    paper = data.reported_at is not None or data.acknowledged_at is not None
    if paper:
        # reported no later than acknowledged: an acknowledgement alone dates the report too
        incident.reported_at, incident.recorded_late = data.reported_at or data.acknowledged_at, True
        if data.acknowledged_at is not None:
            incident.acknowledged_at, incident.acknowledged_by_id = data.acknowledged_at, user.id
    if reported_at is not None:
        incident.reported_at = min(reported_at, incident.reported_at or reported_at)
    _recompute_severity(profile, incident)
    _refresh_search_text(incident)
    db.session.add(incident)
    db.session.flush()
    deadlines = events.deadline_changes(incident)
    late = f"（紙の記録から後日登録: 報告 {format_display(data.reported_at) or '—'}、受領 {format_display(data.acknowledged_at) or '—'}）" \
        if paper else ""
    timeline.record(incident, user, "created", f"{incident.reference} を登録しました（{profile.name}）{late}{events.describe(deadlines)}",
                    {"title": incident.title, "threat_category": incident.threat_category,
                     "severity": incident.severity, "detected_at": incident.detected_at, "deadlines": deadlines}
                    | ({"recorded_late": True, "reported_at": data.reported_at, "acknowledged_at": data.acknowledged_at}
                       if paper else {}))
    people.assign_people(user, incident, owner, members)
    sync_playbook_tasks(incident, user)
    events.announce(events.opened, incident, actor=user)
    return incident


def update_incident(user: User, incident: Incident, data: IncidentUpdate) -> dict[str, tuple[Any, Any]]:
    """Applies the sent fields; returns {field: (before, after)} of what changed."""
    profile = get_profile(incident.organization.code)
    category = data.threat_category or incident.threat_category
    if "threat_category" in data.model_fields_set and "subcategory" not in data.model_fields_set \
            and data.threat_category != incident.threat_category:
        data.subcategory = None
        data.model_fields_set.add("subcategory")
    _check_against_profile(profile, data, category, incident)
    if "severity" in data.model_fields_set and data.severity is not None and not data.severity_reason:
        raise ValidationFailed(_("入力内容に誤りがあります。"), {"severity_reason": _("重大度を手動で設定するには理由が必要です。")})
    authorize(user, incident.organization_id, "incident.update", sent_fields(data),
              _l("このインシデントを編集する権限がありません。"))
    if data.version != incident.version:
        raise Conflict(_("他の担当者が先に更新しました。再読み込みしてください。"), {"version": _("現在の版は %(v)s です。", v=incident.version)})
    owner, members = people.resolve_people(incident.organization_id, data.owner, data.members, data.model_fields_set)
    tracked = ("title", "description", "threat_category", "subcategory", "detected_at", "recognized_at", "organ", "source",
               "network_segments", "impacts", "asset_classes", "severity", "severity_reason")
    before = {name: getattr(incident, name) for name in tracked} | {"personal_data": _personal_data(incident)}
    _apply_fields(incident, data)
    if "severity" in data.model_fields_set:
        if data.severity is None:
            incident.severity_overridden_at = incident.severity_overridden_by_id = incident.severity_reason = None
        else:
            incident.severity = data.severity.value
            incident.severity_reason = data.severity_reason
            incident.severity_overridden_by_id = user.id
            incident.severity_overridden_at = now_utc()
    _recompute_severity(profile, incident)
    _refresh_search_text(incident)
    after = {name: getattr(incident, name) for name in tracked} | {"personal_data": _personal_data(incident)}
    changes = {k: (before[k], after[k]) for k in before if before[k] != after[k]}
    if changes:
        incident.updated_at = now_utc()
        db.session.flush()
        names = "、".join(FIELD_LABELS.get(k, k) for k in changes)
        deadlines = events.deadline_changes(incident)
        timeline.record(incident, user, "updated", f"{names} を変更しました{events.describe(deadlines)}",
                        {"changes": {k: {"before": b, "after": a} for k, (b, a) in changes.items()}}
                        | ({"deadlines": deadlines} if deadlines else {}))
        if CHECKLIST_FACTS & changes.keys():
            sync_playbook_tasks(incident, user)
        if "severity" in changes and SEVERITY_ORDER[changes["severity"][1]] > SEVERITY_ORDER[changes["severity"][0]]:
            events.announce(events.severity_raised, incident, actor=user)
    for name in people.assign_people(user, incident, owner, members):
        changes[name] = (None, None)  # each on its own timeline entry
    return changes


def _personal_data(incident: Incident) -> dict[str, Any]:
    return incident.personal_data | {"ordinance_sensitive": incident.pd_ordinance_sensitive}


# --- queries ------------------------------------------------------------------------------

def _day_bound(value: dt.datetime | dt.date, end: bool) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    day = value + dt.timedelta(days=1) if end else value
    return dt.datetime.combine(day, dt.time(), tzinfo=display_zone())


OWNER = aliased(User, name="owner")
OWNERSHIP = aliased(IncidentMember, name="ownership")
# A list row is a plain row of these columns (no ORM objects, no long text or JSON columns).
LIST_COLUMNS = (
    Incident.id, Incident.reference, Incident.title, Incident.threat_category, Incident.subcategory,
    Incident.severity, Incident.stage, Incident.source, Incident.detected_at, Incident.created_at,
    Incident.updated_at, Incident.acknowledged_at, Incident.version,
    Organization.code.label("organization"), Organization.name.label("organization_name"),
    OWNER.email.label("owner"), OWNER.name.label("owner_name"),
)


COUNTED_FILTERS = ("threat_category", "stage", "severity")


def list_incidents(user: User, query: IncidentQuery) -> tuple[list[Row], int]:
    full, own = readable_organizations(user)
    conditions = [visibility_clause(user, (full, own))]
    org_ids = full + own
    if query.organization:
        org_id = organization_id_for(query.organization)
        if org_id is None or org_id not in org_ids:
            raise NotFound(_("団体が見つかりません。"))
        conditions.append(Incident.organization_id == org_id)
        org_ids = [org_id]
    filters = {name: str(getattr(query, name)) for name in COUNTED_FILTERS if getattr(query, name)}
    conditions.extend(getattr(Incident, name) == value for name, value in filters.items())
    if query.detected_from:
        conditions.append(Incident.detected_at >= _day_bound(query.detected_from, end=False))
    if query.detected_to:
        bound = _day_bound(query.detected_to, end=True)
        conditions.append(Incident.detected_at < bound if isinstance(query.detected_to, dt.date)
                          and not isinstance(query.detected_to, dt.datetime) else Incident.detected_at <= bound)
    if query.owner:
        owner_id = user.id if query.owner == "me" else db.session.scalar(
            select(User.id).where(func.lower(User.email) == query.owner.lower()))
        conditions.append(Incident.id.in_(select(IncidentMember.incident_id).where(
            IncidentMember.user_id == owner_id, IncidentMember.role == "owner")) if owner_id is not None else false())
    if query.q:
        needle = normalize_for_search(query.q)
        pattern = "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        conditions.append(Incident.search_text.like(pattern, escape="\\"))
    total = None if query.q or query.detected_from or query.detected_to or query.owner else _counted_total(full, org_ids, filters)
    if total is None:
        total = db.session.scalar(select(func.count()).select_from(Incident).where(*conditions))
    newest_first = (Incident.detected_at.desc(), Incident.id.desc())
    # The page's ids first, then its rows: the ids come from a filter's index alone (it holds the
    # filter, the order and the id), so however many incidents there are, only the page's rows are
    # read from the table. Without this PostgreSQL preferred walking the whole table's time index
    # and reading every row it passed to test the filter: fine at 10,000 incidents, not at 1,000,000.
    page = (select(Incident.id).where(*conditions).order_by(*newest_first)
            .limit(query.per_page).offset((query.page - 1) * query.per_page).subquery())
    rows = db.session.execute(
        select(*LIST_COLUMNS).join(page, page.c.id == Incident.id)
        .join(Organization, Organization.id == Incident.organization_id)
        .outerjoin(OWNERSHIP, (OWNERSHIP.incident_id == Incident.id) & (OWNERSHIP.role == "owner"))
        .outerjoin(OWNER, OWNER.id == OWNERSHIP.user_id).order_by(*newest_first)
    )
    return list(rows), total


def _counted_total(full: list[int], org_ids: list[int], filters: dict[str, str]) -> int | None:
    """The list's total from incident_counts, where it is the same number: the user reads every
    incident of those bodies (`full`) and the filters are counted ones. None where it is not."""
    if not org_ids or not set(org_ids) <= set(full):
        return None
    conditions = [IncidentCount.organization_id.in_(org_ids)]
    conditions.extend(getattr(IncidentCount, name) == value for name, value in filters.items())
    return db.session.scalar(select(func.coalesce(func.sum(IncidentCount.n), 0)).where(*conditions))
