"""Issue 17 through the API and the incident page, on both engines: which systems held the data
(番号法), the encryption exclusion with its reason, the recognition time the statutory reports
count from, and the notices that were missing (住基ネット・中間サーバー, LGWAN, the police's 受理番号)."""
from __future__ import annotations

import html
import re

from tests.deadlines.support import API, DETECTED, by_kind, create, due, file, get, patch, pd
from tests.workflow.helpers import assert_error, login, timeline

PRELIM, FINAL30 = "2026-11-23T01:00:00Z", "2026-12-20T01:00:00Z"
MYNUMBER = {"mynumber_preliminary", "mynumber_final"}
RECOGNIZED = "2026-11-22T15:30:00+09:00"  # two and a half days after detection (= 06:30Z)


def _csirt(factory, roles=("csirt",)):
    user = factory.user({"ageo": list(roles)})
    return user, factory.headers(user)


# --- item 1: the systems that held the 特定個人情報 ----------------------------------------------

def test_one_persons_my_number_from_the_payroll_system_is_reportable(client, factory):
    """規則 第2条第1号ハ: a system a local government uses for 個人番号関係事務 (payroll), wherever it
    sits: here in the LGWAN接続系, one person, no 不正の目的. Before issue 17 only the segment counted."""
    _user, headers = _csirt(factory)
    incident = create(client, headers, network_segments=["lgwan"],
                      **pd(persons=1, my_number=True, held_in=["my_number_related"]))
    assert due(incident) == {"mynumber_preliminary": PRELIM, "mynumber_final": FINAL30}
    assert incident["personal_data"]["held_in"] == ["my_number_related"]
    # the fact withdrawn: so are the reports
    quiet = patch(client, headers, incident, **pd(persons=1, my_number=True))
    assert due(quiet) == {}


def test_my_number_viewable_by_anyone_is_reportable(client, factory):
    _user, headers = _csirt(factory)
    incident = create(client, headers, **pd(persons=2, my_number=True, public_exposure=True))
    assert set(due(incident)) == MYNUMBER
    assert incident["personal_data"]["public_exposure"] is True


def test_held_in_takes_only_the_known_systems(client, factory):
    _user, headers = _csirt(factory)
    body = {"organization": "ageo", "title": "x", "threat_category": "intentional", "detected_at": DETECTED}
    assert_error(client.post(API, headers=headers, json=body | pd(held_in=["payroll"])), 422)
    assert_error(client.post(API, headers=headers, json=body | pd(public_exposure="yes")), 422)


# --- item 2: the encryption exclusion, with a visible reason ---------------------------------

def test_encryption_withdraws_the_ppc_reports_and_says_why(client, factory):
    user, headers = _csirt(factory)
    incident = create(client, headers, **pd(persons=3, sensitive=True, encrypted=True))
    assert incident["deadlines"] == []
    excluded = {x["kind"]: x for x in incident["excluded_deadlines"]}
    assert set(excluded) == {"ppc_preliminary", "ppc_final"}
    assert excluded["ppc_preliminary"]["label"] == "個人情報保護委員会への漏えい等報告（速報）"
    assert excluded["ppc_preliminary"]["reason"].startswith(
        "高度な暗号化その他の個人の権利利益を保護するために必要な措置を講じた保有個人情報は報告対象から除かれるため")
    # the fact removed: the reports are due; set again: withdrawn, the reason on the timeline
    plain = patch(client, headers, incident, **pd(persons=3, sensitive=True))
    assert due(plain) == {"ppc_preliminary": PRELIM, "ppc_final": FINAL30} and plain["excluded_deadlines"] == []
    again = patch(client, headers, incident, **pd(persons=3, sensitive=True, encrypted=True))
    assert again["deadlines"] == [] and len(again["excluded_deadlines"]) == 2
    entry = [e for e in timeline(client, headers, incident["id"]) if e["kind"] == "updated"][-1]
    assert "取消: 個人情報保護委員会への漏えい等報告（速報）（高度な暗号化その他の個人の権利利益を保護するために必要な措置" \
        in entry["summary"]
    # and the incident page shows them with the reason
    login(client, user)
    text = html.unescape(client.get(f"/incidents/{incident['id']}").text)
    section = text[text.index('id="excluded-deadlines"'):]
    assert "高度な暗号化等の措置により対象外となった報告" in section and "施行規則 第43条第1号括弧書き" in section


def test_encryption_does_not_withdraw_a_report_for_malice(client, factory):
    _user, headers = _csirt(factory)
    incident = create(client, headers, **pd(persons=3, sensitive=True, malicious=True, encrypted=True))
    assert set(due(incident)) == {"ppc_preliminary", "ppc_final"} and incident["excluded_deadlines"] == []


def test_a_reporter_may_not_declare_the_data_encrypted(client, factory):
    _user, headers = _csirt(factory, ("reporter",))
    body = {"organization": "ageo", "title": "x", "threat_category": "intentional", "detected_at": DETECTED}
    error = assert_error(client.post(API, headers=headers, json=body | pd(sensitive=True, encrypted=True)), 403)
    assert set(error["fields"]) == {"personal_data.encrypted"}
    # the facts that only add duties are theirs to give
    assert client.post(API, headers=headers, json=body | pd(my_number=True, public_exposure=True)).status_code == 201


# --- item 3: when the clock starts ------------------------------------------------------------

def test_the_statutory_reports_count_from_recognition_the_chain_from_detection(client, factory):
    user, headers = _csirt(factory)
    incident = create(client, headers, recognized_at=RECOGNIZED, **pd(persons=150))
    assert incident["recognized_at"] == "2026-11-22T06:30:00Z"
    assert due(incident) == {"ppc_preliminary": "2026-11-25T06:30:00Z", "ppc_final": "2026-12-22T06:30:00Z"}
    assert {d["kind"]: d["counts_from"] for d in incident["deadlines"]} == {
        "ppc_preliminary": "recognized_at", "ppc_final": "recognized_at"}
    internal = by_kind(incident, "internal_deadlines")
    assert internal["internal_manager_report"]["due_at"] == "2026-11-20T02:00:00Z"
    assert {d["counts_from"] for d in internal.values()} == {"detected_at"}
    # moved: the reports follow it
    moved = patch(client, headers, incident, recognized_at="2026-11-21T10:00:00+09:00")
    assert due(moved)["ppc_preliminary"] == "2026-11-24T01:00:00Z"
    # cleared: back to detection, and said so
    cleared = patch(client, headers, incident, recognized_at=None)
    assert due(cleared)["ppc_preliminary"] == PRELIM and cleared["recognized_at"] is None
    assert {d["counts_from"] for d in cleared["deadlines"]} == {"detected_at"}
    # the page says which time each deadline counts from
    patch(client, headers, incident, recognized_at=RECOGNIZED)
    login(client, user)
    text = html.unescape(client.get(f"/incidents/{incident['id']}").text)
    rows = {kind: re.search(rf'<tr id="deadline-{d["id"]}"[^>]*>(.*?)</tr>', text, re.S).group(1)
            for kind, d in (by_kind(incident) | internal).items()}
    assert "起算: 報告対象と認識した日時（2026-11-22 15:30）" in rows["ppc_preliminary"]
    assert "起算: 検知日時（2026-11-20 10:00）" in rows["internal_manager_report"]
    assert "「前条各号に定める事態を知った後、速やかに」" in rows["ppc_preliminary"]
    assert "報告対象と認識した日時</dt><dd>2026-11-22 15:30" in text


def test_without_a_recognition_time_the_page_says_it_counts_from_detection(client, factory):
    user, headers = _csirt(factory)
    incident = create(client, headers, **pd(sensitive=True))
    login(client, user)
    text = html.unescape(client.get(f"/incidents/{incident['id']}").text)
    prelim = re.search(rf'<tr id="deadline-{by_kind(incident)["ppc_preliminary"]["id"]}"[^>]*>(.*?)</tr>', text, re.S)
    assert "起算: 検知日時（2026-11-20 10:00）— 報告対象と認識した日時が未記録のため" in prelim.group(1)


def test_recognition_is_never_before_detection_nor_in_the_future(client, factory):
    _user, headers = _csirt(factory)
    body = {"organization": "ageo", "title": "x", "threat_category": "intentional", "detected_at": DETECTED}
    assert_error(client.post(API, headers=headers, json=body | {"recognized_at": "2026-11-20T09:59:00+09:00"}),
                 422, field="recognized_at")
    assert_error(client.post(API, headers=headers, json=body | {"recognized_at": "2999-01-01T00:00:00+09:00"}),
                 422, field="recognized_at")
    incident = create(client, headers, recognized_at=RECOGNIZED)
    version = get(client, headers, incident["id"])["version"]
    # detection moved past the recognition: refused on the field that was sent
    assert_error(client.patch(f"{API}/{incident['id']}", headers=headers,
                              json={"version": version, "detected_at": "2026-11-23T00:00:00+09:00"}),
                 422, field="detected_at")


def test_a_reporter_may_not_set_the_recognition_time(client, factory):
    _user, headers = _csirt(factory, ("reporter",))
    body = {"organization": "ageo", "title": "x", "threat_category": "intentional", "detected_at": DETECTED}
    error = assert_error(client.post(API, headers=headers, json=body | {"recognized_at": RECOGNIZED}), 403)
    assert set(error["fields"]) == {"recognized_at"}


# --- item 8: the notices that were missing ----------------------------------------------------

def test_the_juki_and_lgwan_notices_can_be_added(client, factory):
    _user, headers = _csirt(factory)
    incident = create(client, headers, network_segments=["lgwan"])
    juki = client.post(f"{API}/{incident['id']}/deadlines", headers=headers, json={"kind": "juki_report"})
    assert juki.status_code == 201, juki.json
    assert (juki.json["authority"], juki.json["category"], juki.json["counts_from"]) == (
        "都道府県・地方公共団体情報システム機構（J-LIS）", "notice", None)
    lgwan = client.post(f"{API}/{incident['id']}/deadlines", headers=headers, json={"kind": "lgwan_report"})
    assert lgwan.status_code == 201 and lgwan.json["authority"] == "地方公共団体情報システム機構（J-LIS）LGWAN全国センター"
    assert "関係機関への報告：LGWAN" in lgwan.json["source"]


def test_the_police_report_records_its_receipt_number(client, factory):
    user, headers = _csirt(factory)
    incident = create(client, headers)
    police = client.post(f"{API}/{incident['id']}/deadlines", headers=headers, json={"kind": "police_report"}).json
    login(client, user)
    text = html.unescape(client.get(f"/incidents/{incident['id']}").text)
    assert f'<label for="ref-{police["id"]}">受理番号（任意）</label>' in text
    filed = file(client, headers, incident["id"], police["id"], reference="第2026-118号")
    assert filed.status_code == 200 and filed.json["reference"] == "第2026-118号"
    assert timeline(client, headers, incident["id"])[-1]["summary"].endswith("受理番号: 第2026-118号")
