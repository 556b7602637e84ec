import io, os, warnings, openpyxl
from registry.exports import export_numbers
from tests.registry.test_template_export import alice_register, _env  # noqa: F401

def test_dbg(alice_register):
    out = io.BytesIO(); export_numbers(alice_register, out)
    data = out.getvalue()
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        wb = openpyxl.load_workbook(io.BytesIO(data))
    bad = [(c.coordinate, c.value, c.number_format) for r in wb.active.iter_rows(min_row=2) for c in r if c.number_format != "@"]
    if w or bad:
        open(f"/tmp/bad-{os.getpid()}.xlsx", "wb").write(data)
    assert not bad, (bad[:5], [str(x.message) for x in w])
