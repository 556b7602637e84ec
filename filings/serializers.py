"""API shapes of bulk-SMS filings. Input uses English field names; the API hands the
form's column texts to the same validation as an uploaded row (importers/sms_filing.py)."""

from __future__ import annotations

from rest_framework import serializers

from . import checks
from .importers.sms_filing import COLUMN_OF
from .models import FilingStatus, Qualification, SmsFiling, SmsFilingVersion, SmsPurpose


class CheckSerializer(serializers.Serializer):
    code = serializers.ChoiceField(choices=checks.CODE_CHOICES)
    blocking = serializers.BooleanField(help_text="阻断提交（见 SMS_FILING_BLOCKING_CHECKS）")
    message = serializers.CharField(help_text="中文原因")


class FilingPartySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class FilingSerializer(serializers.ModelSerializer):
    carrier = FilingPartySerializer(read_only=True)
    institution = FilingPartySerializer(
        read_only=True, allow_null=True, help_text="发送主体（持牌机构）或委托金融机构"
    )
    status = serializers.ChoiceField(choices=FilingStatus.choices, read_only=True)
    purpose = serializers.ChoiceField(choices=SmsPurpose.choices, read_only=True)
    qualification = serializers.ChoiceField(
        choices=Qualification.choices, read_only=True, help_text="主体资质：licence / entrustment"
    )
    checks = CheckSerializer(many=True, read_only=True)
    register_entry = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True, help_text="覆盖发送端口的号码登记 id（端口本身或其主端口）"
    )
    partner = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True, help_text="所依据的委托合作单位 id"
    )
    source_job = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)

    class Meta:
        model = SmsFiling
        fields = [
            "id",
            "carrier",
            "carrier_label",
            "sender_name",
            "sender_credit_code",
            "entrusting_name",
            "entrusting_credit_code",
            "signature",
            "port",
            "purpose",
            "content",
            "start_at",
            "end_at",
            "planned_count",
            "recipients",
            "consent",
            "region",
            "opt_out",
            "contact_name",
            "contact_phone",
            "institution",
            "register_entry",
            "qualification",
            "partner",
            "checks",
            "status",
            "version",
            "submitted_at",
            "reviewed_at",
            "review_reason",
            "actual_count",
            "sent_at",
            "withdrawn_at",
            "withdraw_reason",
            "source_job",
            "source_row",
            "created_at",
        ]
        read_only_fields = fields


class FilingWriteSerializer(serializers.Serializer):
    """One campaign, every column of the 非应邀短信发送报备表 (forms.md §3); times in
    Asia/Shanghai, as written in the workbook ("2026-03-20 09:00")."""

    carrier_label = serializers.CharField(help_text="报备单位", max_length=200)
    sender_name = serializers.CharField(help_text="发送主体名称", max_length=200)
    sender_credit_code = serializers.CharField(help_text="发送主体统一社会信用代码", max_length=18)
    entrusting_name = serializers.CharField(
        help_text="委托金融机构名称", required=False, allow_blank=True, default="", max_length=200
    )
    entrusting_credit_code = serializers.CharField(
        help_text="委托金融机构统一社会信用代码",
        required=False,
        allow_blank=True,
        default="",
        max_length=18,
    )
    signature = serializers.CharField(help_text="短信签名", max_length=60)
    port = serializers.CharField(help_text="发送端口", max_length=64)
    purpose = serializers.CharField(
        help_text="发送目的：营销 / 催收 / 通知（或 marketing / collection / notice）"
    )
    content = serializers.CharField(help_text="短信内容，变量写作 {变量}", max_length=2000)
    start_at = serializers.CharField(help_text="计划发送开始时间（北京时间）", max_length=40)
    end_at = serializers.CharField(help_text="计划发送结束时间（北京时间）", max_length=40)
    planned_count = serializers.IntegerField(help_text="计划发送数量", min_value=1)
    recipients = serializers.CharField(help_text="发送对象范围", max_length=500)
    consent = serializers.CharField(help_text="发送对象同意情况", max_length=500)
    region = serializers.CharField(
        help_text="发送地域", required=False, allow_blank=True, default="", max_length=200
    )
    opt_out = serializers.CharField(
        help_text="退订方式", required=False, allow_blank=True, default="", max_length=200
    )
    contact_name = serializers.CharField(help_text="联系人", max_length=100)
    contact_phone = serializers.CharField(help_text="联系电话", max_length=40)

    def column_texts(self) -> dict[str, str]:
        data = self.validated_data
        return {COLUMN_OF[name]: str(data.get(name, "")) for name in COLUMN_OF}


class CheckResultSerializer(serializers.Serializer):
    checks = CheckSerializer(many=True)
    deadline = serializers.DateTimeField(
        allow_null=True, help_text="按计划发送开始时间计算的报备截止时间（日历缺年份时为空）"
    )


DECISIONS = [("accept", "通过"), ("return", "退回修改"), ("reject", "不予通过")]


class ReviewSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=DECISIONS)
    reason = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=500,
        help_text="退回或不予通过时必填",
    )


class SentSerializer(serializers.Serializer):
    actual_count = serializers.IntegerField(min_value=0, help_text="实际发送数量")


class WithdrawSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)


class AcceptCleanSerializer(serializers.Serializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        max_length=1000,
        help_text="要批量通过的报备 id；只有无任何提示的已提交报备会通过",
    )


class AcceptCleanResultSerializer(serializers.Serializer):
    accepted = serializers.ListField(child=serializers.IntegerField())
    skipped = serializers.ListField(child=serializers.IntegerField())


class ChangeSerializer(serializers.Serializer):
    column = serializers.CharField()
    before = serializers.CharField()
    after = serializers.CharField()


class VersionSerializer(serializers.ModelSerializer):
    version = serializers.IntegerField(source="number")
    changes = ChangeSerializer(many=True)
    created_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )

    class Meta:
        model = SmsFilingVersion
        fields = ["version", "values", "note", "created_at", "created_by", "changes"]
