"""python manage.py verify_audit [--checkpoint JSON] [--checkpoint-file PATH]: OK, or the
first broken link of the audit chain, or the checkpoint the trail no longer matches
(shorter than it, or its head hash gone: rows deleted or rewritten). Exit 1 when broken."""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand

from portal.audit import (
    ChainReport,
    CheckpointUnreadable,
    checkpoint_file,
    parse_checkpoint,
    read_checkpoints,
    verify_chain,
)


class Command(BaseCommand):
    help = "校验审计日志哈希链是否完整，并与签名检查点核对（默认读取 AUDIT_CHECKPOINT_FILE）"

    def add_arguments(self, parser):
        parser.add_argument(
            "--checkpoint",
            action="append",
            default=[],
            metavar="JSON",
            help="另一个检查点（从 JSON 日志或备份清单复制的一行 JSON），可重复",
        )
        parser.add_argument(
            "--checkpoint-file",
            metavar="PATH",
            help="读取这个检查点文件，而不是 AUDIT_CHECKPOINT_FILE（例如保存在别处的副本）",
        )

    def handle(self, *args, **options):
        path = options["checkpoint_file"] or checkpoint_file()
        try:
            checkpoints = read_checkpoints(path)
            checkpoints += [
                parse_checkpoint(text, where=f"第 {n} 个 --checkpoint 参数")
                for n, text in enumerate(options["checkpoint"], 1)
            ]
        except CheckpointUnreadable as exc:
            self.fail(ChainReport(False, 0, reason=str(exc)))
        report = verify_chain(checkpoints)
        if not report.ok:
            self.fail(report)
        self.stdout.write(report.describe())
        if not checkpoints:
            self.stderr.write(
                f"注意：未找到检查点（{path}），无法发现被截去的最新记录；"
                "检查点每天和每次备份时写入，也可用 --checkpoint 给出"
            )

    def fail(self, report: ChainReport) -> None:
        self.stderr.write(report.describe())
        sys.exit(1)
