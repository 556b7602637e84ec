"""The shape of the portal's bootstrap commands: one JSON line on success; on bad input one
Chinese line on stderr and exit 1, never a traceback."""

from __future__ import annotations

import json
import sys
from typing import NoReturn

from django.core.management.base import BaseCommand


class JsonLineCommand(BaseCommand):
    def emit(self, payload: dict) -> None:
        self.stdout.write(json.dumps(payload, ensure_ascii=False))

    def fail(self, message: str) -> NoReturn:
        self.stderr.write(" ".join(message.split()))
        sys.exit(1)
