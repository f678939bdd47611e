"""The reporting rules as data (playbooks/reporting/*.yaml), evaluated by the pure due_deadlines:
which duties apply to which facts, and when each is due. No database."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from app.deadlines.rules import BodyOptions, ReportingFacts, RulesError, due_deadlines, load_rule_sets

RULES_DIR = Path(__file__).resolve().parents[2] / "playbooks" / "reporting"
T0 = dt.datetime(2026, 11, 20, 1, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
PPC = {"ppc_preliminary", "ppc_final"}
MYNUMBER = {"mynumber_preliminary", "mynumber_final"}
COUNCIL = {"council_preliminary", "council_final"}
INTERNAL = {"internal_manager_report", "internal_chief_report", "csirt_assessment", "ciso_report"}
NONE = BodyOptions()


@pytest.fixture(scope="module")
def sets():
    return load_rule_sets(RULES_DIR)


def facts(**values) -> ReportingFacts:
    return ReportingFacts(detected_at=T0, **values)


def kinds(rule_set, f: ReportingFacts, options: BodyOptions = NONE) -> set[str]:
    return set(due_deadlines(rule_set, f, options))


def test_both_sets_load_with_the_contract_kinds_and_the_notices(sets):
    assert set(sets) == {"national", "assembly"}
    national = {d.kind for d in sets["national"].deadlines}
    assert national == PPC | MYNUMBER | INTERNAL
    assert {n.kind for n in sets["national"].notices} == {"persons_notice", "mic_report", "police_report",
                                                          "public_announcement"}
    assert sets["national"].remind.before == "24h"
    assert tuple(sets["national"].remind.notify) == ("csirt", "chief_officer")


@pytest.mark.parametrize("trigger", [
    {"sensitive": True}, {"financial_damage": True}, {"malicious": True}, {"persons": 101}])
def test_each_trigger_alone_makes_the_ppc_reports_due(sets, trigger):
    got = due_deadlines(sets["national"], facts(involved=True, **trigger), NONE)
    assert PPC <= set(got)
    assert got["ppc_preliminary"] == T0 + 3 * DAY
    assert not MYNUMBER & set(got)


def test_personal_data_without_any_trigger_owes_no_ppc_report(sets):
    assert kinds(sets["national"], facts(involved=True, persons=5)) == INTERNAL
    # the flags alone are no leak of personal data: financial damage or malice without personal data
    assert kinds(sets["national"], facts(financial_damage=True, malicious=True)) == INTERNAL
    # no personal data at all: only the internal chain
    assert kinds(sets["national"], facts()) == INTERNAL


def test_sensitive_data_counts_as_personal_data_even_without_involved(sets):
    assert PPC <= kinds(sets["national"], facts(sensitive=True))


@pytest.mark.parametrize(("persons", "expected"), [(100, set()), (101, PPC)])
def test_more_than_100_persons_is_the_threshold(sets, persons, expected):
    assert kinds(sets["national"], facts(persons=persons)) & PPC == expected


@pytest.mark.parametrize(("malicious", "final_days"), [(False, 30), (True, 60)])
def test_final_report_is_due_after_30_days_or_60_when_malicious(sets, malicious, final_days):
    got = due_deadlines(sets["national"], facts(involved=True, persons=150, malicious=malicious, my_number=True,
                                                segments=frozenset({"mynumber"})), NONE)
    assert got["ppc_final"] == T0 + final_days * DAY
    assert got["mynumber_final"] == T0 + final_days * DAY
    # the preliminary report does not change with malice
    assert got["ppc_preliminary"] == got["mynumber_preliminary"] == T0 + 3 * DAY
    assert got["ppc_final"] == dt.datetime.fromisoformat(
        "2026-12-20T01:00:00+00:00" if not malicious else "2027-01-19T01:00:00+00:00")


def test_my_number_of_one_person_in_the_mynumber_segment_is_reportable(sets):
    got = due_deadlines(sets["national"], facts(my_number=True, persons=1, segments=frozenset({"mynumber"})), NONE)
    assert MYNUMBER <= set(got)
    assert got["mynumber_preliminary"] == T0 + 3 * DAY and got["mynumber_final"] == T0 + 30 * DAY
    # one person, not sensitive, not malicious: no PPC report under 個人情報保護法
    assert not PPC & set(got)


def test_my_number_outside_the_segment_one_person_not_malicious_is_not_reportable(sets):
    assert kinds(sets["national"], facts(my_number=True, persons=1, segments=frozenset({"lgwan", "internet"}))) \
        == INTERNAL


@pytest.mark.parametrize("trigger", [{"malicious": True}, {"persons": 101}])
def test_my_number_outside_the_segment_is_reportable_when_malicious_or_over_100(sets, trigger):
    assert MYNUMBER <= kinds(sets["national"], facts(my_number=True, **({"persons": 1} | trigger)))


def test_the_segment_without_my_number_owes_no_mynumber_report(sets):
    assert not MYNUMBER & kinds(sets["national"], facts(involved=True, persons=1, segments=frozenset({"mynumber"})))


@pytest.mark.parametrize(("days", "expected"), [(None, 3), (1, 1), (5, 5)])
def test_preliminary_days_option_changes_only_the_preliminary_reports(sets, days, expected):
    got = due_deadlines(sets["national"], facts(persons=150, my_number=True), BodyOptions(preliminary_days=days))
    assert got["ppc_preliminary"] == got["mynumber_preliminary"] == T0 + expected * DAY
    assert got["ppc_final"] == got["mynumber_final"] == T0 + 30 * DAY
    assert got["internal_manager_report"] == T0 + dt.timedelta(hours=1)


def test_ordinance_sensitive_counts_only_where_the_body_defines_it(sets):
    ordinance = facts(ordinance_sensitive=True)
    assert kinds(sets["national"], ordinance, BodyOptions(ordinance_sensitive=False)) & PPC == set()
    assert kinds(sets["national"], ordinance, BodyOptions(ordinance_sensitive=True)) & PPC == PPC
    # the option alone, without the fact, is no trigger
    assert kinds(sets["national"], facts(involved=True, persons=5), BodyOptions(ordinance_sensitive=True)) & PPC \
        == set()


def test_internal_chain_is_due_for_every_incident(sets):
    got = due_deadlines(sets["national"], facts(), NONE)
    assert got == {"internal_manager_report": T0 + dt.timedelta(hours=1),
                   "internal_chief_report": T0 + dt.timedelta(hours=4),
                   "csirt_assessment": T0 + DAY, "ciso_report": T0 + DAY}


def test_assembly_set_has_council_reports_instead_of_ppc(sets):
    assembly = sets["assembly"]
    all_kinds = {d.kind for d in assembly.deadlines}
    assert all_kinds == COUNCIL | MYNUMBER | INTERNAL
    assert {n.kind for n in assembly.notices} == {n.kind for n in sets["national"].notices}
    got = due_deadlines(assembly, facts(persons=150, malicious=True, my_number=True), NONE)
    assert set(got) == COUNCIL | MYNUMBER | INTERNAL
    assert got["council_preliminary"] == T0 + 3 * DAY and got["council_final"] == T0 + 60 * DAY
    assert kinds(assembly, facts(involved=True, persons=100)) == INTERNAL
    assert all(d.authority == "議長" for d in assembly.deadlines if d.kind in COUNCIL)


def test_a_broken_rules_file_names_every_problem_with_its_field_path(tmp_path):
    """One format for every loader (app/core/yamlfile.py): file, field path, problem; all of them."""
    (tmp_path / "broken.yaml").write_text(
        "name: x\nremind: {before: 15x, notify: [csirt]}\nnotices:\n"
        "  - {kind: a_notice, label: x, source: x, after: soon}\n", encoding="utf-8")
    with pytest.raises(RulesError) as info:
        load_rule_sets(tmp_path)
    assert str(info.value) == (
        "broken.yaml: notices.0.after: Value error, 'soon' is not a duration like 30s, 15m, 2h, 1d; "
        "remind.before: Value error, '15x' is not a duration like 30s, 15m, 2h, 1d")


@pytest.mark.parametrize("text", ["", "- a list\n", "just text\n"])
def test_a_rules_file_that_is_not_a_mapping_says_so(tmp_path, text):
    (tmp_path / "broken.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(RulesError) as info:
        load_rule_sets(tmp_path)
    assert str(info.value) == "broken.yaml: (top level): expected a mapping"
