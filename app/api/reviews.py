"""The quarterly and fiscal-year reviews (API.md: GET /api/v1/reviews/{org}/{fiscal_year}/q{1-4})."""
from app.api import bp
from app.api.errors import api_user, parse_query
from app.reviews.exports import download, json_answer, period_from
from app.reviews.report import build_review
from app.reviews.schemas import ReviewQuery


@bp.get("/reviews/<org>/<int:fiscal_year>/q<int:quarter>")
def quarterly_review(org: str, fiscal_year: int, quarter: int):
    return _review(org, fiscal_year, quarter)


@bp.get("/reviews/<org>/<int:fiscal_year>")
def fiscal_year_review(org: str, fiscal_year: int):
    return _review(org, fiscal_year, None)


def _review(org: str, fiscal_year: int, quarter: int | None):
    user = api_user()
    query = parse_query(ReviewQuery)
    period = period_from(fiscal_year, quarter)
    review = build_review(user, org, period)
    if query.format == "json":
        return json_answer(review, period, query.page, query.per_page)
    return download(review, period, query.format, query.part)
