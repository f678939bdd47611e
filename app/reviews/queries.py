"""The review's figures, each one grouped query (or a few) over the period's incidents: nothing
here loops over incidents in Python, so the cost follows the number of groups, not of incidents."""
from __future__ import annotations

import datetime as dt
import math

from sqlalchemy import Float, String, and_, case, cast, distinct, func, literal, select
from sqlalchemy.sql.elements import ColumnElement

from app.core.db import db
from app.deadlines.models import Deadline
from app.escalation.models import Notification
from app.incidents.models import Incident
from app.organizations.models import Organization
from app.organizations.profiles import SEGMENT_CODES
from app.records.models import Recommendation
from app.reviews.periods import Period

SEVERITY_RANK = {"low": 1, "medium": 2, "high": 3, "critical": 4}
DURATIONS = {  # figure → the later moment, each measured from detection
    "acknowledge": Incident.acknowledged_at, "contain": Incident.contained_at,
    "recover": Incident.recovered_at, "close": Incident.closed_at,
}


def _scope(organization_ids: list[int], starts: dt.datetime, ends: dt.datetime) -> ColumnElement[bool]:
    return and_(Incident.organization_id.in_(organization_ids), Incident.detected_at >= starts, Incident.detected_at < ends)


def _json_has(column, code: str) -> ColumnElement[bool]:
    """A JSON list column contains `code`: its text holds the quoted code (codes are plain words)."""
    return cast(column, String).like(f'%"{code}"%')


def _seconds(later, earlier):
    if db.session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", later - earlier)
    return (func.julianday(later) - func.julianday(earlier)) * 86400.0


def _grouped(scope, *columns) -> dict:
    """{value (or tuple of values): count} of one GROUP BY."""
    rows = db.session.execute(select(*columns, func.count()).where(scope).group_by(*columns))
    return {(tuple(r[:-1]) if len(columns) > 1 else r[0]): r[-1] for r in rows}


def counts(organization_ids: list[int], period: Period) -> dict:
    scope = _scope(organization_ids, period.starts_at, period.ends_at)
    segments = db.session.execute(select(*(
        func.coalesce(func.sum(case((_json_has(Incident.network_segments, code), 1), else_=0)), 0).label(code)
        for code in SEGMENT_CODES), func.count(), func.coalesce(func.sum(case((Incident.not_incident, 1), else_=0)), 0))
        .where(scope)).one()
    by_subcategory = _grouped(scope, Incident.threat_category, Incident.subcategory)
    return {
        "total": segments[-2], "not_incident": int(segments[-1]),
        "by_threat_category": _grouped(scope, Incident.threat_category),
        "by_subcategory": {f"{c}/{s or '-'}": n for (c, s), n in by_subcategory.items()},
        "by_severity": _grouped(scope, Incident.severity), "by_source": _grouped(scope, Incident.source),
        "by_segment": {code: int(segments[i]) for i, code in enumerate(SEGMENT_CODES)},
    }


def _percentile(values_query, count: int, fraction: float) -> float | None:
    """Linear interpolation between the two nearest ranks (PostgreSQL's percentile_cont), read
    with ORDER BY … LIMIT 2 OFFSET k so that both engines give the same figure."""
    if count == 0:
        return None
    position = fraction * (count - 1)
    lower = math.floor(position)
    rows = [r[0] for r in db.session.execute(values_query.order_by(values_query.selected_columns[0])
                                             .limit(2).offset(lower))]
    if len(rows) == 1 or position == lower:
        return round(float(rows[0]), 3)
    # rounded to the millisecond: SQLite's julianday arithmetic is off in the last float digits
    return round(float(rows[0]) + (float(rows[1]) - float(rows[0])) * (position - lower), 3)


def response_times(organization_ids: list[int], period: Period) -> dict:
    """Median and 90th percentile, in seconds from detection, of incidents (not 非該当) that
    reached the moment; `n` is how many did."""
    scope = and_(_scope(organization_ids, period.starts_at, period.ends_at), Incident.not_incident.is_(False))
    figures = {}
    for name, later in DURATIONS.items():
        seconds = cast(_seconds(later, Incident.detected_at), Float).label("seconds")
        values = select(seconds).where(scope, later.is_not(None))
        count = db.session.scalar(select(func.count()).where(scope, later.is_not(None)).select_from(Incident))
        figures[name] = {"n": count, "median_s": _percentile(values, count, 0.5), "p90_s": _percentile(values, count, 0.9)}
    return figures


def escalation_levels(organization_ids: list[int], period: Period) -> dict[int, int]:
    """How many incidents an escalation level reached (at least one message of that level)."""
    scope = _scope(organization_ids, period.starts_at, period.ends_at)
    rows = db.session.execute(
        select(Notification.level, func.count(distinct(Notification.incident_id)))
        .join(Incident, Incident.id == Notification.incident_id)
        .where(scope, Notification.event == "escalation").group_by(Notification.level).order_by(Notification.level))
    return {level: n for level, n in rows}


def deadline_figures(organization_ids: list[int], period: Period, now: dt.datetime) -> dict:
    """Regulatory deadlines of the period's incidents: due, met on time, late, open (and overdue)."""
    scope = _scope(organization_ids, period.starts_at, period.ends_at)
    rows = db.session.execute(
        select(Deadline.kind, func.min(Deadline.label), func.count(),
               func.sum(case((and_(Deadline.met_at.is_not(None), Deadline.met_at <= Deadline.due_at), 1), else_=0)),
               func.sum(case((Deadline.met_at > Deadline.due_at, 1), else_=0)),
               func.sum(case((Deadline.met_at.is_(None), 1), else_=0)),
               func.sum(case((and_(Deadline.met_at.is_(None), Deadline.due_at <= now), 1), else_=0)))
        .join(Incident, Incident.id == Deadline.incident_id)
        .where(scope, Deadline.category == "regulatory", Deadline.withdrawn_at.is_(None))
        .group_by(Deadline.kind).order_by(Deadline.kind))
    kinds = {kind: {"label": label, "due": due, "on_time": int(on_time), "late": int(late), "open": int(open_),
                    "overdue": int(overdue)} for kind, label, due, on_time, late, open_, overdue in rows}
    total = {key: sum(k[key] for k in kinds.values()) for key in ("due", "on_time", "late", "open", "overdue")}
    return {"total": total, "by_kind": kinds}


def risk_inputs(organization_ids: list[int], starts: dt.datetime, ends: dt.datetime) -> dict[str, dict]:
    """Per threat category over the history window: incidents, the worst severity, and whether any
    touched many persons' or My Number data or stopped a service."""
    heavy = (Incident.pd_persons > 100) | Incident.pd_my_number | _json_has(Incident.impacts, "outage")
    rank = case(*((Incident.severity == code, literal(n)) for code, n in SEVERITY_RANK.items()), else_=literal(1))
    rows = db.session.execute(
        select(Incident.threat_category, func.count(), func.max(rank), func.max(case((heavy, 1), else_=0)))
        .where(_scope(organization_ids, starts, ends), Incident.not_incident.is_(False))
        .group_by(Incident.threat_category))
    return {category: {"count": n, "worst": int(worst), "heavy": bool(heavy_any)} for category, n, worst, heavy_any in rows}


def first_detection(organization_ids: list[int]) -> dt.datetime | None:
    return db.session.scalar(select(func.min(Incident.detected_at)).where(Incident.organization_id.in_(organization_ids)))


def outstanding_recommendations(organization_ids: list[int]) -> list[dict]:
    """Recommendations not yet settled (提案 / 採用), every period: what the 見直し must decide or do."""
    rows = db.session.execute(
        select(Recommendation.id, Recommendation.clause, Recommendation.status, Recommendation.text,
               Incident.id, Incident.reference, Organization.code)
        .join(Incident, Incident.id == Recommendation.incident_id)
        .join(Organization, Organization.id == Recommendation.organization_id)
        .where(Recommendation.organization_id.in_(organization_ids), Recommendation.status.in_(("proposed", "adopted")))
        .order_by(Organization.code, Recommendation.clause.is_(None), Recommendation.clause, Recommendation.status,
                  Recommendation.id))
    return [{"id": r[0], "clause": r[1], "status": r[2], "text": r[3], "incident_id": r[4], "reference": r[5],
             "organization": r[6]} for r in rows]


INCIDENT_COLUMNS = (Incident.id, Incident.reference, Organization.code.label("organization"), Incident.title,
                    Incident.threat_category, Incident.subcategory, Incident.severity, Incident.source, Incident.stage,
                    Incident.not_incident, Incident.detected_at, Incident.acknowledged_at, Incident.contained_at,
                    Incident.recovered_at, Incident.closed_at)


def incident_rows(organization_ids: list[int], period: Period):
    """The period's incidents, oldest first, streamed (a year of a large body is many rows)."""
    query = (select(*INCIDENT_COLUMNS).join(Organization, Organization.id == Incident.organization_id)
             .where(_scope(organization_ids, period.starts_at, period.ends_at))
             .order_by(Incident.detected_at, Incident.id).execution_options(yield_per=2000))
    return db.session.execute(query)
