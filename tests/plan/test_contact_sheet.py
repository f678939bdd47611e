"""The printable 緊急時連絡体制 sheet and its static export: the roster's contacts and deputies,
the escalation chain, the stages' first items and the reporting deadlines; who may print it."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import update

from app.auth.models import User
from app.config import REPO_ROOT
from app.core.db import db
from tests.workflow.helpers import login


def _people(factory):
    ciso = factory.user({"ageo": ["ciso"]}, email="ciso@city.ageo.example.jp", name="上尾 最高責任")
    deputy = factory.user({"ageo": ["chief_officer"]}, email="chief@city.ageo.example.jp", name="伊藤 次郎")
    csirt = factory.user({"ageo": ["csirt"]}, email="csirt@city.ageo.example.jp", name="佐藤 花子")
    db.session.execute(update(User).where(User.id == csirt.id).values(phone="048-775-0000"))
    db.session.execute(update(User).where(User.id == deputy.id).values(deputy_of_id=ciso.id))
    db.session.commit()
    return ciso, deputy, csirt


def test_the_sheet_lists_contacts_chain_stages_and_deadlines(client, factory):
    ciso, deputy, csirt = _people(factory)
    factory.user({"ageo": ["reporter"]}, email="staff@city.ageo.example.jp", name="職員 一郎")
    login(client, csirt)
    html = client.get("/plan/ageo").get_data(as_text=True)
    assert "緊急時連絡体制（緊急時対応計画）" in html and "上尾市" in html
    assert "048-775-0000" in html and "csirt@city.ageo.example.jp" in html
    assert html.index("上尾 最高責任") < html.index("伊藤 次郎") < html.index("佐藤 花子")  # by rank
    assert "<td>伊藤 次郎</td></tr>" in html  # named as the CISO's deputy
    assert "職員 一郎" not in html  # staff are not in the chain
    assert "CSIRT要員、情報セキュリティ管理者（直ちに）" in html and "統括情報セキュリティ責任者、情報システム管理者（10分後、受領後も報告）" in html
    assert "☐ 報告者・報告経路・受付日時を記録する" in html
    assert "個人情報保護委員会への漏えい等報告（確報）" in html and "30日（不正の目的: 60日）" in html
    assert '<link rel="stylesheet" href="/static/print.css">' in html


def test_an_assembly_sheet_has_its_own_reporting(client, factory):
    user = factory.user({"toride-gikai": ["csirt"]})
    login(client, user)
    html = client.get("/plan/toride-gikai").get_data(as_text=True)
    assert "議長への漏えい等報告（速報）" in html and "個人情報保護委員会への漏えい等報告" not in html


def test_who_may_print_it(client, factory):
    reporter = factory.user({"ageo": ["reporter"]})
    login(client, reporter)
    assert client.get("/plan/ageo").status_code == 403
    assert client.get("/plan/saga").status_code == 404
    assert client.get("/plan/nowhere").status_code == 404
    client.post("/logout", data={})
    auditor = factory.user({"ageo": ["auditor"]})
    login(client, auditor)
    assert client.get("/plan/ageo").status_code == 200
    assert 'href="/plan/ageo"' in client.get("/plan").get_data(as_text=True)


def test_static_export_opens_without_a_server(app, factory, database_url, tmp_path):
    _people(factory)
    env = dict(os.environ, INSTANCE_PATH=str(app.config["INSTANCE_PATH"]), DATABASE_URL=database_url,
               PLAYBOOKS_PATH=str(REPO_ROOT / "playbooks"), SCHEDULER_ENABLED="0")
    target = tmp_path / "usb"
    result = subprocess.run([str(Path(sys.executable).with_name("flask")), "--app", "wsgi", "export-plan", str(target)],
                            cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "7 sheets and index.html written" in result.stdout
    sheet = (target / "ageo.html").read_text(encoding="utf-8")
    assert "048-775-0000" in sheet and "<style>" in sheet and "@page { size: A4" in sheet
    assert "http://" not in sheet and "https://" not in sheet and "/static/" not in sheet  # nothing to fetch
    assert 'href="ageo.html"' in (target / "index.html").read_text(encoding="utf-8")


def test_the_deputies_are_those_the_escalation_reaches_with_their_telephone(app, client, factory):
    """A deputy without a chain role of their own is still on the sheet, with a number to call; one
    who is away is marked 不在; one no longer active in the body is not there (nor paged)."""
    from app.core.timeutil import now_utc
    from app.notifications.oncall import reach
    manager = factory.user({"ageo": ["security_manager"]}, email="kacho@city.ageo.example.jp", name="課長 一郎")
    clerk = factory.user({"ageo": ["reporter"]}, email="hosa@city.ageo.example.jp", name="補佐 二郎")
    away = factory.user({"ageo": ["csirt"]}, email="away@city.ageo.example.jp", name="出張 三郎")
    elsewhere = factory.user({"saga": ["csirt"]}, email="saga@city.saga.example.jp", name="佐賀 四郎")
    for deputy, phone, available in ((clerk, "048-775-1111", True), (away, "048-775-2222", False),
                                     (elsewhere, "0952-00-0000", True)):
        db.session.execute(update(User).where(User.id == deputy.id)
                           .values(deputy_of_id=manager.id, phone=phone, available=available))
    db.session.execute(update(User).where(User.id == manager.id).values(available=False))
    db.session.commit()
    login(client, factory.user({"ageo": ["csirt"]}, name="印刷 する人"))
    html = client.get("/plan/ageo").get_data(as_text=True)
    assert "<td>補佐 二郎（048-775-1111）、出張 三郎（048-775-2222）（不在）</td></tr>" in html
    assert "佐賀 四郎" not in html and "0952-00-0000" not in html
    reached = reach(manager.memberships[0].organization_id, ["security_manager"], now_utc())
    assert [(person.name, why) for person, why in reached.people] == [("補佐 二郎", "security_manager (deputy)")]
