"""Denials agree (issue 10 §4, §6): one rule decides who writes an institution's register
(000 §三(一)1: the institution compiles its own numbers) -- its own 管理员 and 经办人. A page
a role never has is a 404, and the API agrees; a 403 says what the user can do instead."""

from __future__ import annotations

import pytest

from registry.models import RegisteredNumber

pytestmark = pytest.mark.django_db

WRITE_PAGES = ["/registry/numbers/new/", "/registry/partners/new/", "/registry/imports/new/"]


@pytest.mark.parametrize("path", WRITE_PAGES)
@pytest.mark.parametrize("who", ["regulator_rita", "financial_fiona", "carrier_carol"])
def test_a_write_page_a_role_never_has_is_a_404(request, client_for, who, path):
    assert client_for(request.getfixturevalue(who)).get(path).status_code == 404


@pytest.mark.parametrize("path", WRITE_PAGES)
def test_a_viewer_is_told_what_she_can_do(client_for, viewer_viola, path):
    response = client_for(viewer_viola).get(path)
    assert response.status_code == 403
    body = response.content.decode()
    assert "您的角色为“查看”" in body and "可以查看本机构的号码登记" in body


@pytest.mark.parametrize(
    "path", ["/api/registry/numbers/", "/api/registry/partners/", "/api/registry/imports/"]
)
def test_the_api_agrees_a_carrier_has_no_registry(client_for, carrier_carol, alice_number, path):
    response = client_for(carrier_carol).get(path)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_regulators_writing_through_the_api_are_told_they_read_only(
    client_for, regulator_rita, alice_number
):
    response = client_for(regulator_rita).post(
        "/api/registry/numbers/", {"number": "13900139000"}, content_type="application/json"
    )
    assert response.status_code == 403
    assert response.json()["code"] == "not_institution"
    assert "可以查看" in response.json()["detail"]
    assert RegisteredNumber.objects.count() == 1


def test_the_viewers_api_write_says_the_same_as_her_page(client_for, viewer_viola, alice_number):
    response = client_for(viewer_viola).post(
        f"/api/registry/numbers/{alice_number.pk}/end/",
        {"end_date": "2026-06-30", "reason": "x"},
        content_type="application/json",
    )
    assert response.status_code == 403
    assert response.json()["code"] == "viewer_read_only"
    assert "您的角色为“查看”" in response.json()["detail"]
