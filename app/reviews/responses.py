"""The JSON shape of a quarterly or fiscal-year review, as `json_answer` (app/reviews/exports.py) answers it."""
from __future__ import annotations

import datetime as dt

from pydantic import Field

from app.core.responses import Answer
from app.incidents.models import Severity, Source, Stage
from app.records.schemas import Status
from app.risks.schemas import Register


class DateRange(Answer):
    """JST dates, both inclusive."""

    from_: dt.date = Field(alias="from")
    to: dt.date


class ReviewPeriod(DateRange):
    fiscal_year: int
    quarter: int | None = Field(description="null for a fiscal year")
    label: str


class ResponseTime(Answer):
    """Seconds from detection, of the incidents (not 非該当) that reached the moment; `n` is how many did."""

    n: int
    median_s: float | None
    p90_s: float | None


class ResponseTimes(Answer):
    acknowledge: ResponseTime
    contain: ResponseTime
    recover: ResponseTime
    close: ResponseTime


class DeadlineCounts(Answer):
    """Regulatory deadlines of the period's incidents: due, met on time, late, still open (and overdue)."""

    due: int
    on_time: int
    late: int
    open: int
    overdue: int


class KindCounts(DeadlineCounts):
    label: str


class DeadlineFigures(Answer):
    total: DeadlineCounts
    by_kind: dict[str, KindCounts]


class RiskWindow(Answer):
    """The history the likelihood is counted over."""

    from_: dt.datetime = Field(alias="from")
    to: dt.datetime
    years: float


class RiskCategory(Answer):
    code: str
    label: str
    incidents: int
    per_year: float
    likelihood: int = Field(ge=1, le=5)
    loss: int = Field(ge=1, le=5)
    score: int = Field(description="likelihood × loss")


class RiskMatrix(Answer):
    """Likelihood × loss per threat category (`method` says how each is counted, in Japanese)."""

    window: RiskWindow
    categories: list[RiskCategory]
    cells: dict[str, list[str]] = Field(description='"<likelihood>-<loss>" → the category codes in that cell')
    method: str


class ReviewSection(Answer):
    """The figures of one period."""

    period: ReviewPeriod
    total: int
    not_incident: int
    by_threat_category: dict[str, int]
    by_subcategory: dict[str, int] = Field(description='"<category>/<subcategory or ->" → incidents')
    by_severity: dict[str, int]
    by_source: dict[str, int]
    by_segment: dict[str, int]
    response_times: ResponseTimes
    escalation_levels: dict[str, int] = Field(description="level → incidents that reached it")
    deadlines: DeadlineFigures
    risk_matrix: RiskMatrix


class ReviewCategory(Answer):
    """A threat category of the covered bodies (the union, for several)."""

    code: str
    label: str
    label_en: str
    subcategories: dict[str, str] = Field(description="code → label")


class OutstandingRecommendation(Answer):
    id: int
    status: Status
    text: str
    incident_id: int
    reference: str


class RecommendationGroup(Answer):
    """Outstanding recommendations (提案 / 採用) of one body and policy clause."""

    organization: str
    clause: str | None
    label: str
    items: list[OutstandingRecommendation]


class ReviewIncident(Answer):
    id: int
    reference: str
    organization: str
    title: str
    threat_category: str
    subcategory: str | None
    severity: Severity
    source: Source
    stage: Stage
    not_incident: bool
    detected_at: dt.datetime
    acknowledged_at: dt.datetime | None
    contained_at: dt.datetime | None
    recovered_at: dt.datetime | None
    closed_at: dt.datetime | None


class Review(Answer):
    """API.md's fields (organization, fiscal_year, quarter, period, total, by_threat_category,
    by_severity, incidents: one page, oldest first) and extensions: page, per_page, organizations,
    organization_names, name, label, generated_at, categories, current and previous (the period's
    figures and the previous period's beside them), recommendations (outstanding 提案/採用 grouped by
    organization and clause), register (the risk register as it stood at the period's end with the
    period's inputs, the change since the previous period, disagreements and recommendations)."""

    organization: str = Field(description="a body's code, or `all`")
    organizations: list[str]
    organization_names: list[str]
    name: str
    fiscal_year: int
    quarter: int | None = Field(description="null for a fiscal year")
    period: DateRange
    label: str
    generated_at: dt.datetime
    categories: list[ReviewCategory]
    total: int
    by_threat_category: dict[str, int]
    by_severity: dict[str, int]
    current: ReviewSection
    previous: ReviewSection
    recommendations: list[RecommendationGroup]
    register_: Register = Field(alias="register")  # named apart: BaseModel has a `register` of its own
    incidents: list[ReviewIncident]
    page: int
    per_page: int
