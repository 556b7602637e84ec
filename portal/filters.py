"""Query-string filters shared by every app's lists and APIs: an id is bounded to what a
database id can be, so a huge or negative value is refused (API) or matches nothing (page)
instead of overflowing the database driver (issue 16 item 8; issue 17 §3)."""

from __future__ import annotations

import django_filters
from django import forms
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema_field
from rest_framework.exceptions import ValidationError

# BigAutoField: a signed 64-bit integer on PostgreSQL and SQLite; ids start at 1.
ID_MAX = 2**63 - 1


def bounded_id(value: object) -> int | None:
    """``value`` as a database id, or None when it cannot be one (not ASCII digits, 0,
    negative, or past ``ID_MAX``)."""
    text = str(value).strip()
    if not (text.isascii() and text.isdigit()):
        return None
    number = int(text)
    return number if 1 <= number <= ID_MAX else None


def filter_by_id(queryset, field: str, value: object):
    """Narrow ``queryset`` to ``field == value``; a blank value is no filter, a value that
    no id can take matches nothing."""
    if value is None or str(value).strip() == "":
        return queryset
    pk = bounded_id(value)
    return queryset.filter(**{field: pk}) if pk else queryset.none()


ID_SCHEMA = {"type": "integer", "format": "int64", "minimum": 1, "maximum": ID_MAX}


@extend_schema_field(ID_SCHEMA)
class IdFilter(django_filters.NumberFilter):
    """An integer id filter for the API: out of range is a 400 with a Chinese message."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", ID_MAX)
        super().__init__(*args, **kwargs)


class StrictBooleanField(forms.Field):
    """``true`` or ``false`` (how OpenAPI writes a boolean in a query string); anything else
    is invalid instead of being read as "no filter"."""

    VALUES = {"true": True, "false": False}

    def to_python(self, value):
        if value in (None, ""):
            return None
        if value not in self.VALUES:
            raise forms.ValidationError("应为 true 或 false", code="invalid")
        return self.VALUES[value]


@extend_schema_field({"type": "boolean"})
class BooleanFilter(django_filters.BooleanFilter):
    """A yes/no filter for the API: ``true``/``false``, anything else a 400."""

    field_class = StrictBooleanField


class ShapedCharFilter(django_filters.CharFilter):
    """Text of a fixed shape (a quarter ``2026Q2``): given empty it is a 400, as for a typed
    filter, since the schema's pattern does not match an empty value."""

    shaped = True


class FilterBackend(DjangoFilterBackend):
    """django-filter's backend (settings ``DEFAULT_FILTER_BACKENDS``) with one rule more: a
    typed filter (an id, a choice, a yes/no) given empty (``?status=``) is a 400, as the
    schema says, not "no filter"; leave the parameter out to not filter. A free-text
    filter may be empty."""

    def filter_queryset(self, request, queryset, view):
        filterset = self.get_filterset(request, queryset, view)
        if filterset is not None:
            empty = {
                name: ["不能为空：不按此项筛选时请省略该参数"]
                for name, field in filterset.filters.items()
                if request.query_params.get(name) == ""
                and (
                    not isinstance(field, django_filters.CharFilter)
                    or getattr(field, "shaped", False)
                )
            }
            if empty:
                raise ValidationError(empty)
        return super().filter_queryset(request, queryset, view)
