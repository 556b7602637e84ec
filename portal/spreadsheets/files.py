"""Inspect an uploaded spreadsheet before anything parses it.

``inspect_upload`` looks at the bytes of an upload (never the browser's MIME type) and either
returns the :class:`FileFormat` the reader should use or raises :class:`FileRejected` with a
stable ``code`` and a Chinese, user-facing ``message``.

What it rejects (codes are stable, the importers and the UI key on them):

``empty``          zero bytes
``too_large``      more than ``max_bytes``
``bad_extension``  not ``.xlsx`` / ``.xls`` / ``.csv``
``macro``          ``.xlsm``/``.xlsb``/... extension, an OOXML zip with ``vbaProject.bin``,
                   macro sheets or a ``macroEnabled`` content type, an OLE2 file with a VBA
                   storage
``encrypted``      an OLE2 file with ``EncryptionInfo``/``EncryptedPackage`` (a password-
                   protected .xlsx), an .xls whose Workbook stream starts with FILEPASS, or
                   a zip with encrypted members
``zip_bomb``       central directory declares too much data, too high a compression ratio or
                   too many entries (checked from the central directory only, nothing is
                   unpacked)
``corrupt``        a zip or OLE2 container that cannot be parsed
``html_disguised`` HTML / MHT / SpreadsheetML-2003 XML saved with an Excel extension
``csv_disguised``  plain text saved as ``.xls``
``type_mismatch``  anything else whose content does not match its extension

Limits are arguments (the caller passes the values from settings); nothing here touches
Django.
"""

from __future__ import annotations

import codecs
import enum
import os
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "FileFormat",
    "FileRejected",
    "inspect_upload",
    "MB",
]

MB = 1024 * 1024

OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"
ZIP_EMPTY_MAGIC = b"PK\x05\x06"

ACCEPTED_EXTENSIONS = {".xlsx", ".xls", ".csv"}
MACRO_EXTENSIONS = {".xlsm", ".xlsb", ".xltm", ".xlam", ".xla"}

# A member smaller than this cannot be a bomb, whatever its compression ratio (a sheet of
# styled empty cells compresses very well and is harmless).
RATIO_FLOOR_BYTES = 1 * MB
# [Content_Types].xml is a few KB; refuse to read more than this of it.
CONTENT_TYPES_MAX_BYTES = 1 * MB
HEAD_BYTES = 8192


class FileFormat(enum.StrEnum):
    XLSX = "xlsx"
    XLS = "xls"
    CSV = "csv"


class FileRejected(Exception):
    """An upload (or a sheet in it) that cannot be imported.

    ``code`` is stable and machine-readable, ``message`` is Chinese and shown to the user.
    """

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"FileRejected({self.code!r}, {self.message!r})"


# --------------------------------------------------------------------------------------
# Public entry point
# --------------------------------------------------------------------------------------


def inspect_upload(
    path: str | os.PathLike[str],
    *,
    original_name: str,
    max_bytes: int = 50 * MB,
    max_uncompressed_bytes: int = 1_500_000_000,
    max_ratio: int = 200,
    max_entries: int = 10_000,
) -> FileFormat:
    """Check an uploaded file and return the format to read it as, or raise FileRejected.

    ``original_name`` is the name the user uploaded (the stored file's name is ours). The
    extension decides what the user meant; the content must agree with it.
    """
    path = Path(path)
    size = path.stat().st_size
    if size == 0:
        raise FileRejected("empty", "文件为空（0 字节），请检查后重新上传")
    if size > max_bytes:
        raise FileRejected(
            "too_large",
            f"文件大小为 {size_text(size)}，超过上限 {size_text(max_bytes)}，"
            "请拆分为多个文件后分批上传",
        )

    ext = Path(original_name or "").suffix.lower()
    if ext in MACRO_EXTENSIONS:
        raise FileRejected(
            "macro",
            f"{ext} 文件可能包含宏（VBA），出于安全原因拒绝接收，请另存为不含宏的 .xlsx 后上传",
        )
    if ext not in ACCEPTED_EXTENSIONS:
        shown = ext or "（无扩展名）"
        raise FileRejected(
            "bad_extension",
            f"不支持的文件类型 {shown}，仅接受 .xlsx、.xls 或 .csv 文件",
        )

    with path.open("rb") as fh:
        head = fh.read(HEAD_BYTES)

    if head.startswith(ZIP_MAGIC) or head.startswith(ZIP_EMPTY_MAGIC):
        kind = _inspect_zip(
            path,
            max_uncompressed_bytes=max_uncompressed_bytes,
            max_ratio=max_ratio,
            max_entries=max_entries,
        )
        if ext == ".xlsx" and kind == "xlsx":
            return FileFormat.XLSX
        raise _mismatch(ext, kind)

    if head.startswith(OLE2_MAGIC):
        kind = _inspect_ole(path, size)
        if ext == ".xls" and kind == "xls":
            return FileFormat.XLS
        raise _mismatch(ext, kind)

    markup = _sniff_markup(head)
    if markup is not None:
        raise FileRejected("html_disguised", _markup_message(ext, markup))

    for magic, kind in _BINARY_SIGNATURES:
        if head.startswith(magic):
            raise _mismatch(ext, kind)
    if head.startswith(b"BM") and head[6:10] == b"\x00\x00\x00\x00":  # "BM" alone is text
        raise _mismatch(ext, "bmp")

    if _looks_like_text(head):
        if ext == ".csv":
            return FileFormat.CSV
        if ext == ".xls":
            raise FileRejected(
                "csv_disguised",
                "文件扩展名为 .xls，但内容是文本（CSV/制表符分隔），不是真正的 Excel 文件。"
                "请在 Excel 中打开后另存为 .xlsx，或将扩展名改为 .csv 后上传",
            )
        raise _mismatch(ext, "text")

    raise _mismatch(ext, "binary")


# --------------------------------------------------------------------------------------
# Messages
# --------------------------------------------------------------------------------------

_KIND_LABELS = {
    "xlsx": "Excel 2007 及以上格式（.xlsx）",
    "xls": "Excel 97-2003 格式（.xls）",
    "xlsb": "Excel 二进制工作簿（.xlsb）",
    "ods": "OpenDocument 表格（.ods）",
    "docx": "Word 文档",
    "pptx": "PowerPoint 演示文稿",
    "zip": "ZIP 压缩包",
    "ole": "其他 Office 文档（不是 Excel 工作簿）",
    "text": "文本（CSV）",
    "binary": "无法识别的二进制数据",
    "pdf": "PDF 文档",
    "png": "PNG 图片",
    "jpeg": "JPEG 图片",
    "gif": "GIF 图片",
    "bmp": "BMP 图片",
    "rar": "RAR 压缩包",
    "7z": "7z 压缩包",
    "gzip": "GZIP 压缩包",
    "rtf": "RTF 文档",
}

_BINARY_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "pdf"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"Rar!\x1a\x07", "rar"),
    (b"7z\xbc\xaf\x27\x1c", "7z"),
    (b"\x1f\x8b", "gzip"),
    (b"{\\rtf", "rtf"),
)


def _mismatch(ext: str, kind: str) -> FileRejected:
    label = _KIND_LABELS.get(kind, _KIND_LABELS["binary"])
    if kind == "xlsx":
        advice = "请将扩展名改为 .xlsx 后重新上传"
    elif kind == "xls":
        advice = "请将扩展名改为 .xls，或在 Excel 中另存为 .xlsx 后重新上传"
    elif kind == "text":
        advice = "请将扩展名改为 .csv，或在 Excel 中另存为 .xlsx 后重新上传"
    elif kind in ("xlsb", "ods"):
        advice = "请在 Excel 中另存为 .xlsx 后重新上传"
    else:
        advice = "请上传 Excel 工作簿（.xlsx、.xls）或 CSV 文件"
    sep = " " if label[:1].isascii() else ""
    return FileRejected("type_mismatch", f"文件扩展名为 {ext}，但内容是{sep}{label}，{advice}")


def _markup_message(ext: str, markup: str) -> str:
    if markup == "spreadsheetml":
        what = "XML 表格（Excel 2003 XML）"
    elif markup == "xml":
        what = "XML 文件"
    elif markup == "mht":
        what = "单个文件网页（MHT）"
    else:
        what = "网页（HTML）"
    if ext == ".csv":
        return f"文件扩展名为 .csv，但内容是{what}，请导出为真正的 CSV 或 .xlsx 后上传"
    return f"文件扩展名为 {ext}，但内容是{what}，请在 Excel 中另存为 .xlsx 后上传"


def size_text(n: int) -> str:
    if n < MB // 100:
        return f"{max(n / 1024, 0.01):.2f} KB".replace(".00 KB", " KB")
    value = n / MB
    if value >= 10 or value == int(value):
        return f"{value:.0f} MB"
    return f"{value:.2f} MB".replace(".00 MB", " MB")


# --------------------------------------------------------------------------------------
# Text / markup sniffing
# --------------------------------------------------------------------------------------

_MARKUP_PREFIXES: tuple[tuple[str, str], ...] = (
    ("<!doctype", "html"),
    ("<html", "html"),
    ("<table", "html"),
    ("<head", "html"),
    ("<body", "html"),
    ("<meta", "html"),
    ("<style", "html"),
    ("<!--", "html"),
    ("mime-version:", "mht"),
)


def _decode_head(head: bytes) -> str:
    """Decode the first bytes for sniffing: BOM-aware, lenient, never raises."""
    if head.startswith(codecs.BOM_UTF8):
        return head[3:].decode("utf-8", "ignore")
    if head.startswith(codecs.BOM_UTF16_LE) or head.startswith(codecs.BOM_UTF16_BE):
        return head.decode("utf-16", "ignore")
    try:
        # a multibyte character may be cut at the end of the sample: ignore that tail
        return codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return head.decode("gb18030", "ignore")


def _sniff_markup(head: bytes) -> str | None:
    text = _decode_head(head).lstrip("\ufeff \t\r\n\x00").lower()
    if text.startswith("<?xml"):
        if "urn:schemas-microsoft-com:office:spreadsheet" in text or "<workbook" in text:
            return "spreadsheetml"
        if "<html" in text:
            return "html"
        return "xml"
    for prefix, kind in _MARKUP_PREFIXES:
        if text.startswith(prefix):
            return kind
    return None


def _looks_like_text(head: bytes) -> bool:
    if head.startswith(codecs.BOM_UTF16_LE) or head.startswith(codecs.BOM_UTF16_BE):
        return True
    if b"\x00" in head:
        return False
    # Control characters other than tab/CR/LF/FF/SUB are a sign of binary content.
    controls = sum(1 for b in head if b < 0x20 and b not in (0x09, 0x0A, 0x0C, 0x0D, 0x1A))
    return controls <= len(head) // 100


# --------------------------------------------------------------------------------------
# Zip (OOXML) inspection: central directory only
# --------------------------------------------------------------------------------------


def _corrupt() -> FileRejected:
    return FileRejected(
        "corrupt", "文件已损坏或格式不完整，无法读取，请在 Excel 中打开确认后重新保存再上传"
    )


def _zip_bomb(detail: str) -> FileRejected:
    return FileRejected(
        "zip_bomb",
        f"文件结构异常（{detail}），疑似压缩炸弹，出于安全原因拒绝接收；"
        "如确为正常数据，请拆分后分批上传",
    )


def _zip_declared_entries(path: Path) -> int:
    """Entry count from the End Of Central Directory record, before ZipFile parses it.

    ZipFile builds one object per entry, so a hostile central directory with millions of
    entries is refused here first.
    """
    size = path.stat().st_size
    tail_len = min(size, 22 + 65535 + 20 + 56)
    with path.open("rb") as fh:
        fh.seek(size - tail_len)
        tail = fh.read(tail_len)
        pos = tail.rfind(b"PK\x05\x06")
        if pos < 0 or pos + 22 > len(tail):
            raise _corrupt()
        (_sig, _disk, _cd_disk, _n_disk, n_total, _cd_size, _cd_off, _clen) = struct.unpack(
            "<4s4H2LH", tail[pos : pos + 22]
        )
        if n_total != 0xFFFF:
            return n_total
        # Zip64: the locator sits just before the EOCD record.
        loc = pos - 20
        if loc < 0 or tail[loc : loc + 4] != b"PK\x06\x07":
            raise _corrupt()
        (_sig, _disk, z64_off, _ndisks) = struct.unpack("<4sLQL", tail[loc : loc + 20])
        if z64_off + 56 > size:
            raise _corrupt()
        fh.seek(z64_off)
        rec = fh.read(56)
    if len(rec) < 56 or rec[:4] != b"PK\x06\x06":
        raise _corrupt()
    return struct.unpack("<Q", rec[32:40])[0]


def _inspect_zip(
    path: Path, *, max_uncompressed_bytes: int, max_ratio: int, max_entries: int
) -> str:
    """Safety checks on a zip; returns what kind of document it is (``"xlsx"``, ...)."""
    declared = _zip_declared_entries(path)
    if declared > max_entries:
        raise _zip_bomb(f"包含 {declared} 个条目，超过上限 {max_entries}")
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            if len(infos) > max_entries:
                raise _zip_bomb(f"包含 {len(infos)} 个条目，超过上限 {max_entries}")
            total_unc = 0
            total_comp = 0
            for info in infos:
                if info.file_size < 0 or info.compress_size < 0:
                    raise _corrupt()
                total_unc += info.file_size
                total_comp += info.compress_size
                if info.file_size > RATIO_FLOOR_BYTES:
                    ratio = info.file_size / max(info.compress_size, 1)
                    if ratio > max_ratio:
                        raise _zip_bomb(f"条目压缩比 {ratio:.0f}:1，超过上限 {max_ratio}:1")
            if total_unc > max_uncompressed_bytes:
                raise _zip_bomb(
                    f"解压后共 {size_text(total_unc)}，超过上限 {size_text(max_uncompressed_bytes)}"
                )
            if total_unc > RATIO_FLOOR_BYTES:
                ratio = total_unc / max(total_comp, 1)
                if ratio > max_ratio:
                    raise _zip_bomb(f"整体压缩比 {ratio:.0f}:1，超过上限 {max_ratio}:1")

            names = {info.filename.replace("\\", "/").lstrip("/").lower(): info for info in infos}
            if any(info.flag_bits & 0x1 for info in infos):
                raise FileRejected("encrypted", "文件已加密，请取消密码保护后重新上传")

            if any(n.endswith("vbaproject.bin") or n.startswith("xl/macrosheets/") for n in names):
                raise _macro()
            ct = names.get("[content_types].xml")
            if ct is not None:
                if ct.file_size > CONTENT_TYPES_MAX_BYTES:
                    raise _corrupt()
                # Bounded in-memory read of one small member (never written anywhere).
                with zf.open(ct) as fh:
                    content_types = fh.read(CONTENT_TYPES_MAX_BYTES)
                if b"macroenabled" in content_types.lower():
                    raise _macro()
    except FileRejected:
        raise
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        OSError,
        EOFError,
        ValueError,
        struct.error,
        NotImplementedError,
        RuntimeError,
    ):
        raise _corrupt() from None

    if "xl/workbook.xml" in names and ct is not None:
        return "xlsx"
    if "xl/workbook.bin" in names:
        return "xlsb"
    if "mimetype" in names or "content.xml" in names:
        return "ods"
    if any(n.startswith("word/") for n in names):
        return "docx"
    if any(n.startswith("ppt/") for n in names):
        return "pptx"
    return "zip"


def _macro() -> FileRejected:
    return FileRejected(
        "macro", "文件包含宏（VBA），出于安全原因拒绝接收，请另存为不含宏的 .xlsx 后上传"
    )


# --------------------------------------------------------------------------------------
# OLE2 (Compound File Binary) inspection
# --------------------------------------------------------------------------------------

_MAXREGSECT = 0xFFFFFFFA
_ENCRYPTION_NAMES = {"encryptioninfo", "encryptedpackage"}
_VBA_NAMES = {"_vba_project_cur", "vba", "_vba_project", "macros"}
_WORKBOOK_NAMES = {"workbook", "book"}
_FILEPASS = 0x002F


@dataclass
class _OleEntry:
    name: str
    kind: int  # 1 storage, 2 stream, 5 root
    start: int
    size: int


class _OleError(Exception):
    pass


class _Ole:
    """Just enough of [MS-CFB] to list directory entries and read the head of a stream."""

    def __init__(self, fh, size: int):
        self.fh = fh
        header = self._read_at(0, 512)
        if len(header) < 512 or header[:8] != OLE2_MAGIC:
            raise _OleError("header")
        major = struct.unpack_from("<H", header, 0x1A)[0]
        shift = struct.unpack_from("<H", header, 0x1E)[0]
        mini_shift = struct.unpack_from("<H", header, 0x20)[0]
        if shift not in (9, 12) or mini_shift != 6:
            raise _OleError("sector size")
        self.major = major
        self.sector_size = 1 << shift
        self.mini_sector_size = 1 << mini_shift
        self.n_sectors = max(0, (size - self.sector_size) // self.sector_size + 1)
        n_fat = struct.unpack_from("<L", header, 0x2C)[0]
        first_dir = struct.unpack_from("<L", header, 0x30)[0]
        self.mini_cutoff, self.first_minifat, n_minifat, first_difat, n_difat = struct.unpack_from(
            "<5L", header, 0x38
        )
        del n_minifat
        # FAT sector numbers: 109 in the header, the rest in the DIFAT chain.
        fat_sectors = [s for s in struct.unpack_from("<109L", header, 0x4C) if s <= _MAXREGSECT]
        per = self.sector_size // 4
        sect = first_difat
        for _ in range(min(n_difat, self.n_sectors)):
            if sect > _MAXREGSECT:
                break
            data = self._sector(sect)
            values = struct.unpack(f"<{per}L", data)
            fat_sectors.extend(s for s in values[:-1] if s <= _MAXREGSECT)
            sect = values[-1]
        fat_sectors = fat_sectors[: max(n_fat, 0) or len(fat_sectors)]
        fat: list[int] = []
        for s in fat_sectors:
            fat.extend(struct.unpack(f"<{per}L", self._sector(s)))
        self.fat = fat
        self.entries = self._read_directory(first_dir)

    def _read_at(self, offset: int, n: int) -> bytes:
        self.fh.seek(offset)
        return self.fh.read(n)

    def _sector(self, n: int) -> bytes:
        if n >= self.n_sectors:
            raise _OleError("sector out of range")
        data = self._read_at((n + 1) * self.sector_size, self.sector_size)
        if len(data) < self.sector_size:
            raise _OleError("short sector")
        return data

    def _chain(self, start: int, fat: list[int], limit: int):
        """Sector numbers of a chain, loop-safe."""
        seen = 0
        sect = start
        while sect <= _MAXREGSECT:
            if seen > limit or sect >= len(fat):
                raise _OleError("bad chain")
            yield sect
            seen += 1
            sect = fat[sect]

    def _read_directory(self, first_dir: int) -> list[_OleEntry]:
        entries: list[_OleEntry] = []
        for sect in self._chain(first_dir, self.fat, self.n_sectors):
            data = self._sector(sect)
            for off in range(0, len(data), 128):
                raw = data[off : off + 128]
                name_len = struct.unpack_from("<H", raw, 0x40)[0]
                kind = raw[0x42]
                if kind == 0:
                    continue
                if name_len > 64 or name_len % 2:
                    raise _OleError("bad name")
                name = raw[: max(name_len - 2, 0)].decode("utf-16-le", "replace")
                start = struct.unpack_from("<L", raw, 0x74)[0]
                size = struct.unpack_from("<Q", raw, 0x78)[0]
                if self.major == 3:
                    size &= 0xFFFFFFFF
                entries.append(_OleEntry(name, kind, start, size))
        if not entries or entries[0].kind != 5:
            raise _OleError("no root")
        return entries

    def names(self) -> set[str]:
        return {e.name.lower() for e in self.entries}

    def read_head(self, entry: _OleEntry, n: int) -> bytes:
        """The first n bytes of a stream (regular or mini stream)."""
        want = min(n, entry.size)
        out = bytearray()
        if entry.size >= self.mini_cutoff:
            for sect in self._chain(entry.start, self.fat, self.n_sectors):
                out += self._sector(sect)
                if len(out) >= want:
                    break
            return bytes(out[:want])
        # Mini stream: stored in the root entry's chain, indexed by the mini FAT.
        root = self.entries[0]
        minifat: list[int] = []
        per = self.sector_size // 4
        for sect in self._chain(self.first_minifat, self.fat, self.n_sectors):
            minifat.extend(struct.unpack(f"<{per}L", self._sector(sect)))
        root_sectors = list(self._chain(root.start, self.fat, self.n_sectors))
        for msect in self._chain(entry.start, minifat, len(minifat)):
            pos = msect * self.mini_sector_size
            idx, off = divmod(pos, self.sector_size)
            if idx >= len(root_sectors):
                raise _OleError("mini sector out of range")
            out += self._sector(root_sectors[idx])[off : off + self.mini_sector_size]
            if len(out) >= want:
                break
        return bytes(out[:want])


def _biff_has_filepass(head: bytes) -> bool:
    """FILEPASS follows BOF at the start of the Workbook globals; look at a few records."""
    pos = 0
    for _ in range(16):
        if pos + 4 > len(head):
            return False
        rtype, rlen = struct.unpack_from("<HH", head, pos)
        if rtype == _FILEPASS:
            return True
        if rtype == 0x000A:  # EOF of the globals substream
            return False
        pos += 4 + rlen
    return False


def _scan_utf16_names(path: Path) -> set[str]:
    """Fallback for an unparseable OLE2 file: which tell-tale names occur in UTF-16LE."""
    names = ("EncryptedPackage", "EncryptionInfo", "_VBA_PROJECT_CUR")
    wanted = {n: n.encode("utf-16-le") for n in names}
    found: set[str] = set()
    overlap = 64
    prev = b""
    with path.open("rb") as fh:
        while chunk := fh.read(MB):
            buf = prev + chunk
            for name, pattern in wanted.items():
                if pattern in buf:
                    found.add(name.lower())
            prev = buf[-overlap:]
    return found


def _inspect_ole(path: Path, size: int) -> str:
    """Safety checks on an OLE2 file; returns ``"xls"`` or ``"ole"`` (some other document)."""
    try:
        with path.open("rb") as fh:
            ole = _Ole(fh, size)
            names = ole.names()
            if names & _ENCRYPTION_NAMES:
                raise FileRejected("encrypted", "文件已加密，请取消密码保护后重新上传")
            if names & _VBA_NAMES:
                raise _macro()
            book = next(
                (e for e in ole.entries if e.kind == 2 and e.name.lower() in _WORKBOOK_NAMES),
                None,
            )
            if book is None:
                return "ole"
            if _biff_has_filepass(ole.read_head(book, 1024)):
                raise FileRejected("encrypted", "文件已加密，请取消密码保护后重新上传")
            return "xls"
    except (_OleError, struct.error, IndexError, OSError):
        found = _scan_utf16_names(path)
        if found & _ENCRYPTION_NAMES:
            raise FileRejected("encrypted", "文件已加密，请取消密码保护后重新上传") from None
        if found & _VBA_NAMES:
            raise _macro() from None
        raise _corrupt() from None
