"""The regulator uploads next year's State Council schedule, checks it, then saves it
(domain.md, Working days: the table is editable because next year's schedule comes late)."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from portal import workdays
from portal.models import AuditEvent, CalendarYear

CSV_2027 = "date,kind,name\n2027-01-01,holiday,元旦\n2027-02-06,workday,春节\n".encode()


def test_upload_preview_then_confirm(client_for, regulator_rita):
    client = client_for(regulator_rita)
    response = client.post(
        reverse("calendar_upload"),
        {"year": 2027, "file": SimpleUploadedFile("2027.csv", CSV_2027, "text/csv")},
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "确认 2027 年工作日历" in body
    assert not CalendarYear.objects.filter(year=2027).exists()  # nothing saved yet
    response = client.post(reverse("calendar_upload"), {"confirm": "1"})
    assert response.status_code == 302
    assert CalendarYear.objects.filter(year=2027).exists()
    assert AuditEvent.objects.filter(action="calendar.load_year", object_id="2027").exists()
    assert workdays.is_workday(workdays.dt.date(2027, 2, 6))  # Saturday make-up day
    assert not workdays.is_workday(workdays.dt.date(2027, 1, 1))


def test_bad_csv_names_the_line(client_for, regulator_rita):
    client = client_for(regulator_rita)
    response = client.post(
        reverse("calendar_upload"),
        {"year": 2027, "file": SimpleUploadedFile("x.csv", b"2027-01-01,party\n", "text/csv")},
    )
    assert "第 1 行" in response.content.decode()
    assert not CalendarYear.objects.filter(year=2027).exists()


def test_confirm_without_preview(client_for, regulator_rita):
    response = client_for(regulator_rita).post(reverse("calendar_upload"), {"confirm": "1"})
    assert response.status_code == 302
    assert not CalendarYear.objects.filter(year=2027).exists()


def test_other_roles_get_404(client_for, inst_alice, carrier_carol, financial_fiona):
    for user in (inst_alice, carrier_carol, financial_fiona):
        assert client_for(user).get(reverse("calendar_upload")).status_code == 404
