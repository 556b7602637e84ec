"""The online 非应邀短信发送报备表: one field per column of the form (forms.md §3). The
fields only carry text; filings.importers.sms_filing.clean_values validates them, the same
rule as for an uploaded row."""

from __future__ import annotations

from django import forms
from django.utils import timezone

from portal.workdays import SHANGHAI

from .importers.sms_filing import FIELD_OF, FORM_COLUMNS, PURPOSE_CHOICES

WIDE = {"content", "recipients", "consent"}


class FilingForm(forms.Form):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for column in FORM_COLUMNS:
            name = FIELD_OF[column.name]
            if name == "purpose":
                field = forms.ChoiceField(
                    choices=[("", "请选择")] + [(c, c) for c in PURPOSE_CHOICES], required=False
                )
            elif name in ("start_at", "end_at"):
                field = forms.CharField(
                    required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
                )
            elif name == "content":
                field = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}))
            else:
                field = forms.CharField(required=False)
            field.label = column.name
            field.help_text = column.help
            field.column = column
            self.fields[name] = field

    def column_texts(self) -> dict[str, str]:
        data = self.data
        return {column.name: str(data.get(FIELD_OF[column.name], "")) for column in FORM_COLUMNS}


def initial_of(filing) -> dict:
    """A filing's values as the online form's initial data."""
    initial = {}
    for column in FORM_COLUMNS:
        name = FIELD_OF[column.name]
        value = getattr(filing, name)
        if name == "port":
            value = filing.port_raw or filing.port
        elif name in ("start_at", "end_at") and value:
            value = timezone.localtime(value, SHANGHAI).strftime("%Y-%m-%dT%H:%M")
        elif name == "purpose" and value:
            value = filing.get_purpose_display()
        initial[name] = "" if value is None else value
    return initial
