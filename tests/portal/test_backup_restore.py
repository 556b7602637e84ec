"""``manage.py backup`` / ``manage.py restore [--check] FILE`` (portal/backups.py; README
"Backup and restore"): a backup is one file with the database (pg_dump custom format, or
SQLite's online backup), the media folder and a manifest (row counts, SHA-256 per part).

The drill runs for real on whichever database the suite runs on (SQLite in memory, or
PostgreSQL in CI): import data, back up, wipe the database (every table dropped) and the
media folder, restore, and everything is back: rows, audit chain, files; the site keeps
working afterwards. Records are kept at least 2 years (000 §二(一)2; 001 第十二条), which
is only worth something if the backups restore.

Transactional tests: pg_dump and pg_restore are other sessions, they see committed data
only, and the restore replaces the very database the tests run on.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import tarfile
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from portal import audit, backups
from portal.models import AuditEvent
from registry.models import ImportStatus, Partner, RegisteredNumber
from tests.registry.conftest import register, save_partner
from tests.uploads import import_file, register_csv

SHANGHAI = ZoneInfo("Asia/Shanghai")
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fixed_day")]


def cli(name: str, *args) -> tuple[int, dict, str]:
    """Run a command; (exit code, its one JSON line, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(name, *map(str, args), stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = exc.code
    lines = out.getvalue().splitlines()
    assert len(lines) == 1, out.getvalue()
    return code, json.loads(lines[0]), err.getvalue()


def import_register(actor, path: Path, numbers: list[str]):
    """A small 号码登记表 through the upload pipeline (as the page and the CLI run it)."""
    job = import_file(actor, register_csv(path, numbers))
    assert job.status == ImportStatus.DONE, job.message
    return job


@pytest.fixture
def registry_data(inst_alice, tmp_path):
    """Numbers imported from a file, one registered online, a partner with its entrustment
    document: rows in every main table, files in the media folder, audit events."""
    import_register(inst_alice, tmp_path / "号码登记表.csv", ["13800138000", "13800138001"])
    register(inst_alice, "95588", 用途="催收", 电信运营商="中国电信", 合作起始日期="2026-02-01")
    save_partner(inst_alice)
    return inst_alice


def media_files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def state() -> dict:
    """What a restore must bring back: row counts, the registry, the audit chain."""
    return {
        "counts": backups._live_counts(backups._tables()),
        "numbers": list(RegisteredNumber.objects.order_by("pk").values_list("pk", "number")),
        "audit": list(AuditEvent.objects.order_by("pk").values_list("pk", "hash")),
    }


def wipe_database() -> None:
    """Drop every table (and with them the audit triggers and, on PostgreSQL, every other
    object of the schema): nothing of the data survives to help the restore."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("DROP SCHEMA public CASCADE")
            cursor.execute("CREATE SCHEMA public")
        else:
            cursor.execute("PRAGMA foreign_keys = OFF")
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
            for (table,) in cursor.fetchall():
                cursor.execute(f'DROP TABLE "{table}"')
            cursor.execute("PRAGMA foreign_keys = ON")
    with connection.cursor() as cursor:
        assert "portal_auditevent" not in connection.introspection.table_names(cursor)


def test_backup_wipe_restore_brings_everything_back(registry_data, settings, tmp_path):
    """The drill (README "Backup and restore"): backup -> wipe database and media ->
    restore -> same rows, same audit chain (verify_audit OK), same files; the site works."""
    media = Path(settings.MEDIA_ROOT)
    before, files = state(), media_files(media)
    assert before["counts"]["registry_registerednumber"] == 3
    assert any(name.startswith("uploads/") for name in files)  # the engine's stored uploads
    assert any(name.startswith("partners/") for name in files)

    code, out, err = cli("backup", "--dir", tmp_path / "backups")
    assert code == 0, out
    assert err == ""
    path = Path(out["file"])
    assert re.fullmatch(r"portal-\d{8}T\d{6}Z\.tar", path.name)
    assert path.parent == tmp_path / "backups"
    assert out["database"] == connection.vendor
    assert out["rows"] == sum(before["counts"].values())
    assert out["media_files"] == len(files)

    with tarfile.open(path) as tar:
        assert sorted(tar.getnames()) == sorted(
            ["manifest.json", backups.DATABASE_PART[connection.vendor], "media.tar.gz"]
        )
        manifest = json.load(tar.extractfile("manifest.json"))
    assert manifest["database"]["vendor"] == connection.vendor
    assert manifest["row_counts"] == before["counts"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", manifest["created_at"])
    assert all(re.fullmatch(r"[0-9a-f]{64}", p["sha256"]) for p in manifest["parts"].values())
    # Issue 16 item 7: the manifest holds a signed checkpoint of the trail it backs up,
    # which also went to the checkpoint file (and the JSON log).
    checkpoint = manifest["audit_checkpoint"]
    last = AuditEvent.objects.order_by("-id").first()
    assert (checkpoint["count"], checkpoint["head"]) == (AuditEvent.objects.count(), last.hash)
    assert checkpoint["reason"] == "backup"
    assert audit.checkpoint_problem(checkpoint) is None
    assert audit.read_checkpoints() == [checkpoint]

    wipe_database()
    shutil.rmtree(media)
    assert media_files(media) == {}

    code, out, err = cli("restore", path)
    assert code == 0, out
    assert err == ""
    assert out["status"] == "ok"
    assert out["verify_audit"].startswith("OK")
    assert "与 1 个检查点一致" in out["verify_audit"]
    assert out["row_counts"] == "OK"

    assert state() == before
    assert media_files(media) == files
    assert audit.verify_chain().ok
    verify = io.StringIO()
    call_command("verify_audit", stdout=verify)
    assert verify.getvalue().startswith("OK")
    partner = Partner.objects.get()
    with partner.document.open("rb") as fh:
        assert fh.read().startswith(b"%PDF")

    # Still insert-only: the restore brought the database's triggers back too.
    event = AuditEvent.objects.order_by("pk").first()
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(summary={"edited": True})
    # And the site goes on: a new registration continues the chain and the id sequences.
    import_register(registry_data, tmp_path / "again.csv", ["13800138009"])
    assert RegisteredNumber.objects.count() == 4
    assert audit.verify_chain().ok


def test_restore_check_reads_a_good_backup_and_changes_nothing(registry_data, tmp_path):
    """README "how to check a backup": ``restore --check`` verifies every SHA-256 and that
    the database part reads (pg_restore --list / integrity_check); nothing is restored."""
    code, out, _ = cli("backup", "--dir", tmp_path / "backups")
    assert code == 0, out
    import_register(registry_data, tmp_path / "later.csv", ["13800138005"])
    after = state()

    code, checked, err = cli("restore", "--check", out["file"])
    assert code == 0, checked
    assert err == ""
    assert checked["status"] == "ok"
    assert checked["sha256"] == "ok"
    if connection.vendor == "postgresql":
        assert checked["pg_restore_list"] > 10
    else:
        assert checked["integrity_check"] == "ok"
    assert checked["rows"] == out["rows"]
    assert state() == after


def _rewrite(
    path: Path, target: Path, *, media: bytes | None = None, manifest: dict | None = None
) -> Path:
    """Copy a backup, swapping the media part or the manifest for others."""
    with tarfile.open(path) as src, tarfile.open(target, "w") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read()
            if member.name == "media.tar.gz" and media is not None:
                data = media
            if member.name == "manifest.json" and manifest is not None:
                data = json.dumps(manifest).encode()
            member.size = len(data)
            dst.addfile(member, io.BytesIO(data))
    return target


def test_tampered_or_broken_backup_is_refused_in_chinese(registry_data, settings, tmp_path):
    """A part whose SHA-256 differs from the manifest, or a damaged file, is refused by
    ``--check`` and by ``restore`` (exit 1, Chinese message, no traceback), and the
    refused restore leaves the database as it was."""
    code, out, _ = cli("backup", "--dir", tmp_path / "backups")
    assert code == 0, out
    good = Path(out["file"])
    other = io.BytesIO()
    with tarfile.open(fileobj=other, mode="w:gz") as tar:
        info = tarfile.TarInfo("media/imports/evil.csv")
        info.size = 4
        tar.addfile(info, io.BytesIO(b"evil"))
    tampered = _rewrite(good, tmp_path / "tampered.tar", media=other.getvalue())
    truncated = tmp_path / "truncated.tar"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    garbage = tmp_path / "garbage.tar"
    garbage.write_bytes(b"not a backup at all" * 100)
    before = state()

    for args in (("--check", tampered), (tampered,)):
        code, result, err = cli("restore", *args)
        assert code == 1
        assert result["status"] == "failed"
        assert "media.tar.gz" in result["message"]
        assert "sha256" in result["message"]
        assert "校验失败" in result["message"]
        assert err == ""
    for broken in (truncated, garbage):
        code, result, err = cli("restore", "--check", broken)
        assert code == 1
        assert "损坏" in result["message"], result
        assert err == ""
    assert state() == before
    assert not (Path(settings.MEDIA_ROOT) / "imports" / "evil.csv").exists()


def test_restore_of_a_missing_file_exits_1_in_chinese(db, tmp_path):
    missing = tmp_path / "portal-20260101T000000Z.tar"
    for args in (("--check", missing), (missing,)):
        code, result, err = cli("restore", *args)
        assert code == 1
        assert result["status"] == "failed"
        assert result["message"] == f"备份文件不存在：{missing}"
        assert err == ""
    code, result, _ = cli("restore")
    assert code == 1
    assert "请指定备份文件" in result["message"]


def test_the_password_goes_to_pg_dump_in_the_environment_never_on_the_command_line(monkeypatch):
    """Anyone on the machine can read a process's arguments (ps); only its owner its
    environment."""
    monkeypatch.setattr(backups.shutil, "which", lambda name: f"/usr/bin/{name}")
    db = {
        "NAME": "portal",
        "USER": "portal",
        "PASSWORD": "s3cret-Pw!",
        "HOST": "db.internal",
        "PORT": "5432",
        "OPTIONS": {"sslmode": "require"},
    }
    args, env = backups._pg_command("pg_dump", db)
    assert args == [
        "/usr/bin/pg_dump",
        "--no-password",
        "--host",
        "db.internal",
        "--port",
        "5432",
        "--username",
        "portal",
    ]
    assert not any("s3cret" in arg for arg in args)
    assert (env["PGPASSWORD"], env["PGSSLMODE"]) == ("s3cret-Pw!", "require")


def _manifest(path: Path) -> dict:
    with tarfile.open(path) as tar:
        return json.load(tar.extractfile("manifest.json"))


def test_restore_checks_the_trail_against_the_manifest_checkpoint(registry_data, tmp_path):
    """Issue 16 item 7: restore verifies the restored trail against the checkpoint in the
    manifest. A dump whose trail is shorter than the manifest's (genuinely signed)
    checkpoint says: here the checkpoint of a later state, put into the older backup."""
    code, out, _ = cli("backup", "--dir", tmp_path / "backups")
    assert code == 0, out
    good = Path(out["file"])
    import_register(registry_data, tmp_path / "later.csv", ["13800138005"])
    later = audit.write_checkpoint()
    manifest = _manifest(good)
    assert later["count"] > manifest["audit_checkpoint"]["count"]
    swapped = _rewrite(
        good, tmp_path / "swapped.tar", manifest={**manifest, "audit_checkpoint": later}
    )

    code, result, err = cli("restore", swapped)
    assert code == 1
    assert result["status"] == "failed"
    assert result["verify_audit"].startswith("BROKEN：审计日志只有")
    assert "审计日志校验未通过" in result["message"]


def test_a_forged_or_missing_manifest_checkpoint_is_refused_before_restoring(
    registry_data, tmp_path
):
    """Issue 16 item 7: ``restore --check`` and ``restore`` check the manifest checkpoint's
    signature first; a forged one (or none) is refused and nothing is restored."""
    code, out, _ = cli("backup", "--dir", tmp_path / "backups")
    assert code == 0, out
    good = Path(out["file"])
    code, checked, _ = cli("restore", "--check", good)
    assert code == 0, checked
    assert checked["audit_checkpoint"] == "ok"

    manifest = _manifest(good)
    forged = {**manifest["audit_checkpoint"], "count": 1}
    cases = {
        "forged": {**manifest, "audit_checkpoint": forged},
        "missing": {k: v for k, v in manifest.items() if k != "audit_checkpoint"},
    }
    before = state()
    for name, bad in cases.items():
        path = _rewrite(good, tmp_path / f"{name}.tar", manifest=bad)
        for args in (("--check", path), (path,)):
            code, result, err = cli("restore", *args)
            assert code == 1, result
            assert "检查点" in result["message"], result
            assert err == ""
    assert state() == before
