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
    assert {n.kind for n in sets["national"].notices} == {"persons_notice", "mic_report", "juki_report", "lgwan_report",
                                                          "police_report", "public_announcement"}
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


# --- issue 17: the law, exactly ----------------------------------------------------------------

@pytest.mark.parametrize("held_in", ["information_provision_network", "my_number_use", "my_number_related"])
def test_my_number_held_in_a_named_system_is_reportable_whatever_the_number(sets, held_in):
    """番号法 規則 第2条第1号 イ・ロ・ハ: one person's 特定個人情報 from such a system, outside the
    マイナンバー利用事務系 (payroll runs in the LGWAN接続系), not malicious: reportable."""
    got = due_deadlines(sets["national"], facts(my_number=True, persons=1, segments=frozenset({"lgwan"}),
                                                held_in=frozenset({held_in})), NONE)
    assert MYNUMBER <= set(got)
    assert got["mynumber_preliminary"] == T0 + 3 * DAY and got["mynumber_final"] == T0 + 30 * DAY
    assert not PPC & set(got)
    # the assembly's My Number work (payroll) too
    assert MYNUMBER <= kinds(sets["assembly"], facts(my_number=True, persons=1, held_in=frozenset({held_in})))


def test_my_number_viewable_by_anyone_is_reportable(sets):
    """番号法 規則 第2条第3号: 電磁的方法により不特定多数の者に閲覧されるおそれがある事態."""
    assert MYNUMBER <= kinds(sets["national"], facts(my_number=True, persons=1, public_exposure=True))
    assert not MYNUMBER & kinds(sets["national"], facts(my_number=True, persons=1))
    # without My Number it is not a 番号法 report (nor, alone, a PPC one)
    assert kinds(sets["national"], facts(involved=True, persons=1, public_exposure=True)) == INTERNAL


def test_held_in_without_my_number_owes_no_mynumber_report(sets):
    assert kinds(sets["national"], facts(involved=True, persons=3, held_in=frozenset({"my_number_use"}))) == INTERNAL


@pytest.mark.parametrize("trigger", [{"sensitive": True}, {"financial_damage": True}, {"persons": 101}])
def test_encryption_withdraws_the_ppc_reports_it_excludes_with_a_reason(sets, trigger):
    from app.deadlines.rules import excluded_by_encryption
    encrypted = facts(involved=True, encrypted=True, **trigger)
    assert kinds(sets["national"], encrypted) == INTERNAL
    reasons = excluded_by_encryption(sets["national"], encrypted, NONE)
    assert set(reasons) == PPC
    assert all("高度な暗号化その他の個人の権利利益を保護するために必要な措置" in r and "第43条第1号" in r
               for r in reasons.values())


def test_encryption_does_not_withdraw_a_report_for_malice(sets):
    """DOMAIN.md: every case except 不正の目的 is excluded when the data was encrypted."""
    from app.deadlines.rules import excluded_by_encryption
    encrypted = facts(involved=True, sensitive=True, malicious=True, encrypted=True)
    assert PPC <= kinds(sets["national"], encrypted)
    assert excluded_by_encryption(sets["national"], encrypted, NONE) == {}


def test_encryption_withdraws_the_mynumber_reports_too(sets):
    from app.deadlines.rules import excluded_by_encryption
    encrypted = facts(my_number=True, persons=500, held_in=frozenset({"my_number_use"}), encrypted=True)
    assert kinds(sets["national"], encrypted) == INTERNAL
    reasons = excluded_by_encryption(sets["national"], encrypted, NONE)
    assert set(reasons) == MYNUMBER | PPC
    assert "特定個人情報の漏えい等に関する報告等に関する規則 第2条第1号" in reasons["mynumber_final"]


def test_the_statutory_reports_count_from_recognition_and_the_chain_from_detection(sets):
    """規則 第44条: 速報 after the body knew (前条各号に定める事態を知った後); the internal chain from detection."""
    from app.deadlines.rules import counts_from
    recognized = T0 + dt.timedelta(days=2, hours=5)
    f = facts(involved=True, persons=150, my_number=True, recognized_at=recognized)
    got = due_deadlines(sets["national"], f, NONE)
    assert got["ppc_preliminary"] == got["mynumber_preliminary"] == recognized + 3 * DAY
    assert got["ppc_final"] == got["mynumber_final"] == recognized + 30 * DAY
    assert got["internal_manager_report"] == T0 + dt.timedelta(hours=1) and got["ciso_report"] == T0 + DAY
    assert {k: counts_from(sets["national"].rule(k), f) for k in got} == {
        **{k: "recognized_at" for k in PPC | MYNUMBER}, **{k: "detected_at" for k in INTERNAL}}
    # without a recognition time they count from detection, and say so
    plain = facts(involved=True, persons=150)
    assert due_deadlines(sets["national"], plain, NONE)["ppc_preliminary"] == T0 + 3 * DAY
    assert counts_from(sets["national"].rule("ppc_preliminary"), plain) == "detected_at"
    # the assembly's reports to the 議長 count from recognition as well
    council = due_deadlines(sets["assembly"], facts(persons=150, recognized_at=recognized), NONE)
    assert council["council_preliminary"] == recognized + 3 * DAY


def test_the_quotes_are_the_statutes_words(sets):
    """The old ppc_preliminary quote (「報告対象事態を知ったときは、速やかに…」) was not the statute's."""
    national = sets["national"]
    assert national.rule("ppc_preliminary").quote == "前条各号に定める事態を知った後、速やかに"
    assert national.rule("ppc_final").quote == (
        "当該事態を知った日から三十日以内（当該事態が前条第三号に定めるものである場合にあっては、六十日以内）")
    assert national.rule("mynumber_preliminary").quote.startswith(
        "次に掲げる特定個人情報（高度な暗号化その他の個人の権利利益を保護するために必要な措置を講じたものを除く。以下同じ。）")
    assert national.rule("mynumber_final").quote is None  # its article was not checked: no quote rather than a guess


def test_the_new_notices_name_their_authority_and_source(sets):
    notices = {n.kind: n for n in sets["national"].notices}
    assert notices["juki_report"].authority == "都道府県・地方公共団体情報システム機構（J-LIS）"
    assert "住民基本台帳ネットワークシステム・中間サーバー" in notices["juki_report"].source
    assert notices["lgwan_report"].authority == "地方公共団体情報システム機構（J-LIS）LGWAN全国センター"
    assert notices["police_report"].reference_label == "受理番号"
    assert {n.kind for n in sets["assembly"].notices} == set(notices)


def test_encryption_may_exclude_only_the_rules_own_triggers(tmp_path):
    (tmp_path / "x.yaml").write_text(
        "name: x\nremind: {before: 24h, notify: [csirt]}\ndeadlines:\n"
        "  - {kind: a_report, category: regulatory, label: x, source: x, due: {after: 3d},\n"
        "     when: {any_of: [sensitive]}, encryption: {excludes: [sensitive, persons_over], reason: r}}\n",
        encoding="utf-8")
    with pytest.raises(RulesError) as info:
        load_rule_sets(tmp_path)
    assert "deadlines.0: Value error, encryption.excludes: not a trigger of this rule's when.any_of: persons_over" \
        in str(info.value)
