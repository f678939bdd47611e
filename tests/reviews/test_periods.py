"""Japanese fiscal periods by the detection date in Asia/Tokyo: period_of, the periods' days, the
previous period, and where an incident detected at a boundary instant is counted by the API."""
from __future__ import annotations

import datetime as dt

import pytest

from app.reviews.periods import Period, period_of
from tests.reviews.support import create, ids, jst, review, review_json

LAST_OF_Q1 = jst(2026, 6, 30, 23, 30)     # = 2026-06-30T14:30Z
FIRST_OF_Q2 = jst(2026, 7, 1, 0, 10)      # = 2026-06-30T15:10Z: still 30 June in UTC


@pytest.mark.parametrize(("moment", "fiscal_year", "quarter"), [
    (LAST_OF_Q1, 2026, 1),
    (FIRST_OF_Q2, 2026, 2),
    (jst(2026, 4, 1, 0, 0), 2026, 1),
    (jst(2026, 3, 31, 23, 59), 2025, 4),
    (jst(2026, 9, 30, 23, 59), 2026, 2),
    (jst(2026, 10, 1, 0, 0), 2026, 3),
    (jst(2026, 12, 31, 23, 59), 2026, 3),
    (jst(2027, 1, 1, 0, 0), 2026, 4),
    (jst(2027, 2, 15, 12, 0), 2026, 4),
    (jst(2027, 3, 31, 23, 59), 2026, 4),
    (jst(2027, 4, 1, 0, 0), 2027, 1),
])
def test_period_of_is_by_the_tokyo_date(moment, fiscal_year, quarter):
    assert period_of(moment) == Period(fiscal_year, quarter)


def test_period_of_converts_a_utc_moment_to_tokyo_first():
    # 2026-06-30T15:10Z is 30 June in UTC but 1 July in Tokyo: Q2
    assert period_of(FIRST_OF_Q2.astimezone(dt.UTC)) == Period(2026, 2)
    assert period_of(dt.datetime(2026, 6, 30, 14, 59, tzinfo=dt.UTC)) == Period(2026, 1)
    assert period_of(dt.datetime(2026, 3, 31, 15, 0, tzinfo=dt.UTC)) == Period(2026, 1)


def test_days_of_each_quarter_and_the_fiscal_year():
    assert [(p.first_day.isoformat(), p.last_day.isoformat()) for p in (Period(2026, q) for q in (1, 2, 3, 4))] == [
        ("2026-04-01", "2026-06-30"), ("2026-07-01", "2026-09-30"),
        ("2026-10-01", "2026-12-31"), ("2027-01-01", "2027-03-31")]
    year = Period(2026)
    assert (year.first_day, year.last_day) == (dt.date(2026, 4, 1), dt.date(2027, 3, 31))
    assert Period(2027, 4).last_day == dt.date(2028, 3, 31)
    # the instants are Tokyo midnights, the end exclusive
    assert Period(2026, 2).starts_at == dt.datetime(2026, 6, 30, 15, 0, tzinfo=dt.UTC)
    assert Period(2026, 2).ends_at == dt.datetime(2026, 9, 30, 15, 0, tzinfo=dt.UTC)
    assert year.ends_at == dt.datetime(2027, 3, 31, 15, 0, tzinfo=dt.UTC)


def test_previous_periods_and_labels():
    assert Period(2026, 1).previous() == Period(2025, 4)
    assert Period(2026, 2).previous() == Period(2026, 1)
    assert Period(2026, 4).previous() == Period(2026, 3)
    assert Period(2026).previous() == Period(2025)
    assert Period(2026, 3).label == "2026年度 第3四半期"
    assert Period(2026).label == "2026年度"


@pytest.mark.parametrize(("fiscal_year", "quarter"), [(2026, 0), (2026, 5)])
def test_impossible_periods_are_refused(fiscal_year, quarter):
    with pytest.raises(ValueError):
        Period(fiscal_year, quarter)


def test_incidents_at_the_q1_q2_boundary_land_in_their_reviews(client, factory):
    headers = factory.headers(factory.user({"ageo": ["csirt"]}))
    last_of_q1 = create(client, headers, LAST_OF_Q1)
    first_of_q2 = create(client, headers, FIRST_OF_Q2)

    q1 = review_json(client, headers, "ageo", 2026, 1)
    q2 = review_json(client, headers, "ageo", 2026, 2)
    assert (q1["total"], ids(q1)) == (1, [last_of_q1["id"]])
    assert (q2["total"], ids(q2)) == (1, [first_of_q2["id"]])
    assert q1["period"] == {"from": "2026-04-01", "to": "2026-06-30"}
    assert q2["period"] == {"from": "2026-07-01", "to": "2026-09-30"}
    # the previous period of Q2 is Q1, beside it
    assert q2["previous"]["total"] == 1
    assert q2["previous"]["period"]["quarter"] == 1
    # the fiscal year holds both
    year = review_json(client, headers, "ageo", 2026)
    assert (year["total"], sorted(ids(year))) == (2, sorted([last_of_q1["id"], first_of_q2["id"]]))


def test_january_to_march_belongs_to_q4_of_the_previous_fiscal_year(client, factory):
    headers = factory.headers(factory.user({"ageo": ["csirt"]}))
    january = create(client, headers, jst(2027, 1, 1, 0, 5))
    march = create(client, headers, jst(2027, 3, 31, 23, 55))
    april = create(client, headers, jst(2027, 4, 1, 0, 0))
    december = create(client, headers, jst(2026, 12, 31, 23, 55))

    q4 = review_json(client, headers, "ageo", 2026, 4)
    assert q4["fiscal_year"] == 2026 and q4["quarter"] == 4
    assert q4["period"] == {"from": "2027-01-01", "to": "2027-03-31"}
    assert q4["total"] == 2
    assert ids(q4) == [january["id"], march["id"]]
    assert q4["previous"]["period"] == {"fiscal_year": 2026, "quarter": 3, "label": "2026年度 第3四半期",
                                        "from": "2026-10-01", "to": "2026-12-31"}
    assert q4["previous"]["total"] == 1

    assert ids(review_json(client, headers, "ageo", 2026, 3)) == [december["id"]]
    assert ids(review_json(client, headers, "ageo", 2027, 1)) == [april["id"]]


def test_the_fiscal_year_review_covers_april_to_march(client, factory):
    headers = factory.headers(factory.user({"ageo": ["csirt"]}))
    before = create(client, headers, jst(2026, 3, 31, 23, 59))
    first = create(client, headers, jst(2026, 4, 1, 0, 0))
    last = create(client, headers, jst(2027, 3, 31, 23, 59))
    after = create(client, headers, jst(2027, 4, 1, 0, 0))

    year = review_json(client, headers, "ageo", 2026)
    assert year["fiscal_year"] == 2026 and year["quarter"] is None
    assert year["period"] == {"from": "2026-04-01", "to": "2027-03-31"}
    assert year["label"] == "2026年度"
    assert (year["total"], ids(year)) == (2, [first["id"], last["id"]])
    assert year["previous"]["period"]["from"] == "2025-04-01"
    assert year["previous"]["period"]["to"] == "2026-03-31"
    assert year["previous"]["total"] == 1
    assert ids(review_json(client, headers, "ageo", 2025)) == [before["id"]]
    assert ids(review_json(client, headers, "ageo", 2027)) == [after["id"]]


def test_the_previous_period_of_q1_is_q4_of_the_previous_fiscal_year(client, factory):
    headers = factory.headers(factory.user({"ageo": ["csirt"]}))
    create(client, headers, jst(2026, 2, 10, 9, 0))     # FY2025 Q4
    create(client, headers, jst(2026, 3, 31, 23, 0))    # FY2025 Q4
    create(client, headers, jst(2025, 12, 31, 23, 0))   # FY2025 Q3: neither
    create(client, headers, jst(2026, 5, 1, 9, 0))      # FY2026 Q1

    q1 = review_json(client, headers, "ageo", 2026, 1)
    assert q1["total"] == 1
    assert q1["previous"]["period"] == {"fiscal_year": 2025, "quarter": 4, "label": "2025年度 第4四半期",
                                        "from": "2026-01-01", "to": "2026-03-31"}
    assert q1["previous"]["total"] == 2


@pytest.mark.parametrize("path", ["/ageo/2026/q5", "/ageo/2026/q0", "/ageo/1989/q1", "/ageo/2101"])
def test_impossible_periods_are_404(client, factory, path):
    headers = factory.headers(factory.user({"ageo": ["csirt"]}))
    response = client.get(f"/api/v1/reviews{path}", headers=headers)
    assert response.status_code == 404, response.get_data(as_text=True)
    assert response.json["error"]["code"]


def test_without_a_token_it_is_401(client):
    assert review(client, {}, "ageo", 2026, 1).status_code == 401


@pytest.mark.parametrize("path", ["/ageo/1990", "/ageo/1991/q2", "/ageo/1992/q1"])
def test_the_earliest_fiscal_years_are_not_a_server_error(client, factory, path):
    headers = factory.headers(factory.user({"ageo": ["csirt"]}))
    response = client.get(f"/api/v1/reviews{path}", headers=headers)
    assert response.status_code in (200, 404)
