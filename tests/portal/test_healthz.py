"""/healthz: database and broker reachable -> 200, else 503 naming what failed."""

from __future__ import annotations

import pytest

from portal.celery import app
from portal.views import errors as views

pytestmark = pytest.mark.django_db


def test_healthy(client):
    """The embedded broker (kombu's SQLAlchemy transport on SQLite) needs no server."""
    if not app.conf.broker_url.startswith("sqla+sqlite"):
        pytest.skip("a real broker is configured; its health is checked in deployment")
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}
    assert "no-cache" in response["Cache-Control"]


class _Unreachable:
    def __call__(self, *args, **kwargs):
        raise OSError("connection refused")


def test_broker_down_is_503(client, monkeypatch):
    monkeypatch.setattr(app, "connection_for_write", _Unreachable())
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "ok", "broker": "error"}


def test_database_down_is_503(client, monkeypatch):
    class BrokenConnection:
        def cursor(self):
            raise OSError("database gone")

    monkeypatch.setattr(views, "connection", BrokenConnection())
    monkeypatch.setattr(app, "connection_for_write", _Unreachable())
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "error", "broker": "error"}


def test_health_needs_no_login_and_no_password_change(client, inst_alice, monkeypatch):
    """The load balancer probes without a session; a user with a one-time password is not
    redirected away from it either."""
    monkeypatch.setattr(app, "connection_for_write", _Unreachable())
    inst_alice.must_change_password = True
    inst_alice.save(update_fields=["must_change_password"])
    client.force_login(inst_alice)
    assert client.get("/healthz").status_code == 503  # answered, not redirected
