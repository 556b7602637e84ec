"""Issue 16 item 8 "Cached personal data": pages, downloads and API answers for a
logged-in user carry ``Cache-Control: no-store`` (portal/middleware.py NoStoreMiddleware),
so neither the browser's cache nor a proxy keeps personal data; static files keep their
own caching."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client

from portal.accounts.tokens import api_token_issue

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_throttles():
    cache.clear()
    yield
    cache.clear()


def no_store(response) -> bool:
    return "no-store" in response.get("Cache-Control", "")


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/registry/numbers/",
        "/users/",
        "/tokens/",
        "/accounts/security/",
        "/registry/numbers/export.xlsx",  # a download with personal data
        "/registry/template.xlsx",
        "/api/me/",
        "/api/registry/numbers/",
    ],
)
def test_pages_downloads_and_api_of_a_logged_in_user_are_not_stored(client_for, inst_alice, path):
    response = client_for(inst_alice).get(path)
    assert response.status_code == 200, path
    assert no_store(response), (path, response.get("Cache-Control"))


def test_token_api_answers_are_not_stored(inst_alice):
    _token, key = api_token_issue(actor=inst_alice, user=inst_alice, name="x")
    response = Client().get("/api/me/", HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 200
    assert no_store(response)


def test_an_error_page_of_a_logged_in_user_is_not_stored(client_for, inst_alice):
    response = client_for(inst_alice).get("/registry/numbers/999999/")
    assert response.status_code == 404
    assert no_store(response)


def test_static_files_keep_their_caching(settings, inst_alice):
    """Static files are the same for everyone: whitenoise answers before the session is
    read, and the middleware leaves /static/ alone."""
    settings.WHITENOISE_USE_FINDERS = True
    settings.WHITENOISE_AUTOREFRESH = True
    client = Client()
    client.force_login(inst_alice)
    response = client.get("/static/portal/portal.js")
    assert response.status_code == 200
    assert not no_store(response)
