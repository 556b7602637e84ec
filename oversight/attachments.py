"""Files the parties attach to a case or an appeal (处置凭证, 申诉材料): a scan (PDF, JPG,
PNG, OFD; content must match the extension, as for an entrustment letter) or a spreadsheet
that passes the upload engine's file checks (no macros, no encryption, no disguised file,
no zip bomb; portal/spreadsheets/files.py). Refusals are ``PortalError`` with Chinese text."""

from __future__ import annotations

import os
import tempfile

from django.conf import settings

from portal.errors import PortalError
from portal.spreadsheets.files import FileRejected, inspect_upload
from registry.forms import DOCUMENT_MAGIC, DOCUMENT_MAX_BYTES

SPREADSHEETS = ("xlsx", "xls", "csv")
ATTACHMENT_EXTENSIONS = (*DOCUMENT_MAGIC, *SPREADSHEETS)
ATTACHMENT_ACCEPT = ",".join(f".{ext}" for ext in ATTACHMENT_EXTENSIONS)


def validate_attachment(upload, *, what: str = "附件") -> None:
    """Raise ``PortalError`` (field ``document``) unless ``upload`` is an acceptable file."""
    name = getattr(upload, "name", "") or ""
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if suffix not in ATTACHMENT_EXTENSIONS:
        raise PortalError(
            f"{what}只支持 PDF、JPG、PNG、OFD 或 Excel/CSV 文件",
            code="document_type",
            field="document",
        )
    size = getattr(upload, "size", 0) or 0
    if size == 0:
        raise PortalError(f"{what}是空文件", code="document_empty", field="document")
    if size > DOCUMENT_MAX_BYTES:
        raise PortalError(
            f"{what}大小为 {size / 1024 / 1024:.1f} MB，超过上限 10 MB",
            code="document_size",
            field="document",
        )
    if suffix in SPREADSHEETS:
        _inspect_spreadsheet(upload, name, what)
        return
    head = upload.read(8)
    upload.seek(0)
    if not head.startswith(DOCUMENT_MAGIC[suffix]):
        raise PortalError(
            f"{what}的文件内容与扩展名 .{suffix} 不符，请上传原始文件",
            code="document_content",
            field="document",
        )


def _inspect_spreadsheet(upload, name: str, what: str) -> None:
    fd, path = tempfile.mkstemp(suffix="." + name.rsplit(".", 1)[-1].lower())
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in upload.chunks():
                out.write(chunk)
        inspect_upload(path, original_name=name, max_bytes=settings.UPLOAD_MAX_BYTES)
    except FileRejected as exc:
        raise PortalError(f"{what}：{exc.message}", code=exc.code, field="document") from exc
    finally:
        os.unlink(path)
        upload.seek(0)
