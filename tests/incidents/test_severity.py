"""Severity derived from facts by playbooks/severity.yaml (first matching rule wins; default low)."""
from __future__ import annotations

import pytest

from app.config import REPO_ROOT
from app.incidents.severity import Facts, SeverityRules, asset_ranks, derive_severity, load_severity_rules
from app.organizations.profiles import load_profiles

RULES_PATH = REPO_ROOT / "playbooks" / "severity.yaml"


@pytest.fixture(scope="module")
def rules() -> SeverityRules:
    return load_severity_rules(RULES_PATH)


@pytest.fixture(scope="module")
def profiles():
    return load_profiles(REPO_ROOT / "playbooks" / "organizations")


def facts(segments=(), impacts=(), flags=(), persons=0, ranks=None) -> Facts:
    return Facts(segments=frozenset(segments), impacts=frozenset(impacts), flags=frozenset(flags),
                 persons=persons, ranks=dict(ranks or {}))


# (rule index in severity.yaml, minimal facts, severity, reason)
RULE_CASES = [
    (0, facts(segments=["mynumber"], impacts=["outage"]), "critical", "マイナンバー利用事務系に被害がある事案"),
    (1, facts(flags=["my_number"]), "critical", "特定個人情報（マイナンバー）に関わる事案"),
    (2, facts(impacts=["leak"], ranks={"confidentiality": 3}), "critical", "機密性3の情報の漏えい（又はそのおそれ）"),
    (3, facts(flags=["sensitive"]), "high", "要配慮個人情報に関わる事案"),
    (4, facts(persons=101), "high", "100人を超える個人情報に関わる事案"),
    (5, facts(flags=["financial_damage"]), "high", "財産的被害のおそれがある個人情報の事案"),
    (6, facts(flags=["involved", "malicious"]), "high", "不正の目的による個人情報の事案"),
    (7, facts(impacts=["fraud"], ranks={"confidentiality": 2}), "high", "機密性2の情報の漏えい・詐取"),
    (8, facts(impacts=["erasure"], ranks={"integrity": 2}), "high", "完全性2の情報の破壊・改ざん・消去"),
    (9, facts(impacts=["outage"], ranks={"availability": 2}), "high", "可用性2の情報システムの停止"),
    (10, facts(flags=["involved"]), "medium", "個人情報に関わる事案"),
    (11, facts(segments=["lgwan"], impacts=["tampering"]), "medium", "LGWAN接続系に被害がある事案"),
    (12, facts(segments=["internet"], impacts=["outage"]), "medium", "情報資産に被害がある事案"),
]


def test_rules_file_shape(rules):
    assert rules.default == "low"
    assert len(rules.rules) == 13
    assert [r.severity for r in rules.rules] == ["critical"] * 3 + ["high"] * 7 + ["medium"] * 3


@pytest.mark.parametrize("index, given, severity, reason", RULE_CASES, ids=[str(c[0]) for c in RULE_CASES])
def test_each_rule_is_reached(rules, index, given, severity, reason):
    assert (rules.rules[index].severity, rules.rules[index].reason) == (severity, reason)
    got = derive_severity(rules, given)
    assert got == (severity, reason)


def test_every_rule_has_a_case(rules):
    assert sorted(c[0] for c in RULE_CASES) == list(range(len(rules.rules)))
    reached = {derive_severity(rules, c[1])[1] for c in RULE_CASES}
    assert reached == {r.reason for r in rules.rules}


@pytest.mark.parametrize("given", [
    facts(),
    facts(segments=["lgwan", "internet"]),
    facts(flags=["malicious"]),                       # 不正の目的 without personal data
    facts(persons=100),                               # "over 100" means 101 or more
    facts(ranks={"confidentiality": 3, "integrity": 2, "availability": 2}),  # classified but nothing happened
    facts(segments=["mynumber"]),                     # issue 17, item 7: a printer fault there, no impact
])
def test_default_is_low(rules, given):
    assert derive_severity(rules, given) == ("low", None)


def test_first_matching_rule_wins(rules):
    everything = facts(segments=["mynumber", "lgwan"], impacts=["leak", "outage"],
                       flags=["involved", "sensitive", "my_number", "financial_damage", "malicious"],
                       persons=5000, ranks={"confidentiality": 3, "integrity": 2, "availability": 2})
    assert derive_severity(rules, everything) == ("critical", "マイナンバー利用事務系に被害がある事案")


@pytest.mark.parametrize("impact", ["leak", "destruction", "tampering", "erasure", "fraud", "outage"])
def test_any_impact_in_the_mynumber_segment_is_critical(rules, impact):
    """Issue 17, item 7: the segment alone is not critical; anything hit there is."""
    assert derive_severity(rules, facts(segments=["mynumber"])) == ("low", None)
    assert derive_severity(rules, facts(segments=["mynumber"], impacts=[impact])) == (
        "critical", "マイナンバー利用事務系に被害がある事案")
    assert derive_severity(rules, facts(flags=["involved", "sensitive"], persons=500)) == (
        "high", "要配慮個人情報に関わる事案")


@pytest.mark.parametrize("given, expected", [
    (facts(impacts=["leak"], ranks={"confidentiality": 2}), ("high", "機密性2の情報の漏えい・詐取")),
    (facts(impacts=["fraud"], ranks={"confidentiality": 3}), ("high", "機密性2の情報の漏えい・詐取")),
    (facts(impacts=["leak"], ranks={"confidentiality": 1}), ("medium", "情報資産に被害がある事案")),
    (facts(impacts=["outage"], ranks={"integrity": 2}), ("medium", "情報資産に被害がある事案")),
    (facts(impacts=["tampering"], ranks={"availability": 2}), ("medium", "情報資産に被害がある事案")),
    (facts(impacts=["destruction"], ranks={"integrity": 1}), ("medium", "情報資産に被害がある事案")),
    (facts(segments=["lgwan"]), ("low", None)),
    (facts(flags=["involved"], persons=100), ("medium", "個人情報に関わる事案")),
])
def test_boundaries(rules, given, expected):
    assert derive_severity(rules, given) == expected


# --- asset classes --------------------------------------------------------------------------------

@pytest.mark.parametrize("level, rank", [("I", 3), ("II", 3), ("III", 2), ("IV", 1)])
def test_saga_overall_axis_counts_for_all_three(profiles, level, rank):
    assert asset_ranks(profiles["saga"], {"importance": level}) == {
        "confidentiality": rank, "integrity": rank, "availability": rank}


def test_asset_ranks_ageo_and_unknowns(profiles):
    ageo = profiles["ageo"]
    assert asset_ranks(ageo, {"confidentiality": "3B", "integrity": "1"}) == {"confidentiality": 3, "integrity": 1}
    assert asset_ranks(ageo, {"confidentiality": "2", "integrity": "2", "availability": "2"}) == {
        "confidentiality": 2, "integrity": 2, "availability": 2}
    assert asset_ranks(ageo, {}) == {}
    assert asset_ranks(ageo, {"confidentiality": "9"}) == {}
    assert asset_ranks(ageo, {"importance": "I"}) == {}
    assert asset_ranks(profiles["saga"], {"confidentiality": "3A"}) == {}
    # assemblies use the inherited classification of their city
    assert asset_ranks(profiles["toride-gikai"], {"confidentiality": "3C"}) == {"confidentiality": 3}


@pytest.mark.parametrize("level, impacts, expected", [
    ("I", ["leak"], ("critical", "機密性3の情報の漏えい（又はそのおそれ）")),
    ("II", ["leak"], ("critical", "機密性3の情報の漏えい（又はそのおそれ）")),
    ("III", ["leak"], ("high", "機密性2の情報の漏えい・詐取")),
    ("III", ["tampering"], ("high", "完全性2の情報の破壊・改ざん・消去")),
    ("III", ["outage"], ("high", "可用性2の情報システムの停止")),
    ("IV", ["leak"], ("medium", "情報資産に被害がある事案")),
    ("IV", [], ("low", None)),
])
def test_saga_classes_drive_severity(rules, profiles, level, impacts, expected):
    ranks = asset_ranks(profiles["saga"], {"importance": level})
    assert derive_severity(rules, facts(segments=["internet"], impacts=impacts, ranks=ranks)) == expected


# --- invalid rules files --------------------------------------------------------------------------

def write_rules(tmp_path, body, name="custom-severity.yaml"):
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return path


def test_unknown_rule_severity(tmp_path):
    path = write_rules(tmp_path, "default: low\nrules:\n  - severity: urgent\n    reason: x\n    when: {}\n")
    with pytest.raises(ValueError) as info:
        load_severity_rules(path)
    message = str(info.value)
    assert message.startswith("custom-severity.yaml: ")
    assert "rules.0.severity" in message


def test_unknown_default_severity(tmp_path):
    path = write_rules(tmp_path, "default: none\nrules: []\n")
    with pytest.raises(ValueError, match=r"^custom-severity\.yaml: default: "):
        load_severity_rules(path)


@pytest.mark.parametrize("body, field", [
    ("default: low\nrules:\n  - {severity: high, reason: x, when: {segments_any: [dmz]}}\n", "rules.0.when.segments_any.0"),
    ("default: low\nrules:\n  - {severity: high, reason: x, when: {impacts_any: [theft]}}\n", "rules.0.when.impacts_any.0"),
    ("default: low\nrules:\n  - {severity: high, reason: x, when: {personal_data: [famous]}}\n", "rules.0.when.personal_data.0"),
    ("default: low\nrules:\n  - {severity: high, reason: x, when: {rank_at_least: {overall: 2}}}\n", "rules.0.when.rank_at_least"),
    ("default: low\nrules:\n  - {severity: high, reason: x, when: {persons_over: -1}}\n", "rules.0.when.persons_over"),
    ("default: low\nrules:\n  - {severity: high, reason: x, when: {colour: red}}\n", "rules.0.when.colour"),
    ("default: low\nrules:\n  - {severity: high, reason: '', when: {}}\n", "rules.0.reason"),
])
def test_invalid_conditions_name_file_and_field(tmp_path, body, field):
    with pytest.raises(ValueError) as info:
        load_severity_rules(write_rules(tmp_path, body))
    assert str(info.value).startswith("custom-severity.yaml: ")
    assert field in str(info.value)


def test_unreadable_rules_files(tmp_path):
    with pytest.raises(ValueError, match=r"^custom-severity\.yaml: not valid YAML"):
        load_severity_rules(write_rules(tmp_path, "default: low\nrules: [\n"))
    with pytest.raises(ValueError, match=r"^empty-severity\.yaml: "):
        load_severity_rules(write_rules(tmp_path, "", name="empty-severity.yaml"))
    with pytest.raises(ValueError, match=r"^missing\.yaml: cannot read"):
        load_severity_rules(tmp_path / "missing.yaml")
