"""Every mistake of playbooks/ at once (issue 16, item 5): each loader reports all it finds, the
files' validation and its own checks across files alike, as `<file>: <field path>: <problem>` (a
file's problems joined with "; ", one line per file), and start-up (load_playbooks) runs every
loader, so that one run names the mistakes of every file. A mistake is reported once: what depends
on a broken file is not reported again."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from app import load_playbooks
from app.core.yamlfile import YamlFileError
from app.deadlines.rules import RulesError, load_rule_sets
from app.incidents.playbook import PlaybookError, load_checklists
from app.organizations.profiles import ProfileError, load_profiles

REAL = Path(__file__).resolve().parents[1] / "playbooks"


@pytest.fixture
def books(tmp_path) -> Path:
    shutil.copytree(REAL, tmp_path / "playbooks", ignore=shutil.ignore_patterns("demo"))
    return tmp_path / "playbooks"


def edit(path: Path, change) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def lines_of(error: type[Exception], call) -> list[str]:
    with pytest.raises(error) as info:
        call()
    assert isinstance(info.value, YamlFileError)
    return str(info.value).splitlines()


def test_two_checklist_files_with_a_mistake_each(books):
    edit(books / "checklists/default.yaml",
         lambda d: d["subcategories"].update({"cyber.worm": {"contain": [{"code": "worm-x", "title": "x"}]}}))
    edit(books / "checklists/toride-gikai.yaml", lambda d: d["override"].update({"no-such-item": {"title": "x"}}))
    assert lines_of(PlaybookError, lambda: load_checklists(books / "checklists")) == [
        "default.yaml: subcategories.cyber.worm: unknown category",
        "toride-gikai.yaml: remove/override: no inherited item 'no-such-item'",
    ]


def test_three_mistakes_in_one_checklist_file_on_one_line(books):
    def change(d):
        d["organization"] = "ageo"
        d["remove"] = ["gone-1", "gone-2"]
    edit(books / "checklists/toride-gikai.yaml", change)
    assert lines_of(PlaybookError, lambda: load_checklists(books / "checklists")) == [
        "toride-gikai.yaml: organization: 'ageo' does not match the file name; "
        "remove/override: no inherited item 'gone-1'; remove/override: no inherited item 'gone-2'",
    ]


def test_invalid_files_and_a_check_across_files_together(books):
    """The validation of one file and the cross-file check of another are reported in one error."""
    edit(books / "checklists/default.yaml", lambda d: d["common"]["triage"][0].update(role="mayor"))
    edit(books / "checklists/toride.yaml", lambda d: d.update(extends="nowhere"))
    lines = lines_of(PlaybookError, lambda: load_checklists(books / "checklists"))
    assert len(lines) == 2, lines
    assert lines[0].startswith("default.yaml: common.triage.0.role: ")
    assert lines[1] == "toride.yaml: extends: unknown playbook 'nowhere'"


def test_what_extends_a_broken_checklist_is_not_reported_again(books):
    """toride-gikai extends toride: toride's mistake is reported, not an "unknown" base for the assembly."""
    edit(books / "checklists/toride.yaml", lambda d: d.update(name=""))
    lines = lines_of(PlaybookError, lambda: load_checklists(books / "checklists"))
    assert len(lines) == 1 and lines[0].startswith("toride.yaml: name: "), lines


def test_two_profiles_with_a_mistake_each(books):
    edit(books / "organizations/saga.yaml", lambda d: d["emergency_plan"].update(owner="fukuoka"))
    edit(books / "organizations/toride-gikai.yaml", lambda d: d.update(parent="tokyo"))
    assert lines_of(ProfileError, lambda: load_profiles(books / "organizations")) == [
        "saga.yaml: emergency_plan.owner: unknown organization 'fukuoka'",
        "toride-gikai.yaml: parent: unknown organization 'tokyo'",
    ]


def test_a_child_of_a_broken_profile_is_not_reported_again(books):
    """kumamoto.yaml is invalid: kumamoto-gikai names it as parent, which is no second mistake."""
    edit(books / "organizations/kumamoto.yaml", lambda d: d.update(colour="blue"))
    edit(books / "organizations/mog-gesui.yaml", lambda d: d["threat_categories"][0].update(code="cyber"))
    lines = lines_of(ProfileError, lambda: load_profiles(books / "organizations"))
    assert [line.split(":", 1)[0] for line in lines] == ["kumamoto.yaml", "mog-gesui.yaml"], lines
    assert "colour: Extra inputs are not permitted" in lines[0]
    assert lines[1].startswith("mog-gesui.yaml: threat_categories.0.code: ")


def test_two_reporting_rule_files_with_a_mistake_each(books):
    edit(books / "reporting/assembly.yaml", lambda d: d.update(remove=["ppc_preliminary", "no_such_kind"]))
    edit(books / "reporting/national.yaml", lambda d: d.pop("remind"))
    assert lines_of(RulesError, lambda: load_rule_sets(books / "reporting")) == [
        "assembly.yaml: remove: unknown kinds no_such_kind",
        "national.yaml: remind: missing",
    ]


def test_start_up_names_the_mistakes_of_every_loader(books):
    """One run of load_playbooks (create_app, `flask init`) reports a mistake in each of four parts."""
    edit(books / "organizations/ageo.yaml", lambda d: d["threat_categories"][0].update(code="cyber"))
    edit(books / "checklists/toride.yaml", lambda d: d.update(extends="nowhere"))
    edit(books / "escalation.yaml", lambda d: d["policies"].pop("low"))
    edit(books / "severity.yaml", lambda d: d.update(default="none"))
    lines = lines_of(YamlFileError, lambda: load_playbooks(books))
    assert [line.split(":", 1)[0] for line in lines] == ["ageo.yaml", "toride.yaml", "severity.yaml", "escalation.yaml"]
    assert lines[0].startswith("ageo.yaml: threat_categories.0.code: Input should be 'intentional'")
    assert lines[1] == "toride.yaml: extends: unknown playbook 'nowhere'"
    assert lines[2].startswith("severity.yaml: default: ")
    assert lines[3] == "escalation.yaml: policies: missing low"


def test_checks_across_loaders_report_every_body(books):
    """Once every file is valid: each body naming reporting rules that do not exist, and each
    checklist subcategory no profile has."""
    for code in ("ageo", "saga"):
        edit(books / f"organizations/{code}.yaml", lambda d: d.setdefault("reporting", {}).update(rules="prefecture"))
    edit(books / "checklists/default.yaml",
         lambda d: d["subcategories"].update({"intentional.worm": {"contain": [{"code": "worm-x", "title": "x"}]}}))
    lines = lines_of(YamlFileError, lambda: load_playbooks(books))
    assert lines == ["default.yaml: subcategories.intentional.worm: no profile has this subcategory",
                     "ageo.yaml: reporting.rules: no playbooks/reporting/prefecture.yaml",
                     "saga.yaml: reporting.rules: no playbooks/reporting/prefecture.yaml"]


def test_the_real_playbooks_load(books):
    assert load_playbooks(books) == load_playbooks(REAL)
