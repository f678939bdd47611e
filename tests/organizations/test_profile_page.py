"""The profile page (issue 17, item 9): what the policy says, with the inference shown as one."""
from __future__ import annotations

import html

from tests.workflow.helpers import login


def _page(client, factory, code: str, roles=("csirt",)) -> str:
    login(client, factory.user({code: list(roles)}))
    response = client.get(f"/organizations/{code}")
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return html.unescape(response.text)


def test_ageo_page_shows_who_is_not_staff_and_the_assemblys_rules(client, factory):
    text = _page(client, factory, "ageo", ("reporter",))  # the policy is public: any member reads it
    staff = text[text.index('id="staff"'):]
    assert "職員等（第7条）" in staff and "除く: 議員、消防団員" in staff
    assert "議会: 議会（議会の個人情報保護条例・番号法）" in text[text.index('id="organs"'):]


def test_saga_page_shows_contract_staff_and_its_review_cycle(client, factory):
    text = _page(client, factory, "saga")
    assert "委託契約により常駐する者等" in text[text.index('id="staff"'):]
    assert "基本方針の見直し: 毎年度及び重大な変化が発生した場合（8）" in text


def test_kumamoto_gikai_page_marks_the_inherited_plan_as_an_inference(client, factory):
    text = _page(client, factory, "kumamoto-gikai")
    assert "地方自治法（昭和22年法律第67号）第244条の6" in text[text.index('id="basis"'):]
    inherited = text[text.index('id="inherited"'):text.index('id="inference-note"')]
    assert "緊急時対応計画: 熊本市のものを継承" in inherited and "（推定）" in inherited
    assert inherited.count("（推定）") == 1  # the segments and the classification are inherited as stated
    assert "熊本市の緊急時対応計画に従うことは、そこからの推定である" in text


def test_another_bodys_profile_is_not_found(client, factory):
    login(client, factory.user({"saga": ["admin"]}))
    assert client.get("/organizations/ageo").status_code == 404
    assert client.get("/organizations/nowhere").status_code == 404
