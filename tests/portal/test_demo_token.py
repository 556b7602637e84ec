"""``demo_token``: API tokens for demo accounts, issued like the /tokens/ page issues them
(by a 管理员 of the user's own organisation, audited); the API contract run uses it."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from portal.models import ApiToken, AuditEvent

pytestmark = pytest.mark.django_db


def issue(*usernames: str) -> dict[str, str]:
    out = StringIO()
    call_command("demo_token", *usernames, stdout=out)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    return {line["username"]: line["key"] for line in lines}


def test_a_token_per_user_that_the_api_accepts(inst_alice, carrier_carol):
    keys = issue("alice", "carol")
    assert set(keys) == {"alice", "carol"}
    for username, key in keys.items():
        response = Client().get("/api/me/", HTTP_AUTHORIZATION=f"Token {key}")
        assert response.json()["username"] == username
    assert ApiToken.objects.filter(user=inst_alice, created_by=inst_alice).count() == 1
    assert AuditEvent.objects.filter(action="token.issue").count() == 2


def test_a_viewer_gets_it_from_an_admin_of_her_organisation(inst_alice, viewer_viola):
    issue(viewer_viola.username)
    token = ApiToken.objects.get(user=viewer_viola)
    assert token.created_by.organisation_id == viewer_viola.organisation_id
    assert token.created_by.role == "admin"


def test_an_organisation_without_an_admin_is_told_what_to_do(financial_fiona):
    with pytest.raises(CommandError, match="create_user"):
        issue("fiona")
    assert not ApiToken.objects.exists()


def test_only_in_a_demo(settings, inst_alice):
    settings.DEMO = False
    with pytest.raises(CommandError, match="演示环境"):
        issue("alice")
