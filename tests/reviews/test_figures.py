"""Exact figures of a fixed data set: counts by category, subcategory, severity, network segment
and source with the previous period beside them, and the response times (median and 90th
percentile by linear interpolation, in seconds from detection, 非該当 excluded)."""
from __future__ import annotations

import pytest

from app.reviews.periods import Period
from tests.reviews.support import (
    CRITICAL,
    HIGH,
    HOUR,
    LOW,
    MEDIUM,
    after,
    create,
    jst,
    not_incident,
    pin,
    review_json,
    review_tables,
)


def _counts_data(client, headers) -> dict:
    """FY2026 Q2 (Jul–Sep) with Q1 before it, and one incident on each side outside both."""
    current = [
        create(client, headers, jst(2026, 7, 1, 0, 0), subcategory="malware", source="internal",
               network_segments=["lgwan", "internet"], **MEDIUM),
        create(client, headers, jst(2026, 7, 15, 9, 0), subcategory="malware", source="external",
               network_segments=["internet"], **LOW),
        create(client, headers, jst(2026, 8, 3, 14, 0), subcategory="unauthorized_access", source="agency", **CRITICAL),
        create(client, headers, jst(2026, 8, 20, 10, 0), threat_category="unintentional", subcategory="loss",
               source="external", **HIGH),
        create(client, headers, jst(2026, 9, 1, 10, 0), threat_category="unintentional", source="internal"),
        create(client, headers, jst(2026, 9, 30, 23, 59), threat_category="disaster", subcategory="earthquake",
               source="internal", network_segments=["lgwan"]),
    ]
    not_incident(current[4]["id"])
    previous = [
        create(client, headers, jst(2026, 4, 1, 0, 0), subcategory="dos", source="internal", network_segments=["internet"]),
        create(client, headers, jst(2026, 6, 30, 23, 59), threat_category="unintentional", subcategory="loss",
               source="external", network_segments=["lgwan"], **MEDIUM),
    ]
    not_incident(previous[1]["id"])
    outside = [create(client, headers, jst(2026, 10, 1, 0, 0), source="agency", **CRITICAL),
               create(client, headers, jst(2026, 3, 31, 23, 59), source="agency", **HIGH)]
    return {"current": current, "previous": previous, "outside": outside}


def test_counts_of_the_period_and_of_the_previous_period(client, factory):
    headers = factory.headers(factory.user({"ageo": ["csirt"]}))
    data = _counts_data(client, headers)
    assert [i["severity"] for i in data["current"]] == ["medium", "low", "critical", "high", "low", "low"]

    body = review_json(client, headers, "ageo", 2026, 2)
    current, previous = body["current"], body["previous"]
    assert body["total"] == current["total"] == 6
    assert current["not_incident"] == 1
    assert body["by_threat_category"] == current["by_threat_category"] == {"intentional": 3, "unintentional": 2, "disaster": 1}
    assert current["by_subcategory"] == {"intentional/malware": 2, "intentional/unauthorized_access": 1,
                                         "unintentional/loss": 1, "unintentional/-": 1, "disaster/earthquake": 1}
    assert body["by_severity"] == current["by_severity"] == {"low": 3, "medium": 1, "high": 1, "critical": 1}
    assert current["by_segment"] == {"mynumber": 1, "lgwan": 2, "internet": 2}
    assert current["by_source"] == {"internal": 3, "external": 2, "agency": 1}

    assert previous["period"]["quarter"] == 1
    assert previous["total"] == 2
    assert previous["not_incident"] == 1
    assert previous["by_threat_category"] == {"intentional": 1, "unintentional": 1}
    assert previous["by_subcategory"] == {"intentional/dos": 1, "unintentional/loss": 1}
    assert previous["by_severity"] == {"low": 1, "medium": 1}
    assert previous["by_segment"] == {"mynumber": 0, "lgwan": 1, "internet": 1}
    assert previous["by_source"] == {"internal": 1, "external": 1}

    assert [i["id"] for i in body["incidents"]] == [i["id"] for i in data["current"]]


def test_count_tables_show_both_periods(app, client, factory):
    user = factory.user({"ageo": ["csirt"]})
    _counts_data(client, factory.headers(user))
    tables = {title: rows for title, (_header, rows) in review_tables(app, user, "ageo", Period(2026, 2)).items()}
    assert tables["件数"] == [["合計", 6, 2], ["うち非該当", 1, 1]]
    assert tables["脅威区分別"][:3] == [["意図的な要因", 3, 1], ["非意図的な要因", 2, 1], ["災害による要因", 1, 0]]
    assert ["非意図的な要因 / （小区分なし）", 1, 0] in tables["小区分別"]
    assert ["意図的な要因 / ウイルス攻撃", 2, 0] in tables["小区分別"]
    assert ["意図的な要因 / サービス不能攻撃", 0, 1] in tables["小区分別"]
    assert tables["重大度別"] == [["緊急", 1, 0], ["高", 1, 0], ["中", 1, 1], ["低", 3, 1]]
    assert tables["ネットワーク別"] == [["マイナンバー利用事務系", 1, 0], ["LGWAN接続系", 2, 1], ["インターネット接続系", 2, 1]]
    assert tables["報告元別"] == [["庁内", 3, 1], ["住民等外部", 2, 1], ["関係機関", 1, 0]]


def _timed(client, headers, detected, ack=None, contain=None, recover=None, close=None, **fields) -> dict:
    incident = create(client, headers, detected, **fields)
    values = {name: after(detected, hours) for name, hours in
              (("acknowledged_at", ack), ("contained_at", contain), ("recovered_at", recover), ("closed_at", close))
              if hours is not None}
    if values:
        pin(incident["id"], **values)
    return incident


def test_response_times_median_and_p90(client, factory):
    headers = factory.headers(factory.user({"ageo": ["csirt"]}))
    # FY2026 Q2: acknowledgement after 1 h, 2 h, 3 h and 10 h (given out of order)
    _timed(client, headers, jst(2026, 7, 10, 9, 0), ack=10, contain=5, recover=24)
    _timed(client, headers, jst(2026, 7, 11, 23, 30), ack=1, contain=7)
    _timed(client, headers, jst(2026, 8, 1, 12, 0), ack=3)
    _timed(client, headers, jst(2026, 9, 30, 22, 0), ack=2)
    _timed(client, headers, jst(2026, 9, 2, 9, 0))                  # never acknowledged: not in n
    noise = _timed(client, headers, jst(2026, 8, 5, 9, 0), ack=100, contain=200, recover=300, close=400)
    not_incident(noise["id"])                                        # 非該当: excluded everywhere
    # FY2026 Q1 (the previous period): one acknowledgement after 30 minutes, closed after 3 days
    _timed(client, headers, jst(2026, 6, 30, 23, 0), ack=0.5, close=72)
    # FY2026 Q3: outside both
    _timed(client, headers, jst(2026, 10, 1, 0, 0), ack=1000)

    body = review_json(client, headers, "ageo", 2026, 2)
    times = body["current"]["response_times"]
    approx = lambda seconds: pytest.approx(seconds, abs=0.01)  # noqa: E731 (SQLite's julianday is a float)
    assert times["acknowledge"] == {"n": 4, "median_s": approx(2.5 * HOUR), "p90_s": approx(7.9 * HOUR)}
    assert times["acknowledge"]["median_s"] == approx(9000)
    assert times["acknowledge"]["p90_s"] == approx(28440)
    # two values: median halfway, p90 = 5 h + 0.9 × 2 h
    assert times["contain"] == {"n": 2, "median_s": approx(6 * HOUR), "p90_s": approx(6.8 * HOUR)}
    assert times["recover"] == {"n": 1, "median_s": approx(24 * HOUR), "p90_s": approx(24 * HOUR)}
    assert times["close"] == {"n": 0, "median_s": None, "p90_s": None}

    before = body["previous"]["response_times"]
    assert before["acknowledge"] == {"n": 1, "median_s": approx(1800), "p90_s": approx(1800)}
    assert before["close"] == {"n": 1, "median_s": approx(72 * HOUR), "p90_s": approx(72 * HOUR)}
    assert before["contain"] == {"n": 0, "median_s": None, "p90_s": None}


def test_percentile_with_an_odd_count_and_ties(client, factory):
    headers = factory.headers(factory.user({"ageo": ["csirt"]}))
    # 0.5 h, 4 h, 4 h, 6 h, 20 h: median = 4 h; p90 at rank 3.6 = 6 h + 0.6 × 14 h = 14.4 h
    for n, hours in enumerate([4, 20, 0.5, 6, 4]):
        _timed(client, headers, jst(2026, 5, 1 + n, 9, 0), contain=hours)
    times = review_json(client, headers, "ageo", 2026, 1)["current"]["response_times"]
    assert times["contain"]["n"] == 5
    assert times["contain"]["median_s"] == pytest.approx(4 * HOUR, abs=0.01)
    assert times["contain"]["p90_s"] == pytest.approx(14.4 * HOUR, abs=0.01)
    assert times["acknowledge"] == {"n": 0, "median_s": None, "p90_s": None}


def test_response_time_table_is_in_hours(app, client, factory):
    user = factory.user({"ageo": ["csirt"]})
    headers = factory.headers(user)
    for n, hours in enumerate([1, 2, 3, 10]):
        _timed(client, headers, jst(2026, 7, 1 + n, 9, 0), ack=hours)
    header, rows = review_tables(app, user, "ageo", Period(2026, 2))["対応時間（検知から）"]
    assert header[:4] == ["", "件数", "中央値", "90パーセンタイル"]
    assert rows[0] == ["受領（確認）まで", 4, "2.5 時間", "7.9 時間", 0, "—", "—"]
    assert rows[1] == ["被害拡大の防止まで", 0, "—", "—", 0, "—", "—"]
