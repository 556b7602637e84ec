"""What the registry pages accept: forms, and the English names of the 号码登记表 columns
(forms.md §1) that the pages and the API share. Validation of meaning stays in services."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from portal.carriers import BASIC_CARRIERS
from portal.creditcode import CreditCodeError, validate_credit_code
from portal.errors import PortalError

from .importers import register
from .importers import service_report as report_form
from .models import ImportMode, Purpose, RegisteredNumber

# English field name -> the Chinese column name that services.number_register expects.
FIELD_COLUMNS = {
    "number": register.NUMBER,
    "kind": register.KIND,
    "main_port": register.MAIN_PORT,
    "purpose": register.PURPOSE,
    "user_name": register.USER,
    "user_credit_code": register.USER_CODE,
    "carrier": register.CARRIER,
    "document_number": register.DOCUMENT,
    "valid_from": register.VALID_FROM,
    "valid_to": register.VALID_TO,
    "remark": register.REMARK,
}
COLUMN_FIELDS = {column: name for name, column in FIELD_COLUMNS.items()}
KIND_LABEL_CHOICES = [
    ("", "自动识别"),
    ("手机", "手机"),
    ("固话", "固话"),
    ("短号码", "短号码"),
    ("400/800", "400/800"),
    ("短信端口", "短信端口"),
    ("子端口", "子端口"),
]
PURPOSE_LABEL_CHOICES = [("", "请选择"), *((label, label) for _value, label in Purpose.choices)]
CARRIERS = list(BASIC_CARRIERS)

DOCUMENT_MAX_BYTES = 10 * 1024 * 1024
DOCUMENT_EXTENSIONS = ("pdf", "jpg", "jpeg", "png", "ofd")
DOCUMENT_ACCEPT = ".pdf,.jpg,.jpeg,.png,.ofd"
# How a stored document is served (the API documents exactly these; issue 17 §2).
DOCUMENT_TYPES = {
    "pdf": "application/pdf",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "ofd": "application/ofd",
}
DOCUMENT_CONTENT_TYPES = tuple(dict.fromkeys(DOCUMENT_TYPES.values()))
# The first bytes of each format: a renamed executable is not a scan of a letter.
DOCUMENT_MAGIC = {
    "pdf": b"%PDF-",
    "jpg": b"\xff\xd8\xff",
    "jpeg": b"\xff\xd8\xff",
    "png": b"\x89PNG\r\n\x1a\n",
    "ofd": b"PK\x03\x04",  # OFD (GB/T 33190) is a zip container
}


def validate_document(upload) -> None:
    """An entrustment document (委托书): PDF, JPG, PNG or OFD, at most 10 MB, and content
    that matches its extension. Raises ``ValidationError`` with a Chinese message."""
    name = getattr(upload, "name", "") or ""
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if suffix not in DOCUMENT_EXTENSIONS:
        raise ValidationError("委托书文件只支持 PDF、JPG、PNG 或 OFD 格式", code="document_type")
    size = getattr(upload, "size", 0) or 0
    if size > DOCUMENT_MAX_BYTES:
        raise ValidationError(
            f"委托书文件大小为 {size / 1024 / 1024:.1f} MB，超过上限 10 MB",
            code="document_size",
        )
    if size == 0:
        raise ValidationError("委托书文件是空文件", code="document_empty")
    head = upload.read(8)
    upload.seek(0)
    if not head.startswith(DOCUMENT_MAGIC[suffix]):
        raise ValidationError(
            f"文件内容与扩展名 .{suffix} 不符，请上传委托书的原始文件", code="document_content"
        )


def column_values(data: dict) -> dict[str, str]:
    """English-named values (dates as ``date``) -> the services' Chinese-keyed text dict."""
    fields: dict[str, str] = {}
    for name, column in FIELD_COLUMNS.items():
        value = data.get(name)
        if isinstance(value, dt.date):
            value = value.isoformat()
        fields[column] = "" if value is None else str(value)
    return fields


def number_initial(row: RegisteredNumber) -> dict:
    """A registration as the form shows it for editing (labels, not codes)."""
    return {
        "number": row.number,
        "kind": row.kind_display,
        "main_port": row.main_port,
        "purpose": Purpose(row.purpose).label,
        "user_name": row.user_name,
        "user_credit_code": row.user_credit_code,
        "carrier": row.carrier,
        "document_number": row.document_number,
        "valid_from": row.valid_from,
        "valid_to": row.valid_to,
        "remark": row.remark,
    }


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%d")


class PortalForm(forms.Form):
    """Bootstrap classes on every widget; a field with an error is drawn invalid."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.RadioSelect):
                continue
            css = "form-select" if isinstance(widget, forms.Select) else "form-control"
            widget.attrs["class"] = f"{css} {widget.attrs.get('class', '')}".strip()

    def add_error(self, field, error):
        super().add_error(field, error)
        for name in self.errors:
            if name in self.fields:
                widget = self.fields[name].widget
                if "is-invalid" not in widget.attrs.get("class", ""):
                    widget.attrs["class"] = f"{widget.attrs.get('class', '')} is-invalid".strip()

    def add_portal_error(self, exc: PortalError, columns: dict[str, str] | None = None) -> None:
        """Show a service's error on the field it names (services name the Chinese column
        for number rows; ``columns`` maps those to this form's fields)."""
        pairs = getattr(exc, "errors", None) or [(exc.field, exc.message)]
        for column, message in pairs:
            name = (columns or {}).get(column, column)
            self.add_error(name if name in self.fields else None, message)


class NumberForm(PortalForm):
    number = forms.CharField(
        label="号码",
        max_length=64,
        help_text="手机、固话（带区号）、95/96 短号码、400/800 号码、106 短信端口或子端口；"
        "可带空格、横线或 +86，保存时统一为纯数字。",
    )
    kind = forms.ChoiceField(
        label="号码类型",
        choices=KIND_LABEL_CHOICES,
        required=False,
        help_text="留空时按号码自动识别；选“子端口”须同时填写所属主端口。",
    )
    main_port = forms.CharField(
        label="所属主端口",
        max_length=64,
        required=False,
        help_text="仅子端口填写，须为子端口的前缀。",
    )
    purpose = forms.ChoiceField(label="用途", choices=PURPOSE_LABEL_CHOICES)
    user_name = forms.CharField(
        label="使用单位",
        max_length=200,
        initial="本机构",
        widget=forms.TextInput(attrs={"list": "registry-user-names", "autocomplete": "off"}),
        help_text="本机构、分支机构名称，或已登记的委托合作单位名称（可从列表中选择）。",
    )
    user_credit_code = forms.CharField(
        label="使用单位统一社会信用代码",
        max_length=18,
        required=False,
        help_text="使用单位不是本机构时必填，18 位。",
    )
    carrier = forms.CharField(
        label="电信运营商",
        max_length=100,
        widget=forms.TextInput(attrs={"list": "registry-carriers", "autocomplete": "off"}),
    )
    document_number = forms.CharField(
        label="委托书编号",
        max_length=64,
        required=False,
        help_text="委托合作单位使用时填写；留空时取该合作单位登记的委托书编号。",
    )
    valid_from = forms.DateField(label="合作起始日期", widget=DateInput())
    valid_to = forms.DateField(
        label="合作截止日期", required=False, widget=DateInput(), help_text="留空表示长期有效。"
    )
    remark = forms.CharField(
        label="备注", max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, fixed_number: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if fixed_number is not None:
            # The number itself never changes: end the registration and add a new one.
            self.fields["number"].disabled = True
            self.fields["number"].initial = fixed_number
            self.fields["number"].help_text = "号码本身不能修改；如需更换号码，请终止本登记后新增。"

    def column_values(self) -> dict[str, str]:
        return column_values(self.cleaned_data)

    def add_portal_error(self, exc: PortalError, columns: dict[str, str] | None = None) -> None:
        super().add_portal_error(exc, COLUMN_FIELDS if columns is None else columns)


class EndForm(PortalForm):
    end_date = forms.DateField(
        label="终止日期", widget=DateInput(), help_text="该号码最后一天用于营销或催收的日期。"
    )
    reason = forms.CharField(
        label="终止原因", max_length=200, help_text="如：号码停用、合作结束、转为他用。"
    )


class PartnerForm(PortalForm):
    name = forms.CharField(label="合作单位名称", max_length=200)
    credit_code = forms.CharField(label="统一社会信用代码", max_length=40)
    kind = forms.ChoiceField(
        label="委托类型",
        choices=[("", "请选择"), *Purpose.choices],
        help_text="委托书授权的业务：营销、催收或营销及催收。",
    )
    document_number = forms.CharField(label="委托书编号", max_length=64, required=False)
    valid_from = forms.DateField(label="委托起始日期", widget=DateInput())
    valid_to = forms.DateField(
        label="委托截止日期",
        required=False,
        widget=DateInput(),
        help_text="委托书到期后，该合作单位使用的号码自动终止。",
    )
    contact = forms.CharField(label="联系人及电话", max_length=100, required=False)
    document = forms.FileField(
        label="委托书文件",
        required=False,
        widget=forms.FileInput(attrs={"accept": DOCUMENT_ACCEPT}),
        help_text="PDF、JPG、PNG 或 OFD 格式，不超过 10 MB。",
    )

    def clean_credit_code(self) -> str:
        # Checked again by partner_save; here too so every error shows in one round.
        try:
            return validate_credit_code(self.cleaned_data["credit_code"])
        except CreditCodeError as exc:
            raise ValidationError(exc.message, code="credit_code") from exc

    def clean_document(self):
        upload = self.cleaned_data.get("document")
        if upload:
            validate_document(upload)
        return upload or None

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("valid_from"), cleaned.get("valid_to")
        if start and end and end < start:
            self.add_error("valid_to", "委托截止日期不能早于起始日期")
        return cleaned


class ImportForm(PortalForm):
    file = forms.FileField(
        label="号码登记表文件",
        widget=forms.FileInput(attrs={"accept": ".xlsx,.xls,.csv"}),
        help_text="支持 .xlsx、.xls、.csv（UTF-8 或 GB18030 编码）。",
    )
    mode = forms.ChoiceField(
        label="导入方式",
        choices=ImportMode.choices,
        initial=ImportMode.MERGE,
        widget=forms.RadioSelect,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        limit = settings.UPLOAD_MAX_BYTES // 1024 // 1024
        self.fields[
            "file"
        ].help_text = f"支持 .xlsx、.xls、.csv（UTF-8 或 GB18030 编码），不超过 {limit} MB。"


# --- service-object reports (forms.md §2; issue 11) ---------------------------------------

# English field name -> the 服务对象报送表 column (pages and the API share these names).
REPORT_FIELD_COLUMNS = {
    "number": report_form.NUMBER,
    "kind": report_form.KIND,
    "main_port": report_form.MAIN_PORT,
    "object_name": report_form.OBJECT,
    "object_credit_code": report_form.OBJECT_CODE,
    "institution_name": report_form.INSTITUTION,
    "institution_credit_code": report_form.INSTITUTION_CODE,
    "purpose": report_form.PURPOSE,
    "document_number": report_form.DOCUMENT,
    "valid_from": report_form.VALID_FROM,
    "valid_to": report_form.VALID_TO,
}
REPORT_COLUMN_FIELDS = {column: name for name, column in REPORT_FIELD_COLUMNS.items()}


def report_columns(data: dict) -> dict[str, str]:
    """Form or API values (English names) as the form's columns, dates as ISO text."""
    out = {}
    for name, column in REPORT_FIELD_COLUMNS.items():
        value = data.get(name)
        if isinstance(value, dt.date):
            value = value.isoformat()
        out[column] = "" if value is None else str(value)
    return out


class ReportLineForm(PortalForm):
    number = forms.CharField(label="号码", max_length=40)
    kind = forms.ChoiceField(label="号码类型", choices=KIND_LABEL_CHOICES, required=False)
    main_port = forms.CharField(
        label="所属主端口", max_length=40, required=False, help_text="子端口必填"
    )
    object_name = forms.CharField(label="服务对象名称", max_length=200)
    object_credit_code = forms.CharField(label="服务对象统一社会信用代码", max_length=40)
    institution_name = forms.CharField(
        label="委托金融机构名称",
        max_length=200,
        required=False,
        help_text="服务对象为合作单位时填写",
    )
    institution_credit_code = forms.CharField(
        label="委托金融机构统一社会信用代码", max_length=40, required=False
    )
    purpose = forms.ChoiceField(label="用途", choices=PURPOSE_LABEL_CHOICES)
    document_number = forms.CharField(label="委托书编号", max_length=64, required=False)
    valid_from = forms.DateField(label="合作起始日期", widget=DateInput())
    valid_to = forms.DateField(
        label="合作截止日期", widget=DateInput(), required=False, help_text="留空表示长期"
    )

    def add_portal_error(self, exc: PortalError) -> None:
        field = REPORT_COLUMN_FIELDS.get(exc.field or "")
        self.add_error(field if field in self.fields else None, exc.message)


class ReportCreateForm(PortalForm):
    quarter = forms.CharField(label="季度", max_length=8, help_text="如 2026Q4")
    start_from = forms.ChoiceField(
        label="起点",
        choices=[
            ("previous", "以上季度已受理的报送为起点"),
            ("latest", "以本季度最近的版本为起点"),
            ("empty", "空白报送"),
        ],
        initial="previous",
    )


class ReportUploadForm(PortalForm):
    quarter = forms.CharField(label="季度", max_length=8, help_text="如 2026Q4")
    file = forms.FileField(
        label="服务对象报送表文件",
        widget=forms.FileInput(attrs={"accept": ".xlsx,.xls,.csv"}),
        help_text="支持 .xlsx、.xls、.csv（UTF-8 或 GB18030 编码）。",
    )


class ReportReturnForm(PortalForm):
    reason = forms.CharField(
        label="退回原因", max_length=1000, widget=forms.Textarea(attrs={"rows": 3})
    )


class ReportLineEndForm(PortalForm):
    end_date = forms.DateField(label="合作截止日期", widget=DateInput())
