"""The risk matrix by the method report.py documents: likelihood 1–5 from incidents per year in
the history window (< 0.5, < 2, < 6, < 12, ≥ 12; 非該当 excluded), loss = the worst severity
(low 1 … critical 4) + 1 when any incident touched more than 100 persons, My Number data or
stopped a service (at most 5; 1 without incidents); cells keyed "likelihood-loss"."""
from __future__ import annotations

import pytest

from app.reviews.periods import Period
from app.reviews.report import likelihood, loss
from tests.reviews.support import CRITICAL, LOW, MEDIUM, create, jst, not_incident, review_json, review_tables

# The first detection of the body opens the window: 2025-07-01 00:00 JST → the end of FY2026 Q1
# (2026-07-01 00:00 JST) is 365 days = 0.9993 years.
ANCHOR = jst(2025, 7, 1, 0, 0)
LOW_MONTHS = [(2025, 8), (2025, 9), (2025, 10), (2025, 11), (2025, 12), (2026, 1), (2026, 2), (2026, 4), (2026, 5),
              (2026, 6)]


@pytest.mark.parametrize(("per_year", "expected"), [
    (0, 1), (0.49, 1), (0.5, 2), (1.99, 2), (2, 3), (5.99, 3), (6, 4), (11.99, 4), (12, 5), (40, 5)])
def test_likelihood_limits(per_year, expected):
    assert likelihood(per_year) == expected


@pytest.mark.parametrize(("worst", "heavy", "expected"), [(1, False, 1), (2, True, 3), (3, True, 4), (4, False, 4),
                                                           (4, True, 5)])
def test_loss_adds_one_for_heavy_and_stops_at_five(worst, heavy, expected):
    assert loss(worst, heavy) == expected


def _risk_data(client, headers) -> None:
    create(client, headers, ANCHOR, **LOW)
    for year, month in LOW_MONTHS:
        create(client, headers, jst(year, month, 15, 10, 0), **LOW)
    # 12th intentional, in the window's last minute: more than 100 persons → high, and heavy
    big = create(client, headers, jst(2026, 6, 30, 23, 59), personal_data={"involved": True, "persons": 150})
    assert big["severity"] == "high"
    # after the window (Q2): critical, must not count
    create(client, headers, jst(2026, 7, 1, 0, 0), **CRITICAL)

    # unintentional: 5 incidents, the worst medium through a stopped service (heavy) → 3-3
    for day in (1, 2, 3, 4):
        create(client, headers, jst(2026, 4, day, 9, 0), threat_category="unintentional")
    outage = create(client, headers, jst(2026, 5, 1, 9, 0), threat_category="unintentional", impacts=["outage"])
    assert outage["severity"] == "medium"
    # … and a 非該当 that would have made it 6 incidents with My Number data (4-5) if it counted
    noise = create(client, headers, jst(2026, 5, 2, 9, 0), threat_category="unintentional",
                   personal_data={"involved": True, "my_number": True, "persons": 500})
    not_incident(noise["id"])

    # disaster: critical by the My Number segment alone (not heavy) → 2-4
    create(client, headers, jst(2026, 6, 1, 9, 0), threat_category="disaster", **CRITICAL)
    # infrastructure: My Number personal data (critical and heavy) → 2-5
    mynumber = create(client, headers, jst(2026, 6, 2, 9, 0), threat_category="infrastructure",
                      personal_data={"involved": True, "my_number": True, "persons": 2})
    assert mynumber["severity"] == "critical"
    # pandemic: nothing → 1-1


def test_risk_matrix_cells_on_a_fixed_data_set(client, factory):
    headers = factory.headers(factory.user({"ageo": ["csirt"]}))
    _risk_data(client, headers)

    matrix = review_json(client, headers, "ageo", 2026, 1)["current"]["risk_matrix"]
    assert matrix["window"] == {"from": "2025-06-30T15:00:00+00:00", "to": "2026-06-30T15:00:00+00:00", "years": 1.0}
    rows = {r["code"]: r for r in matrix["categories"]}
    assert list(rows) == ["intentional", "unintentional", "disaster", "pandemic", "infrastructure"]
    assert {code: (r["incidents"], r["per_year"], r["likelihood"], r["loss"], r["score"]) for code, r in rows.items()} == {
        "intentional": (12, 12.01, 5, 4, 20),
        "unintentional": (5, 5.0, 3, 3, 9),
        "disaster": (1, 1.0, 2, 4, 8),
        "pandemic": (0, 0.0, 1, 1, 1),
        "infrastructure": (1, 1.0, 2, 5, 10),
    }
    assert rows["intentional"]["label"] == "意図的な要因"
    assert matrix["cells"] == {"5-4": ["intentional"], "3-3": ["unintentional"], "2-4": ["disaster"],
                               "1-1": ["pandemic"], "2-5": ["infrastructure"]}
    assert "12件以上=5" in matrix["method"] and "過去3年間" in matrix["method"]


def test_previous_period_matrix_has_its_own_window(app, client, factory):
    user = factory.user({"ageo": ["csirt"]})
    _risk_data(client, factory.headers(user))
    body = review_json(client, factory.headers(user), "ageo", 2026, 1)
    previous = body["previous"]["risk_matrix"]
    # FY2025 Q4 ends 2026-04-01 JST: 274 days of history
    assert previous["window"] == {"from": "2025-06-30T15:00:00+00:00", "to": "2026-03-31T15:00:00+00:00", "years": 0.75}
    rows = {r["code"]: r for r in previous["categories"]}
    # the anchor and the seven low incidents before April: 8 / 0.7502 = 10.66 a year → 4; all low → 1
    assert (rows["intentional"]["incidents"], rows["intentional"]["per_year"]) == (8, 10.66)
    assert (rows["intentional"]["likelihood"], rows["intentional"]["loss"]) == (4, 1)
    assert previous["cells"] == {"4-1": ["intentional"], "1-1": ["unintentional", "disaster", "pandemic", "infrastructure"]}

    _header, risk = review_tables(app, user, "ageo", Period(2026, 1))["リスク評価（脅威区分別）"]
    assert risk[0] == ["意図的な要因", 12, 12.01, "5 非常に高い", "4 大", 20, 4]
    assert risk[4] == ["インフラによる要因", 1, 1.0, "2 低い", "5 甚大", 10, 1]


def test_a_short_history_counts_at_least_a_quarter(client, factory):
    headers = factory.headers(factory.user({"ageo": ["csirt"]}))
    for day in (10, 11, 12):
        create(client, headers, jst(2026, 5, day, 9, 0), **MEDIUM)
    # exactly 100 persons is not "101人以上": medium (2), not heavy
    create(client, headers, jst(2026, 5, 20, 9, 0), threat_category="unintentional",
           personal_data={"involved": True, "persons": 100})
    matrix = review_json(client, headers, "ageo", 2026, 1)["current"]["risk_matrix"]
    # first detection 2026-05-10 is inside the quarter: the window is the whole quarter, 0.25 years
    assert matrix["window"] == {"from": "2026-03-31T15:00:00+00:00", "to": "2026-06-30T15:00:00+00:00", "years": 0.25}
    rows = {r["code"]: r for r in matrix["categories"]}
    assert (rows["intentional"]["per_year"], rows["intentional"]["likelihood"], rows["intentional"]["loss"]) == (12.0, 5, 2)
    assert (rows["unintentional"]["per_year"], rows["unintentional"]["likelihood"], rows["unintentional"]["loss"]) == (4.0, 3, 2)
    assert matrix["cells"] == {"5-2": ["intentional"], "3-2": ["unintentional"],
                               "1-1": ["disaster", "pandemic", "infrastructure"]}


def test_the_window_reaches_back_three_fiscal_years_for_a_fiscal_year_review(client, factory):
    headers = factory.headers(factory.user({"ageo": ["csirt"]}))
    create(client, headers, jst(2024, 3, 31, 23, 0))   # before FY2024: outside the window
    create(client, headers, jst(2024, 4, 1, 0, 0))     # the window's first instant
    create(client, headers, jst(2026, 5, 1, 9, 0))
    matrix = review_json(client, headers, "ageo", 2026)["current"]["risk_matrix"]
    assert matrix["window"]["from"] == "2024-03-31T15:00:00+00:00"
    assert matrix["window"]["to"] == "2027-03-31T15:00:00+00:00"
    assert matrix["window"]["years"] == 3.0
    intentional = matrix["categories"][0]
    assert (intentional["code"], intentional["incidents"], intentional["per_year"], intentional["likelihood"]) == \
        ("intentional", 2, 0.67, 2)


def test_a_quarter_window_is_the_three_years_before_its_last_day(client, factory):
    headers = factory.headers(factory.user({"ageo": ["csirt"]}))
    create(client, headers, jst(2023, 6, 1, 9, 0))     # more than 3 years before 2026-06-30: outside
    create(client, headers, jst(2023, 8, 1, 9, 0))     # within the 3 years before 2026-06-30
    create(client, headers, jst(2026, 5, 1, 9, 0))
    matrix = review_json(client, headers, "ageo", 2026, 1)["current"]["risk_matrix"]
    assert matrix["window"]["from"] == "2023-06-30T15:00:00+00:00"
    assert matrix["window"]["years"] == 3.0
    assert matrix["categories"][0]["incidents"] == 2
