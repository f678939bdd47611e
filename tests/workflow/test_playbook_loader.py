"""The playbook loader as pure functions: every real file loads; a broken one names file and path."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from app.incidents.playbook import PlaybookError, load_checklists, load_stages

REAL = Path(__file__).resolve().parents[2] / "playbooks"


@pytest.fixture
def books(tmp_path) -> Path:
    shutil.copytree(REAL, tmp_path / "playbooks")
    return tmp_path / "playbooks"


def edit(path: Path, change) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def error_of(call) -> str:
    with pytest.raises(PlaybookError) as info:
        call()
    return str(info.value)


def test_every_real_playbook_file_loads():
    stages = load_stages(REAL / "stages.yaml")
    assert [s.code.value for s in stages] == ["triage", "report", "preserve", "contain", "recover", "prevent", "closed"]
    assert [s.label for s in stages] == ["受付・評価", "連絡・報告", "証拠保全", "被害拡大の防止", "復旧", "再発防止", "終結"]
    books = load_checklists(REAL / "checklists")
    assert set(books) == {p.stem for p in (REAL / "checklists").glob("*.yaml")} == {"default", "toride", "toride-gikai",
                                                                                   "kumamoto-gikai"}
    default = books["default"]
    assert default.name == "全国標準の対応手順"
    codes = [item.code for item in default.items]
    assert len(codes) == len(set(codes))
    assert [i.code for i in books["toride"].items] == codes  # the city adds nothing yet
    gikai = {i.code: i for i in books["toride-gikai"].items}
    assert set(gikai) == set(codes) | {"gikai-report-chairman", "gikai-report-city"}
    assert gikai["report-council-assess"].title.startswith("取手市議会の個人情報保護条例")
    assert gikai["report-council-assess"].required is True and gikai["report-council-assess"].stage == "report"
    assert gikai["report-council-assess"].conditions == {"rules:assembly"}
    assert gikai["gikai-report-chairman"].role == "chief_officer"
    kumamoto = {i.code: i for i in books["kumamoto-gikai"].items}
    assert set(kumamoto) == set(codes) | {"kumamoto-gikai-report-city"}
    assert kumamoto["report-council-assess"].title.startswith("熊本市議会の個人情報保護条例")
    # the conditional items: by the body's reporting rules, and once a report is called for
    assert {i.code: i.conditions for i in default.items if i.conditions} == {
        "report-ppc-assess": {"rules:national"}, "report-council-assess": {"rules:assembly"},
        "report-notify-persons": {"reportable"}}
    assert len(default.items_for("intentional", "malware")) == 31  # no condition holds: none of them
    assert len(default.items_for("intentional", "malware", frozenset({"rules:national", "reportable"}))) == 33
    malware = default.items_for("intentional", "malware", frozenset({"rules:national"}))
    assert len(malware) == 32 and [i.stage for i in malware] == sorted(
        (i.stage for i in malware), key=["triage", "report", "preserve", "contain", "recover", "prevent"].index)


def test_the_copy_loads_the_same(books):
    assert load_checklists(books / "checklists") == load_checklists(REAL / "checklists")
    assert load_stages(books / "stages.yaml") == load_stages(REAL / "stages.yaml")


def test_unknown_role(books):
    edit(books / "checklists/default.yaml", lambda d: d["common"]["triage"][1].update(role="mayor"))
    message = error_of(lambda: load_checklists(books / "checklists"))
    assert message.startswith("default.yaml: common.triage.1.role: ")
    assert "'csirt'" in message


def test_unknown_role_in_an_override(books):
    edit(books / "checklists/toride-gikai.yaml",
         lambda d: d["override"]["report-council-assess"].update(role="chairman"))
    message = error_of(lambda: load_checklists(books / "checklists"))
    assert message.startswith("toride-gikai.yaml: override.report-council-assess.role: ")


@pytest.mark.parametrize("key", ["investigate", "closed"])
def test_unknown_stage_key(books, key):
    edit(books / "checklists/default.yaml", lambda d: d["common"].update({key: d["common"].pop("prevent")}))
    message = error_of(lambda: load_checklists(books / "checklists"))
    assert message.startswith(f"default.yaml: common.{key}")
    assert "'triage'" in message and "'prevent'" in message


def test_unknown_category_key(books):
    edit(books / "checklists/default.yaml", lambda d: d["categories"].update(cyber=d["categories"]["intentional"]))
    assert error_of(lambda: load_checklists(books / "checklists")).startswith("default.yaml: categories.cyber")


def test_subcategory_of_an_unknown_category(books):
    edit(books / "checklists/default.yaml",
         lambda d: d["subcategories"].update({"cyber.worm": {"contain": [{"code": "worm-x", "title": "x"}]}}))
    message = error_of(lambda: load_checklists(books / "checklists"))
    assert message == "default.yaml: subcategories.cyber.worm: unknown category"


def test_duplicate_item_code_in_one_file(books):
    edit(books / "checklists/default.yaml",
         lambda d: d["categories"]["intentional"]["report"].append(dict(d["common"]["triage"][0])))
    message = error_of(lambda: load_checklists(books / "checklists"))
    assert message.startswith("default.yaml: ")
    assert "intentional.report" in message and "'triage-record-report'" in message and "twice" in message


def test_duplicate_item_code_against_the_inherited_playbook(books):
    edit(books / "checklists/toride.yaml",
         lambda d: d["add"].update(common={"report": [{"code": "triage-assess", "title": "重複"}]}))
    message = error_of(lambda: load_checklists(books / "checklists"))
    assert message == "toride.yaml: common.report: item code 'triage-assess' is used twice"


@pytest.mark.parametrize("section", ["override", "remove"])
def test_override_or_remove_of_a_missing_code(books, section):
    def change(d):
        if section == "override":
            d["override"]["no-such-item"] = {"title": "x"}
        else:
            d["remove"] = ["no-such-item"]
    edit(books / "checklists/toride-gikai.yaml", change)
    message = error_of(lambda: load_checklists(books / "checklists"))
    assert message == "toride-gikai.yaml: remove/override: no inherited item 'no-such-item'"


def test_extends_unknown(books):
    edit(books / "checklists/toride.yaml", lambda d: d.update(extends="nowhere"))
    assert error_of(lambda: load_checklists(books / "checklists")) == \
        "toride.yaml: extends: unknown playbook 'nowhere'"


def test_extends_itself(books):
    edit(books / "checklists/toride.yaml", lambda d: d.update(extends="toride"))
    message = error_of(lambda: load_checklists(books / "checklists"))
    assert message.startswith("toride.yaml: extends: circular (") and "toride → toride)" in message


def test_circular_extends_names_the_whole_cycle(books):
    edit(books / "checklists/toride.yaml", lambda d: d.update(extends="toride-gikai"))
    message = error_of(lambda: load_checklists(books / "checklists"))
    assert re.match(r"^toride(-gikai)?\.yaml: extends: circular \(", message), message
    assert ("toride-gikai → toride → toride-gikai" in message
            or "toride → toride-gikai → toride" in message), message


def test_extending_file_with_items_outside_add(books):
    edit(books / "checklists/toride.yaml",
         lambda d: d.update(common={"report": [{"code": "city-x", "title": "x"}]}))
    assert error_of(lambda: load_checklists(books / "checklists")) == \
        "toride.yaml: a playbook that extends another gives its items under `add`"


def test_organization_must_match_the_file_name(books):
    edit(books / "checklists/toride.yaml", lambda d: d.update(organization="ageo"))
    assert error_of(lambda: load_checklists(books / "checklists")) == \
        "toride.yaml: organization: 'ageo' does not match the file name"


def test_unknown_field_and_bad_item_code(books):
    edit(books / "checklists/default.yaml", lambda d: d["common"]["triage"][0].update(deadline="1d"))
    assert error_of(lambda: load_checklists(books / "checklists")).startswith(
        "default.yaml: common.triage.0.deadline: ")
    shutil.copy(REAL / "checklists/default.yaml", books / "checklists/default.yaml")
    edit(books / "checklists/default.yaml", lambda d: d["common"]["triage"][0].update(code="Bad Code"))
    assert error_of(lambda: load_checklists(books / "checklists")).startswith("default.yaml: common.triage.0.code: ")


def test_missing_default(books):
    (books / "checklists/default.yaml").unlink()
    message = error_of(lambda: load_checklists(books / "checklists"))
    assert message == f"{books / 'checklists'}: default.yaml is missing"


def test_unreadable_yaml(books):
    (books / "checklists/toride.yaml").write_text("name: [unclosed\n", encoding="utf-8")
    assert error_of(lambda: load_checklists(books / "checklists")).startswith("toride.yaml: not valid YAML: ")


def test_stages_out_of_order(books):
    edit(books / "stages.yaml", lambda d: d["stages"].insert(1, d["stages"].pop(2)))
    assert error_of(lambda: load_stages(books / "stages.yaml")) == (
        "stages.yaml: stages: must be exactly triage, report, preserve, contain, recover, prevent, closed in this order")


def test_stages_missing_one_or_unknown(books):
    edit(books / "stages.yaml", lambda d: d["stages"].pop())
    assert error_of(lambda: load_stages(books / "stages.yaml")).startswith("stages.yaml: stages: must be exactly")
    shutil.copy(REAL / "stages.yaml", books / "stages.yaml")
    edit(books / "stages.yaml", lambda d: d["stages"][1].update(code="investigate"))
    assert error_of(lambda: load_stages(books / "stages.yaml")).startswith("stages.yaml: stages.1.code: ")
    shutil.copy(REAL / "stages.yaml", books / "stages.yaml")
    edit(books / "stages.yaml", lambda d: d["stages"][3].update(label=""))
    assert error_of(lambda: load_stages(books / "stages.yaml")).startswith("stages.yaml: stages.3.label: ")
