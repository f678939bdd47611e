"""Evidence (証拠保全): hashes, storage by SHA-256, attachment downloads, chain of custody."""
from __future__ import annotations

import hashlib
import io
import os
import re
from pathlib import Path
from urllib.parse import quote

import pytest

from app.core.db import db
from app.incidents.evidence import store_evidence
from app.incidents.models import Evidence, TimelineEvent
from tests.workflow.helpers import API, assert_error, create, kinds, login, page_token, timeline


def evidence_dir(app) -> Path:
    return Path(app.config["INSTANCE_PATH"]) / "evidence"


def upload(client, headers, incident_id, content: bytes, filename="access.log", description=""):
    return client.post(f"{API}/{incident_id}/evidence", headers=headers, content_type="multipart/form-data",
                       data={"file": (io.BytesIO(content), filename), "description": description})


def raw_upload(client, headers, incident_id, disposition: bytes, content: bytes):
    """A hand-built multipart body, for names the test client cannot encode (backslash, newline, NUL)."""
    body = (b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; " + disposition +
            b"\r\nContent-Type: application/octet-stream\r\n\r\n" + content + b"\r\n--XyZ--\r\n")
    return client.post(f"{API}/{incident_id}/evidence", headers=headers, data=body,
                       content_type="multipart/form-data; boundary=XyZ")


def all_files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def csirt(factory):
    user = factory.user({"ageo": ["csirt"]})
    return user, factory.headers(user)


def test_upload_hashes_stores_and_downloads_exact_bytes(app, client, csirt):
    user, h = csirt
    iid = create(client, h)["id"]
    content = b"2026-11-20 10:00:01 DENY 203.0.113.5 -> 10.0.0.8\n\x00\xff\xfe binary tail " + os.urandom(32)
    response = upload(client, h, iid, content, "proxy.log", "プロキシのログ（システム管理者が取得）")
    assert response.status_code == 201, response.get_data(as_text=True)
    got = response.json
    sha = hashlib.sha256(content).hexdigest()
    assert got["sha256"] == sha and got["size"] == len(content) and got["filename"] == "proxy.log"
    assert got["url"] == f"/api/v1/incidents/{iid}/evidence/{got['id']}"
    assert got["description"] == "プロキシのログ（システム管理者が取得）" and got["uploaded_by"] == user.email

    stored = evidence_dir(app) / sha[:2] / sha
    assert stored.read_bytes() == content
    assert not [p for p in evidence_dir(app).rglob(".upload-*")]

    listing = client.get(f"{API}/{iid}/evidence", headers=h).json
    assert listing["total"] == 1 and listing["items"][0] == got

    for n in (1, 2):
        download = client.get(got["url"], headers=h)
        assert download.status_code == 200
        assert download.data == content
        assert download.headers["Content-Type"] == "application/octet-stream"
        assert download.headers["Content-Disposition"] == "attachment; filename=proxy.log"
        assert download.headers["X-Content-Type-Options"] == "nosniff"
        assert "no-store" in download.headers["Cache-Control"]
        downloads = [e for e in timeline(client, h, iid) if e["kind"] == "evidence_downloaded"]
        assert len(downloads) == n
        assert downloads[-1]["data"] == {"evidence_id": got["id"], "sha256": sha, "channel": "api"}
        assert downloads[-1]["actor"] == user.email
    added = [e for e in timeline(client, h, iid) if e["kind"] == "evidence_added"]
    assert added[0]["data"] == {"evidence_id": got["id"], "sha256": sha, "size": len(content), "filename": "proxy.log"}


def test_same_bytes_twice_are_two_records_and_one_file(app, client, csirt):
    _user, h = csirt
    iid = create(client, h)["id"]
    content = b"same content " + os.urandom(16)
    first = upload(client, h, iid, content, "a.bin").json
    second = upload(client, h, iid, content, "b.bin").json
    assert first["sha256"] == second["sha256"] and first["id"] != second["id"]
    sha = first["sha256"]
    assert [p.name for p in (evidence_dir(app) / sha[:2]).iterdir() if p.name == sha] == [sha]
    assert client.get(second["url"], headers=h).data == content


def test_japanese_file_name_is_kept_for_display(client, csirt):
    _user, h = csirt
    iid = create(client, h)["id"]
    got = upload(client, h, iid, b"x", "不審メール.eml").json
    assert got["filename"] == "不審メール.eml"
    download = client.get(got["url"], headers=h)
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert f"filename*=UTF-8''{quote('不審メール.eml')}" in download.headers["Content-Disposition"]


@pytest.mark.parametrize(("disposition", "expected"), [
    (b'filename="../../etc/passwd"', "passwd"),
    (b'filename="..\\\\..\\\\win.ini"', "win.ini"),
    (b'filename="a/b/c.txt"', "c.txt"),
    (b"filename*=UTF-8''..%2F..%2F..%2Ftmp%2Fevil.sh", "evil.sh"),
    (b"filename*=UTF-8''evil%00.txt", "evil.txt"),
    (b"filename*=UTF-8''line%0Abreak.txt", "linebreak.txt"),
    (b"filename*=UTF-8''..", "evidence.bin"),
    (b'filename="/"', "evidence.bin"),
])
def test_path_like_names_are_stored_as_plain_names(app, client, csirt, disposition, expected):
    _user, h = csirt
    iid = create(client, h)["id"]
    root = Path(app.config["INSTANCE_PATH"]).parent
    before = {p for p in all_files(root) if evidence_dir(app) not in p.parents}
    content = b"payload " + os.urandom(16)
    response = raw_upload(client, h, iid, disposition, content)
    assert response.status_code == 201, response.get_data(as_text=True)
    name = response.json["filename"]
    assert name == expected
    assert "/" not in name and "\\" not in name and not name.startswith("..")
    assert "\x00" not in name and "\n" not in name
    after = {p for p in all_files(root) if evidence_dir(app) not in p.parents}
    assert after == before or all(p.suffix in (".db-wal", ".db-shm", ".db", ".db-journal") for p in after - before)
    sha = hashlib.sha256(content).hexdigest()
    assert (evidence_dir(app) / sha[:2] / sha).read_bytes() == content
    for path in all_files(evidence_dir(app)):
        assert re.fullmatch(r"[0-9a-f]{64}", path.name) and path.parent.name == path.name[:2], path
    item = db.session.get(Evidence, response.json["id"])
    assert item.filename == expected
    download = client.get(response.json["url"], headers=h)
    assert download.data == content and download.headers["Content-Disposition"].startswith("attachment")


def test_over_the_limit_is_413_and_nothing_is_kept(app, client, csirt, monkeypatch):
    _user, h = csirt
    iid = create(client, h)["id"]
    monkeypatch.setitem(app.config, "EVIDENCE_MAX_BYTES", 1024)
    files_before = all_files(evidence_dir(app)) if evidence_dir(app).exists() else set()
    exact = upload(client, h, iid, b"e" * 1024, "exact.bin")
    assert exact.status_code == 201 and exact.json["size"] == 1024
    files_before |= {evidence_dir(app) / exact.json["sha256"][:2] / exact.json["sha256"]}
    assert_error(upload(client, h, iid, b"x" * 1025, "big.bin"), 413, code="too_large")
    assert_error(upload(client, h, iid, os.urandom(200 * 1024), "huge.bin"), 413)
    assert all_files(evidence_dir(app)) == files_before
    assert client.get(f"{API}/{iid}/evidence", headers=h).json["total"] == 1
    assert kinds(client, h, iid).count("evidence_added") == 1


def test_upload_errors(client, factory, csirt):
    _user, h = csirt
    iid = create(client, h)["id"]
    url = f"{API}/{iid}/evidence"
    assert_error(client.post(url, headers=h, content_type="multipart/form-data", data={"description": "x"}),
                 422, field="file")
    assert_error(client.post(url, headers=h, json={"file": "abc"}), 415)
    assert_error(client.post(url, headers=h, data=b"abc", content_type="application/octet-stream"), 415)
    assert_error(upload(client, h, iid, b"x", description="d" * 2001), 422, field="description")
    assert_error(upload(client, h, iid, b"x", description="a\x00b"), 422, field="description")
    auditor = factory.headers(factory.user({"ageo": ["auditor"]}))
    assert_error(upload(client, auditor, iid, b"x"), 403)
    assert_error(upload(client, auditor, iid, b"x", description="d" * 2001), 422, field="description")
    manager = factory.headers(factory.user({"ageo": ["security_manager"]}))
    assert upload(client, manager, iid, b"from the manager").status_code == 201
    assert client.get(url, headers=h).json["total"] == 1


def test_foreign_users_cannot_see_or_download(client, factory, csirt):
    _user, h = csirt
    iid = create(client, h)["id"]
    item = upload(client, h, iid, b"secret").json
    other = create(client, h)["id"]
    for headers in (factory.headers(factory.user({"saga": ["ciso"]})),
                    factory.headers(factory.user({"ageo": ["reporter"]}))):
        assert_error(client.get(item["url"], headers=headers), 404)
        assert_error(client.get(f"{API}/{iid}/evidence", headers=headers), 404)
        assert_error(upload(client, headers, iid, b"x"), 404)
    assert_error(client.get(f"{API}/{other}/evidence/{item['id']}", headers=h), 404)
    assert_error(client.get(f"{API}/{iid}/evidence/999999", headers=h), 404)
    assert_error(client.get(item["url"]), 401)
    assert kinds(client, h, iid).count("evidence_downloaded") == 0
    auditor = factory.headers(factory.user({"ageo": ["auditor"]}))
    assert client.get(item["url"], headers=auditor).data == b"secret"


def test_page_upload_and_download_with_csrf(app, client, factory):
    user = factory.user({"ageo": ["security_manager"]})
    incident = factory.incident(factory.user({"ageo": ["csirt"]}))
    login(client, user)
    token = page_token(client, incident.id)
    content = b"page upload " + os.urandom(16)
    refused = client.post(f"/incidents/{incident.id}/evidence", content_type="multipart/form-data",
                          data={"file": (io.BytesIO(content), "page.txt")})
    assert refused.status_code == 400
    response = client.post(f"/incidents/{incident.id}/evidence", content_type="multipart/form-data",
                           data={"file": (io.BytesIO(content), "../page.txt"), "description": "画面から",
                                 "csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/incidents/{incident.id}#evidence"
    item = db.session.query(Evidence).filter_by(incident_id=incident.id).one()
    sha = hashlib.sha256(content).hexdigest()
    assert (item.sha256, item.size, item.filename, item.description) == (sha, len(content), "page.txt", "画面から")
    shown = client.get(f"/incidents/{incident.id}")
    assert "証拠を保全しました。" in shown.text and sha in shown.text

    download = client.get(f"/incidents/{incident.id}/evidence/{item.id}")
    assert download.status_code == 200 and download.data == content
    assert download.headers["Content-Disposition"] == "attachment; filename=page.txt"
    assert download.headers["Content-Type"] == "application/octet-stream"
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    events = [e for e in timeline(client, factory.headers(user), incident.id) if e["kind"] == "evidence_downloaded"]
    assert [e["data"]["channel"] for e in events] == ["web"] and events[0]["actor"] == user.email

    empty = client.post(f"/incidents/{incident.id}/evidence", content_type="multipart/form-data",
                        data={"csrf_token": token}, follow_redirects=True)
    assert "ファイルを選んでください。" in empty.text
    assert db.session.query(Evidence).filter_by(incident_id=incident.id).count() == 1


def test_page_download_of_a_foreign_incident_is_404(client, factory):
    owner = factory.user({"ageo": ["csirt"]})
    incident = factory.incident(owner)
    item = store_evidence(owner, incident, io.BytesIO(b"x"), "x.txt")
    db.session.commit()
    login(client, factory.user({"saga": ["ciso"]}))
    assert client.get(f"/incidents/{incident.id}/evidence/{item.id}").status_code == 404
    assert db.session.query(TimelineEvent).filter_by(kind="evidence_downloaded").count() == 0


def test_files_over_one_mib_up_to_the_evidence_limit_are_accepted_by_api_and_page(app, client, factory):
    """The 1 MiB body limit is for JSON; evidence has its own limit (EVIDENCE_MAX_BYTES, 20 MiB)."""
    user = factory.user({"ageo": ["csirt"]})
    h = factory.headers(user)
    iid = create(client, h)["id"]
    assert app.config["EVIDENCE_MAX_BYTES"] > 3 * 1024 * 1024
    api_bytes, page_bytes = os.urandom(2 * 1024 * 1024), os.urandom(2 * 1024 * 1024)
    response = upload(client, h, iid, api_bytes, "disk-image-part1.bin")
    assert response.status_code == 201 and response.json["size"] == len(api_bytes)
    login(client, user)
    token = page_token(client, iid)
    response = client.post(f"/incidents/{iid}/evidence", content_type="multipart/form-data",
                           data={"file": (io.BytesIO(page_bytes), "disk-image-part2.bin"), "csrf_token": token})
    assert response.status_code == 302, (response.status_code, response.get_data(as_text=True)[:300])
    sha = hashlib.sha256(page_bytes).hexdigest()
    assert (evidence_dir(app) / sha[:2] / sha).read_bytes() == page_bytes


def test_an_empty_file_part_without_a_name_is_no_file(client, csirt):
    """What a browser form sends when no file was chosen: the API must not keep an empty evidence.bin."""
    _user, h = csirt
    iid = create(client, h)["id"]
    assert_error(upload(client, h, iid, b"", ""), 422, field="file")
    assert client.get(f"{API}/{iid}/evidence", headers=h).json["total"] == 0
