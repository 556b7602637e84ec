"""Hostile spreadsheets (issue 16 item 2) against normal peers of a similar byte size. A
script, not a test.

    .venv/bin/python bench/hostile_files.py

For each file, in a child process of its own (so that its peak RSS, the reader's process
included, is its alone): inspect, read through the contained reader (importers/sandbox.py),
find the header and write the error report of its rows as the import does (only the
form's columns). Prints time, peak RSS, error-report size and the outcome, each hostile
file beside its peer. Goal: each hostile file under 20 s, 300 MB and a 2 MB report.
No database: the import's reading half, which is where these files hurt.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests import hostile_files as hostile  # noqa: E402

REQUIRED = ["号码", "用途", "使用单位", "电信运营商", "合作起始日期"]
CHILD = """
import json, resource, sys, time
from pathlib import Path
from portal.spreadsheets import errors
from portal.spreadsheets.files import FileRejected, inspect_upload
from portal.spreadsheets.reader import find_header
from portal.spreadsheets.sandbox import read_rows_isolated

path, report, full, required = Path(sys.argv[1]), Path(sys.argv[2]), *map(json.loads, sys.argv[3:])
started = time.perf_counter()
out = {"outcome": "", "report": 0}
try:
    fmt = inspect_upload(path, original_name=path.name)
    with read_rows_isolated(path, fmt) as sheet:
        header = find_header(sheet, required=required, synonyms={}, optional=full)
        known = sorted(header.columns.values())
        count = errors.write_error_workbook(
            report,
            headers=[header.headers[i] for i in known],
            rows=((r.number, [r.cells[i] if i < len(r.cells) else "" for i in known],
                   [("用途", "示例错误")]) for r in header.data_rows),
        )
    out["outcome"] = f"read, {count} rows in the report"
    out["report"] = report.stat().st_size
except FileRejected as exc:
    out["outcome"] = f"refused {exc.code}: {exc.message[:60]}"
out["seconds"] = time.perf_counter() - started
kb = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
         resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
out["peak_mb"] = kb / 1024
print(json.dumps(out, ensure_ascii=False))
"""


def measure(path: Path, scratch: Path) -> dict:
    done = subprocess.run(  # noqa: S603
        [
            sys.executable,
            "-c",
            CHILD,
            str(path),
            str(scratch / "report.xlsx"),
            json.dumps(hostile.FULL),
            json.dumps(REQUIRED),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    if done.returncode != 0:
        return {"outcome": f"DIED rc={done.returncode}", "seconds": 0, "peak_mb": 0, "report": 0}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        pairs = [
            ("header + one cell at XFD1048576", hostile.far_value(d / "far.xlsx")),
            ("column XFD + 600 bad rows", hostile.wide_bad_rows(d / "wide.xlsx")),
            ("one empty cell at row 1,048,576", hostile.stray_empty_cell(d / "stray.xlsx")),
            ("CSV with 100,000 columns", hostile.wide_csv(d / "wide.csv")),
        ]
        print(f"{'file':<34} {'bytes':>10} {'time':>8} {'peak RSS':>9} {'report':>9}  outcome")
        ok = True
        for label, path in pairs:
            size = path.stat().st_size
            if path.suffix == ".csv":
                peer = hostile.normal_csv(d / "peer.csv", size)
            else:
                rows = 1
                peer = hostile.normal_xlsx(d / "peer.xlsx", rows)
                while peer.stat().st_size < size:
                    rows *= 2
                    peer = hostile.normal_xlsx(d / "peer.xlsx", rows)
            for name, p in ((label, path), ("  peer: normal register", peer)):
                r = measure(p, d)
                print(
                    f"{name:<34} {p.stat().st_size:>10,} {r['seconds']:>7.2f}s "
                    f"{r['peak_mb']:>6.0f} MB {r['report'] / 1024:>6.0f} KB  {r['outcome']}"
                )
                if p is path:
                    ok &= r["seconds"] < 20 and r["peak_mb"] < 300 and r["report"] < 2 << 20
                    ok &= not r["outcome"].startswith("DIED")
        print()
        print(f"  {'OK  ' if ok else 'MISS'} each hostile file < 20 s, < 300 MB, report < 2 MB")


if __name__ == "__main__":
    main()
