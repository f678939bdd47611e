"""Hypothesis properties (issue 8, item 5): the YAML loaders, the severity rules and the deadline rules.

Loaders: whatever a file holds, each loader raises nothing but its own error, naming the file —
PlaybookError (stages, checklists), ProfileError, RosterError, RulesError, and ValueError for the
severity and escalation files (their documented type). Inputs are the real files of playbooks/ with
random parts replaced, removed or added, and YAML-ish text. Where a loader lets another error out,
a test below pins the input (test_yaml_that_does_not_construct: all of them go through
app/core/yamlfile.py, which turns PyYAML's construction errors into the loader's own).

Severity (app/incidents/severity.py, playbooks/severity.yaml): more facts — segments, impacts,
personal-data flags, persons, asset ranks — never lower the derived severity.

Deadlines (app/deadlines/rules.py `due_deadlines`, playbooks/reporting/): never before detection;
more persons, flags, segments or systems never withdraw a duty; 不正の目的 never brings a due time forward;
moving detection moves every due time by as much; the body's 速報 days apply to every *_preliminary.
Issue 17: the encryption fact only ever removes duties, and every duty it removes has a reason; a
recognition time moves exactly the statutory reports, by as much as it is after detection.

FUZZ_EXAMPLES raises the examples per property (default 60; `make fuzz`: 500); a fixed seed unless
FUZZ_SEED=random.
"""
from __future__ import annotations

import copy
import csv
import datetime as dt
import io
import os
from dataclasses import replace
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from app.config import REPO_ROOT
from app.core.durations import parse_duration
from app.deadlines.rules import (
    FLAG_TRIGGERS,
    HELD_IN,
    BodyOptions,
    ReportingFacts,
    RulesError,
    due_deadlines,
    excluded_by_encryption,
    load_rule_sets,
)
from app.escalation.policy import load_escalation
from app.incidents.models import Impact
from app.incidents.playbook import PlaybookError, load_checklists, load_stages
from app.incidents.severity import Conditions, Facts, Rule, SeverityRules, derive_severity, load_severity_rules
from app.organizations.profiles import SEGMENT_CODES, ProfileError, load_profile_file
from app.roster.file import RosterError, read_roster

PLAYBOOKS = REPO_ROOT / "playbooks"
EXAMPLES = max(60, int(os.environ.get("FUZZ_EXAMPLES", "0")))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None, phases=set(Phase) - {Phase.explain},
                derandomize=os.environ.get("FUZZ_SEED", "fixed") != "random",
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
JST = dt.timezone(dt.timedelta(hours=9))
RANK = {"low": 0, "medium": 1, "high": 2, "critical": 3}


# --- the loaders -------------------------------------------------------------------------------

class Loader(NamedTuple):  # the real file whose text is fuzzed, the fuzzed file's name, path -> result, its error
    base: Path
    name: str
    load: Any
    error: type[Exception]


LOADERS = {
    "stages": Loader(PLAYBOOKS / "stages.yaml", "stages.yaml", load_stages, PlaybookError),
    "checklists": Loader(PLAYBOOKS / "checklists/default.yaml", "default.yaml", lambda p: load_checklists(p.parent), PlaybookError),
    "profile": Loader(PLAYBOOKS / "organizations/ageo.yaml", "ageo.yaml", load_profile_file, ProfileError),
    "roster": Loader(PLAYBOOKS / "demo/roster-ageo.yaml", "roster-ageo.yaml", read_roster, RosterError),
    "severity": Loader(PLAYBOOKS / "severity.yaml", "severity.yaml", load_severity_rules, ValueError),
    "reporting": Loader(PLAYBOOKS / "reporting/national.yaml", "national.yaml", lambda p: load_rule_sets(p.parent), RulesError),
    "escalation": Loader(PLAYBOOKS / "escalation.yaml", "escalation.yaml", load_escalation, ValueError),
}
def _slots(node, path=()):
    """Every place in a document: (path to the container, key or index)."""
    if isinstance(node, dict):
        for key, child in node.items():
            yield path, key
            yield from _slots(child, path + (key,))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield path, index
            yield from _slots(child, path + (index,))


BASES = {key: yaml.safe_load(loader.base.read_text(encoding="utf-8")) for key, loader in LOADERS.items()}


FIELD_NAMES = sorted({str(key) for doc in BASES.values() for path, key in _slots(doc) if isinstance(key, str)})
TRICKY = ["", " ", "~", "null", "yes", "0x1F", "1e999", "-.inf", ".nan", "0o17", "2026-11-01T09:00:00+09:00",
          "2026-11-01", "15m", "0s", "999999d", "-1d", "1w", "csirt", "oncall:csirt", "oncall:", "ciso",
          "mynumber", "leak", "<script>alert(1)</script>", "a@b", "ａｇｅｏ", "\u202e", "x" * 300, "../etc/passwd"]
scalars = (st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=True)
           | st.text(max_size=30) | st.sampled_from(TRICKY)
           # Offsets in whole minutes: PyYAML writes a zone's historical LMT offset (+09:18:59) as a
           # timestamp it cannot read back, which is the bug of test_yaml_that_does_not_construct.
           | st.datetimes(min_value=dt.datetime(1900, 1, 1), timezones=st.sampled_from([None, dt.UTC, JST])))
keys = st.sampled_from(FIELD_NAMES) | st.text(max_size=10) | st.integers(-3, 3)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
                      max_leaves=12)


@st.composite
def mutated(draw, base):
    """The real document with one to four parts replaced, removed or added (or replaced whole)."""
    doc = copy.deepcopy(base)
    if draw(st.integers(0, 19)) == 0:
        return draw(values)
    for _ in range(draw(st.integers(1, 4))):
        slots = list(_slots(doc))
        if not slots:
            break
        path, key = draw(st.sampled_from(slots))
        container = doc
        for step in path:
            container = container[step]
        action = draw(st.sampled_from(["replace", "replace", "remove", "add"]))
        if action == "replace":
            container[key] = draw(values)
        elif action == "remove":
            del container[key]
        elif isinstance(container, dict):
            container[draw(keys)] = draw(values)
        else:
            container.insert(key, draw(values))
    return doc


yamlish = st.lists(
    st.tuples(st.integers(0, 3), st.sampled_from(FIELD_NAMES) | st.text(max_size=8),
              st.sampled_from(TRICKY + ["[", "{", "]", "- ", "&a x", "*a", "!!str 1", "!!binary x", "|", ">", "'", '"',
                                        "\t", ": :", "%YAML 1.1", "---", "..."]) | st.text(max_size=20)),
    max_size=12,
).map(lambda lines: "\n".join(f"{'  ' * depth}{key}: {value}" for depth, key, value in lines))


def _assert_only_own_error(loader: Loader, path: Path) -> None:
    try:
        loader.load(path)
    except loader.error as exc:
        assert path.name in str(exc) or str(path.parent) in str(exc), f"{type(exc).__name__} without the file: {exc}"


def _write(directory: Path, loader: Loader, data: bytes) -> Path:
    """The fuzzed file, alone in its directory (the checklists and reporting loaders read the directory)."""
    path = directory / loader.name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("key", sorted(LOADERS))
def test_loader_raises_only_its_own_error_for_changed_documents(key, tmp_path):
    loader = LOADERS[key]

    @FUZZ
    @given(doc=mutated(BASES[key]))
    def check(doc):
        text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=1000)
        _assert_only_own_error(loader, _write(tmp_path, loader, text.encode("utf-8")))

    check()


@pytest.mark.parametrize("key", sorted(LOADERS))
def test_loader_raises_only_its_own_error_for_yamlish_text(key, tmp_path):
    loader = LOADERS[key]

    @FUZZ
    @given(text=yamlish)
    def check(text):
        _assert_only_own_error(loader, _write(tmp_path, loader, text.encode("utf-8", "surrogatepass")))

    check()


CSV_COLUMNS = ["email", "name", "password", "roles", "phone", "webhook", "deputy_of", "available", "organization"]
csv_cells = st.sampled_from(TRICKY + ["csirt", "csirt;ciso", "a@example.jp", "true", "0", '"', ",", "\r\n"]) | st.text(max_size=15)


@FUZZ
@given(header=st.lists(st.sampled_from(CSV_COLUMNS) | st.text(max_size=6), max_size=10),
       rows=st.lists(st.lists(csv_cells, max_size=11), max_size=6), organization=st.none() | st.sampled_from(["ageo", ""]))
def test_csv_roster_raises_only_roster_error(tmp_path_factory, header, rows, organization):
    """`roster import FILE.csv` (people only): any columns, any cells."""
    path = tmp_path_factory.getbasetemp() / "roster.csv"
    buffer = io.StringIO()
    csv.writer(buffer).writerows([header, *rows])
    path.write_text(buffer.getvalue(), encoding="utf-8")
    try:
        read_roster(path, organization)
    except RosterError as exc:
        assert path.name in str(exc)


# Found while fuzzing the loaders (first as a datetime PyYAML wrote with a +09:18:59 offset and could not
# read back): YAML that parses but does not construct. PyYAML raises ValueError / AttributeError for
# these, which no loader turns into its own error — so `flask roster import` (which catches RosterError
# only) and start-up (`init`, create_app) end in a bare traceback that names no file, e.g. for a roster
# whose rotation `starts: 2026-04-31T08:30:00+09:00` ("ValueError: day is out of range for month").
NOT_CONSTRUCTED = {
    "impossible date": "checked: 2026-04-31\n",
    "impossible time": "checked: 2026-04-01T25:00:00+09:00\n",
    "!!int tag": "checked: !!int twelve\n",
    "!!timestamp tag": "checked: !!timestamp yesterday\n",
}


@pytest.mark.parametrize("key", sorted(LOADERS))
@pytest.mark.parametrize("case", sorted(NOT_CONSTRUCTED))
def test_yaml_that_does_not_construct(key, case, tmp_path):
    loader = LOADERS[key]
    text = NOT_CONSTRUCTED[case] + loader.base.read_text(encoding="utf-8")
    path = _write(tmp_path, loader, text.encode("utf-8"))
    with pytest.raises(loader.error) as raised:
        loader.load(path)
    assert path.name in str(raised.value)


@pytest.mark.parametrize("key", sorted(LOADERS))
def test_file_not_in_utf8(key, tmp_path):
    """A file saved as Shift_JIS (Excel, Notepad on an older Windows) instead of UTF-8."""
    loader = LOADERS[key]
    text = loader.base.read_text(encoding="utf-8") + "\n# 日本語のコメント\n"
    path = _write(tmp_path, loader, text.encode("shift_jis", "replace"))
    with pytest.raises(loader.error) as raised:
        loader.load(path)
    assert path.name in str(raised.value)


# --- severity ----------------------------------------------------------------------------------

FLAGS = ("involved", "sensitive", "my_number", "financial_damage", "malicious")
AXES = ("confidentiality", "integrity", "availability")
IMPACTS = tuple(i.value for i in Impact)
persons = st.integers(0, 10_000_000)
severity_facts = st.builds(
    Facts, segments=st.frozensets(st.sampled_from(SEGMENT_CODES)), impacts=st.frozensets(st.sampled_from(IMPACTS)),
    flags=st.frozensets(st.sampled_from(FLAGS)), persons=persons,
    ranks=st.dictionaries(st.sampled_from(AXES), st.integers(1, 3), max_size=3))


@st.composite
def more_facts(draw, facts: Facts) -> Facts:
    """The same incident with more known: segments, impacts and flags added, more persons, higher ranks."""
    ranks = dict(facts.ranks)
    for axis, rank in draw(st.dictionaries(st.sampled_from(AXES), st.integers(1, 3), max_size=3)).items():
        ranks[axis] = max(ranks.get(axis, 0), rank)
    return Facts(segments=facts.segments | draw(st.frozensets(st.sampled_from(SEGMENT_CODES))),
                 impacts=facts.impacts | draw(st.frozensets(st.sampled_from(IMPACTS))),
                 flags=facts.flags | draw(st.frozensets(st.sampled_from(FLAGS))),
                 persons=facts.persons + draw(st.integers(0, 10_000)), ranks=ranks)


conditions = st.builds(
    Conditions, segments_any=st.lists(st.sampled_from(SEGMENT_CODES), max_size=2, unique=True).map(tuple),
    impacts_any=st.lists(st.sampled_from(IMPACTS), max_size=2, unique=True).map(tuple),
    personal_data=st.lists(st.sampled_from(FLAGS), max_size=2, unique=True).map(tuple),
    persons_over=st.none() | st.integers(0, 1000),
    rank_at_least=st.dictionaries(st.sampled_from(AXES), st.integers(1, 3), max_size=2))
rule_sets = st.builds(
    lambda rules, default: SeverityRules(default=default, rules=tuple(sorted(rules, key=lambda r: -RANK[r.severity.value]))),
    st.lists(st.builds(Rule, severity=st.sampled_from(list(RANK)), reason=st.just("規則"), when=conditions), max_size=8),
    st.just("low"))
REAL_RULES = load_severity_rules(PLAYBOOKS / "severity.yaml")


@FUZZ
@given(data=st.data(), facts=severity_facts)
def test_more_facts_never_lower_the_severity(data, facts):
    """playbooks/severity.yaml: learning more about an incident never makes it less severe."""
    more = data.draw(more_facts(facts))
    assert RANK[derive_severity(REAL_RULES, more)[0].value] >= RANK[derive_severity(REAL_RULES, facts)[0].value]


@FUZZ
@given(data=st.data(), rules=rule_sets, facts=severity_facts)
def test_any_rules_ordered_by_severity_are_monotone(data, rules, facts):
    """Each condition only grows with the facts, so any file ordered from critical down is monotone."""
    more = data.draw(more_facts(facts))
    assert RANK[derive_severity(rules, more)[0].value] >= RANK[derive_severity(rules, facts)[0].value]


@FUZZ
@given(facts=severity_facts)
def test_the_rule_that_applied_is_named(facts):
    """The page and the API show which rule applied: the first rule that holds, else the default."""
    severity, reason = derive_severity(REAL_RULES, facts)
    if reason is None:
        assert severity == REAL_RULES.default
    else:
        assert any(r.severity == severity and r.reason == reason for r in REAL_RULES.rules)


# --- deadlines ---------------------------------------------------------------------------------

RULE_SETS = load_rule_sets(PLAYBOOKS / "reporting")
moments = st.datetimes(min_value=dt.datetime(1971, 1, 1), max_value=dt.datetime(2998, 12, 1),
                       timezones=st.sampled_from([dt.UTC, JST]))
reporting_facts = st.builds(
    ReportingFacts, detected_at=moments, involved=st.booleans(), persons=persons, sensitive=st.booleans(),
    my_number=st.booleans(), financial_damage=st.booleans(), malicious=st.booleans(),
    ordinance_sensitive=st.booleans(), segments=st.frozensets(st.sampled_from(SEGMENT_CODES)),
    held_in=st.frozensets(st.sampled_from(HELD_IN)), public_exposure=st.booleans(), encrypted=st.booleans())
options = st.builds(BodyOptions, preliminary_days=st.none() | st.integers(1, 30), ordinance_sensitive=st.booleans())
rule_set_codes = st.sampled_from(sorted(RULE_SETS))


@st.composite
def more_reporting_facts(draw, facts: ReportingFacts) -> ReportingFacts:
    flags = {name: getattr(facts, name) or draw(st.booleans())
             for name in ("involved", "sensitive", "my_number", "financial_damage", "malicious", "ordinance_sensitive",
                          "public_exposure")}
    return replace(facts, persons=facts.persons + draw(st.integers(0, 1000)), **flags,
                   segments=facts.segments | draw(st.frozensets(st.sampled_from(SEGMENT_CODES))),
                   held_in=facts.held_in | draw(st.frozensets(st.sampled_from(HELD_IN))))


@FUZZ
@given(code=rule_set_codes, facts=reporting_facts, body=options)
def test_deadlines_are_never_before_detection(code, facts, body):
    due = due_deadlines(RULE_SETS[code], facts, body)
    assert {"internal_manager_report", "internal_chief_report", "csirt_assessment", "ciso_report"} <= set(due)
    for kind, at in due.items():
        assert at >= facts.detected_at, kind
        rule = RULE_SETS[code].rule(kind)
        if kind.endswith("_preliminary") and body.preliminary_days:
            assert at - facts.detected_at == dt.timedelta(days=body.preliminary_days), kind
        elif facts.malicious and rule.due.after_when_malicious:
            assert at - facts.detected_at == parse_duration(rule.due.after_when_malicious), kind
        else:
            assert at - facts.detected_at == parse_duration(rule.due.after), kind


@FUZZ
@given(data=st.data(), code=rule_set_codes, facts=reporting_facts, body=options)
def test_more_facts_never_withdraw_a_duty(data, code, facts, body):
    more = data.draw(more_reporting_facts(facts))
    before, after = due_deadlines(RULE_SETS[code], facts, body), due_deadlines(RULE_SETS[code], more, body)
    assert set(before) <= set(after), set(before) - set(after)


@FUZZ
@given(code=rule_set_codes, facts=reporting_facts, body=options, extra=st.integers(1, 100_000))
def test_more_persons_never_remove_a_ppc_deadline(code, facts, body, extra):
    before = due_deadlines(RULE_SETS[code], facts, body)
    after = due_deadlines(RULE_SETS[code], replace(facts, persons=facts.persons + extra), body)
    regulatory = {k for k in before if RULE_SETS[code].rule(k).category == "regulatory"}
    assert regulatory <= set(after) and all(after[k] == before[k] for k in regulatory)
    if facts.persons + extra > 100 and not facts.encrypted:  # README: more than 100 persons' data is reported
        report = {"national": "ppc", "assembly": "council"}.get(code)
        assert report is None or {f"{report}_preliminary", f"{report}_final"} <= set(after)


@FUZZ
@given(code=rule_set_codes, facts=reporting_facts, body=options)
def test_malice_never_brings_a_deadline_forward(code, facts, body):
    plain = due_deadlines(RULE_SETS[code], replace(facts, malicious=False), body)
    malicious = due_deadlines(RULE_SETS[code], replace(facts, malicious=True), body)
    assert set(plain) <= set(malicious)
    assert all(malicious[kind] >= plain[kind] for kind in plain)
    final = {"national": "ppc_final", "assembly": "council_final"}.get(code)
    if final in malicious:
        assert malicious[final] - facts.detected_at == dt.timedelta(days=60)  # 確報 60 days with 不正の目的


@FUZZ
@given(code=rule_set_codes, facts=reporting_facts, body=options, shift=st.timedeltas(min_value=-dt.timedelta(days=300),
                                                                                     max_value=dt.timedelta(days=300)))
def test_deadlines_move_with_detection(code, facts, body, shift):
    due = due_deadlines(RULE_SETS[code], facts, body)
    moved = due_deadlines(RULE_SETS[code], replace(facts, detected_at=facts.detected_at + shift), body)
    assert moved == {kind: at + shift for kind, at in due.items()}


@FUZZ
@given(code=rule_set_codes, facts=reporting_facts, body=options)
def test_no_personal_data_no_report(code, facts, body):
    none = replace(facts, involved=False, persons=0, sensitive=False, my_number=False, ordinance_sensitive=False)
    due = due_deadlines(RULE_SETS[code], none, body)
    assert all(RULE_SETS[code].rule(kind).category == "internal" for kind in due), sorted(due)
    if facts.my_number and ("mynumber" in facts.segments or facts.held_in) and not facts.encrypted:
        # 番号法: whatever the number of persons
        assert {"mynumber_preliminary", "mynumber_final"} <= set(due_deadlines(RULE_SETS[code], facts, body))
    if facts.personal_data and (facts.malicious or not facts.encrypted and any(
            getattr(facts, flag) for flag in FLAG_TRIGGERS if flag not in ("ordinance_sensitive", "public_exposure"))):
        report = {"national": "ppc", "assembly": "council"}.get(code)
        assert report is None or f"{report}_final" in due_deadlines(RULE_SETS[code], facts, body)


@FUZZ
@given(code=rule_set_codes, facts=reporting_facts, body=options)
def test_encryption_only_ever_removes_duties_and_always_leaves_a_reason(code, facts, body):
    """Issue 17, item 2: personal_data.encrypted never adds a duty nor moves one; each duty it takes
    away is answered with the rule's reason (the page and the API show it)."""
    rules = RULE_SETS[code]
    plain, encrypted = replace(facts, encrypted=False), replace(facts, encrypted=True)
    without, with_it = due_deadlines(rules, plain, body), due_deadlines(rules, encrypted, body)
    assert set(with_it) <= set(without)
    assert all(with_it[kind] == without[kind] for kind in with_it)
    reasons = excluded_by_encryption(rules, encrypted, body)
    assert set(reasons) == set(without) - set(with_it)
    assert all(isinstance(reason, str) and reason.strip() for reason in reasons.values())
    assert all(rules.rule(kind).category == "regulatory" for kind in reasons)  # the internal chain stays
    assert excluded_by_encryption(rules, plain, body) == {}
    if facts.malicious and facts.personal_data:  # DOMAIN.md: 不正の目的 is reported even so
        report = {"national": "ppc", "assembly": "council"}.get(code)
        assert report is None or f"{report}_final" in with_it


@FUZZ
@given(code=rule_set_codes, facts=reporting_facts, body=options,
       later=st.timedeltas(min_value=dt.timedelta(0), max_value=dt.timedelta(days=90)))
def test_recognition_moves_exactly_the_statutory_reports(code, facts, body, later):
    """Issue 17, item 3: the reports count from when the situation was known, the chain from detection."""
    rules = RULE_SETS[code]
    detected = due_deadlines(rules, facts, body)
    recognized = due_deadlines(rules, replace(facts, recognized_at=facts.detected_at + later), body)
    assert set(recognized) == set(detected)
    for kind, at in recognized.items():
        shift = later if rules.rule(kind).category == "regulatory" else dt.timedelta(0)
        assert at == detected[kind] + shift, kind
        assert at >= facts.detected_at
