"""python manage.py restore [--check] FILE: check a backup (portal/backups.py), or restore it
into the configured database and media folder, then verify the audit chain and the row
counts. One JSON line; exit 1 with the reason when anything fails or differs."""

from __future__ import annotations

import json
import sys

from django.core.management.base import BaseCommand

from portal.backups import BackupError, backup_check, backup_restore


class Command(BaseCommand):
    help = "恢复备份（先完整校验）；--check 只校验备份、不恢复。输出一行 JSON"

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true", help="只校验备份，不恢复")
        parser.add_argument("file", nargs="?", help="备份文件 portal-….tar")

    def handle(self, *args, **options):
        if not options["file"]:
            self.emit({"status": "failed", "message": "请指定备份文件：restore [--check] 文件"})
        try:
            if options["check"]:
                result = backup_check(options["file"])
            else:
                result = backup_restore(options["file"])
        except BackupError as exc:
            result = {"status": "failed", "file": options["file"], "message": exc.message}
        except OSError as exc:
            result = {
                "status": "failed",
                "file": options["file"],
                "message": f"文件读写出错：{exc}",
            }
        self.emit(result)

    def emit(self, result: dict) -> None:
        self.stdout.write(json.dumps(result, ensure_ascii=False))
        if result["status"] != "ok":
            sys.exit(1)
