"""`roster import` (API.md, "Roster file"): YAML and CSV, idempotence, deactivation, all-or-nothing."""
from __future__ import annotations

import pytest
import yaml
from sqlalchemy import func, select
from werkzeug.security import check_password_hash

from app.auth.models import Membership, User
from app.auth.services import authenticate
from app.core.db import db
from app.organizations.services import organization_by_code
from app.roster.file import RosterError, import_roster, read_roster

PW_SATO = "initial password"
PW_ITO = "another long password"
PW_KATO = "third password 1234"


@pytest.fixture(autouse=True)
def _local_webhooks(allow_webhooks):
    allow_webhooks("ageo", "127.0.0.1")  # sato's webhook below; loopback is refused otherwise


def people():
    return [
        {"email": "sato@city.example.jp", "name": "佐藤 花子", "password": PW_SATO, "roles": ["csirt"],
         "phone": "048-000-0000", "webhook": "http://127.0.0.1:9000/hook", "deputy_of": "ito@city.example.jp"},
        {"email": "ito@city.example.jp", "name": "伊藤 一郎", "password": PW_ITO, "roles": ["ciso", "chief_officer"]},
        {"email": "kato@city.example.jp", "name": "加藤 次郎", "password": PW_KATO, "roles": ["csirt"],
         "available": False},
    ]


def write(tmp_path, data, name="roster.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def do_import(path, organization=None):
    result = import_roster(read_roster(path, organization))
    db.session.commit()
    return result


def user(email):
    return db.session.scalar(select(User).where(User.email == email))


def memberships(email):
    """{(org code, role): active} for that person."""
    rows = db.session.execute(
        select(Membership.role, Membership.active, Membership.organization_id).join(User).where(User.email == email)
    )
    codes = {organization_by_code(c).id: c for c in ("ageo", "saga", "toride-gikai", "kumamoto-gikai", "mog-gesui")}
    return {(codes[org_id], role): active for role, active, org_id in rows}


def user_count():
    return db.session.scalar(select(func.count()).select_from(User))


def cli(app, *args):
    return app.test_cli_runner().invoke(args=list(args))


# --- YAML import ---------------------------------------------------------------------------------

def test_yaml_import_creates_people_and_memberships(app, tmp_path):
    result = do_import(write(tmp_path, {"organization": "ageo", "people": people()}))
    assert result.organization == "ageo"
    assert result.created == ["sato@city.example.jp", "ito@city.example.jp", "kato@city.example.jp"]
    assert (result.updated, result.unchanged, result.deactivated) == ([], [], [])
    db.session.expire_all()
    sato = user("sato@city.example.jp")
    assert (sato.name, sato.phone, sato.webhook, sato.available) == (
        "佐藤 花子", "048-000-0000", "http://127.0.0.1:9000/hook", True)
    assert check_password_hash(sato.password_hash, PW_SATO)
    assert PW_SATO not in sato.password_hash
    assert memberships("sato@city.example.jp") == {("ageo", "csirt"): True}
    assert memberships("ito@city.example.jp") == {("ageo", "ciso"): True, ("ageo", "chief_officer"): True}
    assert user("ito@city.example.jp").phone is None
    assert authenticate("sato@city.example.jp", PW_SATO).email == "sato@city.example.jp"
    assert authenticate("SATO@city.example.jp", PW_SATO) is not None
    assert authenticate("sato@city.example.jp", "wrong password!!") is None


def test_emails_are_stored_lower_case(app, tmp_path):
    entries = [{"email": "Yamada@City.Example.JP", "name": "山田", "roles": ["reporter"]}]
    result = do_import(write(tmp_path, {"organization": "saga", "people": entries}))
    assert result.created == ["yamada@city.example.jp"]
    assert user("yamada@city.example.jp").password_hash is None
    assert authenticate("yamada@city.example.jp", "anything at all") is None


def test_deputy_of_links_users(app, tmp_path):
    do_import(write(tmp_path, {"organization": "ageo", "people": people()}))
    db.session.expire_all()
    assert user("sato@city.example.jp").deputy_of_id == user("ito@city.example.jp").id
    assert user("ito@city.example.jp").deputy_of_id is None
    changed = people()
    del changed[0]["deputy_of"]
    changed[2]["deputy_of"] = "ito@city.example.jp"
    result = do_import(write(tmp_path, {"organization": "ageo", "people": changed}))
    assert sorted(result.updated) == ["kato@city.example.jp", "sato@city.example.jp"]
    db.session.expire_all()
    assert user("sato@city.example.jp").deputy_of_id is None
    assert user("kato@city.example.jp").deputy_of_id == user("ito@city.example.jp").id


def test_available_false_is_stored_and_can_return(app, tmp_path):
    do_import(write(tmp_path, {"organization": "ageo", "people": people()}))
    db.session.expire_all()
    assert user("kato@city.example.jp").available is False
    assert user("ito@city.example.jp").available is True
    back = people()
    back[2]["available"] = True
    result = do_import(write(tmp_path, {"organization": "ageo", "people": back}))
    assert result.updated == ["kato@city.example.jp"]
    db.session.expire_all()
    assert user("kato@city.example.jp").available is True


def test_same_file_twice_changes_nothing(app, tmp_path):
    path = write(tmp_path, {"organization": "ageo", "people": people()})
    do_import(path)
    db.session.expire_all()
    before = {u.email: (u.password_hash, u.name, u.deputy_of_id) for u in db.session.scalars(select(User))}
    membership_rows = db.session.scalar(select(func.count()).select_from(Membership))
    result = do_import(path)
    assert result.unchanged == ["sato@city.example.jp", "ito@city.example.jp", "kato@city.example.jp"]
    assert (result.created, result.updated, result.deactivated) == ([], [], [])
    db.session.expire_all()
    after = {u.email: (u.password_hash, u.name, u.deputy_of_id) for u in db.session.scalars(select(User))}
    assert after == before
    assert db.session.scalar(select(func.count()).select_from(Membership)) == membership_rows == 4


def test_missing_person_is_deactivated_in_that_body_only(app, tmp_path):
    do_import(write(tmp_path, {"organization": "ageo", "people": people()}))
    # kato also serves 佐賀市
    do_import(write(tmp_path, {"organization": "saga", "people": [
        {"email": "kato@city.example.jp", "name": "加藤 次郎", "roles": ["auditor"], "available": False}]},
        name="saga.yaml"))
    result = do_import(write(tmp_path, {"organization": "ageo", "people": people()[:1] + people()[1:2]}))
    assert result.deactivated == ["kato@city.example.jp"]
    assert result.unchanged == ["sato@city.example.jp", "ito@city.example.jp"]
    db.session.expire_all()
    assert memberships("kato@city.example.jp") == {("ageo", "csirt"): False, ("saga", "auditor"): True}
    kato = user("kato@city.example.jp")
    assert kato is not None and kato.is_active
    assert authenticate("kato@city.example.jp", PW_KATO) is not None
    # the same again deactivates no one twice
    again = do_import(write(tmp_path, {"organization": "ageo", "people": people()[:2]}))
    assert again.deactivated == []


def test_person_left_without_membership_cannot_log_in(app, tmp_path):
    do_import(write(tmp_path, {"organization": "ageo", "people": people()}))
    assert authenticate("ito@city.example.jp", PW_ITO) is not None
    result = do_import(write(tmp_path, {"organization": "ageo", "people": [people()[2]]}))
    assert sorted(result.deactivated) == ["ito@city.example.jp", "sato@city.example.jp"]
    db.session.expire_all()
    assert user_count() == 3  # never deleted
    assert memberships("ito@city.example.jp") == {("ageo", "ciso"): False, ("ageo", "chief_officer"): False}
    assert user("ito@city.example.jp").is_active is False
    assert authenticate("ito@city.example.jp", PW_ITO) is None
    # coming back reactivates the same rows
    result = do_import(write(tmp_path, {"organization": "ageo", "people": people()}))
    assert sorted(result.updated) == ["ito@city.example.jp", "sato@city.example.jp"]
    db.session.expire_all()
    assert memberships("ito@city.example.jp") == {("ageo", "ciso"): True, ("ageo", "chief_officer"): True}
    assert authenticate("ito@city.example.jp", PW_ITO) is not None


def test_roles_changed_between_imports(app, tmp_path):
    do_import(write(tmp_path, {"organization": "ageo", "people": people()}))
    changed = people()
    changed[0]["roles"] = ["security_manager", "auditor"]
    result = do_import(write(tmp_path, {"organization": "ageo", "people": changed}))
    assert result.updated == ["sato@city.example.jp"]
    assert result.unchanged == ["ito@city.example.jp", "kato@city.example.jp"]
    db.session.expire_all()
    assert memberships("sato@city.example.jp") == {
        ("ageo", "csirt"): False, ("ageo", "security_manager"): True, ("ageo", "auditor"): True}
    assert user("sato@city.example.jp").roles_in(organization_by_code("ageo").id) == {"security_manager", "auditor"}


def test_new_password_rehashes_only_when_changed(app, tmp_path):
    do_import(write(tmp_path, {"organization": "ageo", "people": people()}))
    db.session.expire_all()
    old_hash = user("sato@city.example.jp").password_hash
    changed = people()
    changed[0]["password"] = "a brand new password"
    result = do_import(write(tmp_path, {"organization": "ageo", "people": changed}))
    assert result.updated == ["sato@city.example.jp"]
    db.session.expire_all()
    assert user("sato@city.example.jp").password_hash != old_hash
    assert authenticate("sato@city.example.jp", "a brand new password") is not None
    assert authenticate("sato@city.example.jp", PW_SATO) is None


def test_on_call_and_escalation_accepted(app, tmp_path):
    data = {"organization": "ageo", "people": people(),
            "on_call": [{"role": "csirt", "starts": "2026-04-06T08:30:00+09:00",
                         "members": ["sato@city.example.jp", "kato@city.example.jp"]}],
            "escalation": {"critical": [{"notify": ["csirt", "chief_officer"], "after": "0s"},
                                        {"notify": ["ciso"], "after": "15m"}],
                           "low": [{"notify": ["csirt"], "after": "1d"}]}}
    roster = read_roster(write(tmp_path, data))
    assert [str(m) for m in roster.on_call[0].members] == ["sato@city.example.jp", "kato@city.example.jp"]
    assert roster.on_call[0].starts.utcoffset().total_seconds() == 9 * 3600
    assert [level.after for level in roster.escalation["critical"]] == ["0s", "15m"]
    assert import_roster(roster).created == ["sato@city.example.jp", "ito@city.example.jp", "kato@city.example.jp"]


# --- CLI and CSV ---------------------------------------------------------------------------------

def test_cli_yaml_import_twice(app, tmp_path):
    path = write(tmp_path, {"organization": "ageo", "people": people()})
    first = cli(app, "roster", "import", str(path))
    assert first.exit_code == 0, first.output
    assert first.output.strip() == "ageo: 3 created, 0 updated, 0 unchanged, 0 deactivated"
    second = cli(app, "roster", "import", str(path))
    assert second.exit_code == 0, second.output
    assert second.output.strip() == "ageo: 0 created, 0 updated, 3 unchanged, 0 deactivated"
    db.session.expire_all()
    assert user_count() == 3


CSV = ("email,name,password,roles,phone\n"
       "suzuki@city.example.jp,鈴木 一,csv password 0001,csirt;auditor,048-111-1111\n"
       "tanaka@city.example.jp,田中 二,csv password 0002,ciso chief_officer,\n")


def test_cli_csv_import_with_organization(app, tmp_path):
    path = tmp_path / "people.csv"
    path.write_text(CSV, encoding="utf-8")
    first = cli(app, "roster", "import", str(path), "--organization", "saga")
    assert first.exit_code == 0, first.output
    assert first.output.strip() == "saga: 2 created, 0 updated, 0 unchanged, 0 deactivated"
    db.session.expire_all()
    assert memberships("suzuki@city.example.jp") == {("saga", "csirt"): True, ("saga", "auditor"): True}
    assert memberships("tanaka@city.example.jp") == {("saga", "ciso"): True, ("saga", "chief_officer"): True}
    suzuki, tanaka = user("suzuki@city.example.jp"), user("tanaka@city.example.jp")
    assert (suzuki.name, suzuki.phone) == ("鈴木 一", "048-111-1111")
    assert tanaka.phone is None
    hashes = (suzuki.password_hash, tanaka.password_hash)
    assert authenticate("tanaka@city.example.jp", "csv password 0002") is not None
    second = cli(app, "roster", "import", str(path), "--organization", "saga")
    assert second.exit_code == 0, second.output
    assert second.output.strip() == "saga: 0 created, 0 updated, 2 unchanged, 0 deactivated"
    db.session.expire_all()
    assert (user("suzuki@city.example.jp").password_hash, user("tanaka@city.example.jp").password_hash) == hashes


def test_csv_with_bom_and_without_password(app, tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes(("email,name,password,roles,phone\n"
                      "sasaki@city.example.jp,佐々木 三,,reporter,\n").encode("utf-8-sig"))
    result = do_import(path, "mog-gesui")
    assert result.created == ["sasaki@city.example.jp"]
    assert memberships("sasaki@city.example.jp") == {("mog-gesui", "reporter"): True}


def test_csv_bad_row_names_the_entry(app, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(CSV + "bad@city.example.jp,悪い 例,csv password 0003,mayor,\n", encoding="utf-8")
    result = cli(app, "roster", "import", str(path), "--organization", "saga")
    assert result.exit_code != 0
    assert "roster not imported" in result.output
    assert "people[2]" in result.output and "bad@city.example.jp" in result.output
    assert user_count() == 0


# --- one bad entry imports nothing ---------------------------------------------------------------

def _bad(change):
    data = {"organization": "ageo", "people": people()}
    change(data)
    return data


BAD_ENTRIES = {
    "unknown role": (_bad(lambda d: d["people"][1].update(roles=["ciso", "mayor"])),
                     ["people[1]", "ito@city.example.jp", "roles"]),
    "short password": (_bad(lambda d: d["people"][1].update(password="short pw 11")),
                       ["people[1]", "ito@city.example.jp", "password", "12 characters"]),
    "bad email": (_bad(lambda d: d["people"][1].update(email="ito.city.example.jp")),
                  ["people[1]", "ito.city.example.jp", "email"]),
    "deputy not in file": (_bad(lambda d: d["people"][1].update(deputy_of="nobody@city.example.jp")),
                           ["people[1]", "ito@city.example.jp", "deputy_of", "nobody@city.example.jp"]),
    "own deputy": (_bad(lambda d: d["people"][1].update(deputy_of="ito@city.example.jp")),
                   ["people[1]", "ito@city.example.jp", "deputy_of"]),
    # issue 15 item 9: whoever is paged to acknowledge must be able to (not a reporter or an auditor)
    "auditor as deputy": (_bad(lambda d: d["people"][0].update(roles=["auditor"])),
                          ["people[0]", "sato@city.example.jp", "deputy_of", "may acknowledge"]),
    "reporter on call": (_bad(lambda d: (d["people"][2].update(roles=["reporter"]), d.update(on_call=[
        {"role": "csirt", "starts": "2026-04-06T08:30:00+09:00", "members": ["kato@city.example.jp"]}]))),
                         ["on_call[0]", "kato@city.example.jp", "may acknowledge"]),
    "auditor covering a role": (_bad(lambda d: (d["people"][2].update(roles=["auditor"]), d.update(on_call_overrides=[
        {"role": "csirt", "email": "kato@city.example.jp", "starts": "2026-04-06T08:30:00+09:00",
         "ends": "2026-04-07T08:30:00+09:00"}]))), ["on_call_overrides[0]", "kato@city.example.jp", "may acknowledge"]),
    "duplicate email": (_bad(lambda d: d["people"].append(dict(people()[1], name="別人"))),
                        ["people[3]", "ito@city.example.jp", "listed twice"]),
    "no roles": (_bad(lambda d: d["people"][1].update(roles=[])), ["people[1]", "ito@city.example.jp", "roles"]),
    "unknown field": (_bad(lambda d: d["people"][1].update(mobile="090")), ["people[1]", "ito@city.example.jp", "mobile"]),
    "bad webhook": (_bad(lambda d: d["people"][1].update(webhook="ftp://x")), ["people[1]", "ito@city.example.jp", "webhook"]),
    "unknown organization": (_bad(lambda d: d.update(organization="nowhere")), ["unknown organization 'nowhere'"]),
    "on_call unknown role": (_bad(lambda d: d.update(on_call=[{"role": "mayor", "starts": "2026-04-06T08:30:00+09:00",
                                                                "members": ["sato@city.example.jp"]}])),
                             ["on_call.0.role"]),
    "on_call member not in file": (_bad(lambda d: d.update(on_call=[{"role": "csirt",
                                                                      "starts": "2026-04-06T08:30:00+09:00",
                                                                      "members": ["ghost@city.example.jp"]}])),
                                   ["on_call[0]", "ghost@city.example.jp", "not in this file"]),
    "on_call naive start": (_bad(lambda d: d.update(on_call=[{"role": "csirt", "starts": "2026-04-06T08:30:00",
                                                               "members": ["sato@city.example.jp"]}])),
                            ["on_call.0.starts", "UTC offset"]),
    "escalation bad duration": (_bad(lambda d: d.update(escalation={"critical": [
        {"notify": ["csirt"], "after": "0s"}, {"notify": ["ciso"], "after": "15x"}]})),
        ["escalation.critical.1.after", "'15x' is not a duration"]),
    "escalation unknown role": (_bad(lambda d: d.update(escalation={"high": [{"notify": ["boss"], "after": "0s"}]})),
                                ["escalation.high.0.notify", "'boss'"]),
    "escalation unknown severity": (_bad(lambda d: d.update(escalation={"urgent": [{"notify": ["csirt"], "after": "0s"}]})),
                                    ["escalation", "urgent"]),
}


@pytest.mark.parametrize("case", list(BAD_ENTRIES))
def test_bad_entry_imports_nothing(app, tmp_path, case):
    data, expected = BAD_ENTRIES[case]
    path = write(tmp_path, data)
    before = user_count()
    with pytest.raises(RosterError) as info:
        import_roster(read_roster(path))
    db.session.rollback()
    message = str(info.value)
    for part in expected:
        assert part in message, (case, message)
    assert user_count() == before == 0


@pytest.mark.parametrize("case", ["unknown role", "short password", "duplicate email", "unknown organization",
                                  "escalation bad duration"])
def test_cli_bad_entry_exits_non_zero(app, tmp_path, case):
    data, expected = BAD_ENTRIES[case]
    # an earlier good import, so "nothing" also means nothing changed
    sato = {k: v for k, v in people()[0].items() if k != "deputy_of"}
    good = write(tmp_path, {"organization": "ageo", "people": [sato]}, name="good.yaml")
    first = cli(app, "roster", "import", str(good))
    assert first.exit_code == 0, first.output
    result = cli(app, "roster", "import", str(write(tmp_path, data)))
    assert result.exit_code != 0
    assert "roster not imported" in result.output
    for part in expected:
        assert part in result.output
    db.session.expire_all()
    assert user_count() == 1
    assert memberships("sato@city.example.jp") == {("ageo", "csirt"): True}


def test_cli_unreadable_files(app, tmp_path):
    missing = cli(app, "roster", "import", str(tmp_path / "nope.yaml"))
    assert missing.exit_code != 0 and "roster not imported" in missing.output
    broken = tmp_path / "broken.yaml"
    broken.write_text("organization: ageo\npeople: [\n", encoding="utf-8")
    result = cli(app, "roster", "import", str(broken))
    assert result.exit_code != 0
    assert "roster not imported" in result.output and "broken.yaml" in result.output
    listing = tmp_path / "list.yaml"
    listing.write_text("- a\n- b\n", encoding="utf-8")
    result = cli(app, "roster", "import", str(listing))
    assert result.exit_code != 0 and "expected a mapping" in result.output
    assert user_count() == 0
