"""The quarterly (or fiscal-year) review of one body or of every body the user can see: the figures
of the period with the previous period beside them, the risk matrix, the recommendations for the
policy review, the risk register as it stood at the period's end (app/risks), and the incidents."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _

from app.auth.models import User
from app.core.errors import Forbidden
from app.core.timeutil import now_utc
from app.incidents.access import overseen_organization, overseen_organizations
from app.organizations.services import get_profile
from app.reviews import queries
from app.reviews.periods import TOKYO, Period
from app.risks.register import Window, build_register
from app.risks.schemas import Register

ALL = "all"
HISTORY_YEARS = 3
# likelihood 1–5 from incidents per year in the history window: < 0.5, < 2, < 6, < 12, 12 or more
LIKELIHOOD_LIMITS = (0.5, 2, 6, 12)
LIKELIHOOD_LABELS = {1: "まれ", 2: "低い", 3: "中程度", 4: "高い", 5: "非常に高い"}
LOSS_LABELS = {1: "軽微", 2: "小", 3: "中", 4: "大", 5: "甚大"}
METHOD = (
    "発生の可能性（1〜5）は、脅威区分ごとの年間発生件数（対象期間の末日までの過去{years}年間、団体の記録が"
    "それより短い場合はその期間。非該当を除く）による: 年0.5件未満=1、2件未満=2、6件未満=3、12件未満=4、"
    "12件以上=5。発生時の損失（1〜5）は、同じ期間の最も重い重大度（低=1、中=2、高=3、緊急=4）に、"
    "101人以上の個人情報・特定個人情報（マイナンバー）・業務停止のいずれかを伴った事案があれば1を加えたもの"
    "（上限5、実績のない区分は1）。リスク値は可能性×損失（1〜25）。"
)


def organizations_for(user: User, code: str) -> tuple[list, list[int]]:
    """The bodies a review covers: one body, or `all` the bodies where the user may read all incidents."""
    if code == ALL:
        organizations = overseen_organizations(user)
        if not organizations:
            raise Forbidden(_("振り返りを閲覧する権限がありません。"))
    else:
        organizations = [overseen_organization(user, code)]
    return organizations, [o.id for o in organizations]


def likelihood(per_year: float) -> int:
    return 1 + sum(per_year >= limit for limit in LIKELIHOOD_LIMITS)


def loss(worst: int, heavy: bool) -> int:
    return min(5, worst + (1 if heavy else 0))


def _window(period: Period, first: dt.datetime | None) -> tuple[dt.datetime, dt.datetime]:
    """The history window: the three years up to the period's end, or from the first incident
    when the body's history is shorter (but at least a quarter long)."""
    ends = period.ends_at
    after = period.last_day + dt.timedelta(days=1)  # the window ends where the period does (Tokyo midnight)
    starts = dt.datetime.combine(after.replace(year=after.year - HISTORY_YEARS), dt.time(), TOKYO).astimezone(dt.UTC)
    if first is not None and first > starts:
        starts = min(first, ends - dt.timedelta(days=91))
    return starts, ends


def risk_matrices(organization_ids: list[int], periods: list[Period], categories: list[dict]) -> list[dict]:
    first = queries.first_detection(organization_ids)
    windows = [_window(period, first) for period in periods]
    inputs = queries.risk_inputs(organization_ids, windows)
    return [_matrix(window, found, categories) for window, found in zip(windows, inputs, strict=True)]


def _matrix(window: tuple[dt.datetime, dt.datetime], inputs: dict[str, dict], categories: list[dict]) -> dict:
    starts, ends = window
    years = max((ends - starts).total_seconds() / (365.25 * 86400), 0.25)
    rows = []
    for category in categories:
        data = inputs.get(category["code"], {"count": 0, "worst": 1, "heavy": False})
        per_year = data["count"] / years
        row = {"code": category["code"], "label": category["label"], "incidents": data["count"],
               "per_year": round(per_year, 2), "likelihood": likelihood(per_year),
               "loss": loss(data["worst"], data["heavy"]) if data["count"] else 1}
        rows.append(row | {"score": row["likelihood"] * row["loss"]})
    cells = {f"{r['likelihood']}-{r['loss']}": [] for r in rows}
    for row in rows:
        cells[f"{row['likelihood']}-{row['loss']}"].append(row["code"])
    return {"window": {"from": starts.isoformat(), "to": ends.isoformat(), "years": round(years, 2)},
            "categories": rows, "cells": cells, "method": METHOD.format(years=HISTORY_YEARS)}


def _categories(organizations) -> list[dict]:
    """The threat categories of the covered bodies, in their profiles' order (union for several)."""
    seen: dict[str, dict] = {}
    for organization in organizations:
        for category in get_profile(organization.code).threat_categories:
            entry = seen.setdefault(category.code, {"code": category.code, "label": category.label,
                                                    "label_en": category.label_en, "subcategories": {}})
            for subcategory in category.subcategories:
                entry["subcategories"].setdefault(subcategory.code, subcategory.label)
    return list(seen.values())


@dataclass(frozen=True)
class PeriodHeader:
    fiscal_year: int
    quarter: int | None
    label: str
    first_day: str  # JST dates, both inclusive (answered as "from" and "to")
    last_day: str

    def as_json(self) -> dict:
        return {"fiscal_year": self.fiscal_year, "quarter": self.quarter, "label": self.label,
                "from": self.first_day, "to": self.last_day}


@dataclass(frozen=True)
class PeriodFigures:
    """The figures of one period: the review's `current` and `previous`."""

    period: PeriodHeader
    total: int
    not_incident: int
    by_threat_category: dict[str, int]
    by_subcategory: dict[str, int]  # "category/subcategory" ("category/-" for none) → count
    by_severity: dict[str, int]
    by_source: dict[str, int]
    by_segment: dict[str, int]
    response_times: dict[str, dict[str, Any]]  # figure → {n, median_s, p90_s}
    escalation_levels: dict[int, int]  # level → incidents that reached it
    deadlines: dict[str, dict]  # {total, by_kind}
    risk_matrix: dict[str, Any]  # {window, categories, cells, method}

    def as_json(self) -> dict:
        return {"period": self.period.as_json(), "total": self.total, "not_incident": self.not_incident,
                "by_threat_category": self.by_threat_category, "by_subcategory": self.by_subcategory,
                "by_severity": self.by_severity, "by_source": self.by_source, "by_segment": self.by_segment,
                "response_times": self.response_times, "escalation_levels": self.escalation_levels,
                "deadlines": self.deadlines, "risk_matrix": self.risk_matrix}


def _section(organization_ids: list[int], period: Period, now: dt.datetime, risk: dict) -> PeriodFigures:
    header = PeriodHeader(period.fiscal_year, period.quarter, period.label, period.first_day.isoformat(),
                          period.last_day.isoformat())
    return PeriodFigures(
        period=header, **queries.counts(organization_ids, period),
        response_times=queries.response_times(organization_ids, period),
        escalation_levels=queries.escalation_levels(organization_ids, period),
        deadlines=queries.deadline_figures(organization_ids, period, now), risk_matrix=risk)


def register_window(period: Period) -> Window:
    """The period as the risk register reads it: its inputs counted in the period, its rows as of
    the period's end and, for the change since, the previous period's end."""
    return Window(starts=period.starts_at, ends=period.ends_at, first_day=period.first_day, last_day=period.last_day,
                  kind="quarter" if period.quarter else "fiscal_year", previous_ends=period.previous().ends_at)


@dataclass(frozen=True)
class Review:
    """Everything but the incident rows (streamed separately by the formats that list them)."""

    organization: str  # the body's code, or "all"
    organizations: list[str]
    organization_names: list[str]
    name: str
    fiscal_year: int
    quarter: int | None
    period: dict[str, str]  # "from", "to": JST dates, both inclusive
    label: str
    generated_at: str
    categories: list[dict]
    current: PeriodFigures  # the period's figures
    previous: PeriodFigures  # the previous period's, beside them
    recommendations: list[dict]
    register: Register  # the risk register at the period's end, with the period's inputs
    organization_ids: list[int]  # which rows the formats list; not answered

    def as_json(self) -> dict:
        return {
            "organization": self.organization, "organizations": self.organizations,
            "organization_names": self.organization_names, "name": self.name,
            "fiscal_year": self.fiscal_year, "quarter": self.quarter, "period": self.period, "label": self.label,
            "generated_at": self.generated_at, "categories": self.categories,
            "total": self.current.total, "by_threat_category": self.current.by_threat_category,
            "by_severity": self.current.by_severity,
            "current": self.current.as_json(), "previous": self.previous.as_json(),
            "recommendations": self.recommendations, "register": self.register.model_dump(mode="json"),
        }


def build_review(user: User, code: str, period: Period) -> Review:
    organizations, organization_ids = organizations_for(user, code)
    categories = _categories(organizations)
    now = now_utc()
    risk_now, risk_before = risk_matrices(organization_ids, [period, period.previous()], categories)
    current = _section(organization_ids, period, now, risk_now)
    names = [get_profile(o.code).name for o in organizations]
    return Review(
        organization=code, organizations=[o.code for o in organizations], organization_names=names,
        name=names[0] if code != ALL else "、".join(names), fiscal_year=period.fiscal_year, quarter=period.quarter,
        period={"from": current.period.first_day, "to": current.period.last_day}, label=period.label,
        generated_at=now.isoformat(), categories=categories, current=current,
        previous=_section(organization_ids, period.previous(), now, risk_before),
        recommendations=_by_clause(queries.outstanding_recommendations(organization_ids), organizations),
        register=build_register(organizations, register_window(period), now), organization_ids=organization_ids,
    )


def _by_clause(rows: list[dict], organizations) -> list[dict]:
    """Outstanding recommendations grouped by the policy clause they concern (its label from the body's profile)."""
    labels = {}
    for organization in organizations:
        for clause in get_profile(organization.code).policy_clauses:
            labels[(organization.code, clause.code)] = f"{clause.clause or clause.code} {clause.label}"
    groups: dict[tuple, dict] = {}
    for row in rows:
        key = (row["organization"], row["clause"])
        group = groups.setdefault(key, {"organization": row["organization"], "clause": row["clause"],
                                        "label": labels.get(key, "（条項の指定なし）"), "items": []})
        group["items"].append({k: row[k] for k in ("id", "status", "text", "incident_id", "reference")})
    return list(groups.values())
