"""One error shape for every API error (issue 10 §3; issue 17 §1): ``{"code", "detail"}``,
plus ``fields`` for validation errors; a stable code for each kind, a Chinese detail, and a
server error answered as JSON with the request id, never a debug page."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from rest_framework import exceptions

from portal.api import exception_handler
from registry import api as registry_api
from tests.registry.conftest import register

pytestmark = pytest.mark.django_db

NUMBERS = "/api/registry/numbers/"


def shape(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) <= {"code", "detail", "fields"}
    assert body["code"] == code
    assert body["detail"] and not body["detail"].isascii()  # Chinese, not Python's English
    return body


def test_not_authenticated():
    shape(Client().get("/api/me/"), 401, "not_authenticated")


def test_a_bad_token():
    shape(Client().get("/api/me/", HTTP_AUTHORIZATION="Token ptk_nonsense"), 401, "token_invalid")


def test_not_found_and_a_page_past_the_end(client_for, inst_alice):
    client = client_for(inst_alice)
    shape(client.get(f"{NUMBERS}999999/"), 404, "not_found")
    body = shape(client.get(NUMBERS, {"page": "2"}), 404, "not_found")
    assert body["detail"] == "页码超出末页"


@pytest.mark.parametrize("page", ["0", "-1", "abc", "last", "", "1.5", "١"])
def test_a_page_that_is_not_a_positive_integer_is_400(client_for, inst_alice, page):
    """Issue 17: ``?page=0`` was a 404 ``{"detail": "无效页面。"}`` with no code; the schema
    says the page is an integer from 1."""
    body = shape(client_for(inst_alice).get(NUMBERS, {"page": page}), 400, "invalid")
    assert list(body["fields"]) == ["page"]


def test_a_path_no_api_route_matches_is_json(client_for, inst_alice):
    """Issue 17: ``/api/registry/imports/0.5/error-report/`` answered the HTML 404 page."""
    client = client_for(inst_alice)
    for path in ("/api/registry/imports/0.5/error-report/", "/api/nothing-here/"):
        response = client.get(path)
        assert response["Content-Type"] == "application/json"
        shape(response, 404, "not_found")
    assert client.get("/no-such-page/")["Content-Type"].startswith("text/html")


def test_a_server_error_outside_the_api_handler_is_json(rf):
    """A failure Django handles (a middleware, not a DRF view) still answers an API
    caller in the one shape, with the request id."""
    from portal.views.errors import error_500

    request = rf.get("/api/registry/numbers/")
    request.request_id = "req-456"
    response = error_500(request)
    assert response.status_code == 500 and response["Content-Type"] == "application/json"
    body = json.loads(response.content)
    assert body["code"] == "server_error" and "req-456" in body["detail"]
    assert error_500(rf.get("/registry/"))["Content-Type"].startswith("text/html")


def test_what_django_refuses_before_the_api_is_json_too(rf):
    """A 400 or 403 that Django answers itself (a request too large, a permission refused
    outside DRF) has the one shape under /api/, and stays a page elsewhere."""
    from django.core.exceptions import PermissionDenied

    from portal.views.errors import error_400, error_403

    bad = error_400(rf.post("/api/registry/imports/"), exception=ValueError())
    assert bad.status_code == 400 and json.loads(bad.content)["code"] == "bad_request"
    refused = error_403(rf.get("/api/me/"), exception=PermissionDenied("只读"))
    assert json.loads(refused.content) == {"code": "forbidden", "detail": "只读"}
    assert error_400(rf.get("/registry/"), exception=ValueError())["Content-Type"].startswith(
        "text/html"
    )


def test_a_password_still_to_change(client_for, inst_alice):
    inst_alice.must_change_password = True
    inst_alice.save(update_fields=["must_change_password"])
    shape(client_for(inst_alice).get("/api/me/"), 403, "password_change_required")


def test_validation_errors_name_every_field(client_for, inst_alice):
    response = client_for(inst_alice).post(
        NUMBERS, {"number": "13900139000"}, content_type="application/json"
    )
    body = shape(response, 400, "invalid")
    assert {"purpose", "user_name", "carrier", "valid_from"} <= set(body["fields"])
    assert all(isinstance(m, list) and m for m in body["fields"].values())


def test_a_typed_portal_error_keeps_its_code_and_field(client_for, inst_alice):
    register(inst_alice, "13800138000")
    response = client_for(inst_alice).post(
        NUMBERS,
        {
            "number": "13800138000",
            "purpose": "营销",
            "user_name": "本机构",
            "carrier": "中国移动",
            "valid_from": "2026-01-01",
        },
        content_type="application/json",
    )
    body = shape(response, 409, "conflict")
    assert list(body["fields"]) == ["number"]


def test_a_refusal(client_for, viewer_viola):
    response = client_for(viewer_viola).post(NUMBERS, {}, content_type="application/json")
    shape(response, 403, "viewer_read_only")


def test_method_not_allowed_keeps_allow(client_for, inst_alice):
    response = client_for(inst_alice).delete(NUMBERS)
    shape(response, 405, "method_not_allowed")
    assert "GET" in response["Allow"]


def test_a_method_the_resource_lacks_is_405_before_the_roles_404(client_for, carrier_carol):
    """schemathesis (issue 17): a carrier's TRACE on the registry was its 404 (no registry
    for carriers); a method no one may use is a 405 first. Its GET stays a 404."""
    client = client_for(carrier_carol)
    response = client.generic("TRACE", NUMBERS)
    shape(response, 405, "method_not_allowed")
    assert "GET" in response["Allow"]
    shape(client.get(NUMBERS), 404, "not_found")


def test_malformed_json_and_a_wrong_media_type(client_for, inst_alice):
    client = client_for(inst_alice)
    shape(client.post(NUMBERS, "{", content_type="application/json"), 400, "parse_error")
    shape(client.post(NUMBERS, "x", content_type="text/plain"), 415, "unsupported_media_type")


def test_a_missing_calendar_year(client_for, carrier_carol):
    response = client_for(carrier_carol).get("/api/deadlines/", {"sms_start": "2099-03-16"})
    shape(response, 409, "calendar_year_missing")


def test_a_bad_date_names_its_field(client_for, carrier_carol):
    response = client_for(carrier_carol).get("/api/deadlines/", {"quarter": "2026Q5"})
    body = shape(response, 400, "bad_date")
    assert list(body["fields"]) == ["quarter"]


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (exceptions.Throttled(wait=30), 429, "throttled"),
        (exceptions.PermissionDenied(), 403, "forbidden"),
        (exceptions.NotAcceptable(), 406, "not_acceptable"),
    ],
)
def test_drf_errors_get_a_stable_code(rf, exc, status, code):
    response = exception_handler(exc, {"request": rf.get("/api/x/"), "view": None})
    assert response.status_code == status
    assert response.data["code"] == code and not response.data["detail"].isascii()


def test_a_request_django_calls_suspicious_is_400(client_for, inst_alice, monkeypatch):
    from django.core.exceptions import RequestDataTooBig

    def too_big(self, request, *args, **kwargs):
        raise RequestDataTooBig("Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE.")

    monkeypatch.setattr(registry_api.NumberViewSet, "create", too_big)
    response = client_for(inst_alice).post(NUMBERS, {}, content_type="application/json")
    shape(response, 400, "bad_request")


def test_a_server_error_is_json_with_the_request_id(client_for, inst_alice, monkeypatch, caplog):
    def boom(self, request, *args, **kwargs):
        raise RuntimeError("database fell over")

    monkeypatch.setattr(registry_api.NumberViewSet, "list", boom)
    response = client_for(inst_alice).get(NUMBERS, HTTP_X_REQUEST_ID="req-123")
    body = shape(response, 500, "server_error")
    assert "req-123" in body["detail"]
    assert "Traceback" not in response.content.decode()
    assert any("database fell over" in r.getMessage() or r.exc_info for r in caplog.records)
