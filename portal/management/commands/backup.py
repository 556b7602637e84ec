"""python manage.py backup [--dir DIR]: one backup file of the database and the media folder
(portal/backups.py); prints one JSON line, exit 1 with the reason on failure."""

from __future__ import annotations

import json
import sys

from django.core.management.base import BaseCommand

from portal.backups import BackupError, backup_create


class Command(BaseCommand):
    help = "备份数据库和媒体文件夹到一个文件（默认目录 BACKUP_DIR 或 var/backups），输出一行 JSON"

    def add_arguments(self, parser):
        parser.add_argument("--dir", help="备份目录（默认 BACKUP_DIR 环境变量或 var/backups）")

    def handle(self, *args, **options):
        try:
            result = backup_create(directory=options["dir"])
        except BackupError as exc:
            self.fail(exc.message)
        except OSError as exc:
            self.fail(f"备份失败，文件读写出错：{exc}")
        self.stdout.write(json.dumps(result, ensure_ascii=False))

    def fail(self, message: str) -> None:
        self.stdout.write(json.dumps({"status": "failed", "message": message}, ensure_ascii=False))
        sys.exit(1)
