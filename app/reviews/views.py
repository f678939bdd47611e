"""Pages: choosing a review, the review with its charts, the printable A4 layout and downloads."""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.core.timeutil import now_utc
from app.incidents.access import overseen_organizations
from app.organizations.services import get_profile
from app.reviews import charts, formats
from app.reviews.exports import check_format, check_part, download, period_from
from app.reviews.periods import period_of
from app.reviews.report import ALL, build_review

bp = Blueprint("reviews", __name__, url_prefix="/reviews")
CHARTED = ("脅威区分別", "重大度別", "報告元別")  # the sections drawn as bar charts, by title


@bp.get("")
@login_required
def index():
    organizations = overseen_organizations(current_user)
    current = period_of(now_utc())
    args = request.args
    if args.get("org") and args.get("fiscal_year", "").isdigit():
        quarter = args.get("quarter", "")
        target = {"org": args["org"], "fiscal_year": int(args["fiscal_year"])}
        if quarter in ("1", "2", "3", "4"):
            return redirect(url_for("reviews.quarter", quarter=int(quarter), **target))
        return redirect(url_for("reviews.fiscal_year", **target))
    return render_template("reviews/index.html", organizations=organizations, current=current,
                           names={o.code: get_profile(o.code).name for o in organizations}, ALL=ALL)


@bp.get("/<org>/<int:fiscal_year>/q<int:quarter>")
@login_required
def quarter(org: str, fiscal_year: int, quarter: int):
    return _page(org, fiscal_year, quarter)


@bp.get("/<org>/<int:fiscal_year>")
@login_required
def fiscal_year(org: str, fiscal_year: int):
    return _page(org, fiscal_year, None)


def _page(org: str, fiscal_year: int, quarter: int | None):
    fmt = check_format(request.args.get("format"))
    part = check_part(request.args.get("part"))
    period = period_from(fiscal_year, quarter)
    review = build_review(current_user, org, period)
    if fmt != "json":
        return download(review, period, fmt, part)
    categories = {c["code"]: c["label"] for c in review.categories}
    tables = formats.sections(review)
    bars = [charts.compare_bars(title, [(r[0], r[1], r[2]) for r in rows], review.label,
                                review.previous.period.label, number)
            for number, (title, _header, rows) in enumerate(t for t in tables if t[0] in CHARTED) if rows]
    return render_template(
        "reviews/print.html" if request.args.get("print") else "reviews/show.html",
        review=review, tables=tables, bars=bars, risk=charts.risk_grid(review.current.risk_matrix, categories),
        incidents=formats.queries.incident_rows(review.organization_ids, period), period=period,
        quarter=quarter, hours=formats.hours,
    )
