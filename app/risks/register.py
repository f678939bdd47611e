"""The register as it stood at the end of a period, with the period's inputs beside each row, the
change since the previous review, and where incident history disagrees with the assessment
(playbooks/risk.yaml `disagreement`).

Incidents are read in one grouped query over the period (by body, category, subcategory and the
asset classes recorded, with a sum and the worst severity per network segment alongside), so the
cost follows the number of groups, not of incidents; the register's own tables are small."""
from __future__ import annotations

import datetime as dt
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import String, and_, case, cast, func, literal, or_, select

from app.core.db import db
from app.core.playbooks import playbooks
from app.core.timeutil import iso_utc, now_utc, to_display
from app.incidents.models import SEVERITY_LABELS, SEVERITY_ORDER, Incident, Severity
from app.organizations.models import Organization
from app.organizations.profiles import SEGMENT_CODES
from app.organizations.services import get_profile
from app.risks import schemas, serializers
from app.risks.models import CircumstanceChange, Finding, NearMiss, RiskAssessment
from app.risks.rows import category_label, covers
from app.risks.serializers import SOURCE_LABELS, clause_label, is_overdue

RANK = {severity.value: rank for severity, rank in SEVERITY_ORDER.items()}


@dataclass(frozen=True)
class Window:
    """The period the inputs are counted in, and the moments the rows are shown as of."""

    starts: dt.datetime            # UTC, inclusive
    ends: dt.datetime              # UTC, exclusive: the rows as of then
    first_day: dt.date             # JST dates, inclusive
    last_day: dt.date
    kind: Literal["quarter", "fiscal_year"]
    previous_ends: dt.datetime | None  # the previous review's end: "the change since"


@dataclass
class IncidentGroup:
    organization_id: int
    category: str
    subcategory: str | None
    classes: dict
    count: int
    worst: int  # severity rank 1–4
    segments: dict[str, tuple[int, int]] = field(default_factory=dict)  # code → (count, worst)


def _has_segment(code: str):
    """The JSON list of segments holds `code` (codes are plain words, so its text holds it quoted)."""
    return cast(Incident.network_segments, String).like(f'%"{code}"%')


def incident_groups(organization_ids: list[int], window: Window) -> list[IncidentGroup]:
    rank = case(*((Incident.severity == code, literal(n)) for code, n in RANK.items()), else_=literal(1))
    classes = cast(Incident.asset_classes, String)
    per_segment = []
    for code in SEGMENT_CODES:
        per_segment += [func.sum(case((_has_segment(code), 1), else_=0)), func.max(case((_has_segment(code), rank), else_=0))]
    keys = (Incident.organization_id, Incident.threat_category, Incident.subcategory, classes)
    rows = db.session.execute(
        select(*keys, func.count(), func.max(rank), *per_segment)
        .where(Incident.organization_id.in_(organization_ids), Incident.detected_at >= window.starts,
               Incident.detected_at < window.ends, Incident.not_incident.is_(False))
        .group_by(*keys)).all()
    groups = []
    for org_id, category, subcategory, text, count, worst, *sums in rows:
        parsed = json.loads(text) if text else {}
        group = IncidentGroup(org_id, category, subcategory, parsed if isinstance(parsed, dict) else {}, count, int(worst))
        for index, code in enumerate(SEGMENT_CODES):
            group.segments[code] = (int(sums[2 * index] or 0), int(sums[2 * index + 1] or 0))
        groups.append(group)
    return groups


def _alive(item: RiskAssessment, moment: dt.datetime | None) -> bool:
    return moment is not None and item.assessed_at < moment and (item.superseded_at is None or item.superseded_at >= moment)


def _change(current: RiskAssessment, previous: RiskAssessment | None) -> str:
    if previous is None:
        return "new"
    if previous.id == current.id:
        return "unchanged"
    return "raised" if current.score > previous.score else "lowered" if current.score < previous.score else "reassessed"


class _Builder:
    """One register: reads the period's inputs once, then answers row by row."""

    def __init__(self, organizations: list[Organization], window: Window, now: dt.datetime):
        self.window, self.rules = window, playbooks().risk
        self.codes = {o.id: o.code for o in organizations}
        self.profiles = {o.id: get_profile(o.code) for o in organizations}
        ids = list(self.codes)
        self.day = min(window.last_day, to_display(now).date())  # "overdue" as of the period's end, or today
        self.assessments = list(db.session.scalars(
            select(RiskAssessment).where(RiskAssessment.organization_id.in_(ids), RiskAssessment.assessed_at < window.ends)
            .order_by(RiskAssessment.version.desc())))
        self.groups = incident_groups(ids, window)
        self.groups_of: dict[tuple[int, str], list[IncidentGroup]] = defaultdict(list)  # by body and category
        for group in self.groups:
            self.groups_of[(group.organization_id, group.category)].append(group)
        self.versions: dict[tuple, list[RiskAssessment]] = defaultdict(list)  # by body and row, newest first
        for item in self.assessments:
            self.versions[(item.organization_id, item.key)].append(item)
        self.near_misses = list(db.session.scalars(
            select(NearMiss).where(NearMiss.organization_id.in_(ids), NearMiss.occurred_at >= window.starts,
                                   NearMiss.occurred_at < window.ends).order_by(NearMiss.occurred_at, NearMiss.id)))
        open_at_end = or_(Finding.resolved_on.is_(None), Finding.resolved_on > window.last_day)
        self.findings = list(db.session.scalars(
            select(Finding).where(Finding.organization_id.in_(ids), Finding.found_on <= window.last_day,
                                  or_(Finding.found_on >= window.first_day, open_at_end))
            .order_by(Finding.due_on, Finding.id)))
        self.changes = list(db.session.scalars(
            select(CircumstanceChange).where(CircumstanceChange.organization_id.in_(ids),
                                             and_(CircumstanceChange.noted_on >= window.first_day,
                                                  CircumstanceChange.noted_on <= window.last_day))
            .order_by(CircumstanceChange.noted_on, CircumstanceChange.id)))
        self.near_of: dict[tuple[int, str], list[tuple]] = defaultdict(list)  # (subcategory, segment) by body, category
        for n in self.near_misses:
            self.near_of[(n.organization_id, n.threat_category)].append((n.subcategory, n.segment))
        self.open_findings_of = Counter((f.organization_id, f.threat_category) for f in self.findings
                                        if f.resolved_on is None or f.resolved_on > window.last_day)
        self.changes_of = Counter((c.organization_id, c.threat_category) for c in self.changes)

    def scale(self, org_id: int):
        return self.rules.scale_for(self.codes[org_id])

    def _incidents(self, item: RiskAssessment) -> tuple[int, int]:
        """(incidents, worst severity rank) of the row in the period."""
        count = worst = 0
        key, segment = item.key, item.segment
        for group in self.groups_of.get((item.organization_id, item.threat_category), ()):
            if not covers(key, group.category, group.subcategory, group.classes):
                continue
            n, top = (group.count, group.worst) if not segment else group.segments.get(segment, (0, 0))
            count, worst = count + n, max(worst, top if n else 0)
        return count, worst

    def _inputs(self, item: RiskAssessment) -> schemas.RegisterRowInputs:
        count, worst = self._incidents(item)
        here = (item.organization_id, item.threat_category)
        # a near miss touched no asset: it counts for every class, and, without a segment, for every segment
        near = sum(1 for subcategory, segment in self.near_of.get(here, ())
                   if (not item.subcategory or subcategory == item.subcategory)
                   and (not item.segment or not segment or segment == item.segment))
        worst_code = next((code for code, rank in RANK.items() if rank == worst), None)
        return schemas.RegisterRowInputs(incidents=count, worst_severity=worst_code, near_misses=near,
                                         open_findings=self.open_findings_of.get(here, 0),
                                         changes=self.changes_of.get(here, 0))

    def _disagreements(self, item: RiskAssessment, label: str,
                       inputs: schemas.RegisterRowInputs) -> list[schemas.RegisterDisagreement]:
        found = []
        scale, code = self.scale(item.organization_id), self.codes[item.organization_id]
        limits = getattr(self.rules.disagreement.incidents_at_least, self.window.kind)
        limit = limits.get(item.likelihood)
        common = {"organization": code, "assessment": item.id, "threat_category": item.threat_category, "label": label}
        if limit is not None and inputs.incidents >= limit:
            found.append(schemas.RegisterDisagreement(
                kind="likelihood", assessed=item.likelihood, observed=inputs.incidents, threshold=limit, **common,
                message=f"発生の可能性を{item.likelihood}（{scale.likelihood_label(item.likelihood)}）と評価していますが、"
                        f"期間中に{inputs.incidents}件のインシデントがありました（{limit}件以上で見直しの目安）。"))
        worst = RANK.get(inputs.worst_severity or "", 0)
        for rule in sorted(self.rules.disagreement.severity_over_loss, key=lambda r: -RANK[r.severity]):
            if worst >= RANK[rule.severity] and item.loss < rule.loss_below:
                severity = str(SEVERITY_LABELS[Severity(inputs.worst_severity)])
                found.append(schemas.RegisterDisagreement(
                    kind="loss", assessed=item.loss, observed=worst, threshold=rule.loss_below, **common,
                    message=f"発生時の損失を{item.loss}（{scale.loss_label(item.loss)}）と評価していますが、期間中に重大度"
                            f"「{severity}」のインシデントがありました（損失{rule.loss_below}以上が目安）。"))
                break
        return found

    def _unassessed(self, current: list[RiskAssessment]) -> list[schemas.RegisterDisagreement]:
        least = self.rules.disagreement.unassessed_at_least
        if least is None:
            return []
        assessed = {(a.organization_id, a.threat_category) for a in current}
        totals: Counter = Counter()
        for group in self.groups:
            totals[(group.organization_id, group.category)] += group.count
        found = []
        for (org_id, category), n in sorted(totals.items(), key=lambda item: (self.codes[item[0][0]], item[0][1])):
            if n >= least and (org_id, category) not in assessed:
                label = category_label(self.profiles[org_id], category)
                found.append(schemas.RegisterDisagreement(
                    kind="unassessed", organization=self.codes[org_id], assessment=None, threat_category=category,
                    label=label, assessed=None, observed=n, threshold=least,
                    message=f"「{label}」のインシデントが期間中に{n}件ありましたが、リスク登録簿に評価がありません。"))
        return found

    def _order(self, item: RiskAssessment) -> tuple:
        categories = [c.code for c in self.profiles[item.organization_id].threat_categories]
        position = categories.index(item.threat_category) if item.threat_category in categories else len(categories)
        return (self.codes[item.organization_id], position, *item.key[1:])

    def build(self) -> schemas.Register:
        window = self.window
        current = sorted((a for a in self.assessments if _alive(a, window.ends)), key=self._order)
        before = {(a.organization_id, a.key): a for a in self.assessments if _alive(a, window.previous_ends)}
        rows, disagreements = [], []
        for item in current:
            org_id = item.organization_id
            profile, code, scale = self.profiles[org_id], self.codes[org_id], self.scale(org_id)
            answer = serializers.assessment(item, code, profile, scale)
            inputs = self._inputs(item)
            found = self._disagreements(item, answer.label, inputs)
            disagreements += found
            previous = before.get((item.organization_id, item.key))
            history = [serializers.assessment(a, code, profile, scale) for a in self.versions[(item.organization_id, item.key)]
                       if a.id != item.id]
            rows.append(schemas.RegisterRow(
                **answer.model_dump(), inputs=inputs, change=_change(item, previous), history=history,
                disagreements=[d.kind for d in found],
                previous=schemas.RegisterPrevious(id=previous.id, likelihood=previous.likelihood, loss=previous.loss,
                                          score=previous.score, version=previous.version) if previous else None))
        disagreements += self._unassessed(current)
        findings = [serializers.finding(f, self.codes[f.organization_id], self.profiles[f.organization_id], self.rules,
                                        self.day) for f in self.findings]
        return schemas.Register(
            organizations=list(self.codes.values()),
            period={"from": window.first_day.isoformat(), "to": window.last_day.isoformat()},
            as_of=iso_utc(window.ends), previous_as_of=iso_utc(window.previous_ends),
            scales={code: serializers.scale(self.rules.scale_for(code)) for code in self.codes.values()},
            rows=rows, disagreements=disagreements,
            near_misses=[serializers.near_miss(n, self.codes[n.organization_id]) for n in self.near_misses],
            findings=findings,
            circumstances=[serializers.circumstance(c, self.codes[c.organization_id], self.rules) for c in self.changes],
            recommendations=self._recommendations(disagreements))

    def _recommendations(self, disagreements: list[schemas.RegisterDisagreement]) -> list[schemas.RegisterRecommendation]:
        """What the register puts before the 情報セキュリティ委員会: re-assess what history contradicts,
        assess what nobody did, finish overdue findings, weigh the period's changes of circumstance."""
        out = []
        kinds = {"likelihood": ("reassess_likelihood", "「{label}」の発生の可能性を再評価する"),
                 "loss": ("reassess_loss", "「{label}」の発生時の損失を再評価する"),
                 "unassessed": ("assess", "「{label}」をリスク登録簿で評価する")}
        for item in disagreements:
            kind, text = kinds[item.kind]
            out.append(schemas.RegisterRecommendation(kind=kind, organization=item.organization, text=text.format(label=item.label),
                                              basis=item.message))
        for item in self.findings:
            if is_overdue(item, self.day):
                profile = self.profiles[item.organization_id]
                out.append(schemas.RegisterRecommendation(
                    kind="finding_overdue", organization=self.codes[item.organization_id],
                    text=f"{SOURCE_LABELS[item.source]}の指摘（{clause_label(profile, item.clause)}）への対応を完了する",
                    basis=f"対応期限 {item.due_on.isoformat()}（{self.rules.rating_label(item.rating)}）: {item.text[:120]}"))
        for item in self.changes:
            out.append(schemas.RegisterRecommendation(
                kind="circumstance", organization=self.codes[item.organization_id],
                text=f"状況の変化（{self.rules.kind_label(item.kind)}）を踏まえて関係する評価を見直す",
                basis=f"{item.noted_on.isoformat()}: {item.text[:120]}"))
        return out


def build_register(organizations: list[Organization], window: Window, now: dt.datetime | None = None) -> schemas.Register:
    return _Builder(organizations, window, now or now_utc()).build()
