"""Organization profiles (playbooks/organizations) against the seed policies (/work/shared/seeds).

Pure unit tests: no app, no database (except the `flask init` subprocess at the end).
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from app.config import REPO_ROOT
from app.organizations.profiles import ProfileError, load_profile_file, load_profiles

PROFILES_DIR = REPO_ROOT / "playbooks" / "organizations"
# shared/ sits beside the repository (on a developer's machine and in CI alike).
SEEDS_DIR = next((p for p in (Path(__file__).resolve().parents[3] / "shared" / "seeds", Path("/work/shared/seeds"))
                  if p.is_dir()), Path("/work/shared/seeds"))

# seeds/INDEX.md: file -> body code
SEED_FILES = {
    "toride-gikai": "000_6411cb482fbdebd5.txt",
    "ageo": "001_5d71097398a0876f.txt",
    "kumamoto-gikai": "002_d0fc1ef65fd281ff.txt",
    "mog-gesui": "003_f350fd0e0f136ed6.txt",
    "saga": "004_2ada437c7fa3d3e9.txt",
}
SEED_BODIES = tuple(SEED_FILES)
FIVE = ["intentional", "unintentional", "disaster", "pandemic", "infrastructure"]

INTENTIONAL = ["unauthorized_access", "malware", "dos", "intrusion", "fraud", "insider"]
# the long list of 非意図的要因 (取手市議会, 下水道組合, 佐賀市), in the seeds' order
UNINTENTIONAL_LONG = ["unauthorized_removal", "unauthorized_software", "design_flaw", "program_defect", "misoperation",
                      "maintenance_failure", "audit_failure", "outsourcing_failure", "management_failure",
                      "equipment_failure"]
SUBCATEGORIES = {
    "ageo": {
        "intentional": INTENTIONAL,
        "unintentional": ["unauthorized_removal", "loss", "unauthorized_software", "design_flaw", "program_defect",
                          "maintenance_failure", "audit_failure", "outsourcing_failure", "management_failure",
                          "misoperation", "equipment_failure"],
        "disaster": ["earthquake", "lightning", "fire"],
        "pandemic": ["staff_shortage"],
        "infrastructure": ["power_outage", "water_outage", "network_outage"],
    },
    "toride-gikai": {
        "intentional": INTENTIONAL, "unintentional": UNINTENTIONAL_LONG, "disaster": ["earthquake", "lightning", "fire"],
        "pandemic": ["staff_shortage"], "infrastructure": ["power_outage", "network_outage", "water_outage"],
    },
    "kumamoto-gikai": {
        "intentional": INTENTIONAL,
        "unintentional": ["unauthorized_removal", "unauthorized_software", "misoperation", "equipment_failure"],
        "disaster": ["earthquake", "lightning", "fire"], "pandemic": ["staff_shortage"],
        "infrastructure": ["power_outage", "network_outage", "water_outage"],
    },
    "mog-gesui": {
        "intentional": INTENTIONAL, "unintentional": UNINTENTIONAL_LONG, "disaster": ["earthquake", "lightning", "fire"],
        "pandemic": ["staff_shortage"], "infrastructure": ["power_outage", "network_outage", "water_outage"],
    },
    "saga": {
        "intentional": INTENTIONAL, "unintentional": UNINTENTIONAL_LONG, "disaster": ["earthquake", "lightning", "fire"],
        "pandemic": ["staff_shortage"], "infrastructure": ["power_outage", "network_outage", "water_outage"],
        "other": [],
    },
}
# 上尾市 第4条(5) says 「電力若しくは水道の供給又は通信の途絶」: these two labels are paraphrases.
PARAPHRASED_LABELS = {("ageo", "power_outage"), ("ageo", "water_outage")}


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.fixture(scope="module")
def profiles():
    return load_profiles(PROFILES_DIR)


@pytest.fixture
def copy_dir(tmp_path):
    target = tmp_path / "organizations"
    shutil.copytree(PROFILES_DIR, target)
    return target


def edit(path: Path, change) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def load_error(directory: Path) -> str:
    with pytest.raises(ProfileError) as info:
        load_profiles(directory)
    return str(info.value)


# --- the real profiles ---------------------------------------------------------------------------

def test_all_bodies_and_parents_load(profiles):
    assert sorted(profiles) == ["ageo", "kumamoto", "kumamoto-gikai", "mog-gesui", "saga", "toride", "toride-gikai"]
    assert {code: p.parent for code, p in profiles.items()} == {
        "ageo": None, "kumamoto": None, "kumamoto-gikai": "kumamoto", "mog-gesui": None, "saga": None,
        "toride": None, "toride-gikai": "toride",
    }
    assert profiles["toride"].inherits_only is True and profiles["kumamoto"].inherits_only is True
    assert profiles["toride"].source is None and profiles["kumamoto"].source is None


@pytest.mark.parametrize("code", SEED_BODIES)
def test_seed_body_names_its_seed_file(profiles, code):
    profile = profiles[code]
    assert profile.source is not None
    assert profile.source.file == SEED_FILES[code]
    assert (SEEDS_DIR / SEED_FILES[code]).is_file()
    assert load_profile_file(PROFILES_DIR / f"{code}.yaml").code == code


@pytest.mark.parametrize("code, expected", [
    ("ageo", FIVE), ("toride-gikai", FIVE), ("kumamoto-gikai", FIVE), ("mog-gesui", FIVE),
    ("saga", FIVE + ["other"]),
])
def test_threat_categories_in_order(profiles, code, expected):
    assert [c.code for c in profiles[code].threat_categories] == expected


def test_names_and_prefixes(profiles):
    assert {c: (p.name, p.kind, p.reference_prefix) for c, p in profiles.items()} == {
        "ageo": ("上尾市", "city", "AGEO"),
        "kumamoto": ("熊本市", "city", "KUMAMOTO"),
        "kumamoto-gikai": ("熊本市議会", "assembly", "KUMAMOTO-GIKAI"),
        "mog-gesui": ("毛呂山・越生・鳩山公共下水道組合", "association", "MOG-GESUI"),
        "saga": ("佐賀市", "city", "SAGA"),
        "toride": ("取手市", "city", "TORIDE"),
        "toride-gikai": ("取手市議会", "assembly", "TORIDE-GIKAI"),
    }


@pytest.mark.parametrize("code", SEED_BODIES)
def test_category_quotes_are_in_the_seed(profiles, code):
    seed = squash((SEEDS_DIR / SEED_FILES[code]).read_text(encoding="utf-8"))
    for category in profiles[code].threat_categories:
        assert category.quote, f"{code}/{category.code}: no quote"
        assert category.clause, f"{code}/{category.code}: no clause"
        assert squash(category.quote) in seed, f"{code}/{category.code}: quote not in {SEED_FILES[code]}"


@pytest.mark.parametrize("code", SEED_BODIES)
def test_other_quotes_are_in_the_seed(profiles, code):
    """Segments, 緊急時対応計画, classification and review quote the seed too (scope lists are reformatted)."""
    profile = profiles[code]
    seed = squash((SEEDS_DIR / SEED_FILES[code]).read_text(encoding="utf-8"))
    quotes = [profile.review.quote]
    if "emergency_plan" not in profile.inherit:
        quotes.append(profile.emergency_plan.quote)
    if "asset_classification" not in profile.inherit:
        quotes.append(profile.asset_classification.quote)
    if "network_segments" not in profile.inherit:
        quotes += [s.quote for s in profile.network_segments]
    for quote in quotes:
        assert quote and squash(quote) in seed, quote


@pytest.mark.parametrize("code", SEED_BODIES)
def test_subcategories_as_in_seed(profiles, code):
    got = {c.code: [s.code for s in c.subcategories] for c in profiles[code].threat_categories}
    assert got == SUBCATEGORIES[code]


@pytest.mark.parametrize("code", SEED_BODIES)
def test_subcategory_labels_come_from_the_category_text(profiles, code):
    for category in profiles[code].threat_categories:
        for sub in category.subcategories:
            if (code, sub.code) in PARAPHRASED_LABELS:
                continue
            assert squash(sub.label) in squash(category.quote), f"{code}/{category.code}/{sub.code}: {sub.label}"


def test_specific_subcategories(profiles):
    ageo = profiles["ageo"].category("unintentional")
    assert {s.code: s.label for s in ageo.subcategories}["loss"] == "紛失又は置き忘れ"
    assert "紛失" in ageo.quote
    kumamoto = profiles["kumamoto-gikai"].category("unintentional")
    assert len(kumamoto.subcategories) == 4
    assert "loss" not in [s.code for s in profiles["saga"].category("unintentional").subcategories]
    other = profiles["saga"].category("other")
    assert other.label == "その他" and other.clause == "3(6)" and other.subcategories == ()
    assert profiles["ageo"].category("other") is None


@pytest.mark.parametrize("code, expected", [
    ("ageo", ("mynumber", "lgwan", "internet")),
    ("saga", ("mynumber", "lgwan", "internet")),
    ("mog-gesui", ("internet",)),
    ("toride-gikai", ("mynumber", "lgwan", "internet")),
    ("kumamoto-gikai", ("mynumber", "lgwan", "internet")),
])
def test_network_segments(profiles, code, expected):
    assert profiles[code].segment_codes() == expected


@pytest.mark.parametrize("code, parent", [("toride-gikai", "toride"), ("kumamoto-gikai", "kumamoto")])
def test_assemblies_inherit_from_their_city(profiles, code, parent):
    child, city = profiles[code], profiles[parent]
    assert child.parent == parent
    assert set(child.inherit) == {"network_segments", "asset_classification", "emergency_plan"}
    assert child.network_segments == city.network_segments
    assert child.asset_classification == city.asset_classification
    assert child.emergency_plan == city.emergency_plan
    assert child.emergency_plan.owner == parent
    # their own sections stay their own
    assert child.threat_categories != city.threat_categories
    assert [a.code for a in child.asset_classification.axes] == ["confidentiality", "integrity", "availability"]


@pytest.mark.parametrize("code", ["ageo", "mog-gesui", "saga"])
def test_independent_bodies_own_their_plan(profiles, code):
    assert profiles[code].emergency_plan.owner == code
    assert profiles[code].inherit == ()


def test_saga_has_one_overall_axis_of_four_levels(profiles):
    axes = profiles["saga"].asset_classification.axes
    assert len(axes) == 1
    axis = axes[0]
    assert (axis.code, axis.kind) == ("importance", "overall")
    assert [(lv.code, lv.rank) for lv in axis.levels] == [("I", 3), ("II", 3), ("III", 2), ("IV", 1)]


def test_ageo_classification_axes(profiles):
    axes = profiles["ageo"].asset_classification.axes
    assert [(a.code, a.kind, [lv.code for lv in a.levels]) for a in axes] == [
        ("confidentiality", "confidentiality", ["3A", "3B", "3C", "2", "1"]),
        ("integrity", "integrity", ["2", "1"]),
        ("availability", "availability", ["2", "1"]),
    ]


def test_review_duties(profiles):
    assert {c: (profiles[c].review.audit, profiles[c].review.self_inspection) for c in SEED_BODIES} == {
        "toride-gikai": (False, True), "ageo": (True, True), "kumamoto-gikai": (True, True),
        "mog-gesui": (True, True), "saga": (True, True),
    }
    assert profiles["saga"].review.frequency == "毎年度及び必要に応じて"


def test_policy_clause_codes(profiles):
    assert profiles["kumamoto-gikai"].clause_codes() == ("6-1", "6-2", "6-3", "6-4", "6-5", "6-6", "6-7", "7", "8")
    assert dict((c.code, c.label) for c in profiles["kumamoto-gikai"].policy_clauses)["6-4"] == "人的セキュリティ"
    assert profiles["ageo"].clause_codes()[-2:] == ("11", "12")
    assert profiles["toride"].clause_codes() == ()


# --- loader errors: file, field and problem ------------------------------------------------------

def test_bad_category_code(copy_dir):
    edit(copy_dir / "ageo.yaml", lambda d: d["threat_categories"][0].update(code="cyber"))
    message = load_error(copy_dir)
    assert message.startswith("ageo.yaml: ")
    assert "threat_categories.0.code" in message
    assert "Input should be 'intentional'" in message


def test_bad_subcategory_code(copy_dir):
    edit(copy_dir / "saga.yaml", lambda d: d["threat_categories"][1]["subcategories"][0].update(code="Bad Code"))
    message = load_error(copy_dir)
    assert "saga.yaml" in message
    assert "threat_categories.1.subcategories.0.code" in message
    assert "should match pattern" in message


def test_duplicate_category(copy_dir):
    edit(copy_dir / "mog-gesui.yaml", lambda d: d["threat_categories"].append(dict(d["threat_categories"][0])))
    message = load_error(copy_dir)
    assert "mog-gesui.yaml" in message and "threat_categories: duplicate code" in message


def test_unknown_field(copy_dir):
    edit(copy_dir / "ageo.yaml", lambda d: d.update(colour="blue"))
    message = load_error(copy_dir)
    assert "ageo.yaml" in message and "colour" in message and "Extra inputs are not permitted" in message


def test_unknown_parent(copy_dir):
    edit(copy_dir / "toride-gikai.yaml", lambda d: d.update(parent="tokyo"))
    assert load_error(copy_dir) == "toride-gikai.yaml: parent: unknown organization 'tokyo'"


def test_missing_parent_file(copy_dir):
    (copy_dir / "kumamoto.yaml").unlink()
    assert load_error(copy_dir) == "kumamoto-gikai.yaml: parent: unknown organization 'kumamoto'"


def test_parent_with_a_parent(copy_dir):
    edit(copy_dir / "toride.yaml", lambda d: d.update(parent="ageo"))
    message = load_error(copy_dir)
    assert message == "toride-gikai.yaml: parent: 'toride' has a parent itself; one level only"


def test_inherited_section_also_present(copy_dir):
    edit(copy_dir / "toride-gikai.yaml",
         lambda d: d.update(network_segments=[{"code": "internet", "label": "インターネット接続系"}]))
    message = load_error(copy_dir)
    assert "toride-gikai.yaml" in message
    assert "network_segments: inherited from the parent, so it must not be given here" in message


def test_section_neither_given_nor_inherited(copy_dir):
    edit(copy_dir / "kumamoto-gikai.yaml", lambda d: d.update(inherit=["emergency_plan", "network_segments"]))
    message = load_error(copy_dir)
    assert "kumamoto-gikai.yaml" in message and "asset_classification: missing" in message


def test_inherit_without_parent(copy_dir):
    edit(copy_dir / "toride-gikai.yaml", lambda d: d.update(parent=None))
    message = load_error(copy_dir)
    assert "toride-gikai.yaml" in message and "inherit: needs a parent" in message


def test_unknown_plan_owner(copy_dir):
    edit(copy_dir / "saga.yaml", lambda d: d["emergency_plan"].update(owner="fukuoka"))
    assert load_error(copy_dir) == "saga.yaml: emergency_plan.owner: unknown organization 'fukuoka'"


def test_code_not_matching_file_name(copy_dir):
    (copy_dir / "ageo.yaml").rename(copy_dir / "ageo-city.yaml")
    assert load_error(copy_dir) == "ageo-city.yaml: code: 'ageo' does not match the file name"


def test_invalid_yaml(copy_dir):
    (copy_dir / "saga.yaml").write_text("code: saga\nthreat_categories: [unclosed\n", encoding="utf-8")
    message = load_error(copy_dir)
    assert message.startswith("saga.yaml: not valid YAML:")


def test_top_level_not_a_mapping(copy_dir):
    (copy_dir / "mog-gesui.yaml").write_text("- just\n- a list\n", encoding="utf-8")
    assert load_error(copy_dir) == "mog-gesui.yaml: (top level): expected a mapping"


def test_empty_directory(tmp_path):
    message = load_error(tmp_path)
    assert str(tmp_path) in message and "no organization profiles" in message


# --- the same through `flask init` --------------------------------------------------------------

def run_init(tmp_path: Path, playbooks: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PLAYBOOKS_PATH=str(playbooks), INSTANCE_PATH=str(tmp_path / "instance"),
               DATABASE_URL=f"sqlite:///{tmp_path / 'init.db'}", SCHEDULER_ENABLED="0")
    env.pop("FLASK_ENV", None)
    env.pop("APP_ENV", None)
    flask = Path(sys.executable).with_name("flask")
    return subprocess.run([str(flask), "--app", "wsgi", "init"], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_init_refuses_a_broken_profile(tmp_path):
    playbooks = tmp_path / "playbooks"
    shutil.copytree(REPO_ROOT / "playbooks", playbooks)
    edit(playbooks / "organizations" / "ageo.yaml", lambda d: d["threat_categories"][0].update(code="cyber"))
    result = run_init(tmp_path, playbooks)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "ageo.yaml" in output
    assert "threat_categories.0.code" in output
    assert "database migrated" not in output


def test_init_with_a_good_copy_succeeds(tmp_path):
    playbooks = tmp_path / "playbooks"
    shutil.copytree(REPO_ROOT / "playbooks", playbooks)
    result = run_init(tmp_path, playbooks)
    assert result.returncode == 0, result.stderr
    assert "database migrated; 7 organizations loaded" in result.stdout


def test_a_body_requires_a_second_factor_for_roles_written_in_its_file(copy_dir):
    """`security: {mfa_required_roles: [...]}` as a body writes it in YAML: read as role codes; an
    unknown role stops the load with the file and the field."""
    edit(copy_dir / "ageo.yaml", lambda data: data.update(security={"mfa_required_roles": ["csirt", "admin"]}))
    assert load_profiles(copy_dir)["ageo"].security.mfa_required_roles == ("csirt", "admin")
    assert load_profiles(PROFILES_DIR)["ageo"].security.mfa_required_roles == ()  # none of the seeds asks yet
    edit(copy_dir / "ageo.yaml", lambda data: data.update(security={"mfa_required_roles": ["kacho"]}))
    message = load_error(copy_dir)
    assert message.startswith("ageo.yaml: security.mfa_required_roles.0:"), message


# --- issue 17, item 9: the profiles against their seeds ---------------------------------------------

def test_ageo_staff_exclude_assembly_members_and_fire_corps(profiles):
    """上尾市 第7条: 特別職の職員（議員及び消防団員を除く。）."""
    staff = profiles["ageo"].staff
    assert staff.clause == "第7条" and staff.excludes == ("議員", "消防団員")
    assert "特別職の職員" in staff.includes and "会計年度任用職員" in staff.includes


def test_saga_staff_include_those_resident_under_a_contract(profiles):
    staff = profiles["saga"].staff
    assert staff.clause == "2(5)" and "委託契約により常駐する者等" in staff.includes and staff.excludes == ()


def test_saga_reviews_its_policy_every_year_and_on_a_serious_change(profiles):
    review = profiles["saga"].review.policy_review
    assert (review.frequency, review.clause) == ("毎年度及び重大な変化が発生した場合", "8")


def test_kumamoto_gikai_rests_on_the_local_autonomy_act_and_infers_the_citys_plan(profiles):
    profile = profiles["kumamoto-gikai"]
    assert profile.source.basis.law == "地方自治法（昭和22年法律第67号）第244条の6"
    assert profile.inferred == ("emergency_plan",) and "推定" in profile.inference_note
    # 取手市議会's seed says it uses the city's plan: no inference there
    assert profiles["toride-gikai"].inferred == ()


@pytest.mark.parametrize("code", SEED_BODIES)
def test_the_new_quotes_are_in_the_seed(profiles, code):
    profile = profiles[code]
    seed = squash((SEEDS_DIR / SEED_FILES[code]).read_text(encoding="utf-8"))
    quotes = [q for q in (profile.staff.quote if profile.staff else None,
                          profile.source.basis.quote if profile.source and profile.source.basis else None,
                          profile.review.policy_review.quote if profile.review.policy_review else None) if q]
    for quote in quotes:
        assert squash(quote) in seed, quote


def test_cities_with_an_assembly_in_scope_offer_its_rules(profiles):
    organs = {code: [(o.code, o.label, o.rules) for o in p.reporting.organs] for code, p in profiles.items()}
    assert organs["ageo"] == [("gikai", "議会", "assembly")]
    assert organs["saga"] == [("gikai", "議会事務局", "assembly")]
    assert organs["mog-gesui"] == [("gikai", "議会事務局", "assembly")]
    assert organs["kumamoto-gikai"] == organs["toride-gikai"] == []
    assert profiles["ageo"].reporting.rules_for("gikai") == "assembly"
    assert profiles["ageo"].reporting.rules_for(None) == profiles["ageo"].reporting.rules_for("x") == "national"


def test_an_organ_must_be_in_scope(copy_dir):
    edit(copy_dir / "ageo.yaml", lambda d: d["reporting"]["organs"][0].update(label="区議会"))
    assert "ageo.yaml: " in (message := load_error(copy_dir)) and "'区議会' is not one of scope.bodies" in message


def test_an_inference_must_be_of_an_inherited_section_and_say_why(copy_dir):
    edit(copy_dir / "kumamoto-gikai.yaml", lambda d: d.update(inference_note=None))
    assert "inference_note: say what the inference rests on" in load_error(copy_dir)
