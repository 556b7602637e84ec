"""Oversight API under /api/oversight/. Complaints: the administration and the financial
regulators list and read them (contacts and the personal data in the text masked; the
API never returns a full contact); the administration's 管理员/经办人 record them. Anyone
else: 404, as for the pages."""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.response import Response
from rest_framework.settings import api_settings

from portal.errors import NotPermitted, choices_text
from portal.models import OrgKind
from portal.permissions import OrganisationKinds

from . import services
from .models import Complaint, ComplaintCategory, ComplaintChannel

TAG = "投诉"
READERS = (OrgKind.REGULATOR, OrgKind.FINANCIAL_REGULATOR)


class OversightReader(OrganisationKinds):
    """Institutions, carriers and accounts outside every organisation have no complaints
    (404, like the pages; documented by portal.schema)."""

    kinds = READERS


CHANNEL_HELP = "投诉渠道：" + choices_text(ComplaintChannel)
CATEGORY_HELP = "投诉类别：" + choices_text(ComplaintCategory)


class ComplaintSerializer(serializers.ModelSerializer):
    contact = serializers.CharField(
        source="contact_masked", read_only=True, help_text="投诉人联系方式（脱敏）"
    )
    content = serializers.CharField(
        source="content_masked", read_only=True, help_text="投诉内容（其中的个人信息已脱敏）"
    )
    channel = serializers.ChoiceField(
        choices=ComplaintChannel.choices,
        help_text=CHANNEL_HELP,
    )
    category = serializers.ChoiceField(
        choices=ComplaintCategory.choices,
        help_text=CATEGORY_HELP,
    )
    institution = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True, help_text="关联的金融机构 id（按涉及机构名称匹配）"
    )

    class Meta:
        model = Complaint
        fields = (
            "id",
            "number",
            "number_kind",
            "received_at",
            "channel",
            "category",
            "content",
            "institution_name",
            "institution",
            "contact",
            "reference",
            "created_at",
        )
        read_only_fields = fields


class ComplaintWriteSerializer(serializers.Serializer):
    number = serializers.CharField(max_length=64, help_text="被投诉号码，任意常见写法")
    received_at = serializers.DateTimeField(help_text="投诉时间（带时区；不带时区按北京时间）")
    channel = serializers.ChoiceField(
        choices=ComplaintChannel.choices,
        help_text=CHANNEL_HELP,
    )
    category = serializers.ChoiceField(
        choices=ComplaintCategory.choices,
        help_text=CATEGORY_HELP,
    )
    content = serializers.CharField(max_length=5000)
    institution_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    contact = serializers.CharField(
        max_length=100,
        required=False,
        allow_blank=True,
        help_text="个人信息：保存后只以脱敏形式返回",
    )
    reference = serializers.CharField(max_length=64, required=False, allow_blank=True)


class ComplaintFilter(django_filters.FilterSet):
    number = django_filters.CharFilter(method="filter_number", help_text="号码（纯数字子串）")
    channel = django_filters.ChoiceFilter(choices=ComplaintChannel.choices, help_text="投诉渠道")
    category = django_filters.ChoiceFilter(choices=ComplaintCategory.choices, help_text="投诉类别")
    received_after = django_filters.IsoDateTimeFilter(
        field_name="received_at", lookup_expr="gte", help_text="投诉时间不早于"
    )
    received_before = django_filters.IsoDateTimeFilter(
        field_name="received_at", lookup_expr="lt", help_text="投诉时间早于"
    )

    class Meta:
        model = Complaint
        fields: list[str] = []

    def filter_number(self, queryset, name, value):
        digits = "".join(ch for ch in value if ch.isdigit())
        return queryset.filter(number__contains=digits) if digits else queryset


@extend_schema_view(
    list=extend_schema(summary="投诉列表（联系方式脱敏）", tags=[TAG]),
    retrieve=extend_schema(
        summary="投诉详情（联系方式脱敏）",
        tags=[TAG],
        responses={200: ComplaintSerializer, 404: OpenApiResponse(description="不存在或不可见")},
    ),
)
class ComplaintViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    permission_classes = [*api_settings.DEFAULT_PERMISSION_CLASSES, OversightReader]
    serializer_class = ComplaintSerializer
    filterset_class = ComplaintFilter
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self):
        return Complaint.objects.visible_to(self.request.user).order_by("-received_at", "-pk")

    @extend_schema(
        summary="录入投诉（通信管理局管理员、经办人）",
        tags=[TAG],
        request=ComplaintWriteSerializer,
        responses={201: ComplaintSerializer},
    )
    def create(self, request):
        if request.user.kind != OrgKind.REGULATOR:
            raise NotPermitted("只有通信管理局的管理员或经办人可以录入投诉")
        data = ComplaintWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        complaint = services.complaint_create(actor=request.user, **data.validated_data)
        return Response(ComplaintSerializer(complaint).data, status=status.HTTP_201_CREATED)
