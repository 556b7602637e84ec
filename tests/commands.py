"""Running the JSON-line management commands in tests: one JSON line on success; exit 1
with one Chinese line on stderr (no traceback) on bad input."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command


def command_args(name: str, values: dict[str, str | None]) -> list[str]:
    """``name --key value ...`` for every value that is not None."""
    args = [name]
    for key, value in values.items():
        if value is not None:
            args += [f"--{key}", value]
    return args


def run(*args, stdin: str | None = None) -> dict:
    out, err = StringIO(), StringIO()
    extra = {"stdin": StringIO(stdin)} if stdin is not None else {}
    call_command(*args, stdout=out, stderr=err, **extra)
    assert err.getvalue() == ""
    assert len(out.getvalue().splitlines()) == 1
    return json.loads(out.getvalue())


def run_failing(*args, stdin: str | None = None) -> str:
    """Exit 1, nothing on stdout, one Chinese line on stderr, no traceback."""
    out, err = StringIO(), StringIO()
    extra = {"stdin": StringIO(stdin)} if stdin is not None else {}
    with pytest.raises(SystemExit) as exc:
        call_command(*args, stdout=out, stderr=err, **extra)
    assert exc.value.code == 1
    assert out.getvalue() == ""
    message = err.getvalue()
    assert "Traceback" not in message
    assert len(message.strip().splitlines()) == 1
    return message.strip()
