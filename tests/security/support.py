"""Machinery of the authorization matrix: who asks (the actors), what their requests name (one
body-A "world" of objects per actor, so one actor's writes cannot change another's answers),
the request each rule gets, and what an answer means.

An answer is read as one letter:

    A  ALLOW    passed authorization: 2xx, a redirect that is not to the login page, or 409
                (a conflict is checked after the role: API.md "422, then 403, then 409")
    F  FORBID   403: a visible resource the role may not change (API.md "Who may do what")
    H  HIDDEN   404: invisible (someone else's incident for a reporter, another body's object)
    L  LOGIN    not signed in: 401 on /api/v1, a redirect to /login?next=… on a page
    I  INVALID  422: only where API.md prescribes it (another body's code in a body)

Anything else is reported as it came: the status code, "CSRF" when a page action bounced on its
CSRF token (that would hide the role check), "LEAK" when an invisible incident's title shows
in an allowed answer to someone who must not see it.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import io
import secrets
import time
from urllib.parse import parse_qs, urlsplit

from flask import Flask
from sqlalchemy import select

from app.core.db import db
from app.deadlines.services import deadlines_of
from app.escalation.messages import ack_serializer
from app.incidents import evidence, tasks
from app.incidents.models import Incident
from app.incidents.schemas import IncidentCreate
from app.incidents.services import open_incident
from app.intake import services as intake
from app.jobs.ticker import tick
from app.notifications.models import Notification
from app.records import services as records
from app.records.schemas import RecordInput
from app.risks import services as risks
from app.risks.schemas import RiskFindingInput
from tests.factories import PASSWORD, csrf_token

SKIPPED_METHODS = frozenset({"HEAD", "OPTIONS"})
COLUMNS = ("anon", "reporter", "reporter2", "csirt", "officer", "executive", "auditor", "admin",
           "foreign_csirt", "foreign_admin")
BODY_A, BODY_B = "ageo", "saga"
CSRF_REFUSED = "フォームの有効期限が切れました"  # the page actions' message for a bad CSRF token


@dataclasses.dataclass(frozen=True)
class Actor:
    name: str
    column: str                            # which column of the table holds their expectations
    roles: dict[str, list[str]] | None     # None: not signed in
    sees_world: bool = True                # False: the world's incidents must never show in an answer
    deactivated: bool = False              # signed in, then removed from the roster (memberships inactive)


ACTORS = (
    Actor("anon", "anon", None, sees_world=False),
    Actor("reporter", "reporter", {BODY_A: ["reporter"]}),        # reported the world's incident
    Actor("reporter2", "reporter2", {BODY_A: ["reporter"]}, sees_world=False),
    Actor("csirt", "csirt", {BODY_A: ["csirt"]}),
    Actor("security_manager", "officer", {BODY_A: ["security_manager"]}),
    Actor("security_officer", "officer", {BODY_A: ["security_officer"]}),
    Actor("system_admin", "officer", {BODY_A: ["system_admin"]}),
    Actor("chief_officer", "executive", {BODY_A: ["chief_officer"]}),
    Actor("ciso", "executive", {BODY_A: ["ciso"]}),
    Actor("auditor", "auditor", {BODY_A: ["auditor"]}),
    Actor("admin", "admin", {BODY_A: ["admin"]}),
    Actor("foreign_csirt", "foreign_csirt", {BODY_B: ["csirt"]}, sees_world=False),
    Actor("foreign_admin", "foreign_admin", {BODY_B: ["admin"]}, sees_world=False),
    # a CSIRT member who left: their open session and their API token stop working at once
    Actor("deactivated", "anon", {BODY_A: ["csirt"]}, sees_world=False, deactivated=True),
)


def expand(row: str) -> dict[str, str]:
    """A table row ("L A H …", one letter per column) as {column: letter}."""
    letters = row.split()
    assert len(letters) == len(COLUMNS) and set(letters) <= set("AFHLI"), row
    return dict(zip(COLUMNS, letters, strict=True))


def url_map_keys(app: Flask) -> set[tuple[str, str]]:
    return {(rule.endpoint, method) for rule in app.url_map.iter_rules()
            for method in rule.methods - SKIPPED_METHODS}


# --- the objects a request names -------------------------------------------------------------

@dataclasses.dataclass
class World:
    """An incident of body A reported by `reporter`, with one of everything hanging off it."""
    incident_id: int
    marker: str
    task_id: int
    evidence_id: int
    deadline_id: int
    recommendation_id: int
    report_id: int = 0              # a body-A report waiting in the triage queue, with one file
    report_evidence_id: int = 0
    ack_token: str = ""
    notification_id: int = 0       # the csirt actor's in-app message about the incident
    finding_id: int = 0             # a finding of body A's risk register, open
    dismissed_report_id: int = 0    # a body-A report closed as 非該当, to keep as a near miss
    neighbour: World | None = None  # another world: its task, evidence … under this world's incident

    def version(self) -> int:
        db.session.expire_all()
        return db.session.get(Incident, self.incident_id).version


RECORD = {"cause": "職員が標的型メールの添付ファイルを開封した。", "impact": "端末1台が感染",
          "measures": "端末を隔離", "prevention": "訓練を年2回実施する。", "policy_clauses": ["8-5"]}
FACTS = {"organization": BODY_A, "title": "権限確認用インシデント", "threat_category": "intentional",
         "subcategory": "malware", "detected_at": dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=9))),
         "personal_data": {"involved": True, "sensitive": True, "persons": 3}}  # 要配慮: the PPC clocks run


FINDING = {"source": "audit", "clause": "8-5", "rating": "minor", "text": "研修の未受講者がいる",
           "found_on": dt.date(2026, 10, 1), "due_on": dt.date(2026, 12, 1)}
ASSESSMENT = {"threat_category": "intentional", "likelihood": "2", "loss": "3", "reason": "権限確認"}
CIRCUMSTANCE = {"noted_on": "2026-10-01", "kind": "law", "text": "法令の改正"}


def build_worlds(reporter, csirt, count: int) -> list[World]:
    worlds = []
    for _ in range(count):
        marker = f"MX-{secrets.token_hex(6)}"  # in the title: what must never show to those who cannot see it
        incident = open_incident(reporter, IncidentCreate.model_validate(FACTS | {"title": f"権限確認 {marker}"}))
        item = evidence.store_evidence(csirt, incident, io.BytesIO(b"proxy log"), "proxy.log", "ログ")
        record = records.save(csirt, incident, RecordInput.model_validate(
            RECORD | {"recommendations": [{"text": "添付ファイルを無害化する", "clause": "8-6"}]}))
        report = intake.submit(intake.Submission(
            organization=incident.organization, channel="form", source="external", title="不審なメール", body="本文",
            attachments=[intake.Attachment("mail.eml", "message/rfc822", b"raw message")])).report
        dismissed = intake.submit(intake.Submission(
            organization=incident.organization, channel="api", source="internal", title="誤報", body="本文")).report
        intake.dismiss(csirt, dismissed, "訓練")
        finding = risks.add_finding(csirt, BODY_A, RiskFindingInput(**FINDING))
        worlds.append(World(incident.id, marker, tasks.tasks_of(incident)[0].id, item.id,
                            deadlines_of(incident)[0].id, record.recommendations[0].id, report.id,
                            intake.attachments_of(report)[0].id, finding_id=finding.id, dismissed_report_id=dismissed.id))
        db.session.commit()
    tick()  # level 1 of each escalation: the notifications behind the e-mailed /ack/<token> links
    for world in worlds:
        notification = db.session.scalars(select(Notification).where(
            Notification.incident_id == world.incident_id, Notification.recipient_id.is_not(None))
            .order_by(Notification.id)).first()
        assert notification is not None, "the escalation reached nobody: no acknowledgement link to test"
        world.ack_token = ack_serializer().dumps({"n": notification.id, "u": notification.recipient_id})
        world.notification_id = db.session.scalar(select(Notification.id).where(
            Notification.incident_id == world.incident_id, Notification.recipient_id == csirt.id,
            Notification.channel == "in_app"))
        assert world.notification_id, "the csirt actor has no in-app message to open"
    for world, neighbour in zip(worlds, worlds[1:] + worlds[:1], strict=True):
        world.neighbour = neighbour
    return worlds


# --- the request each rule gets ----------------------------------------------------------------

def url_values(key: tuple, arguments: set[str], world: World) -> dict:
    """The rule's URL parameters. Variant "crossed": the child object (task, evidence …) is another
    incident's, under this world's incident: 404 for everyone, even those who see both incidents."""
    endpoint, child = key[0], world.neighbour if key[2:] == ("crossed",) else world
    named = {"incident_id": world.incident_id, "task_id": child.task_id, "evidence_id": child.evidence_id,
             "deadline_id": child.deadline_id, "recommendation_id": child.recommendation_id,
             "token": world.ack_token, "org": BODY_A, "code": BODY_A, "fiscal_year": 2026, "quarter": 3,
             "filename": "style.css", "report_id": world.report_id, "org_code": BODY_A, "finding_id": child.finding_id,
             "notification_id": world.notification_id}
    if endpoint == "triage.download":
        named["evidence_id"] = world.report_evidence_id
    named |= {"set_language": {"code": "ja"}}.get(endpoint, {})
    missing = arguments - named.keys()
    assert not missing, f"{endpoint}: no value for URL parameter(s) {sorted(missing)}; add them to url_values()"
    return {name: named[name] for name in arguments}


QUERIES = {"api.list_incidents": {"organization": BODY_A}, "api.open_deadlines": {"organization": BODY_A},
           "incidents.new": {"organization": BODY_A}, "api.list_reports": {"organization": BODY_A}}
INCIDENT_FORM = {"title": "USBメモリの紛失", "threat_category": "intentional", "subcategory": "malware",
                 "detected_at": "2026-11-20T10:00", "source": "internal", "description": "庁舎内で紛失",
                 "pd_involved": "y", "pd_sensitive": "y", "pd_persons": "3"}


def _file() -> dict:
    return {"file": (io.BytesIO(b"captured packets"), "capture.pcap"), "description": "通信記録"}


def _record_form(w: World) -> dict:
    return RECORD | {"policy_clauses": "8-5", "rows": "1", "rec-0-id": str(w.recommendation_id),
                     "rec-0-text": "添付ファイルを無害化する", "rec-0-clause": "8-6", "rec-0-status": "adopted"}


# A minimal valid body per (endpoint, method[, variant]), so that the role is what decides: an
# invalid one would answer 422 before the role is looked at. JSON bodies for the API, forms
# (the CSRF token is added) for pages; GETs and bodiless POSTs need no entry.
BODIES = {
    ("api.create_incident", "POST"): lambda w: {"json": FACTS | {"detected_at": "2026-11-20T10:00:00+09:00"}},
    ("api.patch_incident", "PATCH"): lambda w: {"json": {"version": w.version(), "title": "件名を訂正"}},
    ("api.patch_incident", "PATCH", "severity"): lambda w: {"json": {
        "version": w.version(), "severity": "critical", "severity_reason": "住民への影響が大きい"}},
    ("api.add_notice", "POST"): lambda w: {"json": {"kind": "police_report"}},
    ("api.mark_met", "POST"): lambda w: {"json": {"reference": "PPC-0001"}},
    ("api.upload_evidence", "POST"): lambda w: {"data": _file()},
    ("api.create_note", "POST"): lambda w: {"json": {"body": "端末を回収した。"}},
    ("api.save_record", "PUT"): lambda w: {"json": RECORD | {"recommendations": [
        {"id": w.recommendation_id, "text": "添付ファイルを無害化する", "clause": "8-6", "status": "adopted"}]}},
    ("api.set_recommendation_status", "PATCH"): lambda w: {"json": {"status": "adopted"}},
    ("api.move_stage", "POST"): lambda w: {"json": {"to": "report"}},
    ("api.move_stage", "POST", "close"): lambda w: {"json": {"to": "closed"}},
    ("api.move_stage", "POST", "override"): lambda w: {"json": {"to": "report", "override": True, "reason": "緊急"}},
    ("api.create_task", "POST"): lambda w: {"json": {"stage": "triage", "title": "委託先へ連絡"}},
    ("api.update_task", "PATCH"): lambda w: {"json": {"done": True}},
    # a wrong password (an unknown account per world: the login throttle counts failures per account)
    ("auth.login", "POST"): lambda w: {"data": {"email": f"nobody{w.incident_id}@example.jp", "password": "not the password"}},
    ("auth.second_factor", "POST"): lambda w: {"data": {"code": "000000"}},
    ("auth.enrol_at_login", "POST"): lambda w: {"data": {"code": "000000"}},
    ("auth.enrol", "POST"): lambda w: {"data": {"code": "000000"}},
    ("auth.disable", "POST"): lambda w: {"data": {"code": "000000"}},
    ("set_language", "POST"): lambda w: {"data": {"next": "/"}},
    ("incidents.new", "POST"): lambda w: {"data": dict(INCIDENT_FORM)},
    ("incidents.edit", "POST"): lambda w: {"data": INCIDENT_FORM | {"version": str(w.version()), "title": "件名を訂正"}},
    ("deadlines.add_notice", "POST"): lambda w: {"data": {"kind": "mic_report"}},
    ("deadlines.mark_met", "POST"): lambda w: {"data": {"reference": "PPC-0002"}},
    ("workflow.upload_evidence", "POST"): lambda w: {"data": _file()},
    ("workflow.add_note", "POST"): lambda w: {"data": {"body": "端末を回収した。"}},
    ("records.save", "POST"): lambda w: {"data": _record_form(w)},
    ("workflow.move_stage", "POST"): lambda w: {"data": {"to": "report"}},
    ("workflow.move_stage", "POST", "close"): lambda w: {"data": {"to": "closed"}},
    ("workflow.add_task", "POST"): lambda w: {"data": {"stage": "triage", "title": "委託先へ連絡"}},
    ("workflow.update_task", "POST"): lambda w: {"data": {"action": "done"}},
    ("api.create_report", "POST"): lambda w: {"json": {"organization": BODY_A, "title": "IDS検知", "body": "詳細"}},
    ("public_report.form", "POST"): lambda w: {"data": {"what": "不審なメールが届きました"}},
    ("api.open_report", "POST"): lambda w: {"json": {"title": "不審なメール", "threat_category": "intentional"}},
    ("triage.merge", "POST"): lambda w: {"data": {"reference": "AGEO-1999-0001"}},  # unknown: the report page again
    ("triage.dismiss", "POST"): lambda w: {"data": {"reason": "訓練メール"}},
    # the risk register: a row assessed again by a later actor is 409 (allowed), as is a finding resolved twice
    ("api.create_assessment", "POST"): lambda w: {"json": ASSESSMENT | {"likelihood": 2, "loss": 3}},
    ("api.create_finding", "POST"): lambda w: {"json": FINDING | {"found_on": "2026-10-01", "due_on": "2026-12-01"}},
    ("api.resolve_finding", "POST"): lambda w: {"json": {"resolved_on": "2026-11-01"}},
    ("api.create_circumstance", "POST"): lambda w: {"json": CIRCUMSTANCE},
    ("api.keep_near_miss", "POST"): lambda w: {"json": {"report": w.dismissed_report_id, "threat_category": "intentional"}},
    ("risks.assess", "POST"): lambda w: {"data": dict(ASSESSMENT)},
    ("risks.add_finding", "POST"): lambda w: {"data": FINDING | {"found_on": "2026-10-01", "due_on": "2026-12-01"}},
    ("risks.resolve_finding", "POST"): lambda w: {"data": {"resolved_on": "2026-11-01"}},
    ("risks.add_circumstance", "POST"): lambda w: {"data": dict(CIRCUMSTANCE)},
    ("risks.keep_near_miss", "POST"): lambda w: {"data": {"report": str(w.dismissed_report_id), "threat_category": "intentional"}},
}
LAST = {("auth.logout", "POST")}  # ends the actor's session: asked after everything else
NOT_LEAKS = {"escalation.ack_link"}  # the e-mailed link is a capability: it shows its incident to whoever holds it


def cell_order(key: tuple) -> tuple:
    return (key in LAST, key[1] != "GET", key)


# --- asking ------------------------------------------------------------------------------------

@dataclasses.dataclass
class Session:
    """An actor's browser (session cookie, CSRF token) and API token."""
    actor: Actor
    client: object
    csrf: str
    bearer: dict[str, str]
    user: object = None


def sign_in(app: Flask, factory, actor: Actor) -> Session:
    client = app.test_client()
    if actor.roles is None:
        return Session(actor, client, csrf_token(client.get("/login").text), {})
    user = factory.user(actor.roles, email=f"{actor.name}@matrix.example.jp", name=f"{actor.name} 確認")
    login = client.post("/login", data={"email": user.email, "password": PASSWORD,
                                        "csrf_token": csrf_token(client.get("/login").text)})
    assert login.status_code == 302 and not login.headers["Location"].startswith("/login"), \
        f"{actor.name} could not sign in with a password alone: {login.status_code} {login.headers.get('Location')}"
    return Session(actor, client, csrf_token(client.get("/incidents/").text), factory.headers(user), user)


@dataclasses.dataclass
class Run:
    answers: dict[tuple, str]   # (*row key, actor name) -> letter, or what came instead
    seen: dict[tuple, str]      # the same cells -> "status METHOD path", for the failure message
    rules: int                  # rules in the URL map
    setup_s: float              # signing in and building the worlds
    requests_s: float


def run_matrix(app: Flask, factory, rows: list[tuple]) -> Run:
    """Asks every row of every rule it names, as every actor, each actor in their own world;
    per actor the reads first, their session's sign-out last."""
    started = time.perf_counter()
    rules: dict[tuple[str, str], list] = {}
    for rule in app.url_map.iter_rules():
        for method in rule.methods - SKIPPED_METHODS:
            rules.setdefault((rule.endpoint, method), []).append(rule)
    sessions = [sign_in(app, factory, actor) for actor in ACTORS]
    users = {s.actor.name: s.user for s in sessions}
    worlds = build_worlds(users["reporter"], users["csirt"], len(sessions))
    for session in sessions:
        if session.actor.deactivated:  # as `roster import` does for people no longer in the file
            for membership in session.user.memberships:
                membership.active = False
    db.session.commit()
    asked = time.perf_counter()
    answers: dict[tuple, str] = {}
    seen: dict[tuple, str] = {}
    for session, world in zip(sessions, worlds, strict=True):
        for key in sorted(rows, key=cell_order):
            for rule in rules.get(key[:2], ()):  # an endpoint with several rules: each is asked
                answer, detail = ask(session, key, rule, world, worlds)
                cell = (*key, session.actor.name)
                answers[cell] = answer if answers.get(cell, answer) == answer else f"{answers[cell]}/{answer}"
                seen[cell] = f"{seen[cell]}; {detail}" if cell in seen else detail
    return Run(answers, seen, len(list(app.url_map.iter_rules())), asked - started, time.perf_counter() - asked)


def ask(session: Session, key: tuple, rule, world: World, worlds: list[World]) -> tuple[str, str]:
    endpoint, method = key[0], key[1]
    api = rule.rule.startswith("/api/")
    _domain, path = rule.build(url_values(key, set(rule.arguments), world))
    kwargs = BODIES.get(key, BODIES.get(key[:2], lambda w: {}))(world)
    if api:
        kwargs["headers"] = session.bearer
    elif method != "GET":
        kwargs["data"] = kwargs.get("data", {}) | {"csrf_token": session.csrf}
    try:
        response = session.client.open(path, method=method, query_string=QUERIES.get(endpoint), **kwargs)
    except Exception as exc:  # noqa: BLE001 - under TESTING a server error propagates: it is a 500 cell
        return "500", f"500 {method} {path}: {exc!r}"
    try:
        return _outcome(session, endpoint, api, method, response, worlds), f"{response.status_code} {method} {path}"
    finally:
        response.close()


def _outcome(session: Session, endpoint: str, api: bool, method: str, response, worlds: list[World]) -> str:
    status = response.status_code
    if status in (301, 302, 303, 307, 308):
        location = urlsplit(response.headers["Location"])
        if not api and location.path == "/login" and "next" in parse_qs(location.query):
            return "L"
        if not api and method != "GET" and _csrf_refused(session.client):
            return "CSRF"
        return "A"
    if status == 401 and api:
        return "L"
    if status < 300 or status == 409:
        if not session.actor.sees_world and endpoint not in NOT_LEAKS:
            body = response.get_data()
            if any(w.marker.encode() in body for w in worlds):
                return "LEAK"
        return "A"
    return {403: "F", 404: "H", 422: "I"}.get(status, str(status))


def _csrf_refused(client) -> bool:
    """Page actions redirect back with a flash when the CSRF token fails; the flashes are read
    (and dropped, so they do not pile up in the cookie) from the session."""
    with client.session_transaction() as stored:
        flashes = stored.pop("_flashes", [])
    return any(CSRF_REFUSED in str(message) for _category, message in flashes)
