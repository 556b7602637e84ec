"""Hostile-file checks of an upload before it is read (registry/importers/files.py).

forms.md: the portal reads the forms "from `.xlsx`, `.xls` and `.csv` (UTF-8, UTF-8 with BOM,
GB18030)"; anything else, or anything dangerous dressed up as one of those, is refused with a
stable code and a Chinese message before a parser touches it. Every file is built in tmp_path.
"""

from __future__ import annotations

import struct
import time
import zipfile

import openpyxl
import pytest
import xlwt

from portal.spreadsheets.files import FileFormat, FileRejected, inspect_upload

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
FREE, END, FATSECT = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD


# -- builders --------------------------------------------------------------------------


def make_xlsx(path, rows=(("号码", "用途"), ("13800138000", "营销"))):
    wb = openpyxl.Workbook()
    ws = wb.active
    for row in rows:
        ws.append(list(row))
    wb.save(path)
    return path


def make_xls(path, rows=(("号码", "用途"), ("13800138000", "营销"))):
    wb = xlwt.Workbook(encoding="utf-8")
    ws = wb.add_sheet("Sheet1")
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            ws.write(r, c, value)
    wb.save(str(path))
    return path


def rewrite_zip(src, dst, *, extra=(), replace=None):
    """Copy a zip, optionally replacing members' content and adding members."""
    replace = replace or {}
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = replace.get(info.filename, zin.read(info.filename))
            zout.writestr(info.filename, data)
        for name, data in extra:
            zout.writestr(name, data)
    return dst


def _dir_entry(name: str, kind: int, start: int = END, size: int = 0) -> bytes:
    raw = name.encode("utf-16-le") + b"\x00\x00"
    entry = raw.ljust(64, b"\x00")
    entry += struct.pack("<HBB", len(raw), kind, 1)  # name length, type, colour
    entry += struct.pack("<3L", FREE, FREE, FREE)  # left, right, child
    entry += b"\x00" * 16 + b"\x00" * 4 + b"\x00" * 16  # clsid, state bits, times
    entry += struct.pack("<LQ", start, size)
    assert len(entry) == 128
    return entry


def make_ole(entries, streams=None, *, mini: bool = False) -> bytes:
    """A minimal but well-formed Compound File (v3, 512-byte sectors).

    ``entries``: [(name, kind)] (1 storage, 2 stream) after the root. ``streams``: {name:
    bytes} content; with ``mini`` the (small) streams live in the mini stream.
    """
    streams = streams or {}
    sector = 512
    fat = [FATSECT, END]  # sector 0: FAT, sector 1: directory
    data_sectors: list[bytes] = []
    dir_entries = []
    root_start, root_size = END, 0
    placed: dict[str, tuple[int, int]] = {}

    if mini and streams:
        minifat: list[int] = []
        container = b""
        for name, content in streams.items():
            first = len(container) // 64
            chunks = [content[i : i + 64] for i in range(0, len(content), 64)] or [b""]
            for i, chunk in enumerate(chunks):
                container += chunk.ljust(64, b"\x00")
                minifat.append(first + i + 1 if i < len(chunks) - 1 else END)
            placed[name] = (first, len(content))
        minifat_sector = 2
        fat.append(END)
        data_sectors.append(struct.pack(f"<{len(minifat)}L", *minifat).ljust(sector, b"\xff"))
        root_start = len(fat)
        blocks = [container[i : i + sector] for i in range(0, len(container), sector)]
        for i, block in enumerate(blocks):
            fat.append(root_start + i + 1 if i < len(blocks) - 1 else END)
            data_sectors.append(block.ljust(sector, b"\x00"))
        root_size = len(container)
        first_minifat, n_minifat = minifat_sector, 1
    else:
        first_minifat, n_minifat = END, 0
        for name, content in streams.items():
            start = len(fat)
            blocks = [content[i : i + sector] for i in range(0, len(content), sector)]
            for i, block in enumerate(blocks):
                fat.append(start + i + 1 if i < len(blocks) - 1 else END)
                data_sectors.append(block.ljust(sector, b"\x00"))
            placed[name] = (start, len(content))

    dir_entries.append(_dir_entry("Root Entry", 5, root_start, root_size))
    for name, kind in entries:
        start, size = placed.get(name, (END, 0))
        dir_entries.append(_dir_entry(name, kind, start, size))
    directory = b"".join(dir_entries).ljust(sector, b"\x00")
    assert len(directory) == sector, "keep the test directory to one sector"

    header = OLE_MAGIC + b"\x00" * 16
    header += struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6) + b"\x00" * 6
    header += struct.pack("<LLL", 0, 1, 1)  # dir sectors (v3: 0), FAT sectors, first dir
    header += struct.pack("<LLLLLL", 0, 4096, first_minifat, n_minifat, END, 0)
    header += struct.pack("<109L", 0, *([FREE] * 108))
    assert len(header) == 512
    fat_sector = struct.pack(f"<{len(fat)}L", *fat).ljust(sector, b"\xff")
    return header + fat_sector + directory + b"".join(data_sectors)


def biff_workbook_stream(*, filepass: bool, size: int) -> bytes:
    bof = struct.pack("<HH", 0x0809, 16) + struct.pack("<HHHHLL", 0x0600, 0x0005, 0, 0, 0, 0)
    body = bof
    if filepass:
        body += struct.pack("<HH", 0x002F, 6) + b"\x01\x00\x01\x00\x01\x00"
    body += struct.pack("<HH", 0x000A, 0)  # EOF
    return body.ljust(size, b"\x00")


def rejected(path, name, **kwargs) -> FileRejected:
    with pytest.raises(FileRejected) as info:
        inspect_upload(path, original_name=name, **kwargs)
    return info.value


# -- accepted files --------------------------------------------------------------------


def test_real_files_are_accepted(tmp_path):
    """forms.md: the forms are read from .xlsx, .xls and .csv (UTF-8, UTF-8 BOM, GB18030)."""
    assert inspect_upload(make_xlsx(tmp_path / "a.xlsx"), original_name="号码.xlsx") == "xlsx"
    assert inspect_upload(make_xls(tmp_path / "b.xls"), original_name="号码.XLS") is FileFormat.XLS
    bom = tmp_path / "c.csv"
    bom.write_bytes("号码,用途\n13800138000,营销\n".encode("utf-8-sig"))
    assert inspect_upload(bom, original_name="c.csv") is FileFormat.CSV
    gb = tmp_path / "d.csv"
    gb.write_bytes("号码,用途\n13800138000,营销\n".encode("gb18030"))
    assert inspect_upload(gb, original_name="d.csv") is FileFormat.CSV


def test_xls_with_tell_tale_words_in_cells_is_not_a_false_positive(tmp_path):
    """The OLE2 directory is parsed, not grepped: cell text 'VBA项目' or 'EncryptedPackage'
    (stored UTF-16LE in the string table) must not flag a normal .xls (forms.md: tolerant in
    form)."""
    path = make_xls(
        tmp_path / "x.xls",
        rows=[
            ("号码", "备注"),
            ("13800138000", "VBA项目"),
            ("13800138001", "EncryptedPackage说明"),
        ],
    )
    assert inspect_upload(path, original_name="x.xls") is FileFormat.XLS


# -- size, emptiness, extension --------------------------------------------------------


def test_empty_file(tmp_path):
    """forms.md intro: an upload that cannot be a form is rejected with a clear reason."""
    path = tmp_path / "e.xlsx"
    path.write_bytes(b"")
    err = rejected(path, "e.xlsx")
    assert err.code == "empty"
    assert "为空" in err.message


def test_over_size(tmp_path):
    """A file over the configured limit is refused before being opened; the message names
    the limit."""
    path = make_xlsx(tmp_path / "big.xlsx")
    err = rejected(path, "big.xlsx", max_bytes=1024)
    assert err.code == "too_large"
    assert "超过上限 1 KB" in err.message  # tiny test limits are shown in KB


def test_default_limit_message_names_50_mb(tmp_path):
    """The default limit (50 MB) is what the message shows."""
    path = tmp_path / "huge.csv"
    with path.open("wb") as fh:
        fh.truncate(50 * 1024 * 1024 + 1)  # sparse: no real disk use
    err = rejected(path, "huge.csv")
    assert err.code == "too_large"
    assert "50 MB" in err.message


@pytest.mark.parametrize("name", ["a.pdf", "a.txt", "a", "a.ods", "a.xlsx.exe"])
def test_bad_extension(tmp_path, name):
    """forms.md: only .xlsx, .xls and .csv are read."""
    path = make_xlsx(tmp_path / "a.bin")
    err = rejected(path, name)
    assert err.code == "bad_extension"
    assert ".xlsx" in err.message


@pytest.mark.parametrize("name", ["a.xlsm", "A.XLSB", "a.xltm"])
def test_macro_extension(tmp_path, name):
    """Macro-enabled workbooks are refused by extension, whatever their content."""
    path = make_xlsx(tmp_path / "a.bin")
    err = rejected(path, name)
    assert err.code == "macro"
    assert "宏" in err.message


# -- zip / OOXML -----------------------------------------------------------------------


def test_vba_project_inside_xlsx(tmp_path):
    """An .xlsm renamed .xlsx still carries xl/vbaProject.bin: refused as a macro file."""
    src = make_xlsx(tmp_path / "src.xlsx")
    path = rewrite_zip(src, tmp_path / "m.xlsx", extra=[("xl/vbaProject.bin", b"\x00" * 100)])
    err = rejected(path, "m.xlsx")
    assert err.code == "macro"
    assert err.message == "文件包含宏（VBA），出于安全原因拒绝接收，请另存为不含宏的 .xlsx 后上传"


def test_macro_enabled_content_type(tmp_path):
    """The workbook's content type says macroEnabled (no vbaProject.bin needed)."""
    src = make_xlsx(tmp_path / "src.xlsx")
    with zipfile.ZipFile(src) as zf:
        ct = zf.read("[Content_Types].xml").replace(
            b"spreadsheetml.sheet.main+xml", b"ms-excel.sheet.macroEnabled.main+xml"
        )
    assert b"macroEnabled" in ct
    path = rewrite_zip(src, tmp_path / "m.xlsx", replace={"[Content_Types].xml": ct})
    assert rejected(path, "m.xlsx").code == "macro"


def test_zip_bomb_by_ratio(tmp_path):
    """A member of 50 MB of zeros deflates ~1000:1 (> 200:1): refused from the central
    directory alone, quickly."""
    src = make_xlsx(tmp_path / "src.xlsx")
    path = tmp_path / "bomb.xlsx"
    rewrite_zip(src, path)
    with (
        zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as zf,
        zf.open("xl/media/zeros.bin", "w", force_zip64=True) as fh,
    ):
        block = b"\x00" * (1024 * 1024)
        for _ in range(50):
            fh.write(block)
    assert path.stat().st_size < 1024 * 1024
    started = time.perf_counter()
    err = rejected(path, "bomb.xlsx")
    assert time.perf_counter() - started < 1
    assert err.code == "zip_bomb"
    assert "压缩" in err.message


def test_zip_bomb_by_total_uncompressed_size(tmp_path):
    """The declared total uncompressed size is capped (max_uncompressed_bytes)."""
    path = make_xlsx(tmp_path / "a.xlsx")
    assert rejected(path, "a.xlsx", max_uncompressed_bytes=1000).code == "zip_bomb"


def test_too_many_entries(tmp_path):
    """More central-directory entries than max_entries: refused before ZipFile parses them."""
    src = make_xlsx(tmp_path / "src.xlsx")
    extra = [(f"xl/media/{i}.bin", b"x") for i in range(30)]
    path = rewrite_zip(src, tmp_path / "many.xlsx", extra=extra)
    err = rejected(path, "many.xlsx", max_entries=20)
    assert err.code == "zip_bomb"
    assert "条目" in err.message
    assert inspect_upload(path, original_name="many.xlsx") is FileFormat.XLSX


def test_corrupt_zip(tmp_path):
    """A truncated download or garbage after the zip magic is 'corrupt', not a crash."""
    good = make_xlsx(tmp_path / "good.xlsx").read_bytes()
    truncated = tmp_path / "t.xlsx"
    truncated.write_bytes(good[: len(good) // 2])
    assert rejected(truncated, "t.xlsx").code == "corrupt"
    garbage = tmp_path / "g.xlsx"
    garbage.write_bytes(b"PK\x03\x04" + bytes(range(256)) * 20)
    assert rejected(garbage, "g.xlsx").code == "corrupt"


def test_zip_that_is_not_ooxml(tmp_path):
    """A plain zip (or a Word document) renamed .xlsx does not match its extension."""
    path = tmp_path / "z.xlsx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("readme.txt", "hello")
    err = rejected(path, "z.xlsx")
    assert err.code == "type_mismatch"
    assert "ZIP" in err.message
    docx = tmp_path / "d.xlsx"
    with zipfile.ZipFile(docx, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", "<w:document/>")
    assert "Word" in rejected(docx, "d.xlsx").message


def test_xlsx_renamed_xls_and_csv(tmp_path):
    """forms.md reads each format by what it is: an .xlsx named .xls is told to rename."""
    path = make_xlsx(tmp_path / "a.bin")
    err = rejected(path, "a.xls")
    assert err.code == "type_mismatch"
    assert "改为 .xlsx" in err.message
    assert rejected(path, "a.csv").code == "type_mismatch"


# -- OLE2 ------------------------------------------------------------------------------


def test_encrypted_ooxml_in_ole2(tmp_path):
    """A password-protected .xlsx is an OLE2 file with EncryptionInfo/EncryptedPackage."""
    data = make_ole(
        [("EncryptionInfo", 2), ("EncryptedPackage", 2)],
        {"EncryptionInfo": b"\x04\x00" * 600, "EncryptedPackage": b"\x01" * 5000},
    )
    path = tmp_path / "enc.xlsx"
    path.write_bytes(data)
    err = rejected(path, "enc.xlsx")
    assert err.code == "encrypted"
    assert err.message == "文件已加密，请取消密码保护后重新上传"
    assert rejected(path, "enc.xls").code == "encrypted"


def test_encrypted_minimal_byte_string(tmp_path):
    """Even a crude OLE2 blob (magic + the UTF-16LE name, no valid directory) is recognised
    as encrypted rather than handed to a parser."""
    path = tmp_path / "enc.xlsx"
    path.write_bytes(
        OLE_MAGIC + b"\x00" * 200 + "EncryptedPackage".encode("utf-16-le") + b"\0" * 300
    )
    assert rejected(path, "enc.xlsx").code == "encrypted"


def test_unparseable_ole2_is_corrupt(tmp_path):
    path = tmp_path / "c.xls"
    path.write_bytes(OLE_MAGIC + b"\x00" * 1000)
    assert rejected(path, "c.xls").code == "corrupt"


def test_xls_with_vba_storage(tmp_path):
    """An .xls with a _VBA_PROJECT_CUR storage carries macros."""
    data = make_ole(
        [("Workbook", 2), ("_VBA_PROJECT_CUR", 1), ("VBA", 1)],
        {"Workbook": biff_workbook_stream(filepass=False, size=4096)},
    )
    path = tmp_path / "m.xls"
    path.write_bytes(data)
    assert rejected(path, "m.xls").code == "macro"


@pytest.mark.parametrize("mini", [False, True])
def test_xls_with_filepass(tmp_path, mini):
    """A password-protected .xls has FILEPASS (0x002F) right after BOF in the Workbook
    stream; checked for a regular and a mini-stream Workbook."""
    size = 200 if mini else 4096
    encrypted = make_ole(
        [("Workbook", 2)], {"Workbook": biff_workbook_stream(filepass=True, size=size)}, mini=mini
    )
    plain = make_ole(
        [("Workbook", 2)], {"Workbook": biff_workbook_stream(filepass=False, size=size)}, mini=mini
    )
    (tmp_path / "e.xls").write_bytes(encrypted)
    (tmp_path / "p.xls").write_bytes(plain)
    assert rejected(tmp_path / "e.xls", "e.xls").code == "encrypted"
    assert inspect_upload(tmp_path / "p.xls", original_name="p.xls") is FileFormat.XLS


def test_xls_renamed_xlsx_and_other_ole(tmp_path):
    """A real .xls named .xlsx is told to rename; a Word .doc (OLE2 without a Workbook
    stream) named .xls is not a workbook."""
    path = make_xls(tmp_path / "a.bin")
    err = rejected(path, "a.xlsx")
    assert err.code == "type_mismatch"
    assert ".xls" in err.message
    doc = tmp_path / "d.xls"
    doc.write_bytes(make_ole([("WordDocument", 2)], {"WordDocument": b"\x00" * 4096}))
    assert rejected(doc, "d.xls").code == "type_mismatch"


# -- disguised text --------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        b"<html><body><table><tr><td>\xe5\x8f\xb7\xe7\xa0\x81</td></tr></table></body></html>",
        b"\xef\xbb\xbf\r\n  <!DOCTYPE html PUBLIC '-//W3C//DTD HTML 4.0//EN'><html>",
        b"  <table border=1><tr><td>1</td></tr></table>",
        b'<html xmlns:o="urn:schemas-microsoft-com:office:office">',
        b"MIME-Version: 1.0\r\nContent-Type: multipart/related;",
        "\ufeff<html>".encode("utf-16"),
    ],
)
def test_html_named_xls(tmp_path, content):
    """Systems often export an HTML table and call it .xls; it is refused with advice."""
    path = tmp_path / "h.xls"
    path.write_bytes(content)
    err = rejected(path, "h.xls")
    assert err.code == "html_disguised"
    assert "另存为 .xlsx" in err.message


def test_html_message(tmp_path):
    path = tmp_path / "h.xls"
    path.write_bytes(b"<html><table></table></html>")
    assert rejected(path, "h.xls").message == (
        "文件扩展名为 .xls，但内容是网页（HTML），请在 Excel 中另存为 .xlsx 后上传"
    )


def test_spreadsheetml_2003_named_xls(tmp_path):
    path = tmp_path / "x.xls"
    path.write_bytes(
        b'<?xml version="1.0"?>\n<?mso-application progid="Excel.Sheet"?>\n'
        b'<Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet"></Workbook>'
    )
    err = rejected(path, "x.xls")
    assert err.code == "html_disguised"
    assert "XML" in err.message


@pytest.mark.parametrize("encoding", ["utf-8", "gb18030"])
def test_csv_named_xls(tmp_path, encoding):
    """Plain text (CSV or tab-separated) named .xls: save as .xlsx or rename to .csv."""
    path = tmp_path / "c.xls"
    path.write_bytes("号码\t用途\n13800138000\t营销\n".encode(encoding))
    err = rejected(path, "c.xls")
    assert err.code == "csv_disguised"
    assert ".csv" in err.message and ".xlsx" in err.message


def test_csv_named_xlsx(tmp_path):
    path = tmp_path / "c.xlsx"
    path.write_bytes("号码,用途\n13800138000,营销\n".encode())
    err = rejected(path, "c.xlsx")
    assert err.code == "type_mismatch"
    assert ".csv" in err.message


@pytest.mark.parametrize(
    ("magic", "label"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 50, "PNG"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "PDF"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "JPEG"),
    ],
)
def test_binary_files_with_an_excel_name(tmp_path, magic, label):
    """A picture or PDF renamed .xlsx / .xls does not match its extension."""
    path = tmp_path / "p.xlsx"
    path.write_bytes(magic)
    err = rejected(path, "p.xlsx")
    assert err.code == "type_mismatch"
    assert label in err.message
    assert rejected(path, "p.xls").code == "type_mismatch"
    assert rejected(path, "p.csv").code == "type_mismatch"


def test_binary_garbage_named_csv(tmp_path):
    path = tmp_path / "b.csv"
    path.write_bytes(bytes(range(256)) * 10)
    assert rejected(path, "b.csv").code == "type_mismatch"


def test_file_rejected_is_an_exception_with_code_and_message():
    err = FileRejected("empty", "文件为空")
    assert isinstance(err, Exception)
    assert (err.code, err.message, str(err)) == ("empty", "文件为空", "文件为空")


def test_ole2_with_a_sector_loop_is_corrupt_not_a_hang(tmp_path):
    """A hostile FAT whose directory chain points to itself ends as 'corrupt', quickly."""
    data = bytearray(make_ole([("Workbook", 2)], {"Workbook": b"\x00" * 4096}))
    struct.pack_into("<L", data, 512 + 4, 1)  # FAT[1] (directory sector) -> 1
    path = tmp_path / "loop.xls"
    path.write_bytes(bytes(data))
    started = time.perf_counter()
    assert rejected(path, "loop.xls").code == "corrupt"
    assert time.perf_counter() - started < 1


def test_utf16_text_is_accepted_as_csv(tmp_path):
    """Excel's "Unicode 文本" export (UTF-16 with BOM, tab-separated) renamed .csv is text."""
    path = tmp_path / "u.csv"
    path.write_bytes("号码\t用途\n13800138000\t营销\n".encode("utf-16"))
    assert inspect_upload(path, original_name="u.csv") is FileFormat.CSV


def test_text_that_starts_like_a_magic_number_is_still_text(tmp_path):
    """'BM' is the BMP signature but also the start of a header such as 'BM编号'."""
    path = tmp_path / "t.csv"
    path.write_bytes("BM编号,号码\n1,13800138000\n".encode())
    assert inspect_upload(path, original_name="t.csv") is FileFormat.CSV
    bmp = tmp_path / "b.xlsx"
    bmp.write_bytes(b"BM" + struct.pack("<L", 1000) + b"\x00" * 4 + struct.pack("<L", 54))
    err = rejected(bmp, "b.xlsx")
    assert err.code == "type_mismatch"
    assert "BMP" in err.message
