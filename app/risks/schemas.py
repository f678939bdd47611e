"""What a caller may send to the register, and the register's answers (their JSON schema is what
the OpenAPI document publishes, so the answers and the document cannot drift apart)."""
from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, StringConstraints

from app.core.schemas import PagedQuery, StrictInput
from app.incidents.schemas import Code, Text

ID = Annotated[int, Field(ge=1, le=2**31 - 1)]


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("NUL characters are not allowed")
    return value


def _plausible(day: dt.date) -> dt.date:
    if not 1970 <= day.year <= 2999:
        raise ValueError("must be between 1970 and 2999")
    return day


Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000), AfterValidator(_no_nul)]
Note = Annotated[Text, StringConstraints(max_length=2000)]
Day = Annotated[dt.date, AfterValidator(_plausible)]
AssetClass = Annotated[Text, StringConstraints(max_length=50)]
Source = Literal["audit", "self_inspection"]


class RiskAssessmentInput(StrictInput):
    """A new assessment of one register row. `supersedes`: the id of the row's current assessment
    (null or left out for a row not yet assessed); anything else is 409, someone assessed it since."""

    threat_category: Code
    subcategory: Code | None = None
    asset_class: AssetClass | None = Field(default=None, description="axis:level of the body's classification, "
                                           "e.g. confidentiality:3A; null: every class")
    segment: Code | None = Field(default=None, description="a network segment code of the body; null: every segment")
    likelihood: int = Field(ge=1, le=5)
    loss: int = Field(ge=1, le=5)
    reason: Reason
    supersedes: ID | None = None


class RiskFindingInput(StrictInput):
    source: Source
    clause: Code = Field(description="a policy clause code of the body's profile")
    rating: Code = Field(description="playbooks/risk.yaml finding_ratings: major / minor / observation")
    text: Reason
    found_on: Day
    due_on: Day
    threat_category: Code | None = None


class RiskFindingResolution(StrictInput):
    resolved_on: Day = Field(description="the day the finding was dealt with (not in the future)")


class RiskCircumstanceInput(StrictInput):
    noted_on: Day
    kind: Code = Field(description="playbooks/risk.yaml circumstance_kinds: law / guideline / system / …")
    text: Reason
    threat_category: Code | None = None


class RiskNearMissInput(StrictInput):
    """Keeps a report closed as 非該当 as a near miss (ヒヤリハット); again for the same report changes it."""

    report: ID
    threat_category: Code
    subcategory: Code | None = None
    segment: Code | None = None
    note: Note = ""


class RiskListQuery(PagedQuery):
    pass


# --- answers -----------------------------------------------------------------------------------

class Answer(BaseModel):
    pass


class RegisterAssessment(Answer):
    id: int
    organization: str
    threat_category: str
    subcategory: str | None
    asset_class: str | None
    segment: str | None
    label: str = Field(description="the row in words: 区分 / 小区分 ・ 分類 ・ ネットワーク")
    likelihood: int
    loss: int
    score: int
    likelihood_label: str
    loss_label: str
    reason: str
    version: int
    assessed_by: str | None
    assessed_at: str = Field(json_schema_extra={"format": "date-time"})
    supersedes: int | None
    superseded_at: str | None


class RegisterRowInputs(Answer):
    incidents: int = Field(description="incidents of the row in the period (非該当 excluded)")
    worst_severity: str | None
    near_misses: int
    open_findings: int = Field(description="findings of the row's threat category open at the period's end")
    changes: int = Field(description="changes of circumstance of the row's threat category in the period")


class RegisterPrevious(Answer):
    id: int
    likelihood: int
    loss: int
    score: int
    version: int


class RegisterRow(RegisterAssessment):
    inputs: RegisterRowInputs
    previous: RegisterPrevious | None = Field(description="the row as it stood at the previous review's end")
    change: Literal["new", "raised", "lowered", "reassessed", "unchanged"]
    disagreements: list[str] = Field(description="kinds of disagreement of this row: likelihood, loss")
    history: list[RegisterAssessment] = Field(description="earlier assessments of the row, newest first")


class RegisterDisagreement(Answer):
    kind: Literal["likelihood", "loss", "unassessed"]
    organization: str
    assessment: int | None
    threat_category: str
    label: str
    assessed: int | None = Field(description="the assessed likelihood or loss (null: unassessed)")
    observed: int = Field(description="incidents in the period, or (loss) the severity rank 1–4 of the worst")
    threshold: int | None
    message: str


class RegisterFinding(Answer):
    id: int
    organization: str
    source: Source
    clause: str
    clause_label: str
    rating: str
    rating_label: str
    text: str
    threat_category: str | None
    found_on: str = Field(json_schema_extra={"format": "date"})
    due_on: str = Field(json_schema_extra={"format": "date"})
    resolved_on: str | None
    overdue: bool


class RegisterCircumstance(Answer):
    id: int
    organization: str
    noted_on: str = Field(json_schema_extra={"format": "date"})
    kind: str
    kind_label: str
    text: str
    threat_category: str | None


class RegisterNearMiss(Answer):
    id: int
    organization: str
    report: int
    receipt: str
    title: str
    threat_category: str
    subcategory: str | None
    segment: str | None
    note: str
    occurred_at: str = Field(json_schema_extra={"format": "date-time"})


class RegisterRecommendation(Answer):
    kind: Literal["reassess_likelihood", "reassess_loss", "assess", "finding_overdue", "circumstance"]
    organization: str
    text: str
    basis: str


class RegisterScaleLevel(Answer):
    value: int
    label: str
    description: str


class RegisterScale(Answer):
    likelihood: list[RegisterScaleLevel]
    loss: list[RegisterScaleLevel]


class Register(Answer):
    """The register of one body (or of every body a review covers) as it stood at the end of a
    period, with the period's inputs beside each row."""

    organizations: list[str]
    period: dict[str, str] = Field(description="from, to: JST dates, both inclusive; the inputs' period")
    as_of: str = Field(json_schema_extra={"format": "date-time"}, description="the moment the rows are shown as of")
    previous_as_of: str | None = Field(json_schema_extra={"format": "date-time"})
    scales: dict[str, RegisterScale] = Field(description="organization code → its 5×5 scale")
    rows: list[RegisterRow]
    disagreements: list[RegisterDisagreement]
    near_misses: list[RegisterNearMiss]
    findings: list[RegisterFinding] = Field(description="found in the period, or open at its end")
    circumstances: list[RegisterCircumstance]
    recommendations: list[RegisterRecommendation] = Field(description="to the 情報セキュリティ委員会, from the register")


class RegisterPage(Answer):
    total: int
    page: int
    per_page: int


class RegisterFindingPage(RegisterPage):
    items: list[RegisterFinding]


class RegisterCircumstancePage(RegisterPage):
    items: list[RegisterCircumstance]


class RegisterNearMissPage(RegisterPage):
    items: list[RegisterNearMiss]


ANSWERS = (RegisterAssessment, Register, RegisterFinding, RegisterFindingPage, RegisterCircumstance,
           RegisterCircumstancePage, RegisterNearMiss, RegisterNearMissPage)
INPUTS = (RiskAssessmentInput, RiskFindingInput, RiskFindingResolution, RiskCircumstanceInput, RiskNearMissInput)
