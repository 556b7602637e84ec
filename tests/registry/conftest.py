"""Registry data for the page and API tests, made through the services (the public way to
write), on top of the named users in tests/conftest.py."""

from __future__ import annotations

import datetime as dt

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from registry import services

PARTNER_CODE = "91330100MA2PART01W"
OTHER_PARTNER_CODE = "91330100MA2PART020"
PDF = b"%PDF-1.4\n% entrustment letter\n%%EOF\n"
HEADER = ["号码", "用途", "使用单位", "电信运营商", "合作起始日期"]


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    """Uploads, documents and error reports go to a throwaway folder."""
    settings.MEDIA_ROOT = tmp_path / "media"


def register(user, number: str, **extra):
    fields = {
        "号码": number,
        "用途": "营销",
        "使用单位": "本机构",
        "电信运营商": "中国移动",
        "合作起始日期": "2026-01-01",
        **extra,
    }
    return services.number_register(actor=user, institution=user.organisation, fields=fields)


@pytest.fixture
def alice_number(inst_alice):
    return register(inst_alice, "13800138000")


@pytest.fixture
def bob_number(inst_bob):
    return register(inst_bob, "13700137000", 用途="催收", 电信运营商="中国联通")


def pdf_upload(name: str = "委托书.pdf", content: bytes = PDF) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/pdf")


def save_partner(user, *, code: str = PARTNER_CODE, valid_to=dt.date(2027, 6, 30), **extra):
    values = {
        "name": "杭州某催收服务有限公司",
        "credit_code": code,
        "kind": "collection",
        "valid_from": dt.date(2026, 1, 1),
        "valid_to": valid_to,
        "document_number": "WT-2026-001",
        "document": pdf_upload(),
        **extra,
    }
    partner, _ = services.partner_save(actor=user, institution=user.organisation, **values)
    return partner


@pytest.fixture
def alice_partner(inst_alice):
    return save_partner(inst_alice)


@pytest.fixture
def bob_partner(inst_bob):
    return save_partner(inst_bob, name="某营销策划公司", kind="marketing")


def make_xlsx(path, rows, header=HEADER):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "号码登记表"
    ws.append(list(header))
    for row in rows:
        ws.append(list(row))
    wb.save(path)
    return path


def upload_of(path, name: str | None = None) -> SimpleUploadedFile:
    return SimpleUploadedFile(
        name or path.name,
        path.read_bytes(),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )


@pytest.fixture
def eager(settings, django_capture_on_commit_callbacks):
    """Run the import task in-process when the upload's transaction commits."""
    settings.CELERY_TASK_ALWAYS_EAGER = True

    def run():
        return django_capture_on_commit_callbacks(execute=True)

    return run
