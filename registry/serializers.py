"""API shapes of the registry. Input uses English field names; the API translates them to
the 号码登记表 column names (forms.md §1) that services.number_register validates."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import OpenApiExample, extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from portal.api import TextField
from portal.spreadsheets.api import UploadJobSerializer
from portal.spreadsheets.headers import fold

from . import numbers
from .forms import validate_document
from .models import PURPOSE_BY_LABEL, ImportMode, Partner, Purpose, RegisteredNumber

KIND_CODES = {
    **{kind.value: label for kind, label in numbers.KIND_LABELS.items()},
    "sub_port": "子端口",
}
# What the API accepts for 用途 / 委托类型 and 号码类型: the English code or its Chinese
# label, exactly (the schema's enum; issue 17 §2).
PURPOSE_CHOICES = [*Purpose.choices, *((label, label) for label in Purpose.labels)]
NUMBER_KIND_CHOICES = [*KIND_CODES.items(), *((label, label) for label in KIND_CODES.values())]


def purpose_label(value: str) -> str:
    """``marketing``/``collection``/``both`` or a Chinese label -> the Chinese label."""
    text = (value or "").strip()
    if text in Purpose.values:
        return Purpose(text).label
    if fold(text) in PURPOSE_BY_LABEL:
        return text
    raise serializers.ValidationError(
        "用途应为 marketing、collection、both，或 营销、催收、营销及催收", code="purpose"
    )


def purpose_code(value: str) -> str:
    text = (value or "").strip()
    if text in Purpose.values:
        return text
    code = PURPOSE_BY_LABEL.get(fold(text))
    if code is None:
        raise serializers.ValidationError(
            "委托类型应为 marketing、collection、both，或 营销、催收、营销及催收", code="kind"
        )
    return str(code)


@extend_schema_field(
    {
        "anyOf": [{"type": "string", "format": "date"}, {"type": "string", "maxLength": 0}],
        "nullable": True,
    }
)
class OptionalDateField(serializers.DateField):
    """A date that may be left empty: ``null`` in JSON, an empty string in a form (which has
    no null), both meaning none."""

    def to_internal_value(self, value):
        if value == "":
            return None
        return super().to_internal_value(value)


class InstitutionBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


# --- numbers -----------------------------------------------------------------------------


class NumberSerializer(serializers.ModelSerializer):
    institution = InstitutionBriefSerializer(read_only=True)
    kind_display = serializers.CharField(read_only=True, help_text="号码类型（子端口单列）")
    purpose_display = serializers.CharField(source="get_purpose_display", read_only=True)
    user_type_display = serializers.CharField(source="get_user_type_display", read_only=True)
    status_display = serializers.CharField(source="get_status_display", read_only=True)
    effective_valid_to = serializers.DateField(
        read_only=True, allow_null=True, help_text="合作截止日期与委托书截止日期中较早者"
    )
    partner_expired = serializers.SerializerMethodField(help_text="委托书已到期")
    shared = serializers.SerializerMethodField(
        help_text="多机构登记：其他机构也登记在用该号码（不含同一合作单位），由通信管理局核实"
    )
    created_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True, help_text="登记人用户名"
    )

    class Meta:
        model = RegisteredNumber
        fields = [
            "id",
            "institution",
            "number",
            "kind",
            "kind_display",
            "is_sub_port",
            "main_port",
            "purpose",
            "purpose_display",
            "user_type",
            "user_type_display",
            "user_name",
            "user_credit_code",
            "partner",
            "carrier",
            "document_number",
            "valid_from",
            "valid_to",
            "effective_valid_to",
            "partner_expired",
            "shared",
            "remark",
            "status",
            "status_display",
            "end_reason",
            "source_job",
            "created_by",
            "created_at",
            "closed_at",
        ]
        read_only_fields = fields

    def get_partner_expired(self, obj: RegisteredNumber) -> bool:
        return bool(obj.partner and obj.partner.is_expired)

    def get_shared(self, obj: RegisteredNumber) -> bool:
        if not hasattr(obj, "shared"):  # a row fresh from a service, not from the list
            obj.shared = RegisteredNumber.objects.with_shared_mark().get(pk=obj.pk).shared
        return obj.shared


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "本机构营销号码",
            request_only=True,
            value={
                "number": "13912345678",
                "purpose": "marketing",
                "user_name": "本机构",
                "carrier": "中国移动",
                "valid_from": "2026-01-01",
                "valid_to": None,
            },
        )
    ]
)
class NumberWriteSerializer(serializers.Serializer):
    """One row of the 号码登记表 with English names; validated in meaning by the service."""

    number = TextField(max_length=64, help_text="号码（任意常见写法，保存为纯数字）")
    kind = serializers.ChoiceField(
        choices=NUMBER_KIND_CHOICES,
        required=False,
        allow_blank=True,
        help_text="号码类型：英文代码或中文名称；留空自动识别",
    )
    main_port = TextField(
        required=False, allow_blank=True, max_length=64, help_text="所属主端口（子端口必填）"
    )
    purpose = serializers.ChoiceField(
        choices=PURPOSE_CHOICES,
        help_text="用途：marketing / collection / both，或 营销 / 催收 / 营销及催收",
    )
    user_name = TextField(max_length=200, help_text="使用单位：本机构、分支机构或合作单位名称")
    user_credit_code = TextField(
        required=False, allow_blank=True, max_length=18, help_text="使用单位统一社会信用代码"
    )
    carrier = TextField(max_length=100, help_text="电信运营商")
    document_number = TextField(
        required=False, allow_blank=True, max_length=64, help_text="委托书编号"
    )
    valid_from = serializers.DateField(help_text="合作起始日期")
    valid_to = serializers.DateField(
        required=False, allow_null=True, help_text="合作截止日期，空为长期"
    )
    remark = TextField(required=False, allow_blank=True, max_length=500)

    def validate_purpose(self, value: str) -> str:
        return purpose_label(value)

    def validate_kind(self, value: str) -> str:
        return KIND_CODES.get(value.strip(), value.strip())


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "合作到期终止",
            request_only=True,
            value={"end_date": "2026-12-31", "reason": "合作到期"},
        )
    ]
)
class NumberEndSerializer(serializers.Serializer):
    end_date = serializers.DateField(help_text="终止日期")
    reason = TextField(max_length=200, help_text="终止原因")


class NumberVersionSerializer(NumberSerializer):
    event = serializers.CharField(help_text="首次登记 / 变更 / 重新登记")
    changes = serializers.ListField(
        child=serializers.DictField(child=serializers.CharField()),
        help_text="与上一版本相比的变化：field、before、after",
    )

    class Meta(NumberSerializer.Meta):
        fields = [*NumberSerializer.Meta.fields, "event", "changes"]
        read_only_fields = fields


# --- partners ----------------------------------------------------------------------------


class PartnerSerializer(serializers.ModelSerializer):
    institution = InstitutionBriefSerializer(read_only=True)
    kind_display = serializers.CharField(source="get_kind_display", read_only=True)
    is_expired = serializers.BooleanField(read_only=True)
    has_document = serializers.SerializerMethodField()
    document_url = serializers.SerializerMethodField(help_text="委托书文件下载地址")
    active_numbers = serializers.SerializerMethodField(help_text="在用号码数")

    class Meta:
        model = Partner
        fields = [
            "id",
            "institution",
            "name",
            "credit_code",
            "kind",
            "kind_display",
            "document_number",
            "document_name",
            "has_document",
            "document_url",
            "valid_from",
            "valid_to",
            "is_expired",
            "contact",
            "active_numbers",
            "created_at",
        ]
        read_only_fields = fields

    def get_has_document(self, obj: Partner) -> bool:
        return bool(obj.document)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_document_url(self, obj: Partner) -> str | None:
        if not obj.document:
            return None
        return reverse("registry-partner-document", args=[obj.pk])

    def get_active_numbers(self, obj: Partner) -> int:
        annotated = getattr(obj, "active_numbers", None)
        if annotated is not None:
            return annotated
        return obj.numbers.filter(status="active").count()


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "委托催收公司",
            request_only=True,
            value={
                "name": "杭州示例催收服务有限公司",
                "credit_code": "91330100MA2PART033",
                "kind": "collection",
                "valid_from": "2026-01-01",
                "valid_to": "2027-12-31",
            },
        )
    ]
)
class PartnerWriteSerializer(serializers.Serializer):
    name = TextField(max_length=200, help_text="合作单位名称")
    credit_code = TextField(max_length=40, help_text="统一社会信用代码")
    kind = serializers.ChoiceField(
        choices=PURPOSE_CHOICES,
        help_text="委托类型：marketing / collection / both，或 营销 / 催收 / 营销及催收",
    )
    document_number = TextField(
        required=False, allow_blank=True, max_length=64, help_text="委托书编号"
    )
    valid_from = serializers.DateField(help_text="委托起始日期")
    valid_to = OptionalDateField(
        required=False, allow_null=True, help_text="委托截止日期；null 或空字符串为长期"
    )
    contact = TextField(required=False, allow_blank=True, max_length=100, help_text="联系人及电话")
    document = serializers.FileField(
        required=False, allow_null=True, help_text="委托书文件：PDF/JPG/PNG/OFD，不超过 10 MB"
    )

    def validate_kind(self, value: str) -> str:
        return purpose_code(value)

    def validate_document(self, value):
        if value:
            from django.core.exceptions import ValidationError as DjangoValidationError

            try:
                validate_document(value)
            except DjangoValidationError as exc:
                raise serializers.ValidationError(exc.messages[0], code=exc.code) from exc
        return value or None


# --- imports -----------------------------------------------------------------------------


class ImportJobSerializer(UploadJobSerializer):
    """The engine's job as /api/registry/imports/ has shown it (institution, mode)."""

    institution = InstitutionBriefSerializer(source="organisation", read_only=True)
    mode = serializers.CharField(read_only=True, help_text="merge 合并 / replace 替换")
    mode_display = serializers.SerializerMethodField(help_text="导入方式")
    error_report_route = "registry-import-error-report"

    class Meta(UploadJobSerializer.Meta):
        # The engine's fields, with the register's institution and mode in place of the
        # generic organisation, form and options (the API as it was before the engine).
        fields = [
            "id",
            "institution",
            "status",
            "status_display",
            "mode",
            "mode_display",
            *(
                name
                for name in UploadJobSerializer.Meta.fields
                if name
                not in (
                    "id",
                    "organisation",
                    "form",
                    "form_label",
                    "options",
                    "status",
                    "status_display",
                )
            ),
        ]
        read_only_fields = fields

    def get_mode_display(self, obj) -> str:
        return ImportMode(obj.mode or ImportMode.MERGE).label


class ImportUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="号码登记表：.xlsx、.xls 或 .csv")
    mode = serializers.ChoiceField(
        choices=ImportMode.choices,
        default=ImportMode.MERGE,
        help_text="merge 合并（默认）：只新增或更新文件中的号码；"
        "replace 替换：另外终止文件中没有的在用号码",
    )


class ImportCreatedSerializer(ImportJobSerializer):
    duplicate = serializers.BooleanField(help_text="同一文件已上传过：返回原任务，未重复导入")
    detail = serializers.CharField(required=False)

    class Meta(ImportJobSerializer.Meta):
        fields = [*ImportJobSerializer.Meta.fields, "duplicate", "detail"]
        read_only_fields = fields
