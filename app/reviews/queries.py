"""The review's figures, each one grouped query (or a few) over the period's incidents: nothing
here loops over incidents in Python, so the cost follows the number of groups, not of incidents."""
from __future__ import annotations

import datetime as dt
import math

from sqlalchemy import Float, String, and_, case, cast, distinct, func, literal, or_, select
from sqlalchemy.sql.elements import ColumnElement

from app.core.db import db
from app.core.timeutil import iso_utc
from app.deadlines.models import Deadline
from app.incidents.models import Incident
from app.notifications.models import Notification
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


def counts(organization_ids: list[int], period: Period) -> dict:
    """Every count of the period from one GROUP BY over the few combinations of category,
    subcategory, severity, source and 非該当 (the network segments summed alongside)."""
    scope = _scope(organization_ids, period.starts_at, period.ends_at)
    keys = (Incident.threat_category, Incident.subcategory, Incident.severity, Incident.source, Incident.not_incident)
    segment_sums = [func.sum(case((_json_has(Incident.network_segments, code), 1), else_=0)) for code in SEGMENT_CODES]
    rows = db.session.execute(select(*keys, func.count(), *segment_sums).where(scope).group_by(*keys)).all()
    result = {"total": 0, "not_incident": 0, "by_threat_category": {}, "by_subcategory": {}, "by_severity": {},
              "by_source": {}, "by_segment": dict.fromkeys(SEGMENT_CODES, 0)}
    for category, subcategory, severity, source, not_incident, n, *segments in rows:
        result["total"] += n
        result["not_incident"] += n if not_incident else 0
        for name, key in (("by_threat_category", category), ("by_subcategory", f"{category}/{subcategory or '-'}"),
                          ("by_severity", severity), ("by_source", source)):
            result[name][key] = result[name].get(key, 0) + n
        for code, value in zip(SEGMENT_CODES, segments, strict=True):
            result["by_segment"][code] += int(value or 0)
    return result


def _interpolate(ranked: dict[int, float], count: int, fraction: float) -> float | None:
    """Linear interpolation between the two nearest ranks, as PostgreSQL's percentile_cont;
    rounded to the millisecond (SQLite's julianday arithmetic is off in the last float digits)."""
    if count == 0:
        return None
    position = fraction * (count - 1)
    lower = math.floor(position)
    low, high = ranked[lower], ranked.get(lower + 1, ranked[lower])
    return round(low + (high - low) * (position - lower), 3)


def response_times(organization_ids: list[int], period: Period) -> dict:
    """Median and 90th percentile, in seconds from detection, of incidents (not 非該当) that
    reached the moment; `n` is how many did. One query per figure: the values ranked by a window
    function, only the ranks either side of the 50th and 90th percentiles returned (integer
    arithmetic for floor and ceil, alike on both engines)."""
    scope = and_(_scope(organization_ids, period.starts_at, period.ends_at), Incident.not_incident.is_(False))
    figures = {}
    for name, later in DURATIONS.items():
        seconds = cast(_seconds(later, Incident.detected_at), Float)
        ranked = select(seconds.label("seconds"),
                        (func.row_number().over(order_by=seconds) - 1).label("rank"),
                        func.count().over().label("n")).where(scope, later.is_not(None)).subquery()
        last = ranked.c.n - 1
        wanted = (last // 2, (last + 1) // 2, (9 * last) // 10, (9 * last + 9) // 10)  # floor and ceil of each
        rows = db.session.execute(select(ranked.c.rank, ranked.c.seconds, ranked.c.n)
                                  .where(or_(*(ranked.c.rank == rank for rank in wanted)))).all()
        count = rows[0].n if rows else 0
        values = {r.rank: float(r.seconds) for r in rows}
        figures[name] = {"n": count, "median_s": _interpolate(values, count, 0.5), "p90_s": _interpolate(values, count, 0.9)}
    return figures


def escalation_levels(organization_ids: list[int], period: Period) -> dict[int, int]:
    """How many incidents an escalation level reached (at least one message of that level)."""
    scope = _scope(organization_ids, period.starts_at, period.ends_at)
    rows = db.session.execute(
        select(Notification.level, func.count(distinct(Notification.incident_id)))
        .join(Incident, Incident.id == Notification.incident_id)
        .where(scope, Notification.event.in_(("escalation", "escalation_inform"))).group_by(Notification.level).order_by(Notification.level))
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


def risk_inputs(organization_ids: list[int], windows: list[tuple[dt.datetime, dt.datetime]]) -> list[dict[str, dict]]:
    """Per threat category and history window: incidents, the worst severity, and whether any
    touched many persons' or My Number data or stopped a service. The windows (this period's and
    the previous one's, mostly overlapping) are read in one scan, each a conditional aggregate."""
    heavy = (Incident.pd_persons > 100) | Incident.pd_my_number | Incident.impact_outage
    rank = case(*((Incident.severity == code, literal(n)) for code, n in SEVERITY_RANK.items()), else_=literal(1))
    columns = []
    for starts, ends in windows:
        inside = and_(Incident.detected_at >= starts, Incident.detected_at < ends)
        columns += [func.sum(case((inside, 1), else_=0)), func.max(case((inside, rank), else_=literal(0))),
                    func.max(case((and_(inside, heavy), 1), else_=0))]
    rows = db.session.execute(
        select(Incident.threat_category, *columns)
        .where(_scope(organization_ids, min(w[0] for w in windows), max(w[1] for w in windows)),
               Incident.not_incident.is_(False))
        .group_by(Incident.threat_category)).all()
    results: list[dict[str, dict]] = [{} for _ in windows]
    for category, *values in rows:
        for index in range(len(windows)):
            n, worst, heavy_any = values[3 * index:3 * index + 3]
            if n:
                results[index][category] = {"count": int(n), "worst": int(worst), "heavy": bool(heavy_any)}
    return results


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


def _period_incidents(organization_ids: list[int], period: Period):
    return (select(*INCIDENT_COLUMNS).join(Organization, Organization.id == Incident.organization_id)
            .where(_scope(organization_ids, period.starts_at, period.ends_at)).order_by(Incident.detected_at, Incident.id))


def incident_page(organization_ids: list[int], period: Period, page: int, per_page: int) -> list[dict]:
    """One page of the period's incidents for the JSON answer, oldest first, times as the API writes
    them (the review's `total` says how many there are; the CSV and XLSX list them all)."""
    rows = db.session.execute(_period_incidents(organization_ids, period).limit(per_page).offset((page - 1) * per_page))
    return [{key: iso_utc(value) if isinstance(value, dt.datetime) else value for key, value in row._mapping.items()}
            for row in rows]


def incident_rows(organization_ids: list[int], period: Period):
    """The period's incidents, oldest first, streamed (a year of a large body is many rows)."""
    query = _period_incidents(organization_ids, period).execution_options(yield_per=2000)
    return db.session.execute(query)
