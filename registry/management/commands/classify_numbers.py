"""``manage.py classify_numbers``: canonical form and kind of raw numbers, one per line.

Reads UTF-8 from standard input (a BOM is ignored, undecodable bytes become U+FFFD), strips
only the line ending, and prints one JSON object per line::

    {"raw": "+86 138 0013 8000", "number": "13800138000", "kind": "mobile", "error": null}
    {"raw": "", "number": null, "kind": null, "error": "空值"}

Always exits 0 once the input is read; never prints a traceback (a closed pipe, as in
``| head``, ends it quietly).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys

from django.core.management.base import BaseCommand

from registry.numbers import classify


def _utf8_stdin():
    buffer = getattr(sys.stdin, "buffer", None)
    if buffer is None:
        return sys.stdin
    return io.TextIOWrapper(buffer, encoding="utf-8-sig", errors="replace", newline="\n")


def _strip_line_ending(line: str) -> str:
    if line.endswith("\n"):
        line = line[:-1]
    if line.endswith("\r"):
        line = line[:-1]
    return line


class Command(BaseCommand):
    help = (
        "Classify raw phone numbers / SMS ports read one per line from standard input; "
        "print one JSON object per line (raw, number, kind, error)."
    )
    # call_command("classify_numbers", stdin=io.StringIO(...)), as createsuperuser does.
    stealth_options = ("stdin",)
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def execute(self, *args, **options):
        self.stdin = options.pop("stdin", None) or _utf8_stdin()
        if options.get("stdout") is None and hasattr(sys.stdout, "reconfigure"):
            sys.stdout.reconfigure(encoding="utf-8", errors="replace")
        return super().execute(*args, **options)

    def handle(self, *args, **options) -> None:
        write = self.stdout.write
        dumps = json.dumps
        try:
            for line in self.stdin:
                raw = _strip_line_ending(line)
                number, kind, error = classify(raw)
                record = {
                    "raw": raw,
                    "number": number,
                    "kind": kind.value if kind is not None else None,
                    "error": error,
                }
                write(dumps(record, ensure_ascii=False))
            self.stdout.flush()
        except BrokenPipeError:
            # The reader went away (``| head``): stop quietly, and keep the interpreter
            # from complaining when it flushes stdout at exit.
            with contextlib.suppress(OSError, ValueError, io.UnsupportedOperation):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except KeyboardInterrupt:
            sys.exit(130)
