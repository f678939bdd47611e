"""The review's formats (API.md): JSON with the contract's keys, CSV (UTF-8 with BOM, one row per
incident), XLSX (a sheet per section and the incident list), Markdown; 422 for an unknown format."""
from __future__ import annotations

import csv
import io
import urllib.request

import openpyxl
import pytest

from tests.reviews.support import HIGH, create, jst, not_incident, pin, review

CSV_HEADER = ["番号", "団体", "件名", "脅威区分", "小区分", "重大度", "報告元", "段階", "非該当", "検知日時",
              "受領日時", "被害拡大防止日時", "復旧日時", "終結日時", "id"]
SECTION_SHEETS = ["件数", "脅威区分別", "小区分別", "重大度別", "ネットワーク別", "報告元別", "対応時間（検知から）",
                  "エスカレーションが到達した段階", "法令上の報告期限", "リスク評価（脅威区分別）", "見直しへの提言（未了の提案・採用）",
                  # the risk register (issue 17)
                  "リスク登録簿（評価と期間中の実績）", "評価と実績の不一致", "ヒヤリハット", "監査・自己点検の指摘", "状況の変化",
                  "リスク登録簿の評価の履歴", "情報セキュリティ委員会への提言（リスク登録簿から）"]


@pytest.fixture
def data(client, factory):
    headers = factory.headers(factory.user({"ageo": ["csirt"]}))
    first = create(client, headers, jst(2026, 7, 1, 0, 0), title="標的型メールによるマルウェア感染", subcategory="malware")
    pin(first["id"], acknowledged_at=jst(2026, 7, 1, 1, 30))
    second = create(client, headers, jst(2026, 8, 15, 13, 45), title="USBメモリの紛失, 庁舎内",
                    threat_category="unintentional", subcategory="loss", source="external", **HIGH)
    third = create(client, headers, jst(2026, 9, 30, 23, 59), title="誤検知だった通信", source="agency")
    not_incident(third["id"])
    create(client, headers, jst(2026, 6, 30, 23, 59), title="前の四半期の事案")
    return {"headers": headers, "incidents": [first, second, third]}


def test_json_has_the_contract_fields(client, data):
    response = review(client, data["headers"], "ageo", 2026, 2)
    assert response.status_code == 200 and response.mimetype == "application/json"
    body = response.json
    assert body["organization"] == "ageo"
    assert body["fiscal_year"] == 2026 and isinstance(body["fiscal_year"], int)
    assert body["quarter"] == 2
    assert body["period"] == {"from": "2026-07-01", "to": "2026-09-30"}
    assert body["total"] == 3
    assert body["by_threat_category"] == {"intentional": 2, "unintentional": 1}
    assert body["by_severity"] == {"low": 2, "high": 1}
    assert body["name"] == "上尾市" and body["label"] == "2026年度 第2四半期"
    assert not any(key.startswith("_") for key in body)
    first, second, third = body["incidents"]
    assert [i["id"] for i in body["incidents"]] == [i["id"] for i in data["incidents"]]
    assert first["reference"] == data["incidents"][0]["reference"]
    assert first["title"] == "標的型メールによるマルウェア感染"
    assert first["organization"] == "ageo"
    assert first["detected_at"] == "2026-06-30T15:00:00Z"
    assert first["acknowledged_at"] == "2026-06-30T16:30:00Z"
    assert (second["threat_category"], second["subcategory"], second["severity"], second["source"]) == \
        ("unintentional", "loss", "high", "external")
    assert (third["not_incident"], third["stage"]) == (True, "closed")
    explicit = review(client, data["headers"], "ageo", 2026, 2, format="json").json
    assert {k: v for k, v in explicit.items() if k != "generated_at"} == {k: v for k, v in body.items() if k != "generated_at"}


def test_json_lists_the_incidents_a_page_at_a_time(client, data):
    ids = [i["id"] for i in data["incidents"]]
    first = review(client, data["headers"], "ageo", 2026, 2, per_page=2).json
    assert ([i["id"] for i in first["incidents"]], first["page"], first["per_page"], first["total"]) == (ids[:2], 1, 2, 3)
    second = review(client, data["headers"], "ageo", 2026, 2, per_page=2, page=2).json
    assert ([i["id"] for i in second["incidents"]], second["page"]) == (ids[2:], 2)
    assert review(client, data["headers"], "ageo", 2026, 2, page=9).json["incidents"] == []
    assert review(client, data["headers"], "ageo", 2026, 2).json["per_page"] == 50


def test_json_times_are_written_as_the_incident_api_writes_them(client, data):
    first = data["incidents"][0]
    pin(first["id"], acknowledged_at=jst(2026, 7, 1, 1, 30).replace(microsecond=123456))
    listed = review(client, data["headers"], "ageo", 2026, 2).json["incidents"][0]
    shown = client.get(f"/api/v1/incidents/{first['id']}", headers=data["headers"]).json
    assert listed["acknowledged_at"] == shown["acknowledged_at"] == "2026-06-30T16:30:00.123456Z"
    assert listed["detected_at"] == shown["detected_at"]


@pytest.mark.parametrize("query, field", [({"per_page": 201}, "per_page"), ({"page": 0}, "page"),
                                          ({"per_page": "x"}, "per_page")])
def test_bad_paging_is_422(client, data, query, field):
    response = review(client, data["headers"], "ageo", 2026, 2, **query)
    assert response.status_code == 422
    assert set(response.json["error"]["fields"]) == {field}


def test_csv_has_a_bom_the_header_and_one_row_per_incident(client, data):
    response = client.get("/api/v1/reviews/ageo/2026/q2", headers=data["headers"], query_string={"format": "csv"},
                          buffered=True)
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == 'attachment; filename="review-ageo-2026-q2.csv"'
    raw = response.get_data()
    assert raw.startswith(b"\xef\xbb\xbf" + "番号,団体,件名,".encode())
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert rows[0] == CSV_HEADER
    assert len(rows) == 4
    first, second, third = rows[1:]
    assert first == [data["incidents"][0]["reference"], "ageo", "標的型メールによるマルウェア感染", "intentional", "malware",
                     "低", "庁内", "受付・評価", "", "2026-07-01 00:00", "2026-07-01 01:30", "", "", "",
                     str(data["incidents"][0]["id"])]
    assert second[2] == "USBメモリの紛失, 庁舎内"           # quoted, not split at the comma
    assert (second[5], second[6], second[9]) == ("高", "住民等外部", "2026-08-15 13:45")
    assert (third[7], third[8], third[9]) == ("終結", "非該当", "2026-09-30 23:59")
    assert raw.count(b"\r\n") == 4


def test_csv_streams_over_a_real_http_server(app, data):
    from tests.browser.fixtures import LiveServer

    server = LiveServer(app)
    server.start()
    try:
        request = urllib.request.Request(f"{server.url}/api/v1/reviews/ageo/2026/q2?format=csv", headers=data["headers"])
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200
            raw = response.read()
    finally:
        server.stop()
    assert raw.startswith("\ufeff番号,団体,件名".encode())
    assert len(raw.decode("utf-8-sig").splitlines()) == 4


def test_xlsx_has_the_section_sheets_and_the_incident_list(client, data):
    response = review(client, data["headers"], "ageo", 2026, 2, format="xlsx")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert response.headers["Content-Disposition"] == 'attachment; filename="review-ageo-2026-q2.xlsx"'
    book = openpyxl.load_workbook(io.BytesIO(response.get_data()))
    assert book.sheetnames == SECTION_SHEETS + ["インシデント一覧", "評価方法"]
    counts = list(book["件数"].values)
    assert counts == [("上尾市 2026年度 第2四半期 — 件数", None, None), (None, "2026年度 第2四半期", "2026年度 第1四半期"),
                      ("合計", 3, 1), ("うち非該当", 1, 0)]
    severity = {row[0]: row[1:] for row in list(book["重大度別"].values)[2:]}
    assert severity == {"緊急": (0, 0), "高": (1, 0), "中": (0, 0), "低": (2, 1)}
    incidents = list(book["インシデント一覧"].values)
    assert list(incidents[0]) == CSV_HEADER
    assert len(incidents) == 4
    assert [row[0] for row in incidents[1:]] == [i["reference"] for i in data["incidents"]]
    assert incidents[1][2] == "標的型メールによるマルウェア感染"
    assert incidents[3][8] == "非該当"
    assert incidents[1][14] == data["incidents"][0]["id"]
    assert "12件以上=5" in book["評価方法"]["A1"].value


def test_xlsx_keeps_a_title_that_looks_like_a_formula_as_text(client, factory):
    headers = factory.headers(factory.user({"ageo": ["csirt"]}))
    title = '=HYPERLINK("http://attacker.example/","詳細")'
    create(client, headers, jst(2026, 7, 2, 9, 0), title=title)
    book = openpyxl.load_workbook(io.BytesIO(review(client, headers, "ageo", 2026, 2, format="xlsx").get_data()))
    cell = book["インシデント一覧"]["C2"]
    assert cell.data_type == "s"
    assert cell.value == title
    # in the CSV, an apostrophe keeps Excel from evaluating it
    answer = client.get("/api/v1/reviews/ageo/2026/q2", headers=headers, query_string={"format": "csv"}, buffered=True)
    rows = list(csv.reader(io.StringIO(answer.get_data(as_text=True))))
    assert rows[1][2] == "'" + title


def test_markdown_names_the_body_and_the_period(client, data):
    response = review(client, data["headers"], "ageo", 2026, 2, format="md")
    assert response.status_code == 200 and response.mimetype == "text/markdown"
    assert response.headers["Content-Disposition"] == 'attachment; filename="review-ageo-2026-q2.md"'
    text = response.get_data(as_text=True)
    assert text.startswith("# 情報セキュリティインシデントの振り返り 2026年度 第2四半期\n")
    assert "- 団体: 上尾市" in text
    assert "- 期間: 2026-07-01 〜 2026-09-30（検知日、日本時間）" in text
    assert "- 比較: 2026年度 第1四半期" in text
    assert "| 合計 | 3 | 1 |" in text
    assert "| うち非該当 | 1 | 0 |" in text
    assert "| 非意図的な要因 / 紛失又は置き忘れ | 1 | 0 |" in text
    for title in SECTION_SHEETS:
        assert f"## {title}\n" in text
    assert "## リスク評価の方法" in text


def test_fiscal_year_downloads_are_named_by_the_year(client, data):
    response = review(client, data["headers"], "ageo", 2026, format="md")
    assert response.headers["Content-Disposition"] == 'attachment; filename="review-ageo-2026.md"'
    assert response.get_data(as_text=True).startswith("# 情報セキュリティインシデントの振り返り 2026年度\n")
    assert "| 合計 | 4 | 0 |" in response.get_data(as_text=True)


@pytest.mark.parametrize("fmt", ["pdf", "JSON", "xls", ""])
def test_unknown_format_is_422(client, data, fmt):
    response = review(client, data["headers"], "ageo", 2026, 2, format=fmt)
    if fmt == "":
        assert response.status_code == 200      # empty = the default, JSON
        return
    assert response.status_code == 422, response.get_data(as_text=True)
    assert set(response.json["error"]["fields"]) == {"format"}


def test_unknown_format_comes_before_not_found(client, factory):
    headers = factory.headers(factory.user({"saga": ["csirt"]}))
    assert review(client, headers, "ageo", 2026, 2, format="pdf").status_code == 422
    assert review(client, headers, "ageo", 2026, 2).status_code == 404


def test_q5_is_404(client, data):
    for fmt in ("json", "csv", "xlsx"):
        response = client.get(f"/api/v1/reviews/ageo/2026/q5?format={fmt}", headers=data["headers"])
        assert response.status_code == 404
        assert response.json["error"]["code"]
