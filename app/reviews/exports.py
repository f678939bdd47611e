"""One review, answered in the format asked for: shared by the API and the pages."""
from __future__ import annotations

from flask import Response, jsonify, stream_with_context
from flask_babel import gettext as _

from app.core.errors import NotFound, ValidationFailed
from app.reviews import formats, queries
from app.reviews.periods import FIRST_FISCAL_YEAR, LAST_FISCAL_YEAR, Period
from app.reviews.report import Review

FORMATS = ("json", "md", "csv", "xlsx")
PARTS = ("incidents", "summary")  # of a CSV download
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def period_from(fiscal_year: int, quarter: int | None) -> Period:
    if not FIRST_FISCAL_YEAR <= fiscal_year <= LAST_FISCAL_YEAR or quarter not in (None, 1, 2, 3, 4):
        raise NotFound(_("その期間の振り返りはありません。"))
    return Period(fiscal_year, quarter)


def check_format(value: str | None) -> str:
    value = value or "json"
    if value not in FORMATS:
        raise ValidationFailed(_("入力内容に誤りがあります。"), {"format": _("json / md / csv / xlsx のいずれかです。")})
    return value


def check_part(value: str | None) -> str:
    value = value or "incidents"
    if value not in PARTS:
        raise ValidationFailed(_("入力内容に誤りがあります。"), {"part": _("incidents / summary のいずれかです。")})
    return value


def _attachment(response: Response, review: Review, period: Period, extension: str, suffix: str = "") -> Response:
    response.headers["Content-Disposition"] = \
        f'attachment; filename="review-{review.organization}-{period.slug}{suffix}.{extension}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def json_answer(review: Review, period: Period, page: int, per_page: int) -> Response:
    """The review as JSON with one page of its incidents: a year of a large body lists thousands."""
    incidents = queries.incident_page(review.organization_ids, period, page, per_page)
    return jsonify(review.as_json() | {"incidents": incidents, "page": page, "per_page": per_page})


def download(review: Review, period: Period, fmt: str, part: str = "incidents") -> Response:
    if fmt == "md":
        return _attachment(Response(formats.markdown(review), mimetype="text/markdown"), review, period, "md")
    if fmt == "csv" and part == "summary":
        return _attachment(Response(formats.summary_csv(review), mimetype="text/csv"), review, period, "csv", "-summary")
    if fmt == "csv":
        body = stream_with_context(formats.csv_chunks(review, period))
        return _attachment(Response(body, mimetype="text/csv"), review, period, "csv")
    return _attachment(Response(formats.xlsx(review, period), mimetype=XLSX), review, period, "xlsx")
