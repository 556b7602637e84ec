"""A spreadsheet form, declared once (issue 9 item 1): what the reader matches, what the
template offers, how a row is validated, which set-level checks run and how valid rows are
merged. Apps register their forms from ``AppConfig.ready()`` (``register_form``), the way
the dashboard panels are registered (portal/dashboard.py): the engine never imports them.

A form is a subclass of :class:`SpreadsheetForm` that sets the declaration (``code``,
``label``, ``columns``...) and supplies four hooks:

- ``context(job)``: what validating a row needs, loaded once before the rows (may query);
- ``validate(cells, columns, ctx)`` -> :class:`RowResult`: one row, no database (it runs on
  the validating thread);
- ``staging(job, ctx)`` -> a :class:`FormStaging`: stage a batch of valid rows, its
  set-level checks against stored data, and the merge, all inside the engine's one
  transaction (pipeline.py);
- ``result_message(job, counts)``: the sentence a user reads when the upload is done.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property, partial
from typing import Any, NamedTuple

from .headers import HeaderMap, find_header


@dataclass(frozen=True)
class Column:
    """One column of a form: the reader, the template and its 填写说明 all read this."""

    name: str
    required: bool = False
    synonyms: tuple[str, ...] = ()
    # An enumeration: a drop-down in the template (``strict``: Excel refuses other values).
    choices: tuple[str, ...] = ()
    strict: bool = True
    help: str = ""
    # How the 填写说明 sheet states whether it is required ("子端口必填"); default 必填/选填.
    requirement: str = ""
    example: str = ""
    # Personal data (a complainant's contact): masked where the engine echoes it back, in
    # the error report (portal/masking.py).
    personal: bool = False

    @property
    def requirement_text(self) -> str:
        return self.requirement or ("必填" if self.required else "选填")


@dataclass(slots=True)
class RowResult:
    """One validated row: ``errors`` [(column, reason)], or the staged ``values``.

    ``key``: what must be unique within the file (the register: the number), or None;
    ``copy_tail``: the values already in PostgreSQL COPY text (optional: a form that
    caches parts of it per distinct combination saves most of the formatting).
    One is made per row: slots, and no list made for the errors of a valid row."""

    values: tuple | None = None
    errors: Sequence[tuple[str, str]] = ()
    key: Any = None
    copy_tail: str = ""


class ValidRow(NamedTuple):
    # A tuple, not a dataclass: one is made per valid row (a million for a large register).
    row_no: int
    result: RowResult


# ``ValidRow(row_no, result)`` made in C from a pair (the engine's hot loop).
valid_row = partial(tuple.__new__, ValidRow)


class Batch(list):
    """A batch of :class:`ValidRow` as the engine hands it to ``FormStaging.stage``.
    ``copy_text``: the same rows already in PostgreSQL COPY text, built on the validating
    thread when the form's staging declares a ``copy_prefix`` and its rows a ``copy_tail``
    (else empty, and staging.load_batch builds the lines)."""

    copy_text: bytes = b""


class FormStaging:
    """What a form does with its valid rows, inside the engine's merge transaction.

    The engine calls ``begin()`` once (under the form's lock), then for each batch of valid
    rows ``stage(batch)``, which returns the set-level errors found in it
    ``{row_no: [(column, reason)]}``, then ``merge_batch(batch)`` while the file has no error
    so far, then, when the whole file is valid, ``complete()`` -> counts. Anything raised
    rolls the transaction back. ``staging.load_batch`` (staging.py) is how a batch reaches
    a table: COPY on PostgreSQL, batched inserts on SQLite."""

    # The values before ``row_no`` in each staged row (e.g. the job id), when the form's rows
    # come with a ``copy_tail``: the validating thread then writes the COPY text itself.
    # ``copy_row_no``: whether the row's number follows the prefix (False: a table without
    # one, e.g. the form's own table when a batch goes there directly). Both are read after
    # ``begin()``, so begin() may choose them.
    copy_prefix: tuple | None = None
    copy_row_no: bool = True

    def begin(self) -> None:
        pass

    def stage(self, batch: list[ValidRow]) -> dict[int, list[tuple[str, str]]]:
        return {}

    def merge_batch(self, batch: list[ValidRow]) -> None:
        pass

    def complete(self) -> dict[str, int]:
        """The whole file is valid: finish the merge (and drop what begin() made); the
        counts for the job (created, updated, unchanged, ended, and the form's own)."""
        return {}


class SpreadsheetForm:
    code: str = ""
    label: str = ""
    # Bump when the declaration changes: the cached template is built once per version.
    version: int = 1
    sheet_title: str = ""
    columns: tuple[Column, ...] = ()
    notes: tuple[str, ...] = ()
    # Organisation kinds (portal.models.OrgKind values) whose users upload this form.
    uploader_kinds: tuple[str, ...] = ()
    # Templates handed out before the example moved to 填写说明 carried it on the data sheet:
    # skip a row equal to the example (only where the example cannot be a real row).
    skip_example_rows: bool = False
    # How a failed job says that nothing changed ("导入失败，…未作任何修改").
    unchanged_text: str = ""
    # Audit actions: f"{audit_prefix}.upload", ".done", ".rejected", ".failed".
    audit_prefix: str = "upload"
    # Rows a duplicate key is reported with (``{key}``, ``{first}``: the first row).
    duplicate_message: str = "与第 {first} 行重复"
    duplicate_column: str = ""
    # The form's own pages, by URL name: its job list and its upload page (job pages link
    # back to them).
    pages: dict[str, str] = {}  # noqa: RUF012 - read only

    # --- the declaration, derived -------------------------------------------------------

    @property
    def nothing_changed(self) -> str:
        return self.unchanged_text or f"{self.label}的数据未作任何修改"

    @cached_property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @cached_property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    @cached_property
    def optional(self) -> list[str]:
        return [c.name for c in self.columns if not c.required]

    @cached_property
    def synonyms(self) -> dict[str, str]:
        return {alias: c.name for c in self.columns for alias in c.synonyms}

    @cached_property
    def example(self) -> dict[str, str]:
        return {c.name: c.example for c in self.columns}

    def find_header(self, sheet: Iterable) -> HeaderMap:
        return find_header(
            sheet, required=self.required, synonyms=self.synonyms, optional=self.optional
        )

    def is_example(self, cells: list[str], columns: dict[str, int]) -> bool:
        """The template's example row, as downloaded (issue 9 item 5)."""
        n = len(cells)
        example = self.example
        if not self.skip_example_rows or not any(example.values()):
            return False
        for name, index in columns.items():
            if (cells[index] if index < n else "") != example.get(name, ""):
                return False
        return all(name in columns for name, text in example.items() if text)

    # --- hooks --------------------------------------------------------------------------

    def check_uploader(self, *, actor, organisation) -> None:
        """Raise NotPermitted/PortalError unless ``actor`` may upload for ``organisation``."""
        from portal.errors import NotPermitted, PortalError

        if organisation.kind not in self.uploader_kinds:
            raise PortalError(f"本单位不报送{self.label}", code="form_not_for_organisation")
        from portal.audit import is_system

        if not is_system(actor) and (
            actor.organisation_id != organisation.pk or not actor.can_write
        ):
            raise NotPermitted(f"只有本单位的管理员或经办人可以上传{self.label}")

    def clean_options(self, options: dict) -> dict:
        return dict(options)

    def context(self, job) -> Any:
        return None

    def validate(self, cells: list[str], columns: dict[str, int], ctx) -> RowResult:
        raise NotImplementedError

    def staging(self, job, ctx) -> FormStaging:
        raise NotImplementedError

    def lock(self) -> None:
        """Serialise this form's merges (called first inside the merge transaction)."""

    def result_message(self, job, counts: dict[str, int]) -> str:
        return f"已导入 {job.rows_total} 行"

    def option_labels(self, job) -> list[str]:
        """The job's options as the job page shows them."""
        return []

    def result_link(self, job, user) -> tuple[str, str] | None:
        """Where a done job's data can be seen: (url, label)."""
        return None


_FORMS: dict[str, SpreadsheetForm] = {}


def register_form(form: SpreadsheetForm) -> SpreadsheetForm:
    """Called from an app's ``AppConfig.ready()``; registering the same code again replaces
    it (ready() may run twice in tests)."""
    if not form.code:
        raise ValueError("a spreadsheet form needs a code")
    _FORMS[form.code] = form
    return form


def unregister_form(code: str) -> None:
    _FORMS.pop(code, None)


def registered() -> dict[str, SpreadsheetForm]:
    return dict(_FORMS)


def get_form(code: str) -> SpreadsheetForm:
    try:
        return _FORMS[code]
    except KeyError:
        raise LookupError(f"no spreadsheet form {code!r} is registered") from None
