"""The quarterly and fiscal-year reviews (API.md: GET /api/v1/reviews/{org}/{fiscal_year}/q{1-4})."""
from flask import request

from app.api import bp
from app.api.errors import api_user
from app.reviews.exports import check_format, period_from, respond
from app.reviews.report import build_review


@bp.get("/reviews/<org>/<int:fiscal_year>/q<int:quarter>")
def quarterly_review(org: str, fiscal_year: int, quarter: int):
    return _review(org, fiscal_year, quarter)


@bp.get("/reviews/<org>/<int:fiscal_year>")
def fiscal_year_review(org: str, fiscal_year: int):
    return _review(org, fiscal_year, None)


def _review(org: str, fiscal_year: int, quarter: int | None):
    user = api_user()
    fmt = check_format(request.args.get("format"))
    period = period_from(fiscal_year, quarter)
    return respond(build_review(user, org, period), period, fmt)
