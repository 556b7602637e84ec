"""Backups of the database and the media folder, their check and their restore.

One backup is one file, ``portal-YYYYMMDDTHHMMSSZ.tar`` (UTC), holding three parts:

- ``manifest.json``: when, which database vendor, the row count of every table of the
  project's apps, a signed checkpoint of the audit trail in the backup (count and newest
  hash, portal/audit.py), and the SHA-256 and size of the two other parts;
- ``database.dump`` (PostgreSQL: ``pg_dump --format=custom``, taken in the same snapshot
  as the row counts) or ``database.sqlite3`` (SQLite's online backup API, consistent while
  the site runs);
- ``media.tar.gz``: the media folder (uploads, entrustment documents, error reports).

A restore first checks the whole backup (every SHA-256, ``pg_restore --list`` or SQLite's
``integrity_check``, the media archive's member names) and only then replaces the database
and the media folder; afterwards it verifies the audit chain against the manifest's
checkpoint and compares the row counts with the manifest. The SHA-256s find a damaged or
altered part; they do not authenticate the backup (whoever can rewrite a part can rewrite
the manifest): keep backups where only operators can write. The checkpoint is signed with
the audit key: a forged one is refused, and a trail in the dump that is shorter than it, or
no longer holds its head, fails the restore.

Passwords reach pg_dump/pg_restore in ``PGPASSWORD``, never on the command line.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.db import DatabaseError, connection, transaction

from . import audit
from .errors import PortalError

FORMAT = 2  # 2: the manifest holds the signed audit checkpoint (issue 16)
AUDIT_TABLE = "portal_auditevent"
PROJECT_APPS = ("portal", "registry", "filings", "oversight")
MANIFEST = "manifest.json"
MEDIA_PART = "media.tar.gz"
DATABASE_PART = {"postgresql": "database.dump", "sqlite": "database.sqlite3"}
CHUNK = 1 << 20
# libpq settings that may sit in DATABASE_URL's query string, passed on as environment.
LIBPQ_ENV = {
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "passfile": "PGPASSFILE",
    "service": "PGSERVICE",
}


class BackupError(PortalError):
    code = "backup"


def default_directory() -> Path:
    return Path(os.environ.get("BACKUP_DIR") or Path(settings.VAR_DIR) / "backups")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _tables() -> list[str]:
    """The tables of the project's own apps (the ones whose counts a restore compares)."""
    return sorted(
        {
            model._meta.db_table
            for model in apps.get_models()
            if model._meta.app_label in PROJECT_APPS
            and model._meta.managed
            and not model._meta.proxy
        }
    )


def _count(cursor, tables, existing, quote) -> dict[str, int]:
    counts = {}
    for table in tables:
        if table in existing:
            cursor.execute(f"SELECT COUNT(*) FROM {quote(table)}")  # noqa: S608 - our table names
            counts[table] = cursor.fetchone()[0]
    return counts


def _audit_head(cursor, existing) -> tuple[int, int | None, str]:
    """(count, newest id, newest hash) of the audit trail, from any DB-API cursor (Django's
    or sqlite3's), in the cursor's snapshot."""
    if AUDIT_TABLE not in existing:
        return 0, None, audit.GENESIS
    cursor.execute(
        f"SELECT COUNT(*), (SELECT id FROM {AUDIT_TABLE} ORDER BY id DESC LIMIT 1),"  # noqa: S608 - our table
        f" (SELECT hash FROM {AUDIT_TABLE} ORDER BY id DESC LIMIT 1) FROM {AUDIT_TABLE}"
    )
    count, head_id, head = cursor.fetchone()
    return count, head_id, head or audit.GENESIS


def _live_counts(tables) -> dict[str, int]:
    with connection.cursor() as cursor:
        existing = set(connection.introspection.table_names(cursor))
        return _count(cursor, tables, existing, connection.ops.quote_name)


# --- PostgreSQL ------------------------------------------------------------------------


def _pg_command(program: str, db: dict) -> tuple[list[str], dict[str, str]]:
    """The program, its connection arguments and environment, from DATABASES['default']."""
    executable = shutil.which(program)
    if executable is None:
        raise BackupError(
            f"未找到 {program}：请安装与数据库版本一致的 PostgreSQL 客户端（postgresql-client）",
            code="no_client",
        )
    args = [executable, "--no-password"]
    if db.get("HOST"):
        args += ["--host", str(db["HOST"])]
    if db.get("PORT"):
        args += ["--port", str(db["PORT"])]
    if db.get("USER"):
        args += ["--username", str(db["USER"])]
    env = dict(os.environ)
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = str(db["PASSWORD"])
    for option, variable in LIBPQ_ENV.items():
        if option in (db.get("OPTIONS") or {}):
            env[variable] = str(db["OPTIONS"][option])
    return args, env


def _run(args: list[str], env: dict[str, str], what: str, hint: str = "") -> str:
    result = subprocess.run(args, env=env, capture_output=True, text=True, check=False)  # noqa: S603 - fixed program, no shell
    if result.returncode != 0:
        detail = " ".join(result.stderr.strip().splitlines()[-3:]) or f"退出码 {result.returncode}"
        raise BackupError(f"{what}失败：{detail}{hint}", code="pg_failed")
    return result.stdout


@contextlib.contextmanager
def _database_errors(what: str) -> Iterator[None]:
    """A database that cannot be reached is a Chinese message, not a traceback."""
    try:
        yield
    except DatabaseError as exc:
        raise BackupError(f"{what}失败，数据库出错：{exc}", code="database") from exc


def _pg_dump(path: Path, tables: list[str]) -> tuple[dict[str, int], tuple]:
    """pg_dump in the snapshot the row counts and the audit head were taken in, so they
    describe the dump."""
    db = settings.DATABASES["default"]
    args, env = _pg_command("pg_dump", db)
    args += ["--format=custom", "--file", str(path), "--dbname", str(db["NAME"])]
    with connection.cursor() as cursor:
        # A health check (SELECT 1) due on this connection runs now, outside the transaction
        # below, whose first statement must set its isolation level.
        cursor.execute("SELECT 1")
    if connection.in_atomic_block:  # called inside a transaction: no snapshot of our own
        counts = _live_counts(tables)
        head = audit.chain_head()
        _run(args, env, "pg_dump 备份数据库")
        return counts, head
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cursor.execute("SELECT pg_export_snapshot()")
        snapshot = cursor.fetchone()[0]
        existing = set(connection.introspection.table_names(cursor))
        counts = _count(cursor, tables, existing, connection.ops.quote_name)
        head = _audit_head(cursor, existing)
        _run([*args, "--snapshot", snapshot], env, "pg_dump 备份数据库")
    return counts, head


def _pg_list(path: Path) -> int:
    args, env = _pg_command("pg_restore", settings.DATABASES["default"])
    listing = _run([*args, "--list", str(path)], env, "pg_restore --list 读取备份")
    return sum(1 for line in listing.splitlines() if line and not line.startswith(";"))


def _pg_restore(path: Path) -> None:
    """One transaction: a failing restore leaves the database as it was. It waits for the
    locks of running sessions (the dump sets lock_timeout = 0), so stop the site and the
    workers first (README)."""
    db = settings.DATABASES["default"]
    args, env = _pg_command("pg_restore", db)
    args += [
        "--clean",
        "--if-exists",
        "--no-owner",
        "--single-transaction",
        "--exit-on-error",
        "--dbname",
        str(db["NAME"]),
        str(path),
    ]
    connection.close()  # hold no locks on the tables pg_restore drops
    try:
        _run(
            args,
            env,
            "pg_restore 恢复数据库",
            "（单一事务已回滚，数据库未改变）",
        )
    finally:
        connection.close()


# --- SQLite ----------------------------------------------------------------------------


def _sqlite_counts(path: Path, tables: list[str]) -> tuple[dict[str, int], tuple]:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        cursor = db.cursor()
        existing = {row[0] for row in cursor.execute("SELECT name FROM sqlite_master")}
        return _count(cursor, tables, existing, lambda name: f'"{name}"'), _audit_head(
            cursor, existing
        )
    finally:
        db.close()


def _sqlite_copy(path: Path, tables: list[str]) -> tuple[dict[str, int], tuple]:
    """SQLite's online backup of the live database (also the in-memory test database)."""
    connection.ensure_connection()
    target = sqlite3.connect(path)
    try:
        connection.connection.backup(target)
    finally:
        target.close()
    return _sqlite_counts(path, tables)


def _sqlite_check(path: Path) -> str:
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            result = db.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"备份中的 SQLite 数据库无法读取：{exc}", code="corrupt") from exc
    if result != "ok":
        raise BackupError(f"备份中的 SQLite 数据库未通过 integrity_check：{result}", code="corrupt")
    return result


def _sqlite_restore(path: Path) -> None:
    """Replace the database's content with the backup's, page by page through the backup
    API into Django's own connection: safe with WAL files beside the database (a copied
    file would not be), and it works for the in-memory test database too."""
    connection.ensure_connection()
    if connection.in_atomic_block:
        raise BackupError("不能在事务中恢复数据库", code="in_transaction")
    source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        source.backup(connection.connection)
    except sqlite3.Error as exc:
        raise BackupError(f"SQLite 数据库恢复失败：{exc}", code="sqlite_failed") from exc
    finally:
        source.close()


# --- media -----------------------------------------------------------------------------


def _media_archive(path: Path) -> int:
    root = Path(settings.MEDIA_ROOT)
    files = 0

    def counted(info: tarfile.TarInfo) -> tarfile.TarInfo:
        nonlocal files
        files += info.isfile()
        return info

    with tarfile.open(path, "w:gz") as tar:
        if root.is_dir():
            tar.add(root, arcname="media", filter=counted)
        else:
            info = tarfile.TarInfo("media")
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            tar.addfile(info)
    return files


def _media_check(path: Path) -> int:
    """Every member lies inside ``media/`` and passes tarfile's ``data`` filter."""
    files = 0
    with tarfile.open(path, "r:gz") as tar:
        for member in tar:
            if member.name != "media" and not member.name.startswith("media/"):
                raise BackupError(
                    f"媒体归档中有不属于 media/ 的条目：{member.name}", code="corrupt"
                )
            try:
                tarfile.data_filter(member, "/restore")
            except tarfile.FilterError as exc:
                raise BackupError(
                    f"媒体归档中有不安全的条目：{member.name}", code="corrupt"
                ) from exc
            files += member.isfile()
    return files


def _media_restore(path: Path) -> None:
    """Replace the media folder's content. The folder itself stays (it may be a mount):
    the archive is unpacked inside it first, then swapped in."""
    root = Path(settings.MEDIA_ROOT)
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".restore-", dir=root))
    try:
        with tarfile.open(path, "r:gz") as tar:
            tar.extractall(staging, filter="data")
        for child in root.iterdir():
            if child == staging:
                continue
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
        unpacked = staging / "media"
        if unpacked.is_dir():
            for child in unpacked.iterdir():
                child.rename(root / child.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


# --- the bundle ------------------------------------------------------------------------


def backup_create(*, directory: Path | None = None, now: dt.datetime | None = None) -> dict:
    """Write one backup file into ``directory`` (``BACKUP_DIR``, default var/backups).

    Written as ``….tar.partial`` and renamed when complete, so a file named ``….tar`` is
    never half a backup.
    """
    vendor = connection.vendor
    if vendor not in DATABASE_PART:
        raise BackupError(f"不支持备份 {vendor} 数据库", code="vendor")
    now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    directory = Path(directory or default_directory())
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    target = directory / f"portal-{now:%Y%m%dT%H%M%SZ}.tar"
    if target.exists():
        raise BackupError(f"备份文件已存在：{target}", code="exists")
    tables = _tables()
    database_part = DATABASE_PART[vendor]
    partial = target.with_name(target.name + ".partial")
    with (
        tempfile.TemporaryDirectory(prefix=".portal-backup-", dir=directory) as work,
        _database_errors("备份数据库"),
    ):
        work = Path(work)
        if vendor == "postgresql":
            counts, (audit_count, head_id, head) = _pg_dump(work / database_part, tables)
        else:
            counts, (audit_count, head_id, head) = _sqlite_copy(work / database_part, tables)
        checkpoint = audit.sign_checkpoint(
            count=audit_count, head_id=head_id, head=head, reason="backup"
        )
        media_files = _media_archive(work / MEDIA_PART)
        manifest = {
            "format": FORMAT,
            "created_at": now.isoformat(timespec="seconds").replace("+00:00", "Z"),
            "database": {"vendor": vendor, "name": str(settings.DATABASES["default"]["NAME"])},
            "row_counts": counts,
            "audit_checkpoint": checkpoint,
            "media_files": media_files,
            "parts": {
                name: {"sha256": _sha256(work / name), "bytes": (work / name).stat().st_size}
                for name in (database_part, MEDIA_PART)
            },
        }
        (work / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n")
        # Also outside the backup: the checkpoint file and the log (before the backup is
        # final, so a checkpoint file that cannot be written fails the backup loudly).
        audit.publish_checkpoint(checkpoint)
        try:
            # Owner-only: a backup holds personal data and password hashes.
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh, tarfile.open(fileobj=fh, mode="w") as tar:
                for name in (MANIFEST, database_part, MEDIA_PART):
                    tar.add(work / name, arcname=name)
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
    return {
        "status": "ok",
        "file": str(target),
        "created_at": manifest["created_at"],
        "database": vendor,
        "tables": len(counts),
        "rows": sum(counts.values()),
        "media_files": media_files,
        "bytes": target.stat().st_size,
        "sha256": _sha256(target),
    }


def _read_manifest(tar: tarfile.TarFile) -> dict:
    try:
        member = tar.getmember(MANIFEST)
        manifest = json.load(tar.extractfile(member))
        parts = manifest["parts"]
        vendor = manifest["database"]["vendor"]
        if not isinstance(manifest["row_counts"], dict):
            raise TypeError("row_counts")
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise BackupError("备份中缺少清单 manifest.json 或清单不完整", code="corrupt") from exc
    if manifest.get("format") == 1:
        raise BackupError(
            "这是格式 1 的备份（审计日志启用密钥签名之前的版本所做）：请用生成它的版本恢复，"
            "再升级（migrate）",
            code="format",
        )
    if manifest.get("format") != FORMAT:
        raise BackupError(f"不认识的备份格式版本：{manifest.get('format')!r}", code="corrupt")
    if "audit_checkpoint" not in manifest:
        raise BackupError("备份清单中缺少审计日志检查点 audit_checkpoint", code="checkpoint")
    problem = audit.checkpoint_problem(manifest["audit_checkpoint"])
    if problem:
        raise BackupError(f"备份清单中的审计日志检查点不可信：{problem}", code="checkpoint")
    if vendor not in DATABASE_PART or set(parts) != {DATABASE_PART[vendor], MEDIA_PART}:
        raise BackupError("备份清单列出的组成部分不正确", code="corrupt")
    return manifest


@contextlib.contextmanager
def _verified(path: Path) -> Iterator[tuple[dict, Path, dict]]:
    """Unpack a backup into a scratch folder, checking every part on the way.

    Yields (manifest, folder with the parts, what was checked).
    """
    path = Path(path)
    if not path.is_file():
        raise BackupError(f"备份文件不存在：{path}", code="missing")
    with tempfile.TemporaryDirectory(prefix="portal-restore-") as work:
        work = Path(work)
        try:
            with tarfile.open(path, "r:") as tar:
                manifest = _read_manifest(tar)
                for name, part in manifest["parts"].items():
                    member = tar.getmember(name)
                    if not member.isfile():
                        raise BackupError(f"备份中的 {name} 不是普通文件", code="corrupt")
                    digest = hashlib.sha256()
                    with tar.extractfile(member) as src, open(work / name, "wb") as dst:
                        for chunk in iter(lambda src=src: src.read(CHUNK), b""):
                            digest.update(chunk)
                            dst.write(chunk)
                    if digest.hexdigest() != part["sha256"]:
                        raise BackupError(
                            f"备份中的 {name} 校验失败（sha256 与清单不符）：备份已损坏或被改动",
                            code="sha256_mismatch",
                        )
        except (tarfile.TarError, EOFError, KeyError) as exc:
            raise BackupError(
                f"备份文件已损坏或不是本平台的备份（{type(exc).__name__}）：{path}",
                code="corrupt",
            ) from exc
        vendor = manifest["database"]["vendor"]
        database_part = work / DATABASE_PART[vendor]
        checked = {"sha256": "ok", "audit_checkpoint": "ok"}
        if vendor == "postgresql":
            checked["pg_restore_list"] = _pg_list(database_part)
        else:
            checked["integrity_check"] = _sqlite_check(database_part)
        try:
            checked["media_files"] = _media_check(work / MEDIA_PART)
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise BackupError(f"备份中的媒体归档无法读取：{exc}", code="corrupt") from exc
        yield manifest, work, checked


def backup_check(path: Path) -> dict:
    """``restore --check``: is this backup whole and readable? Changes nothing."""
    with _verified(path) as (manifest, _, checked):
        return {
            "status": "ok",
            "check": True,
            "file": str(path),
            "created_at": manifest["created_at"],
            "database": manifest["database"]["vendor"],
            "rows": sum(manifest["row_counts"].values()),
            **checked,
        }


def backup_restore(path: Path) -> dict:
    """Check the backup, then replace the configured database and the media folder with
    it; verify the audit chain and compare row counts with the manifest afterwards.

    ``status`` is "ok" only when the chain is intact and every count matches.
    """
    with _verified(path) as (manifest, work, checked), _database_errors("恢复数据库"):
        vendor = manifest["database"]["vendor"]
        if vendor != connection.vendor:
            raise BackupError(
                f"这是 {vendor} 数据库的备份，当前配置的是 {connection.vendor} 数据库，"
                "不能直接恢复",
                code="vendor",
            )
        if vendor == "postgresql":
            _pg_restore(work / DATABASE_PART[vendor])
        else:
            _sqlite_restore(work / DATABASE_PART[vendor])
        _media_restore(work / MEDIA_PART)
        chain = audit.verify_chain([manifest["audit_checkpoint"]])
        expected = manifest["row_counts"]
        restored = _live_counts(expected)
    differs = {
        table: {"backup": count, "restored": restored.get(table)}
        for table, count in expected.items()
        if restored.get(table) != count
    }
    verify = chain.describe()
    ok = chain.ok and not differs
    result = {
        "status": "ok" if ok else "failed",
        "file": str(path),
        "created_at": manifest["created_at"],
        "database": vendor,
        "rows": sum(restored.values()),
        "media_files": checked["media_files"],
        "verify_audit": verify,
        "row_counts": differs or "OK",
    }
    if not ok:
        result["message"] = "恢复后核对未通过：" + "；".join(
            ([] if chain.ok else [f"审计日志校验未通过：{chain.reason}"])
            + [f"{t} 行数 {d['restored']}，备份中为 {d['backup']}" for t, d in differs.items()]
        )
    return result
