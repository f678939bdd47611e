"""Issue 15, item 3: a backup changed by someone without the backup key is refused, naming why,
before anything is written; no member is written outside the evidence folder; backups are
private and may be encrypted; an instance that has only been initialised takes a restore."""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import stat
import tarfile

import pyrage
import pytest

from app.backup.services import BackupError, create_backup, restore_backup
from app.core.db import db
from app.core.migrate import upgrade_head
from app.incidents.evidence import evidence_dir
from app.organizations.services import sync_organizations
from tests.backup.support import app_on, read_table, table_names, upload
from tests.backup.test_cli import refused, run
from tests.workflow.helpers import create

EVIDENCE = b"2026-11-20 10:00:01 DENY 203.0.113.5\n" + os.urandom(64)


@pytest.fixture
def made(app, client, factory, tmp_path):
    """A directory backup of one incident with one evidence file: (path, manifest)."""
    headers = factory.headers(factory.user({"ageo": ["csirt"]}))
    incident = create(client, headers, title="住民情報の漏えい")
    upload(client, headers, incident["id"], EVIDENCE, "proxy.log")
    path = tmp_path / "backup"
    return path, create_backup(app.config["DATABASE_URL"], evidence_dir(), path)


def _rehash(path, manifest: dict) -> dict:
    """What the issue's attacker does after changing files: every SHA-256 in the manifest recomputed."""
    files = {name: hashlib.sha256((path / name).read_bytes()).hexdigest() for name in manifest["files"]}
    files |= {p.relative_to(path).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
              for p in path.rglob("*") if p.is_file() and p.name != "manifest.json"}
    return manifest | {"files": files}


def _write_manifest(path, manifest: dict) -> None:
    (path / "manifest.json").chmod(0o600)
    (path / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False))


def _pack(directory, archive, extra: list[tuple[tarfile.TarInfo, bytes | None]] = ()) -> None:
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(directory, arcname="backup")
        for info, content in extra:
            tar.addfile(info, io.BytesIO(content) if content is not None else None)


def _untouched(url: str, target) -> None:
    assert table_names(url) == set()  # not even migrated
    assert not (target / "evidence").exists()
    assert not list(target.parent.rglob("*pwned*"))


@pytest.mark.parametrize("form", ["directory", "tar.gz"])
def test_changed_rows_and_evidence_with_the_manifest_recomputed_are_refused(made, databases, tmp_path, engine_name,
                                                                             form):
    path, manifest = made
    incidents = path / "tables" / "incidents.jsonl"
    incidents.write_text(incidents.read_text(encoding="utf-8").replace("住民情報の漏えい", "軽微な事象"), encoding="utf-8")
    [blob] = [path / name for name in manifest["files"] if name.startswith("evidence/")]
    blob.chmod(0o600)
    blob.write_bytes(b"nothing to see here\n")
    _write_manifest(path, _rehash(path, manifest))
    source = path
    if form == "tar.gz":
        source = tmp_path / "tampered.tar.gz"
        _pack(path, source)
    url, target = databases.new(engine_name), tmp_path / "restored"
    with pytest.raises(BackupError) as refused_:
        restore_backup(url, target / "evidence", source)
    assert str(refused_.value) == "manifest.json does not match its signature: the backup was altered"
    _untouched(url, target)


@pytest.mark.parametrize("how", ["unsigned", "old-format", "foreign-key"])
def test_an_unsigned_backup_or_one_signed_with_an_unknown_key_is_refused(made, databases, tmp_path, engine_name, how):
    path, manifest = made
    body = {k: v for k, v in manifest.items() if k != "signature"}
    if how == "unsigned":
        _write_manifest(path, body)
        expected = "the backup is unsigned (manifest.json has no signature): refused"
    elif how == "old-format":
        _write_manifest(path, body | {"format": "csirt-backup/1"})
        expected = "the backup is unsigned (format 'csirt-backup/1', made before backups were signed)"
    else:
        from app.audit.keys import Keyring
        from app.backup.manifest import sign
        theirs = Keyring.of([], b"the attacker's own key")
        _write_manifest(path, sign(body, theirs))
        expected = f"the backup is signed with an unknown key (id '{theirs.current}')"
    url, target = databases.new(engine_name), tmp_path / "restored"
    with pytest.raises(BackupError) as refused_:
        restore_backup(url, target / "evidence", path)
    assert str(refused_.value).startswith(expected), str(refused_.value)
    _untouched(url, target)


def test_a_manifest_nested_thousands_deep_is_refused_with_a_reason(made, databases, tmp_path, engine_name):
    path, _manifest = made
    (path / "manifest.json").chmod(0o600)
    (path / "manifest.json").write_text("[" * 100_000 + "]" * 100_000)
    url, target = databases.new(engine_name), tmp_path / "restored"
    with pytest.raises(BackupError) as refused_:
        restore_backup(url, target / "evidence", path)
    assert str(refused_.value) == f"no readable manifest.json in {path}: the JSON is nested too deeply"
    _untouched(url, target)


def _member(name: str, kind: bytes = tarfile.REGTYPE, content: bytes = b"pwned", link: str = "") -> tuple:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    info.size = len(content) if kind == tarfile.REGTYPE else 0
    return info, content if kind == tarfile.REGTYPE else None


@pytest.mark.parametrize("member", [
    _member("backup/evidence/..pwned"), _member("backup/../pwned"), _member("/tmp/pwned-absolute"),
    _member("backup/evidence/" + "a" * 64, tarfile.SYMTYPE, link="/etc/passwd"),
    _member("backup/evidence/" + "b" * 64, tarfile.LNKTYPE, link="backup/manifest.json"),
    _member("backup/tables/pwned.sh.jsonl/../../pwned"), _member("backup/pwned.txt"),
], ids=["dotdot-in-evidence", "dotdot", "absolute", "symlink", "hardlink", "nested-dotdot", "other-name"])
def test_only_members_of_the_expected_form_are_accepted(made, databases, tmp_path, engine_name, member):
    path, manifest = made
    name = member[0].name
    if name.startswith("backup/evidence/") and member[0].isreg():  # as the attacker: listed and re-hashed
        listed = {name.removeprefix("backup/"): hashlib.sha256(member[1]).hexdigest()}
        _write_manifest(path, manifest | {"files": manifest["files"] | listed})
    archive = tmp_path / "evil.tar.gz"
    _pack(path, archive, [member])
    url, target = databases.new(engine_name), tmp_path / "instance"
    with pytest.raises(BackupError) as refused_:
        restore_backup(url, target / "evidence", archive)
    assert str(refused_.value).startswith(f"{archive}: refused {name!r}: a backup holds only manifest.json"), \
        str(refused_.value)
    _untouched(url, target)
    assert not (tmp_path / "pwned").exists() and not (target / "..pwned").exists()


def test_a_stray_file_or_link_in_a_directory_backup_is_refused(made, databases, tmp_path, engine_name):
    path, _manifest = made
    (path / "evidence" / ("c" * 64)).symlink_to("/etc/passwd")
    url, target = databases.new(engine_name), tmp_path / "instance"
    with pytest.raises(BackupError) as refused_:
        restore_backup(url, target / "evidence", path)
    assert str(refused_.value).startswith(f"{path}: refused 'evidence/{'c' * 64}'")
    _untouched(url, target)


def test_a_decompression_bomb_is_refused_before_it_is_written(made, databases, tmp_path, engine_name):
    path, _manifest = made
    archive, size = tmp_path / "bomb.tar.gz", 64 << 20  # 64 MiB of zeros in ~64 KiB
    with gzip.open(archive, "wb", compresslevel=9) as raw, tarfile.open(fileobj=raw, mode="w") as tar:
        tar.add(path, arcname="backup")
        info = tarfile.TarInfo("backup/evidence/" + "d" * 64)
        info.size = size
        tar.addfile(info, io.BytesIO(bytes(size)))
    assert archive.stat().st_size < size // 200
    url, target = databases.new(engine_name), tmp_path / "instance"
    with pytest.raises(BackupError) as refused_:
        restore_backup(url, target / "evidence", archive)
    assert "refused as a decompression bomb" in str(refused_.value)
    _untouched(url, target)


def test_evidence_must_match_its_name_and_its_rows(made, databases, tmp_path, engine_name):
    """Checked even under a valid signature (a backup made wrongly, or re-signed by the key's holder)."""
    from app.audit.keys import backup_keyring
    from app.backup.manifest import sign
    path, manifest = made
    [name] = [n for n in manifest["files"] if n.startswith("evidence/")]
    (path / name).chmod(0o600)
    (path / name).write_bytes(b"other bytes")
    _write_manifest(path, sign(_rehash(path, manifest), backup_keyring()))
    url, target = databases.new(engine_name), tmp_path / "instance"
    with pytest.raises(BackupError) as refused_:
        restore_backup(url, target / "evidence", path)
    assert str(refused_.value) == f"{name} does not hold the file its name is the SHA-256 of"

    (path / name).write_bytes(EVIDENCE)
    rows = path / "tables" / "evidence.jsonl"
    rows.chmod(0o600)
    rows.write_text("")
    _write_manifest(path, sign(_rehash(path, manifest), backup_keyring()))
    with pytest.raises(BackupError) as refused_:
        restore_backup(url, target / "evidence", path)
    assert str(refused_.value) == f"evidence rows and files differ: ['{name.split('/')[1]}']"
    _untouched(url, target)


def _modes(root) -> set[str]:
    return {f"{'d' if p.is_dir() else 'f'}{stat.S_IMODE(p.stat().st_mode):o}" for p in [root, *root.rglob("*")]}


def test_backups_are_private(app, made, tmp_path):
    path, _manifest = made
    assert _modes(path) == {"d700", "f600"}
    archive = create_backup(app.config["DATABASE_URL"], evidence_dir(), tmp_path / "b.tar.gz") and tmp_path / "b.tar.gz"
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    with tarfile.open(archive) as tar:
        assert {m.mode & 0o777 for m in tar.getmembers()} == {0o700, 0o600}


def test_an_encrypted_backup_restores_with_its_identity_only(app, made, databases, tmp_path, engine_name):
    identity, other = pyrage.x25519.Identity.generate(), pyrage.x25519.Identity.generate()
    (tmp_path / "key.txt").write_text(f"# created for the test\n{identity}\n")
    (tmp_path / "other.txt").write_text(f"{other}\n")
    live = app.config["INSTANCE_PATH"]
    target = tmp_path / "nightly.age"
    made_ = run(app.config["DATABASE_URL"], live, "backup", str(target), "--encrypt-to", str(identity.to_public()))
    assert made_.returncode == 0 and made_.stdout.rstrip().endswith(", encrypted"), made_.stderr
    content = target.read_bytes()
    assert content.startswith(b"age-encryption.org/v1") and "住民情報".encode() not in content
    assert b"manifest.json" not in content and stat.S_IMODE(target.stat().st_mode) == 0o600

    url = databases.new(engine_name)
    refused(run(url, tmp_path / "r", "restore", str(target)), f"{target} is encrypted: give the age identity file")
    refused(run(url, tmp_path / "r", "restore", str(target), "--identity", str(tmp_path / "other.txt")),
            f"{target} cannot be decrypted with {tmp_path / 'other.txt'}: No matching keys found")
    assert table_names(url) == set()
    restored = run(url, tmp_path / "r", "restore", str(target), "--identity", str(tmp_path / "key.txt"))
    assert restored.returncode == 0 and "; audit log: ok, " in restored.stdout, restored.stderr
    assert len(read_table(made[0], "incidents")) == 1


def test_an_initialised_instance_takes_a_restore_and_one_in_use_is_refused(app, made, factory, databases, tmp_path,
                                                                           engine_name):
    path, manifest = made
    url = databases.new(engine_name)
    upgrade_head(url)
    with app_on(url, tmp_path / "target") as target, target.app_context():
        sync_organizations()  # what `init` does on a new server
        db.session.commit()
    restore_backup(url, tmp_path / "target" / "evidence", path)
    with app_on(url, tmp_path / "target") as target, target.app_context():
        from app.audit.services import verify
        result = verify(extra=[("the backup's checkpoint", manifest["audit"])])
        assert (result.ok, result.entries, result.checkpoints) == (True, manifest["tables"]["audit_log"], 1)

    busy = databases.new(engine_name)
    upgrade_head(busy)
    with app_on(busy, tmp_path / "busy") as target, target.app_context():
        sync_organizations()
        factory.user({"ageo": ["csirt"]})
        db.session.commit()
    with pytest.raises(BackupError) as refused_:
        restore_backup(busy, tmp_path / "busy" / "evidence", path)
    assert str(refused_.value) == "the database is not empty (people: 1, memberships: 1): restore into a new one"


def test_after_a_restore_the_backups_checkpoint_guards_the_restored_log(app, made, databases, tmp_path, engine_name):
    path, manifest = made
    url, instance = databases.new(engine_name), tmp_path / "restored"
    restored = run(url, instance, "restore", str(path))
    assert restored.returncode == 0, restored.stderr
    [line] = (instance / "audit-checkpoints").read_text().splitlines()
    assert json.loads(line) == manifest["audit"]
    assert run(url, instance, "audit", "verify").returncode == 0
    with app_on(url, instance) as target, target.app_context():  # the newest entries cut off, the head reset
        from sqlalchemy import text
        with db.engine.begin() as conn:
            last = conn.execute(text("SELECT seq, hash FROM audit_log WHERE chain = 'ageo' ORDER BY seq")).all()
            conn.execute(text("DELETE FROM audit_log WHERE chain = 'ageo' AND seq > :s"), {"s": last[-2].seq})
            conn.execute(text("UPDATE audit_head SET last_id = :s, last_hash = :h WHERE chain = 'ageo'"),
                         {"s": last[-2].seq, "h": last[-2].hash})
    verified = run(url, instance, "audit", "verify")
    assert verified.returncode == 1 and f"ageo: entries after #{last[-2].seq} are missing" in verified.stderr
