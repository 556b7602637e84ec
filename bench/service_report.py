"""Service-object report benchmark (issue 11 §7). A script, not a test.

    .venv/bin/python bench/service_report.py [--rows 500000] [--peer-rows 100000] [--repeat 1]

On a fresh PostgreSQL database (``BENCH_DATABASE_URL``, default
``postgres://postgres@127.0.0.1:5432/portal_bench_reports``, dropped and re-created), in one
run, each import in a child process of its own (bench/import_numbers.py's ``run_child``,
``fresh_database``, ``generate`` and ``median_run``, not copies of them):

1. a carrier's 经办人 uploads an N-line 服务对象报送表 (xlsx) into its quarterly draft, end to
   end through the upload engine;
2. the peer in the same run: an N-row 号码登记表 import by an institution's 经办人
   (goal: the report imports at least as fast per line);
3. the report is submitted and accepted, a correction version is started from it and an
   N-line file with 1% of its lines changed is uploaded into it; then the two versions are
   compared (goal: under 3 s, set-based in SQL);
4. on the first ``--peer-rows`` lines: the report import beside django-import-export's
   ``ModelResource`` import of the same lines into the same table with its fastest
   documented settings (goal: 10x or more).

Each figure is the median of ``--repeat`` runs. Generated files are cached in ``bench/out/``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from import_numbers import (  # noqa: E402 - the bench directory is not a package
    INSTITUTIONS,
    OUT,
    fresh_database,
    generate,
    median_run,
    peak_rss_mb,
    run_child,
)

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/portal_bench_reports"
SCRIPT = "service_report.py"
CARRIERS = {
    "main": "91330000MA2CAR0L09",
    "ours": "91330000MA2CAR0L1C",
    "peer": "91330000MA2CAR0L2F",
}
YEAR, QUARTER = 2026, 4
HEADER = [
    "号码",
    "号码类型",
    "所属主端口",
    "服务对象名称",
    "服务对象统一社会信用代码",
    "委托金融机构名称",
    "委托金融机构统一社会信用代码",
    "用途",
    "委托书编号",
    "合作起始日期",
    "合作截止日期",
]


def _codes(n: int) -> list[str]:
    """``n`` valid credit codes (the service objects a carrier serves)."""
    from portal.creditcode import check_character

    codes = []
    for i in range(n):
        first = f"91330100MA2B{i:05d}"
        codes.append(first + check_character(first))
    return codes


def generate_report(path: Path, rows: int, *, changed_every: int = 0, offset: int = 0) -> None:
    """A report of ``rows`` distinct numbers (mobiles, landlines, ports, sub-ports) served
    for 200 service objects, a quarter of them partners with their institution; with
    ``changed_every`` every k-th line gets another purpose (1% when k=100)."""
    from openpyxl import Workbook

    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    objects = _codes(200)
    purposes = ["营销", "催收", "营销及催收"]
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("服务对象报送表")
    ws.append(HEADER)
    for i in range(offset, offset + rows):
        r = i % 10
        if r < 7:
            number, kind, main = f"13{i:09d}", "手机", ""
        elif r < 8:
            number, kind, main = f"0571{8000_0000 + i // 10:08d}", "固话", ""
        elif r < 9:
            number, kind, main = f"10690{i:010d}", "短信端口", ""
        else:
            number, kind, main = f"1069{i:010d}01", "子端口", f"1069{i:010d}"
        k = i % 200
        partner = k % 4 == 0
        purpose = purposes[i % 3]
        if changed_every and i % changed_every == 0:
            purpose = purposes[(i + 1) % 3]
        ws.append(
            [
                number,
                kind,
                main,
                f"服务对象{k:03d}有限公司",
                objects[k],
                "某银行股份有限公司" if partner else "",
                INSTITUTIONS["main"] if partner else "",
                purpose,
                f"WT-{k:04d}" if partner else "",
                f"2026-{k % 12 + 1:02d}-01",
                "" if i % 4 else "2027-12-31",
            ]
        )
    wb.save(path)


def child(kind: str, path: str, code: str) -> None:
    """Runs in a fresh process: one measurement, then JSON with seconds and peak RSS."""
    import django

    django.setup()
    import resource

    from django.core.files import File

    from portal.audit import SYSTEM
    from portal.models import Organisation
    from registry import selectors, services
    from registry.models import ServiceReport

    carrier = Organisation.objects.get(credit_code=code)
    operator = carrier.users.get(role="operator")
    started = time.perf_counter()
    if kind in ("report", "correction"):
        if kind == "correction":  # v1 submitted and accepted; the correction starts from it
            v1 = ServiceReport.objects.get(carrier=carrier, year=YEAR, quarter=QUARTER)
            v1 = services.service_report_submit(actor=operator, report=v1)
            services.service_report_accept(actor=SYSTEM, report=v1)
            services.service_report_create(
                actor=operator, carrier=carrier, year=YEAR, quarter=QUARTER, start_from="latest"
            )
            started = time.perf_counter()  # the upload alone, as for v1
        with open(path, "rb") as fh:
            report, job, _ = services.service_report_upload(
                actor=operator,
                carrier=carrier,
                year=YEAR,
                quarter=QUARTER,
                upload=File(fh, name=Path(path).name),
                original_name=Path(path).name,
                enqueue=False,
            )
        job = services.upload_job_run(job_id=job.pk)
        result = {"status": job.status, "rows": job.rows_total, "message": job.message[:120]}
    elif kind == "compare":
        v1, v2 = ServiceReport.objects.filter(carrier=carrier).order_by("version")
        started = time.perf_counter()
        c = selectors.report_compare(old=v1, new=v2)
        result = {
            "status": "compared",
            "rows": v2.line_count,
            "message": f"added {c.added}, ended {c.ended}, changed {c.changed}, "
            f"unchanged {c.unchanged}; purpose changed on {c.fields['purpose']}",
        }
    else:
        result = peer_import(path, carrier)
    elapsed = time.perf_counter() - started
    reader_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        json.dumps(
            {"seconds": elapsed, "peak_mb": peak_rss_mb() + reader_mb, **result},
            ensure_ascii=False,
        )
    )


def peer_import(path: str, carrier) -> dict:
    """django-import-export into the same line table, fastest documented settings."""
    import tablib
    from import_export import fields, resources, widgets

    from portal.audit import SYSTEM
    from registry import services
    from registry.models import ServiceReportLine

    report = services.service_report_create(
        actor=SYSTEM, carrier=carrier, year=YEAR, quarter=QUARTER
    )
    date = widgets.DateWidget("%Y-%m-%d")

    class LineResource(resources.ModelResource):
        number = fields.Field(attribute="number", column_name="号码")
        kind = fields.Field(attribute="kind", column_name="号码类型")
        main_port = fields.Field(attribute="main_port", column_name="所属主端口")
        object_name = fields.Field(attribute="object_name", column_name="服务对象名称")
        object_credit_code = fields.Field(
            attribute="object_credit_code", column_name="服务对象统一社会信用代码"
        )
        institution_name = fields.Field(
            attribute="institution_name", column_name="委托金融机构名称"
        )
        institution_credit_code = fields.Field(
            attribute="institution_credit_code", column_name="委托金融机构统一社会信用代码"
        )
        purpose = fields.Field(attribute="purpose", column_name="用途")
        document_number = fields.Field(attribute="document_number", column_name="委托书编号")
        valid_from = fields.Field(attribute="valid_from", column_name="合作起始日期", widget=date)
        valid_to = fields.Field(attribute="valid_to", column_name="合作截止日期", widget=date)

        class Meta:
            model = ServiceReportLine
            fields = (
                "number",
                "kind",
                "main_port",
                "object_name",
                "object_credit_code",
                "institution_name",
                "institution_credit_code",
                "purpose",
                "document_number",
                "valid_from",
                "valid_to",
            )
            use_bulk = True
            batch_size = 5000
            skip_diff = True
            skip_html_diff = True
            force_init_instance = True
            use_transactions = True
            import_id_fields = ()

        def before_save_instance(self, instance, row, **kwargs):
            instance.report = report
            instance.fingerprint = ""
            for name in (
                "main_port",
                "raw",
                "institution_name",
                "institution_credit_code",
                "document_number",
            ):
                setattr(instance, name, getattr(instance, name) or "")

    with open(path, "rb") as fh:
        dataset = tablib.Dataset().load(fh.read(), format="xlsx")
    result = LineResource().import_data(dataset, dry_run=False, raise_errors=True)
    return {
        "status": "done" if not result.has_errors() else "errors",
        "rows": len(dataset),
        "message": f"{result.totals.get('new', 0)} new",
    }


def add_carriers(env: dict) -> None:
    """The bench carriers with a 经办人 each, and the year's working-day calendar."""
    setup = (
        "from portal.accounts.services import organisation_create as c, user_create as u\n"
        "from portal.audit import SYSTEM\n"
        "from portal.services import calendar_load_year\n"
        f"calendar_load_year(actor=SYSTEM, year={YEAR})\n"
    ) + "".join(
        f"o = c(actor=SYSTEM, kind='carrier', name='bench-carrier-{k}', credit_code='{v}', "
        "network='中国移动')[0]\n"
        f"u(actor=SYSTEM, organisation=o, username='bench-carrier-{k}', role='operator')\n"
        for k, v in CARRIERS.items()
    )
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", setup],
        env=env,
        check=True,
        cwd=ROOT,
        capture_output=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--peer-rows", type=int, default=100_000)
    parser.add_argument("--child", nargs=3)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    if args.child:
        child(*args.child)
        return

    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB)
    n, m = args.rows, args.peer_rows
    report = OUT / f"report-{n}.xlsx"
    changed = OUT / f"report-{n}-changed.xlsx"
    small = OUT / f"report-{m}-peer.xlsx"
    register = OUT / f"register-{n}.xlsx"
    print(f"generating files in {OUT} (cached) ...", flush=True)
    generate_report(report, n)
    generate_report(changed, n, changed_every=100)
    generate_report(small, m, offset=5_000_000)
    generate(register, n)

    runs: dict[str, list[dict]] = {}
    for _ in range(args.repeat):
        env = fresh_database(url, ROOT)
        add_carriers(env)

        def measure(key, kind, path, code, script=SCRIPT, env=env):
            runs.setdefault(key, []).append(run_child(kind, path, code, env, ROOT, script))

        measure("report", "report", report, CARRIERS["main"])
        measure("register", "portal", register, INSTITUTIONS["main"], "import_numbers.py")
        measure("correction", "correction", changed, CARRIERS["main"])
        measure("compare", "compare", changed, CARRIERS["main"])
        measure("ours", "report", small, CARRIERS["ours"])
        measure("peer", "peer", small, CARRIERS["peer"])
    first, reg, again, compare, ours, peer = (
        median_run(runs[k]) for k in ("report", "register", "correction", "compare", "ours", "peer")
    )

    def line(label: str, r: dict, rows: int) -> str:
        return (
            f"{label:<52} {rows:>9,} rows {r['seconds']:7.2f} s {rows / r['seconds']:>9,.0f} rows/s"
            f"  peak RSS {r['peak_mb']:6.0f} MB  [{r.get('message') or r['status']}]"
        )

    print()
    print(f"medians of {args.repeat} run(s)")
    print(line("report upload, new quarterly draft (xlsx, PostgreSQL)", first, n))
    print(line("peer: register import, new register (same run)", reg, n))
    print(line("report upload into a correction version, 1% changed", again, n))
    print(line("compare the two versions (set-based SQL)", compare, n))
    print(line("report upload (peer comparison file)", ours, m))
    print(line("django-import-export ModelResource (bulk)", peer, m))
    per_line = (n / first["seconds"]) / (n / reg["seconds"])
    ratio = peer["seconds"] / ours["seconds"]
    print()
    print(f"report lines/s / register rows/s: {per_line:.2f}")
    print(f"ratio report / django-import-export on {m:,} lines: {ratio:.1f}x faster")
    goals = [
        ("report per line >= register per row", per_line >= 1.0),
        (">= 10x django-import-export", ratio >= 10),
        ("compare of two versions differing 1% < 3 s", compare["seconds"] < 3),
    ]
    for goal, ok in goals:
        print(f"  {'OK  ' if ok else 'MISS'} {goal}")


if __name__ == "__main__":
    main()
