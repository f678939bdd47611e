"""The XSS corpus (tests/fuzz/xss_vectors.py) through every text field a page shows (issue 8, item 5).

Each vector becomes, for one incident of 上尾市, its title and description (Markdown), the severity
override's reason, a note (Markdown), a hand-added task's title and guidance, an evidence file's name
and description, a notice's note, a filing's reference and note, the post-incident record's four
Markdown texts and a recommendation, the reasons of a stage override and of a move back, and the name
of the CSIRT member who does all that (shown as the actor, the one who filed, uploaded…); where the
app has the triage queue, also a report's title and body (POST /api/v1/reports). Then:

- fast, no database: render_markdown of every vector has no <script>, no on* attribute, no
  javascript:/vbscript:/data: URL, and only the allowed tags;
- the pages (incident, its edit form, the record's form and print page, the list with the vector as
  search text, the report, the triage queue, the deadlines, the quarterly review, the contact sheet)
  as HTML: the same, the title shown literally (so `{{7*7}}` stays `{{7*7}}`), no SECRET_KEY, and a
  CSP without 'unsafe-inline' on every page;
- the same pages in Chromium with the CSP bypassed (so only escaping and sanitizing stand between a
  payload and its execution), `alert/confirm/prompt/print` hooked, a MutationObserver flagging
  scripts, frames, on* attributes and script URLs, and a `securitypolicyviolation` listener: no
  payload ran (`window.__xss` never set), no dialog, no flagged node — after a control payload has
  shown that the harness sees one that does run.

The pages run on SQLite only: what they show does not depend on the engine. The corpus is dealt into
XSS_SHARDS tests (every shard-th vector), so that the parallel suite spreads it over its workers. The
number of vectors × fields tried is printed.
"""
from __future__ import annotations

import html
import io
import itertools
import os
import re
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import update

from app.auth.models import Membership, User
from app.auth.services import hash_password
from app.core.db import db
from app.core.markdown import ALLOWED_ATTRIBUTES, ALLOWED_TAGS, render_markdown
from app.intake.models import Report
from app.organizations.services import organization_by_code
from tests.browser.fixtures import CHROMIUM
from tests.browser.helpers import login
from tests.factories import PASSWORD
from tests.fuzz import say
from tests.fuzz.xss_vectors import EVALUATED, TEMPLATES, VECTORS
from tests.workflow.helpers import API
from tests.workflow.helpers import login as page_login

SCRIPT_URL = re.compile(r"^(javascript|vbscript|data|livescript):", re.I)
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "data", "poster", "background", "srcdoc", "code"}
ACTIVE_TAGS = {"script", "iframe", "frame", "frameset", "object", "embed", "applet", "base", "portal"}
SHARDS = int(os.environ.get("XSS_SHARDS", "6"))
PAGES = ("/incidents/{id}", "/incidents/{id}/edit", "/incidents/{id}/record", "/incidents/{id}/record/print")
LISTS = ("/incidents/?per_page=200", "/deadlines", "/reviews/ageo/2026/q3", "/plan/ageo")


class _Scan(HTMLParser):
    """Collects what would run in a browser: active tags, on* attributes, script URLs, CSS expressions."""

    def __init__(self, allowed_tags: set[str] | None = None):
        super().__init__(convert_charrefs=False)  # text stays as is (faster); attribute values are unescaped
        self.allowed_tags, self.problems = allowed_tags, []

    def handle_starttag(self, tag, attrs):
        if tag in ACTIVE_TAGS or (tag == "meta" and any(n == "http-equiv" for n, _ in attrs)):
            self.problems.append(f"<{tag}>")
        if self.allowed_tags is not None and tag not in self.allowed_tags:
            self.problems.append(f"tag <{tag}> not allowed")
        for name, value in attrs:
            # As a browser reads a URL: no leading or trailing spaces or controls, no tab or newline anywhere.
            plain = re.sub(r"[\t\n\r]", "", (value or "").strip("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f"
                                                               "\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b"
                                                               "\x1c\x1d\x1e\x1f \t\n\r"))
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=…>")
            elif name in URL_ATTRIBUTES and SCRIPT_URL.match(plain) and not plain.lower().startswith("data:image/"):
                self.problems.append(f"<{tag} {name}={value[:40]!r}>")
            elif name == "style" and re.search(r"expression\(|javascript:|url\(", plain, re.I):
                self.problems.append(f"<{tag} style={value[:40]!r}>")
            if self.allowed_tags is not None and name not in ALLOWED_ATTRIBUTES.get(tag, set()) | {"rel"}:
                self.problems.append(f"attribute {name} on <{tag}> not allowed")


def scan(markup: str, allowed_tags: set[str] | None = None) -> list[str]:
    parser = _Scan(allowed_tags)
    parser.feed(markup)
    parser.close()
    return parser.problems


def test_markdown_renderer_neutralises_every_vector():
    for vector in VECTORS:
        rendered = str(render_markdown(vector))
        assert "<script" not in rendered.lower(), (vector, rendered)
        assert not scan(rendered, ALLOWED_TAGS), (vector, rendered, scan(rendered, ALLOWED_TAGS))
    for vector in TEMPLATES:  # template syntax is text to Markdown: it comes out as written, but for Markdown's
        text = html.unescape(re.sub(r"<[^>]+>", "", str(render_markdown(vector)))).strip()  # own `__bold__`, `# h1`
        assert re.sub("[_#]", "", text) == re.sub("[_#]", "", vector), (vector, text)
    assert len(VECTORS) >= 60


# --- every field, through the API as the people who type them ------------------------------------

_HASH: list[str] = []
_PEOPLE = itertools.count(1)


def person(name: str, role: str) -> User:
    """A member of 上尾市 (as tests/factories.py makes them, with one password hash for all: hashing
    a password takes 0.3 s, and a hundred people are needed)."""
    if not _HASH:
        _HASH.append(hash_password(PASSWORD))
    user = User(email=f"xss{next(_PEOPLE)}@example.jp", name=name, password_hash=_HASH[0], available=True)
    db.session.add(user)
    db.session.flush()
    db.session.add(Membership(user_id=user.id, organization_id=organization_by_code("ageo").id, role=role, active=True))
    db.session.commit()
    return user


def _ok(response, *statuses: int) -> bool:
    return response.status_code in (statuses or (200, 201))


def seed(client, factory, vector: str, chief: dict) -> tuple[int, list[str]]:
    """An incident whose every text field holds `vector`; returns its id and the fields accepted."""
    headers = factory.headers(person(vector, "csirt"))
    fields = ["person name"]
    created = client.post(API, headers=headers, json={
        "organization": "ageo", "title": vector, "description": vector, "threat_category": "intentional",
        "subcategory": "malware", "detected_at": "2026-11-01T09:00:00+09:00",
        "personal_data": {"involved": True, "persons": 150}})
    assert created.status_code == 201, (vector, created.get_data(as_text=True))
    incident_id, url = created.json["id"], f"{API}/{created.json['id']}"
    fields += ["title", "description"]
    patched = client.patch(url, headers=headers, json={"version": created.json["version"], "severity": "critical",
                                                      "severity_reason": vector})
    fields += ["severity reason"] if _ok(patched) else []
    fields += ["note"] if _ok(client.post(f"{url}/notes", headers=headers, json={"body": vector})) else []
    task = client.post(f"{url}/tasks", headers=headers, json={"stage": "triage", "title": vector, "guidance": vector})
    fields += ["task title", "task guidance"] if _ok(task) else []
    evidence = client.post(f"{url}/evidence", headers=headers, content_type="multipart/form-data",
                           data={"file": (io.BytesIO(b"GET / 200\n"), vector), "description": vector})
    fields += ["evidence file name", "evidence description"] if _ok(evidence) else []
    notice = client.post(f"{url}/deadlines", headers=headers, json={"kind": "persons_notice", "note": vector})
    fields += ["notice note"] if _ok(notice) else []
    deadlines = client.get(f"{url}/deadlines", headers=headers).json["items"]
    ppc = next(d for d in deadlines if d["kind"] == "ppc_preliminary")
    filed = client.post(f"{url}/deadlines/{ppc['id']}/met", headers=headers, json={"reference": vector, "note": vector})
    fields += ["filing reference", "filing note"] if _ok(filed) else []
    record = client.put(f"{url}/post-incident-record", headers=headers, json={
        "cause": vector, "impact": vector, "measures": vector, "prevention": vector,
        "recommendations": [{"text": vector, "clause": "8-6"}]})
    fields += ["record cause", "record impact", "record measures", "record prevention", "recommendation"] if _ok(record) else []
    forward = client.post(f"{url}/stage", headers=chief, json={"to": "report", "override": True, "reason": vector})
    fields += ["stage override reason"] if _ok(forward) else []
    back = client.post(f"{url}/stage", headers=headers, json={"to": "triage", "reason": vector})
    fields += ["stage back reason"] if _ok(back) else []
    return incident_id, fields + ["search text"]


def seed_report(client, headers: dict, vector: str) -> int | None:
    """A report for triage (SOC forwarder, API) titled and written with `vector`, where the app has them."""
    report = client.post("/api/v1/reports", headers=headers, json={
        "organization": "ageo", "title": vector, "body": vector, "source": "external"})
    if report.status_code not in (200, 201):
        return None
    # what the public form and the mail intake add: the reporter's contact and the mail's sender
    db.session.execute(update(Report).where(Report.id == report.json["id"]).values(contact=vector[:500], sender=vector[:320]))
    db.session.commit()
    return report.json["id"]


@pytest.fixture(params=range(SHARDS), ids=lambda shard: f"shard{shard + 1}of{SHARDS}")
def xss_site(app, client, factory, engine_name, request):
    """Every vector of one shard in every field: {vector: incident id}, the fields tried, and the viewer."""
    vectors = VECTORS[request.param::SHARDS]
    if engine_name != "sqlite":
        pytest.skip("the pages render the same text on both engines; the corpus runs once, on SQLite")
    chief = factory.headers(person("上尾 統括", "chief_officer"))
    viewer = person("上尾 閲覧", "csirt")
    incidents, reports, tried, accepted = {}, {}, 0, Counter()
    triage = "triage.show" in app.view_functions  # the triage queue (reports from SOCs, e-mail, the public form)
    soc = factory.headers(person("SOC 転送", "csirt"))
    for vector in vectors:
        incidents[vector], fields = seed(client, factory, vector, chief)
        tried += len(fields)
        accepted.update(fields)
        if triage and (report_id := seed_report(client, soc, vector)):
            reports[vector] = report_id
            tried += 4  # report title, body, contact, sender
    assert not triage or len(reports) == len(vectors), "reports refused"
    # a field may refuse a few vectors (too long, not a valid name), but one that refuses most of
    # them is no longer tested: its input rules changed, and the seeding must follow (of the whole
    # corpus, 8 vectors in 101 do not arrive as an evidence file's name; dealt into shards, a shard may get 3)
    assert len(accepted) == 20 and min(accepted.values()) >= 0.8 * len(vectors), accepted
    return {"incidents": incidents, "reports": reports, "tried": tried, "viewer": viewer, "vectors": vectors}


def _pages(vector: str, incident_id: int, report_id: int | None) -> list[str]:
    return ([p.format(id=incident_id) for p in PAGES] + [f"/incidents/?q={quote(vector[:200])}"]
            + ([f"/triage/reports/{report_id}"] if report_id else []))


def _literal(vector: str) -> str:
    return " ".join(vector.split())


# Before any page script: dialogs hooked, CSP violations and dangerous nodes recorded as the parser adds them.
WATCH = r"""
window.__xss = 0; window.__seen = [];
for (const name of ["alert", "confirm", "prompt", "print"]) {
  window[name] = (...args) => { window.__seen.push(name + "(" + String(args[0]) + ")"); return null; };
}
document.addEventListener("securitypolicyviolation", (e) => window.__seen.push("csp " + e.violatedDirective + " " + e.blockedURI));
const ACTIVE = new Set(["SCRIPT", "IFRAME", "FRAME", "OBJECT", "EMBED", "APPLET", "BASE", "PORTAL"]);
const URLS = ["href", "src", "action", "formaction", "xlink:href", "data", "srcdoc"];
const flag = (node) => {
  if (node.nodeType !== 1) return;
  if (ACTIVE.has(node.tagName.toUpperCase())) window.__seen.push("<" + node.tagName + ">");
  for (const attr of node.attributes) {
    const value = attr.value.replace(/[\t\n\r]/g, "").trim().toLowerCase();
    if (attr.name.startsWith("on")) window.__seen.push("<" + node.tagName + " " + attr.name + ">");
    if (URLS.includes(attr.name) && /^(javascript|vbscript|data:text)/.test(value)) window.__seen.push("<" + node.tagName + " " + attr.name + "=" + value.slice(0, 30) + ">");
  }
};
new MutationObserver((records) => { for (const r of records) { if (r.type === "attributes") flag(r.target);
  for (const n of r.addedNodes) { flag(n); if (n.querySelectorAll) n.querySelectorAll("*").forEach(flag); } } })
  .observe(document, {childList: true, subtree: true, attributes: true});
"""


def test_every_vector_in_every_field(app, client, xss_site, request, engine_name):
    """The pages as HTML, then in Chromium. SQLite only: what a page shows does not depend on the engine."""
    page_login(client, xss_site["viewer"])
    paths = [(v, path) for v, incident_id in xss_site["incidents"].items()
             for path in _pages(v, incident_id, xss_site["reports"].get(v))]
    paths += [("(all)", path) for path in LISTS + (("/triage",) if xss_site["reports"] else ())]
    secret = str(app.config["SECRET_KEY"])
    problems = []
    for vector, path in paths:
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        body = response.get_data(as_text=True)
        problems += [(vector, path, p) for p in scan(body)]
        assert secret not in body, (vector, path)
        csp = response.headers.get("Content-Security-Policy", "")
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp, (path, csp)
        if path.endswith(f"/{xss_site['incidents'].get(vector)}"):  # the incident page: the title, literally
            title = html.unescape(re.sub(r"<[^>]+>", "", re.search(r"<h1>(.*?)</h1>", body, re.S).group(1)))
            assert _literal(vector) in _literal(title) and EVALUATED.get(vector, "\0") not in title, (vector, title)
    assert not problems, problems[:20]
    placements = xss_site["tried"]
    count = len(xss_site["vectors"])
    say(request, f"xss [HTML]: {count} of {len(VECTORS)} vectors, {placements} vector × field placements "
                 f"({placements / count:.1f} fields each), {len(paths)} pages scanned")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM}: the browser half did not run")
    _in_chromium(request, xss_site, paths)


def _in_chromium(request, xss_site, paths) -> None:
    page = request.getfixturevalue("new_page")(bypass_csp=True)  # only escaping and sanitizing left
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.add_init_script(WATCH)
    login(page, xss_site["viewer"].email, "/incidents/")
    # The harness itself: a payload that does run must be seen (else every check below passes vacuously).
    page.evaluate("""document.body.insertAdjacentHTML("beforeend", '<img src=x onerror="window.__xss=1">');
                     alert("control")""")
    page.wait_for_function("window.__xss === 1")
    assert {"alert(control)", "<IMG onerror>"} <= set(page.evaluate("window.__seen")), page.evaluate("window.__seen")
    ran = []
    for vector, path in paths:
        page.goto(path, wait_until="load")
        page.wait_for_timeout(5)  # handlers queued at load (toggle, focus, SVG animation begin)
        flag, seen = page.evaluate("[window.__xss, window.__seen]")
        if flag or seen or dialogs:
            ran.append((vector, path, flag, seen, list(dialogs)))
            dialogs.clear()
        if path.endswith(f"/{xss_site['incidents'].get(vector)}"):
            assert _literal(vector) in _literal(page.locator("h1").first.inner_text()), vector
        elif path.endswith("/edit"):
            # An <input type=text> drops line breaks from its value; nothing else may change.
            assert page.locator("#title").input_value() == re.sub("[\r\n]", "", vector.strip()), vector
    assert not ran, ran[:10]
    say(request, f"xss [Chromium]: {len(paths)} pages opened with the CSP bypassed; no payload ran")
