"""``manage.py classify_numbers``: one JSON result per input line (domain.md, "Numbers")."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

from django.core.management import call_command

ROOT = Path(__file__).resolve().parents[2]


def _run(text: str) -> list[dict]:
    out = io.StringIO()
    call_command("classify_numbers", stdin=io.StringIO(text), stdout=out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_one_json_object_per_line():
    """domain.md, Numbers: canonical digits and kind per raw value; raw kept for the report."""
    rows = _run("+86 138 0013 8000\n010-12345678\n1.38001E+10\n10690000123\n")
    assert rows == [
        {"raw": "+86 138 0013 8000", "number": "13800138000", "kind": "mobile", "error": None},
        {"raw": "010-12345678", "number": "01012345678", "kind": "landline", "error": None},
        {
            "raw": "1.38001E+10",
            "number": None,
            "kind": None,
            "error": "号码被表格软件转成了科学计数法（1.38001E+10），已丢失位数，"
            "请将该列设置为文本后重新填写",
        },
        {"raw": "10690000123", "number": "10690000123", "kind": "sms_port", "error": None},
    ]


def test_blank_lines_report_empty():
    """forms.md: a blank value is reported as 空值."""
    rows = _run("\n   \n13800138000\n")
    assert [row["error"] for row in rows] == ["空值", "空值", None]
    assert rows[1]["raw"] == "   "


def test_only_the_line_ending_is_stripped():
    """domain.md, Numbers: the raw input is kept as given (only the newline is removed)."""
    rows = _run(" １３８００１３８０００\u3000\r\nabc")
    assert rows[0] == {
        "raw": " １３８００１３８０００\u3000",
        "number": "13800138000",
        "kind": "mobile",
        "error": None,
    }
    assert rows[1] == {
        "raw": "abc",
        "number": None,
        "kind": None,
        "error": "号码中含有非数字字符“a”",
    }


def test_output_is_not_ascii_escaped():
    """domain.md, Numbers: the Chinese reason is printed as is (ensure_ascii=False)."""
    out = io.StringIO()
    call_command("classify_numbers", stdin=io.StringIO("abc\n"), stdout=out)
    assert "号码中含有非数字字符" in out.getvalue()


def test_empty_input_prints_nothing():
    """domain.md, Numbers: one line out per line in."""
    assert _run("") == []


def test_real_stdin_utf8_bom_bad_bytes_exit_0_no_traceback():
    """domain.md, Numbers: UTF-8 stdin (BOM ignored, bad bytes replaced); exit 0, no traceback."""
    data = (
        "\ufeff13800138000\n".encode() + b"\xff\xfe13\n" + "＋８６ １０ １２３４５６７８\n".encode()
    )
    proc = subprocess.run(
        [sys.executable, "manage.py", "classify_numbers"],
        input=data,
        capture_output=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    assert b"Traceback" not in proc.stderr
    rows = [json.loads(line) for line in proc.stdout.decode("utf-8").splitlines()]
    assert [row["number"] for row in rows] == ["13800138000", None, "01012345678"]
    assert rows[0]["raw"] == "13800138000"
    assert rows[1]["error"] == "号码中含有非数字字符“\ufffd”"
