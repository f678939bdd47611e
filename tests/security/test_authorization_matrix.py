"""Issue 8, item 2: every route and API endpoint of the URL map, asked by every role of body A,
by someone not signed in and by people of another body, against one explicit expectation table.

A rule added to the app without a row here fails the test, and so does a row whose rule is gone.
Where the app answers differently from the contract the row keeps the contract's answer and the
cell is listed in KNOWN_GAPS, which is asserted to still fail: fixing the app forces removing it.
The letters are explained in tests/security/support.py (A allow, F 403, H 404, L login, I 422).
"""
from __future__ import annotations

import functools

from app import create_app
from app.auth.services import hash_password
from app.config import Config
from app.core.permissions import FIELD_PERMISSIONS
from tests import factories
from tests.factories import PASSWORD
from tests.security.fields import FIELD_ACTORS, REQUESTS, expand_fields, run_fields
from tests.security.support import ACTORS, expand, run_matrix, url_map_keys

COLUMN_OF = {actor.name: actor.column for actor in ACTORS}

# Rows, one letter per column:
#            anon  reporter reporter2 csirt officer executive auditor admin foreign_csirt foreign_admin
# reporter = the person who reported the incident the row's URL names; reporter2 = another reporter
# of the same body; officer = security_manager, security_officer, system_admin; executive =
# chief_officer, ciso; foreign_* = people of another body (saga). The actor "deactivated" (signed
# in, then dropped from the roster) is held to the anon column.
PUBLIC = "A A A A A A A A A A"      # no sign-in needed
SIGNED_IN = "L A A A A A A A A A"   # any signed-in person; lists show only what they may read
LIST = "L A A A A A A A H H"        # an API list ?organization=ageo: its members (what they may read), else 404
CREATE = "L A A A A A F A I I"      # API.md: an organization the caller does not belong to is 422 in a body
CREATE_PAGE = "L A A A A A F A H H"  # the same on a page, the organization in the query: 404
READ = "L A H A A A A A H H"        # the incident: its reporter and every role that reads all of the body
WORK = "L F H A A A F A H H"        # acknowledge, tasks, notes, evidence, filing a deadline
EDIT = "L F H A F A F A H H"        # edit, stage moves, record, notices, recommendation status
CLOSE = "L F H F F A F A H H"       # close (approve the record), override a stage gate
OVERSEE = "L F F A A A A A H H"     # a body as a whole: reviews, the contact sheet
VERIFY = "L F F F F F A A F A"      # the audit log (the whole log: an admin of any body verifies it)
CROSSED = "L H H H H H H H H H"
OWN_MESSAGE = "L H H A H H H H H H"  # one in-app message: its recipient (the csirt actor) only; 404 for all others
TRIAGE = "L F F A F A F A H H"      # deciding a report of the queue: the CSIRT and the executives
REGISTER = "L F F A F F F A H H"    # keeping the risk register (assessments, findings, changes, near misses): CSIRT, admin     # a task, evidence … of another incident under this one's URL: nobody

EXPECTED: dict[tuple, str] = {
    # pages that need no sign-in
    ("index", "GET"): PUBLIC,                       # redirects to the list or to the login page
    ("healthz", "GET"): PUBLIC,
    ("static", "GET"): PUBLIC,
    ("favicon", "GET"): PUBLIC,
    ("metrics.metrics", "GET"): PUBLIC,             # from 127.0.0.1 without a METRICS_TOKEN, as the test client is
    ("auth.login", "GET"): PUBLIC,
    ("auth.login", "POST"): PUBLIC,                 # wrong password: the form again
    ("auth.second_factor", "GET"): PUBLIC,           # nobody half-way signed in: back to the login page
    ("auth.second_factor", "POST"): PUBLIC,
    ("auth.enrol_at_login", "GET"): PUBLIC,
    ("auth.enrol_at_login", "POST"): PUBLIC,
    ("set_language", "POST"): PUBLIC,
    ("escalation.ack_link", "GET"): PUBLIC,         # the signed token in the e-mailed link is the credential
    ("escalation.ack_link", "POST"): PUBLIC,
    ("api.openapi_document", "GET"): PUBLIC,
    ("public_report.form", "GET"): PUBLIC,          # the public report form: no sign-in, rate-limited
    ("public_report.form", "POST"): PUBLIC,
    # signed-in pages and lists
    ("auth.logout", "POST"): SIGNED_IN,
    ("auth.security", "GET"): SIGNED_IN,            # one's own account: second factor on and off
    ("auth.enrol", "GET"): SIGNED_IN,
    ("auth.enrol", "POST"): SIGNED_IN,              # a wrong code: the page again
    ("auth.disable", "POST"): SIGNED_IN,            # a wrong code: back to the security page
    ("auth.sign_out_everywhere", "POST"): SIGNED_IN,  # ends one's other sessions; this one stays
    ("incidents.index", "GET"): SIGNED_IN,
    ("incidents.new", "GET"): CREATE_PAGE,          # ?organization=ageo: the form, 403 or 404 as the POST
    ("incidents.new", "POST"): CREATE_PAGE,
    ("deadlines.dashboard", "GET"): SIGNED_IN,
    ("notifications.index", "GET"): SIGNED_IN,      # one's own in-app messages
    ("notifications.mark_all_read", "POST"): SIGNED_IN,
    ("notifications.settings", "GET"): SIGNED_IN,      # one's own choice of channels
    ("notifications.settings", "POST"): SIGNED_IN,
    ("notifications.open_message", "POST"): OWN_MESSAGE,
    ("escalation.oncall", "GET"): SIGNED_IN,
    ("plan.index", "GET"): SIGNED_IN,
    ("reviews.index", "GET"): SIGNED_IN,
    ("api.list_organizations", "GET"): SIGNED_IN,
    ("api.list_incidents", "GET"): LIST,
    ("api.open_deadlines", "GET"): LIST,
    ("api.create_incident", "POST"): CREATE,
    # one incident and what hangs off it: API
    ("api.show_incident", "GET"): READ,
    ("api.patch_incident", "PATCH"): EDIT,
    ("api.patch_incident", "PATCH", "severity"): EDIT,
    ("api.acknowledge_incident", "POST"): WORK,
    ("api.list_notifications", "GET"): READ,
    ("api.list_deadlines", "GET"): READ,
    ("api.add_notice", "POST"): EDIT,
    ("api.mark_met", "POST"): WORK,
    ("api.list_evidence", "GET"): READ,
    ("api.upload_evidence", "POST"): WORK,
    ("api.download_evidence", "GET"): READ,
    ("api.create_note", "POST"): WORK,
    ("api.list_timeline", "GET"): READ,
    ("api.list_tasks", "GET"): READ,
    ("api.create_task", "POST"): WORK,
    ("api.update_task", "PATCH"): WORK,
    ("api.move_stage", "POST"): EDIT,
    ("api.move_stage", "POST", "close"): CLOSE,
    ("api.move_stage", "POST", "override"): CLOSE,
    ("api.show_record", "GET"): READ,
    ("api.save_record", "PUT"): EDIT,
    ("api.approve_record", "POST"): CLOSE,
    ("api.set_recommendation_status", "PATCH"): EDIT,
    ("api.update_task", "PATCH", "crossed"): CROSSED,
    ("api.download_evidence", "GET", "crossed"): CROSSED,
    ("api.mark_met", "POST", "crossed"): CROSSED,
    ("api.set_recommendation_status", "PATCH", "crossed"): CROSSED,
    # one incident: pages
    ("incidents.show", "GET"): READ,
    ("incidents.edit", "GET"): EDIT,
    ("incidents.edit", "POST"): EDIT,
    ("escalation.acknowledge_page", "POST"): WORK,
    ("deadlines.add_notice", "POST"): EDIT,
    ("deadlines.mark_met", "POST"): WORK,
    ("workflow.upload_evidence", "POST"): WORK,
    ("workflow.download_evidence", "GET"): READ,
    ("workflow.add_note", "POST"): WORK,
    ("workflow.add_task", "POST"): WORK,
    ("workflow.update_task", "POST"): WORK,
    ("workflow.move_stage", "POST"): EDIT,
    ("workflow.move_stage", "POST", "close"): CLOSE,
    ("records.edit", "GET"): READ,
    ("records.print_view", "GET"): READ,
    ("records.markdown", "GET"): READ,
    ("records.save", "POST"): EDIT,
    ("records.approve", "POST"): CLOSE,
    ("workflow.update_task", "POST", "crossed"): CROSSED,
    ("workflow.download_evidence", "GET", "crossed"): CROSSED,
    ("deadlines.mark_met", "POST", "crossed"): CROSSED,
    # a body as a whole
    ("plan.sheet", "GET"): OVERSEE,
    ("organizations.profile", "GET"): "L A A A A A A A H H",  # a body's profile page: any of its members
    ("reviews.quarter", "GET"): OVERSEE,
    ("reviews.fiscal_year", "GET"): OVERSEE,
    ("api.quarterly_review", "GET"): OVERSEE,
    ("api.fiscal_year_review", "GET"): OVERSEE,
    ("api.audit_verify", "GET"): VERIFY,
    # the triage queue (reports from every channel)
    ("triage.home", "GET"): SIGNED_IN,              # those who read no body as a whole go on to the incident list
    ("triage.show", "GET"): OVERSEE,
    ("triage.download", "GET"): OVERSEE,
    ("triage.merge", "POST"): TRIAGE,
    ("triage.dismiss", "POST"): TRIAGE,
    ("api.create_report", "POST"): CREATE,
    ("api.list_reports", "GET"): OVERSEE,
    ("api.open_report", "POST"): TRIAGE,
    # the risk register (issue 17): read as the reviews are, kept by the CSIRT and admins
    ("risks.index", "GET"): SIGNED_IN,
    ("risks.show", "GET"): OVERSEE,
    ("risks.assess", "POST"): REGISTER,
    ("risks.add_finding", "POST"): REGISTER,
    ("risks.resolve_finding", "POST"): REGISTER,
    ("risks.add_circumstance", "POST"): REGISTER,
    ("risks.keep_near_miss", "POST"): REGISTER,
    ("api.show_register", "GET"): OVERSEE,
    ("api.list_findings", "GET"): OVERSEE,
    ("api.list_circumstances", "GET"): OVERSEE,
    ("api.list_near_misses", "GET"): OVERSEE,
    ("api.create_assessment", "POST"): REGISTER,
    ("api.create_finding", "POST"): REGISTER,
    ("api.resolve_finding", "POST"): REGISTER,
    ("api.create_circumstance", "POST"): REGISTER,
    ("api.keep_near_miss", "POST"): REGISTER,
}

# Cells (*row key, actor) where the app is known to answer differently from EXPECTED: the letter it
# answers, and why the row is right. Each is asserted to still answer that way, so a fix (or a new
# way of being wrong) makes the test say so.
KNOWN_GAPS: dict[tuple, tuple[str, str]] = {
}


def _problems_with_the_table(keys: set[tuple[str, str]]) -> list[str]:
    rows = {key[:2] for key in EXPECTED}
    return [f"{endpoint} {method}: in the URL map but not in EXPECTED (add a row)" for endpoint, method in sorted(keys - rows)] + \
        [f"{endpoint} {method}: in EXPECTED but no longer in the URL map (remove the row)" for endpoint, method in sorted(rows - keys)]


def test_the_table_covers_exactly_the_url_map(tmp_path):
    app = create_app(Config(INSTANCE_PATH=tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'map.db'}", TESTING=True,
                            SCHEDULER_ENABLED=False))
    assert not _problems_with_the_table(url_map_keys(app)), "\n".join(_problems_with_the_table(url_map_keys(app)))
    for row in EXPECTED.values():
        expand(row)
    for *key, actor in KNOWN_GAPS:
        assert tuple(key) in EXPECTED and actor in COLUMN_OF, f"KNOWN_GAPS names no row or no actor: {key} {actor}"


@functools.cache
def _password_hash() -> str:
    return hash_password(PASSWORD)


def test_every_role_gets_exactly_its_rights_on_every_rule(app, factory, monkeypatch):
    monkeypatch.setattr(factories, "hash_password", lambda _password: _password_hash())  # 0.2 s each otherwise
    # every actor comes from 127.0.0.1: their wrong passwords and codes would lock the address for the later ones
    monkeypatch.setitem(app.config, "PUBLIC_REPORT_PER_ADDRESS", 1000)
    monkeypatch.setitem(app.config, "LOGIN_MAX_FAILURES_ADDRESS", 1000)
    problems = _problems_with_the_table(url_map_keys(app))
    run = run_matrix(app, factory, list(EXPECTED))
    wrong, gaps_seen = [], set()
    for cell, answer in sorted(run.answers.items()):
        *key, actor = cell
        expected = expand(EXPECTED[tuple(key)])[COLUMN_OF[actor]]
        name = f"{' '.join(key)} as {actor}"
        if cell in KNOWN_GAPS:
            gaps_seen.add(cell)
            if answer == expected:
                wrong.append(f"{name}: answers {expected} as expected now ({run.seen[cell]}): remove it from KNOWN_GAPS")
            elif answer != KNOWN_GAPS[cell][0]:
                wrong.append(f"{name}: KNOWN_GAPS says {KNOWN_GAPS[cell][0]}, got {answer} ({run.seen[cell]})")
        elif answer != expected:
            wrong.append(f"{name}: got {answer} ({run.seen[cell]}), expected {expected}")
    wrong += [f"{' '.join(c[:-1])} as {c[-1]}: in KNOWN_GAPS but never asked" for c in sorted(set(KNOWN_GAPS) - gaps_seen)]
    print(f"\nauthorization matrix: {run.rules} rules, {len(url_map_keys(app))} (endpoint, method) pairs, "
          f"{len(EXPECTED)} rows, {len(ACTORS)} actors, {len(run.answers)} cells; set-up {run.setup_s:.1f} s, "
          f"requests {run.requests_s:.1f} s; {len(KNOWN_GAPS)} known gaps")
    assert not (problems + wrong), "\n".join(problems + wrong)


# The field level (issue 15, item 1): who may set each field that changes what the system does,
# one incident per cell (tests/security/fields.py). Field None: the operation without such a field.
#                                        reporter csirt officer executive auditor admin
FIELD_EXPECTED: dict[tuple[str, str | None], str] = {
    ("incident.create", None):              "A A A A F A",
    ("incident.create", "reported_at"):     "F A A A F A",   # recorded after the fact: acknowledging
    ("incident.create", "acknowledged_at"): "F A A A F A",   # stops escalation: only who may acknowledge
    # the reporting facts (issue 17): recognition moves the statutory clocks and encryption withdraws
    # duties (CSIRT's judgement); the 機関 and the facts that only add duties come from whoever reports
    ("incident.create", "recognized_at"):                 "F A F A F A",
    ("incident.create", "personal_data.encrypted"):       "F A F A F A",
    ("incident.create", "organ"):                         "A A A A F A",
    ("incident.create", "personal_data.held_in"):         "A A A A F A",
    ("incident.create", "personal_data.public_exposure"): "A A A A F A",
    ("incident.create", "owner"):                         "F A A A F A",   # who works it: those who work incidents
    ("incident.create", "members"):                       "F A A A F A",
    ("page:incident.create", None):              "A A A A F A",
    ("page:incident.create", "reported_at"):     "F A A A F A",
    ("page:incident.create", "acknowledged_at"): "F A A A F A",
    ("page:incident.create", "recognized_at"):           "F A F A F A",
    ("page:incident.create", "personal_data.encrypted"): "F A F A F A",
    ("incident.update", None):              "F A F A F A",
    ("incident.update", "severity"):        "F A F A F A",
    ("incident.update", "severity_reason"): "F A F A F A",
    ("incident.update", "recognized_at"):                 "F A F A F A",
    ("incident.update", "personal_data.encrypted"):       "F A F A F A",
    ("incident.update", "organ"):                         "F A F A F A",
    ("incident.update", "personal_data.held_in"):         "F A F A F A",
    ("incident.update", "personal_data.public_exposure"): "F A F A F A",
    ("incident.update", "owner"):                         "F A F A F A",
    ("incident.update", "members"):                       "F A F A F A",
    ("stage.move", None):                   "F A F A F A",   # 409 for open required tasks counts as allowed
    ("stage.move", "override"):             "F F F A F A",   # past open required tasks: executives only
    ("task.create", None):                  "F A A A F A",
    ("task.create", "required"):            "F A A A F A",
    ("task.create", "assignee"):            "F A A A F A",
    ("task.update", "done"):                "F A A A F A",
    ("task.update", "assignee"):            "F A A A F A",
    ("deadline.met", None):                 "F A A A F A",
    ("deadline.met", "met_at"):             "F A A A F A",
    ("notice.create", None):                "F A F A F A",
    ("notice.create", "due_at"):            "F A F A F A",
}


def test_the_field_table_covers_every_field_rule():
    guarded = {(operation, name) for operation, rules in FIELD_PERMISSIONS.items() for name in rules}
    rows = {(operation.removeprefix("page:"), name) for operation, name in FIELD_EXPECTED}
    assert guarded <= rows, f"fields of FIELD_PERMISSIONS without a row: {sorted(guarded - rows)}"
    baselines = {(operation, None) for operation, _name in guarded} - {("task.update", None)}  # {} is 422 there
    assert baselines <= rows
    assert set(FIELD_EXPECTED) == set(REQUESTS)
    for row in FIELD_EXPECTED.values():
        expand_fields(row)


def test_every_role_may_set_exactly_its_fields(app, factory, monkeypatch):
    monkeypatch.setattr(factories, "hash_password", lambda _password: _password_hash())
    answers = run_fields(app, factory, list(FIELD_EXPECTED))
    wrong = [f"{operation} {name or '(no guarded field)'} as {actor}: got {got} ({seen}), expected {expected}"
             for (operation, name, actor), (got, seen) in sorted(answers.items(), key=str)
             if got != (expected := expand_fields(FIELD_EXPECTED[(operation, name)])[FIELD_ACTORS[actor]])]
    assert len(answers) == len(FIELD_EXPECTED) * len(FIELD_ACTORS)
    assert not wrong, "\n".join(wrong)
