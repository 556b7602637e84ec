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

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests import hostile_files as hostile  # noqa: E402


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
                r = hostile.measure(p, d, timeout=600)
                if r["died"] is not None:
                    outcome = f"DIED rc={r['died']}"
                elif r["code"]:
                    outcome = f"refused {r['code']}: {r['message'][:60]}"
                else:
                    outcome = f"read, {r['rows']} rows in the report"
                print(
                    f"{name:<34} {p.stat().st_size:>10,} {r['seconds']:>7.2f}s "
                    f"{r['peak_mb']:>6.0f} MB {r['report'] / 1024:>6.0f} KB  {outcome}"
                )
                if p is path:
                    ok &= r["seconds"] < 20 and r["peak_mb"] < 300 and r["report"] < 2 << 20
                    ok &= r["died"] is None
        print()
        print(f"  {'OK  ' if ok else 'MISS'} each hostile file < 20 s, < 300 MB, report < 2 MB")


if __name__ == "__main__":
    main()
