"""The exchange packages' API under /api/oversight/exchange-packages/ (issue 14 §4, §7):
the administration lists and reads every package, generates one and records its sending;
a financial regulator lists and reads its own, and fetches its data (the stored package
as JSON, audited like a download) or its workbook. Institutions, carriers and accounts
outside every organisation: 404, as for the pages."""

from __future__ import annotations

import re

import django_filters
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.settings import api_settings

from portal.api import QUARTER_PARAMETER, QUARTER_PATTERN, OrganisationBriefSerializer
from portal.errors import NotPermitted, PortalError
from portal.filters import ID_MAX, IdFilter, ShapedCharFilter
from portal.models import Organisation, OrgKind
from portal.permissions import OrganisationKinds
from portal.schema import ApiErrorSerializer
from portal.views import stored_file_response

from . import exchange
from .cases import ExchangePackage

TAGS = ["信息交换"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ApiErrorSerializer, description=description)


INVALID = _error(
    "请求有误：quarter（季度格式错误、超出范围或尚未开始）、recipient、sent_on、note 等"
)
NOT_FOUND = _error("不存在，或不是调用者可见的数据包（金融管理部门只见本单位的数据包）")
FORBIDDEN = _error("无权限：只有通信管理局的管理员或经办人可以生成数据包、登记发送")


class ExchangeReader(OrganisationKinds):
    """Only the administration and the financial regulators have exchange packages."""

    kinds = (OrgKind.REGULATOR, OrgKind.FINANCIAL_REGULATOR)


class ExchangeCountsSerializer(serializers.Serializer):
    institutions = serializers.IntegerField(help_text="机构数")
    resources = serializers.IntegerField(help_text="在用通信资源条数")
    findings = serializers.IntegerField(help_text="问题线索条数")
    cases = serializers.IntegerField(help_text="处置案件件数")
    complaints = serializers.IntegerField(help_text="投诉件数")
    appeals = serializers.IntegerField(help_text="申诉件数")
    as_of = serializers.DateField(help_text="在用资源统计日")
    run = serializers.IntegerField(allow_null=True, help_text="问题线索所依据的比对 id")


class ExchangePackageSerializer(serializers.ModelSerializer):
    recipient = OrganisationBriefSerializer(read_only=True)
    quarter_code = serializers.CharField(source="quarter_label", help_text="季度，如 2026Q4")
    counts = ExchangeCountsSerializer(read_only=True)
    generated_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True, help_text="生成人（系统为 null）"
    )
    sent_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True, help_text="登记发送的人"
    )
    sent_on = serializers.DateField(allow_null=True, help_text="发送日期；未发送为 null")
    downloads = serializers.IntegerField(help_text="金融管理部门下载次数")

    class Meta:
        model = ExchangePackage
        fields = [
            "id",
            "year",
            "quarter",
            "quarter_code",
            "recipient",
            "counts",
            "generated_at",
            "generated_by",
            "sent_on",
            "sent_note",
            "sent_by",
            "downloads",
        ]
        read_only_fields = fields


def _row_serializer(name: str, columns: list[exchange.Column]) -> type[serializers.Serializer]:
    """A sheet's row as a schema component, from the same declaration that writes it."""
    fields = {
        key: serializers.IntegerField(help_text=header)
        if kind == "int"
        else serializers.CharField(help_text=header, allow_blank=True)
        for key, header, kind in columns
    }
    return type(name, (serializers.Serializer,), fields)


ExchangeMetaSerializer = _row_serializer("ExchangeMetaSerializer", exchange.META)
ROW_SERIALIZERS = {
    "institutions": _row_serializer("ExchangeInstitutionSerializer", exchange.INSTITUTION_COLUMNS),
    "resources": _row_serializer("ExchangeResourceSerializer", exchange.RESOURCE_COLUMNS),
    "findings": _row_serializer("ExchangeFindingSerializer", exchange.FINDING_COLUMNS),
    "cases": _row_serializer("ExchangeCaseSerializer", exchange.CASE_COLUMNS),
    "complaints": _row_serializer("ExchangeComplaintSerializer", exchange.COMPLAINT_COLUMNS),
    "appeals": _row_serializer("ExchangeAppealSerializer", exchange.APPEAL_COLUMNS),
}
ExchangeDataSerializer = type(
    "ExchangeDataSerializer",
    (serializers.Serializer,),
    {
        "meta": ExchangeMetaSerializer(
            help_text="说明：季度、接收单位、生成时间（北京时间）、数量"
        ),
        **{
            key: ROW_SERIALIZERS[key](many=True, help_text=title)
            for key, title, _ in exchange.SHEETS
        },
    },
)


class ExchangeGenerateSerializer(serializers.Serializer):
    quarter = serializers.RegexField(
        QUARTER_PATTERN, max_length=6, help_text="季度，如 2026Q4（已开始的季度）"
    )
    recipient = serializers.IntegerField(
        min_value=1, max_value=ID_MAX, help_text="金融管理部门（单位 id）"
    )


class ExchangeSentSerializer(serializers.Serializer):
    sent_on = serializers.DateField(help_text="发送日期（不晚于今天，不早于生成日期）")
    note = serializers.CharField(
        max_length=exchange.NOTE_MAX, required=False, allow_blank=True, help_text="发送说明"
    )


class ExchangePackageFilter(django_filters.FilterSet):
    quarter = ShapedCharFilter(
        method="filter_quarter", help_text="季度，如 2026Q4（格式 ^[0-9]{4}Q[1-4]$）"
    )
    recipient = IdFilter(field_name="recipient_id", help_text="金融管理部门 id")

    class Meta:
        model = ExchangePackage
        fields: list[str] = []

    def filter_quarter(self, queryset, name, value):
        if not re.fullmatch(QUARTER_PATTERN, value):
            raise PortalError(
                f"季度格式应为 2026Q2，实际为“{value}”", code="quarter", field="quarter"
            )
        return queryset.filter(year=int(value[:4]), quarter=int(value[5]))


def _denied_unless_writer(user) -> None:
    if not exchange.can_generate(user):
        raise NotPermitted("只有通信管理局的管理员或经办人可以进行此操作")


@extend_schema_view(
    list=extend_schema(
        summary="信息交换数据包列表（通信管理局：全部；金融管理部门：本单位）",
        tags=TAGS,
        parameters=[QUARTER_PARAMETER],
        responses={200: ExchangePackageSerializer(many=True), 400: INVALID},
    ),
    retrieve=extend_schema(
        summary="信息交换数据包详情（数量、生成与发送情况）",
        tags=TAGS,
        responses={200: ExchangePackageSerializer, 404: NOT_FOUND},
    ),
)
class ExchangePackageViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    permission_classes = [*api_settings.DEFAULT_PERMISSION_CLASSES, ExchangeReader]
    serializer_class = ExchangePackageSerializer
    filterset_class = ExchangePackageFilter

    def get_queryset(self):
        return (
            ExchangePackage.objects.visible_to(self.request.user)
            .select_related("recipient", "generated_by", "sent_by")
            .order_by("-year", "-quarter", "recipient__name", "pk")
        )

    @extend_schema(
        summary="数据包内容（JSON，与下载的 xlsx 同一份数据；下载记入审计）",
        description="返回已生成的数据包本身：说明（meta）和各工作表的行，取值与 xlsx 相同"
        "（中文标签、ISO 日期、数量为整数）。投诉只有统计数，不含投诉人联系方式和投诉内容。",
        tags=TAGS,
        responses={200: ExchangeDataSerializer, 404: NOT_FOUND},
    )
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def data(self, request, pk=None):
        package = self.get_object()
        try:
            chunks = exchange.exchange_package_data(actor=request.user, package=package)
        except PortalError as exc:
            raise NotFound(exc.message) from exc
        # Streamed: a province's package is a million rows, never one string in memory.
        return StreamingHttpResponse(chunks, content_type="application/json")

    @extend_schema(
        summary="下载数据包（xlsx；下载记入审计）",
        tags=TAGS,
        responses={(200, XLSX): OpenApiTypes.BINARY, 404: NOT_FOUND},
    )
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def download(self, request, pk=None):
        package = self.get_object()
        try:
            exchange.exchange_package_download(actor=request.user, package=package)
        except PortalError as exc:
            raise NotFound(exc.message) from exc
        return stored_file_response(
            package.file, filename=exchange.package_filename(package), content_type=XLSX
        )

    @extend_schema(
        summary="生成（或重新生成）某季度某金融管理部门的数据包（通信管理局）",
        description="按该金融管理部门的监管范围生成，并通知该单位。重新生成会替换文件，"
        "发送登记和下载次数随之清零。新建返回 201，重新生成返回 200。",
        tags=TAGS,
        request=ExchangeGenerateSerializer,
        responses={
            201: ExchangePackageSerializer,
            200: OpenApiResponse(ExchangePackageSerializer, description="已重新生成"),
            400: INVALID,
            403: FORBIDDEN,
            409: _error("conflict：同一数据包正在生成"),
        },
    )
    @action(detail=False, methods=["post"], filter_backends=[], pagination_class=None)
    def generate(self, request):
        _denied_unless_writer(request.user)
        body = ExchangeGenerateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        year, quarter = exchange.parse_quarter(body.validated_data["quarter"])
        recipient = Organisation.objects.filter(
            pk=body.validated_data["recipient"], kind=OrgKind.FINANCIAL_REGULATOR
        ).first()
        if recipient is None:
            raise PortalError("没有该金融管理部门", code="recipient", field="recipient")
        existed = ExchangePackage.objects.filter(
            year=year, quarter=quarter, recipient=recipient
        ).exists()
        package = exchange.exchange_package_generate(
            actor=request.user, year=year, quarter=quarter, recipient=recipient
        )
        return Response(
            ExchangePackageSerializer(package).data,
            status=status.HTTP_200_OK if existed else status.HTTP_201_CREATED,
        )

    @extend_schema(
        summary="登记数据包已发送（通信管理局，供联席会议备查）",
        tags=TAGS,
        request=ExchangeSentSerializer,
        responses={200: ExchangePackageSerializer, 400: INVALID, 403: FORBIDDEN, 404: NOT_FOUND},
    )
    @action(detail=True, methods=["post"], url_path="mark-sent")
    def mark_sent(self, request, pk=None):
        package = self.get_object()
        _denied_unless_writer(request.user)
        body = ExchangeSentSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        package = exchange.exchange_package_mark_sent(
            actor=request.user,
            package=package,
            sent_on=body.validated_data["sent_on"],
            note=body.validated_data.get("note", ""),
        )
        return Response(ExchangePackageSerializer(package).data)
