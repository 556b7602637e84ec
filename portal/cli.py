"""The shape of the portal's bootstrap commands: one JSON line on success; on bad input one
Chinese line on stderr and exit 1, never a traceback."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import NoReturn

from django.core.management.base import BaseCommand
from django.db import models

from .spreadsheets.headers import fold


class JsonLineCommand(BaseCommand):
    def emit(self, payload: dict) -> None:
        self.stdout.write(json.dumps(payload, ensure_ascii=False))

    def fail(self, message: str) -> NoReturn:
        self.stderr.write(" ".join(message.split()))
        sys.exit(1)


def enum_argument(choices: type[models.TextChoices]) -> Callable[[str], str]:
    """An argparse ``type``: an enumeration given as its code or its Chinese label, as the
    spreadsheets accept it (``--role 经办人`` = ``--role operator``). Anything else passes
    through unchanged, for the service to refuse with its own Chinese message."""
    by_text = {fold(label).lower(): value for value, label in choices.choices}
    by_text.update({fold(value).lower(): value for value in choices.values})

    def convert(text: str) -> str:
        return by_text.get(fold(text).lower(), text.strip())

    return convert
