"""The import merged batch by batch (PostgreSQL: validation on a thread of its own while the
merge transaction merges the batches already validated; SQLite: one set after staging).
Batches of two rows here, so that every file spans several: the result must be exactly
that of one set-based merge, and any error anywhere must leave the registry untouched."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from portal.spreadsheets.pipeline import RowFeed
from registry.importers import merge as merging
from registry.models import ImportStatus, RegisteredNumber, Status
from tests.uploads import (
    active,
    error_rows,
    line,
    run,
    seed,
    snapshot,
    staged,
    write_xlsx,
)

pytestmark = pytest.mark.usefixtures("fixed_day")


@pytest.fixture(autouse=True)
def _small_batches(monkeypatch):
    monkeypatch.setattr(RowFeed, "batch_size", 2)


def test_batches_merge_as_one_set_in_replace_mode(inst_alice, tmp_path):
    seed(inst_alice, tmp_path, ["13800138000", "13800138001", "13800138002", "13800138003"])
    rows = [
        line("13800138000"),  # unchanged
        line("13800138001", 电信运营商="中国联通"),  # changed
        line("13900139000"),  # new
        line("13800138003", 用途="催收"),  # changed
        line("13900139001"),  # new
    ]  # 13800138002 absent: ended
    job = run(inst_alice, write_xlsx(tmp_path / "next.xlsx", rows), mode="replace")
    assert job.status == ImportStatus.DONE, job.message
    assert (job.created, job.updated, job.unchanged, job.ended) == (2, 2, 1, 1)
    assert job.message == "已导入 5 行：新增 2，变更 2，未变 1，终止 1"
    now = active(inst_alice.organisation)
    assert set(now) == {"13800138000", "13800138001", "13800138003", "13900139000", "13900139001"}
    assert now["13800138001"].carrier == "中国联通"
    assert now["13800138003"].purpose == "collection"
    assert RegisteredNumber.objects.filter(status=Status.SUPERSEDED).count() == 2
    ended = RegisteredNumber.objects.get(number="13800138002")
    assert (ended.status, ended.end_reason) == (Status.ENDED, "替换导入时文件中未包含")
    # Imported rows name their job and their uploader (who created the job).
    for number in ("13800138001", "13900139000", "13900139001"):
        assert (now[number].source_job_id, now[number].created_by) == (job.pk, inst_alice)
    assert staged(job) == 0


def test_a_first_register_in_batches_inserts_every_row(inst_alice, tmp_path):
    numbers = [f"1380013800{i}" for i in range(7)]
    job = seed(inst_alice, tmp_path, numbers)
    assert (job.created, job.updated, job.unchanged, job.ended) == (7, 0, 0, 0)
    assert set(active(inst_alice.organisation)) == set(numbers)
    again = seed(inst_alice, tmp_path, numbers, name="again.xlsx", 电信运营商="中国电信")
    assert (again.created, again.updated, again.unchanged) == (0, 7, 0)
    assert RegisteredNumber.objects.count() == 14


# The columns of a registration that an import sets (not its id, nor the job's time).
STORED = (*merging.NUMBER_COLUMNS, "status", "end_reason", "created_by_id")


def _stored(job):
    rows = RegisteredNumber.objects.filter(source_job=job).order_by("number")
    return [tuple(r) for r in rows.values_list(*STORED)]


@pytest.mark.parametrize("mode", ["merge", "replace"])
def test_a_first_register_copied_straight_in_equals_one_staged_and_merged(
    inst_alice, inst_bob, tmp_path, mode
):
    """A first register skips the batch table (each batch is copied into the register):
    its rows are those the staged merge writes for the same file, every batch's 多机构登记
    numbers are counted (issue 9 item 6), and replace mode ends nothing."""
    seed(inst_bob, tmp_path, ["13700137000", "13700137001"], name="bob.xlsx")
    rows = [line(f"1380013800{i}", 用途=["营销", "催收"][i % 2]) for i in range(5)]
    rows += [line("13700137000"), line("10690123450"), line("13700137001")]
    first = run(inst_alice, write_xlsx(tmp_path / "a.xlsx", rows), mode=mode)
    assert first.status == ImportStatus.DONE, first.message
    assert (first.created, first.updated, first.unchanged, first.ended) == (8, 0, 0, 0)
    assert first.counts == {"shared": 2}
    # The same file for an institution that already has a number: staged, then merged.
    seed(inst_bob, tmp_path, ["13600136000"], name="bob-more.xlsx")
    rows_for_bob = [r for r in rows if not r["号码"].startswith("137")]
    staged_job = run(inst_bob, write_xlsx(tmp_path / "b.xlsx", rows_for_bob), mode=mode)
    assert staged_job.status == ImportStatus.DONE, staged_job.message
    assert (staged_job.created, staged_job.ended) == (6, 3 if mode == "replace" else 0)
    bob_rows = {r[0]: r for r in _stored(staged_job)}
    for stored in _stored(first):
        if stored[0] in bob_rows:
            assert stored[:-1] == bob_rows[stored[0]][:-1]  # all but the uploader
    assert {r[-1] for r in _stored(first)} == {inst_alice.pk}
    assert {r.source_job_id for r in active(inst_alice.organisation).values()} == {first.pk}
    assert staged(first) == 0


def test_an_invalid_row_after_copied_batches_of_a_first_register_writes_nothing(
    inst_alice, tmp_path
):
    before = snapshot()
    rows = [line(f"1390013900{i}") for i in range(5)] + [line("13900139009", 用途="广告")]
    job = run(inst_alice, write_xlsx(tmp_path / "a.xlsx", rows))
    assert job.status == ImportStatus.REJECTED
    assert [r[0] for r in error_rows(job)[1:]] == ["7"]
    assert snapshot() == before


def test_repeats_and_conflicts_in_later_batches_roll_back_the_merged_ones(
    inst_alice, inst_bob, tmp_path
):
    seed(inst_bob, tmp_path, ["13700137000"], name="bob.xlsx")
    seed(inst_alice, tmp_path, ["13800138000"], name="alice.xlsx")
    before = snapshot()
    rows = [
        line("13800138000", 电信运营商="中国联通"),  # row 2, changed (merged in batch 1)
        line("13900139000"),  # row 3
        line("13900139001"),  # row 4
        line("13900139000"),  # row 5: repeats row 3, in another batch
        line("13900139002"),  # row 6
        line("13700137000"),  # row 7: bob's
    ]
    job = run(inst_alice, write_xlsx(tmp_path / "a.xlsx", rows))
    assert job.status == ImportStatus.REJECTED
    # Issue 9 item 6: bob's number is no error (imported, marked), the repeat is.
    assert [(r[0], r[-1]) for r in error_rows(job)[1:]] == [
        ("5", "号码 13900139000 在文件中重复（与第 3 行相同）"),
    ]
    assert snapshot() == before
    assert staged(job) == 0


def test_an_invalid_row_after_merged_batches_writes_nothing(inst_alice, tmp_path):
    seed(inst_alice, tmp_path, ["13800138000"])
    before = snapshot()
    rows = [
        line("13800138000", 电信运营商="中国联通"),
        line("13900139000"),
        line("13900139001"),
        line("13900139002"),
        line("13900139003", 用途="广告"),  # row 6
        line("13900139004"),
    ]
    job = run(inst_alice, write_xlsx(tmp_path / "a.xlsx", rows))
    assert job.status == ImportStatus.REJECTED
    assert job.error_count == 1
    assert [r[0] for r in error_rows(job)[1:]] == ["6"]
    assert job.rows_total == 6
    assert snapshot() == before


def test_staleness_rule_of_the_registry_statistics():
    assert not merging.statistics_stale(0, -1)
    assert merging.statistics_stale(merging.ANALYZE_MIN_CHANGES, -1)  # never analyzed
    assert not merging.statistics_stale(50_000, 1_000_000)
    assert merging.statistics_stale(110_000, 1_000_000)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL planner statistics")
def test_a_stale_registry_is_analyzed_before_the_import(inst_alice, tmp_path, monkeypatch):
    """Right after a bulk merge autovacuum has not analyzed the registry yet; the next
    import does, so that its plans (and every page's) know the registry's size."""
    path = write_xlsx(tmp_path / "a.xlsx", [line("13800138000")])
    monkeypatch.setattr(merging, "statistics_stale", lambda changed, tuples: False)
    with CaptureQueriesContext(connection) as fresh:
        assert run(inst_alice, path).status == ImportStatus.DONE
    assert not [q for q in fresh.captured_queries if q["sql"].startswith("ANALYZE")]
    monkeypatch.setattr(merging, "statistics_stale", lambda changed, tuples: True)
    path = write_xlsx(tmp_path / "b.xlsx", [line("13800138001")])
    with CaptureQueriesContext(connection) as stale:
        assert run(inst_alice, path).status == ImportStatus.DONE
    analyzed = [q["sql"] for q in stale.captured_queries if q["sql"].startswith("ANALYZE")]
    assert analyzed == ["ANALYZE (SKIP_LOCKED) registry_registerednumber"]


def test_an_imported_numbers_page_names_its_uploader_and_its_import(
    client_for, org_alice, inst_alice, tmp_path
):
    """The registry keeps who registered a number (登记人) for imported rows too: the
    uploader of the job, whichever batch the row was merged in."""
    from tests.conftest import _user

    operator = _user(org_alice, "otto", role="operator", first_name="王经办")
    numbers = [f"1380013800{i}" for i in range(5)]
    job = seed(operator, tmp_path, numbers)
    row = active(org_alice)["13800138004"]  # merged in the third batch
    assert (row.source_job_id, row.created_by) == (job.pk, operator)
    body = client_for(inst_alice).get(f"/registry/numbers/{row.pk}/").content.decode()
    assert "王经办" in body
    assert f"导入：{job.original_name}" in body


REGISTRY = "registry_registerednumber"


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's planner and partial indexes")
def test_batch_queries_probe_indexes_on_sqlite_too(inst_alice, inst_bob, tmp_path):
    """The embedded default (SQLite) runs the same batch-by-batch merge: each batch's
    多机构登记 count and supersede step must probe an index per row, never scan the register
    per batch row (which made 100,000 rows take minutes). SQLite uses a partial index only
    when the query names its condition literally."""
    seed(inst_bob, tmp_path, ["13700137000"], name="bob.xlsx")
    seed(inst_alice, tmp_path, ["13800000000"], name="first.xlsx")  # not her first register
    path = write_xlsx(tmp_path / "a.xlsx", [line(f"138{i:08d}") for i in range(30)])
    executed: list[tuple[str, tuple]] = []

    def record(execute, sql, params, many, context):
        executed.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        assert run(inst_alice, path).status == ImportStatus.DONE
    # With their parameters as the import sends them (a literal would hide the difference).
    probes = [(q, p) for q, p in executed if "EXISTS" in q or "WHERE id IN" in q]
    assert probes
    merging.begin_batches()  # the batch table, as during an import
    try:
        with connection.cursor() as cursor:
            for sql, params in probes:
                cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
                steps = [str(row[-1]) for row in cursor.fetchall()]
                scans = [s for s in steps if s.startswith("SCAN") and "USING" not in s]
                # Never the register scanned, nor a table scanned once per row of another
                # (a correlated subquery that scans).
                assert not [s for s in scans if s.split()[1] in ("r", REGISTRY)], (sql, steps)
                inner = next((i for i, s in enumerate(steps) if s.startswith("CORRELATED")), None)
                per_row = [s for s in steps[inner or len(steps) :] if s in scans]
                assert not per_row, (sql, steps)
    finally:
        merging.end_batches()


def test_a_registration_keeps_its_institution_without_a_database_constraint(inst_alice, tmp_path):
    """The register's institution, job and creator carry no database constraint (a per-row
    trigger on a million-row import), but the ORM still protects them: an institution with
    registrations cannot be deleted."""
    from django.db.models import ProtectedError

    job = seed(inst_alice, tmp_path, ["13800138000"])
    for name in ("institution", "source_job", "created_by"):
        field = RegisteredNumber._meta.get_field(name)
        assert field.db_constraint is False
        assert field.remote_field.on_delete.__name__ == "PROTECT"
    with pytest.raises(ProtectedError):
        inst_alice.organisation.delete()
    assert RegisteredNumber.objects.filter(source_job=job).count() == 1
