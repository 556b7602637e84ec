"""The command-line tools around the calendar and the audit trail: ``deadline``,
``load_calendar`` and ``verify_audit`` (domain.md, "Working days"; 000 §二(二)3, §三(一)2)."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction

from portal import audit
from portal.models import AuditEvent, CalendarYear

pytestmark = pytest.mark.django_db


def run(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def run_failing(*args) -> str:
    """The command must exit 1 with a one-line Chinese message and no traceback."""
    out, err = StringIO(), StringIO()
    with pytest.raises(SystemExit) as exc:
        call_command(*args, stdout=out, stderr=err)
    assert exc.value.code == 1
    message = err.getvalue()
    assert out.getvalue() == ""
    assert "Traceback" not in message
    assert len(message.strip().splitlines()) == 1
    return message.strip()


# --- deadline -------------------------------------------------------------------------------


def test_sms_filing_example():
    """domain.md: start 2026-03-16 -> filing due 2026-03-09 (000 §二(二)3)."""
    assert run("deadline", "sms-filing", "2026-03-16")[0] == "2026-03-09\n"


def test_sms_filing_with_time():
    """domain.md: due by 23:59:59 Asia/Shanghai of that day."""
    out, _ = run("deadline", "sms-filing", "2026-03-16", "--time")
    assert out == "2026-03-09T23:59:59+08:00\n"


def test_quarterly_report_example():
    """domain.md: Q2 2026 ends 2026-06-30 -> report due 2026-06-23 (000 §三(一)2)."""
    assert run("deadline", "quarterly-report", "2026Q2")[0] == "2026-06-23\n"


def test_around_spring_festival():
    """000 §二(二)3 with the 2026 schedule: start 2026-02-24 -> Feb 14 (Saturday, 调休), 13,
    12, 11, 10 -> due 2026-02-10."""
    assert run("deadline", "sms-filing", "2026-02-24")[0] == "2026-02-10\n"


def test_unknown_year_exits_1_with_a_chinese_message():
    """domain.md: a year the table does not cover is an explicit error, not a guess."""
    message = run_failing("deadline", "sms-filing", "2027-01-11")
    assert message == (
        "工作日历未包含 2027 年：请监管人员在“工作日历”中加载 2027 年的节假日安排后再试"
    )
    assert run_failing("deadline", "quarterly-report", "2027Q1").startswith(
        "工作日历未包含 2027 年"
    )


@pytest.mark.parametrize(
    ("kind", "subject", "message"),
    [
        ("quarterly-report", "2026Q5", "季度应为 1–4，实际为“2026Q5”"),
        ("quarterly-report", "Q2-2026", "季度格式应为 2026Q2，实际为“Q2-2026”"),
        ("sms-filing", "2026/13/01", "日期格式应为 2026-03-16，实际为“2026/13/01”"),
        ("sms-filing", "next monday", "日期格式应为 2026-03-16，实际为“next monday”"),
    ],
)
def test_bad_subject_exits_1_with_a_chinese_message(kind, subject, message):
    assert run_failing("deadline", kind, subject) == message


# --- load_calendar --------------------------------------------------------------------------


def summary(result: dict) -> dict:
    """The year, its working days and whether it changed (the output also has per_month)."""
    assert sum(result["per_month"].values()) == result["working_days"]
    return {key: result[key] for key in ("year", "working_days", "changed")}


def test_load_calendar_from_chinese_calendar_is_idempotent():
    """Loading the same year again changes nothing and writes no audit event."""
    before = AuditEvent.objects.count()
    out, _ = run("load_calendar", "--year", "2026")
    assert summary(json.loads(out)) == {"year": 2026, "working_days": 248, "changed": False}
    assert AuditEvent.objects.count() == before


def test_load_calendar_several_years_prints_a_list():
    out, _ = run("load_calendar", "--year", "2025", "--year", "2026")
    assert [summary(year) for year in json.loads(out)] == [
        {"year": 2025, "working_days": 248, "changed": False},
        {"year": 2026, "working_days": 248, "changed": False},
    ]


def test_load_calendar_for_a_year_chinese_calendar_lacks_says_what_to_do():
    message = run_failing("load_calendar", "--year", "2027")
    assert message == (
        "chinese-calendar 尚不包含 2027 年的节假日安排："
        "请按国务院通知准备 CSV 后运行 load_calendar --year 2027 FILE"
    )
    assert not CalendarYear.objects.filter(year=2027).exists()


def test_a_2027_csv_loads_once_and_then_deadlines_in_2027_work(tmp_path):
    """domain.md: the next year's schedule is published late; a regulator loads it from the
    notice. Hypothetical 2027 file (元旦 Fri Jan 1 off). Start Mon 2027-01-11 -> 8, 7, 6,
    5, 4 -> due 2027-01-04; start Fri 2027-01-08 -> 7, 6, 5, 4, then Jan 3..1 off, Thu
    2026-12-31 -> due 2026-12-31."""
    path = tmp_path / "2027.csv"
    path.write_text("date,kind,name\n2027-01-01,holiday,元旦\n", encoding="gb18030")
    before = AuditEvent.objects.count()

    out, _ = run("load_calendar", "--year", "2027", str(path))
    assert summary(json.loads(out)) == {"year": 2027, "working_days": 260, "changed": True}
    assert CalendarYear.objects.get(year=2027).source == "CSV 文件"
    assert AuditEvent.objects.count() == before + 1

    out, _ = run("load_calendar", "--year", "2027", str(path))
    assert json.loads(out)["changed"] is False
    assert AuditEvent.objects.count() == before + 1

    assert run("deadline", "sms-filing", "2027-01-11")[0] == "2027-01-04\n"
    assert run("deadline", "sms-filing", "2027-01-08")[0] == "2026-12-31\n"


def test_load_calendar_with_a_bad_csv_reports_the_line(tmp_path):
    path = tmp_path / "2027.csv"
    path.write_text("date,kind\n2027-01-01,holiday\n2027-01-04,workday\n", encoding="utf-8")
    message = run_failing("load_calendar", "--year", "2027", str(path))
    assert message == "第 3 行：2027-01-04 是周一至周五，本就是工作日，无需标为调休上班"
    assert not CalendarYear.objects.filter(year=2027).exists()


def test_load_calendar_with_a_missing_file(tmp_path):
    message = run_failing("load_calendar", "--year", "2027", str(tmp_path / "nope.csv"))
    assert "nope.csv" in message


# --- verify_audit ---------------------------------------------------------------------------


def test_verify_audit_ok_then_broken_after_tampering(audit_tamper):
    """The audit trail is hash-chained; editing a row behind the application's back is found
    (000 §二(一)5 / 001 第十九–二十一条: access control and audit)."""
    with transaction.atomic():
        first = audit.record("test.first", summary={"n": 1})
        audit.record("test.second", summary={"n": 2})
    out, _ = run("verify_audit")
    count = AuditEvent.objects.count()
    assert out == f"OK：审计日志哈希链完整，共 {count} 条\n"

    audit_tamper.set_summary(first.pk, json.dumps({"n": 100}))
    message = run_failing("verify_audit")
    assert message.startswith(f"BROKEN：第 {first.pk} 号审计记录处链条断裂：")
    assert "记录被修改" in message


def test_verify_audit_reports_a_trail_shorter_than_the_checkpoint_file(audit_tamper):
    """Issue 16 item 7: ``verify_audit`` reads the checkpoints in ``AUDIT_CHECKPOINT_FILE``;
    with the newest rows deleted it exits 1 with one Chinese line."""
    with transaction.atomic():
        for n in range(3):
            audit.record("test.many", summary={"n": n})
    checkpoint = audit.write_checkpoint()
    out, _ = run("verify_audit")
    count = AuditEvent.objects.count()
    assert out == (
        f"OK：审计日志哈希链完整，共 {count} 条；与 1 个检查点一致"
        f"（最新：{checkpoint['created_at']}，{count} 条）\n"
    )
    audit_tamper.delete_newest(2)
    message = run_failing("verify_audit")
    assert message == (
        f"BROKEN：审计日志只有 {count - 2} 条，少于 {checkpoint['created_at']} 的检查点记录的 "
        f"{count} 条（记录被删除）"
    )


def test_verify_audit_takes_a_checkpoint_from_the_command_line(audit_tamper, settings):
    """Issue 16 item 7: a checkpoint copied from the JSON log or a backup manifest, given
    with ``--checkpoint``, is checked too (the file on the machine may be gone with the
    rows)."""
    with transaction.atomic():
        audit.record("test.first")
    checkpoint = audit.write_checkpoint()
    settings.AUDIT_CHECKPOINT_FILE.unlink()
    audit_tamper.delete_newest()
    out, err = run("verify_audit")
    assert out == "OK：审计日志哈希链完整，共 0 条\n"
    assert "未找到检查点" in err
    message = run_failing("verify_audit", "--checkpoint", json.dumps(checkpoint))
    assert message.startswith("BROKEN：审计日志只有 0 条，少于")


def test_verify_audit_refuses_a_forged_or_unreadable_checkpoint(db):
    """Issue 16 item 7: a checkpoint not signed with the key is reported, not trusted."""
    with transaction.atomic():
        audit.record("test.first")
    forged = {**audit.write_checkpoint(), "count": 1000}
    message = run_failing("verify_audit", "--checkpoint", json.dumps(forged))
    assert message.startswith("BROKEN：")
    assert "签名不符" in message
    message = run_failing("verify_audit", "--checkpoint", "{not json")
    assert message.startswith("BROKEN：")
    assert "--checkpoint" in message


def test_verify_audit_reads_another_checkpoint_file(audit_tamper, tmp_path, settings):
    """``--checkpoint-file``: e.g. the copy kept off the machine."""
    with transaction.atomic():
        audit.record("test.first")
    audit.write_checkpoint()
    copy = tmp_path / "off-site.jsonl"
    copy.write_bytes(settings.AUDIT_CHECKPOINT_FILE.read_bytes())
    settings.AUDIT_CHECKPOINT_FILE.unlink()
    audit_tamper.delete_newest(1)
    message = run_failing("verify_audit", "--checkpoint-file", str(copy))
    assert "少于" in message


def test_verify_audit_takes_a_whole_log_line_or_manifest_as_the_checkpoint(audit_tamper, caplog):
    """As they are copied: the JSON log line of ``portal.audit.checkpoint``, or a backup's
    whole ``manifest.json``."""
    from portal.logs import JsonFormatter

    with transaction.atomic():
        audit.record("test.first")
    with caplog.at_level("INFO", logger="portal.audit.checkpoint"):
        checkpoint = audit.write_checkpoint()
    (entry,) = [r for r in caplog.records if r.name == "portal.audit.checkpoint"]
    log_line = JsonFormatter().format(entry)
    manifest = json.dumps({"format": 2, "audit_checkpoint": checkpoint})
    audit_tamper.delete_newest(1)
    for given in (log_line, manifest):
        message = run_failing(
            "verify_audit", "--checkpoint", given, "--checkpoint-file", "/nonexistent"
        )
        assert f"少于 {checkpoint['created_at']} 的检查点" in message
