"""Service-object report API under /api/reports/ (issue 11 §6). Carriers: create (empty or
from the previous quarter's accepted report), upload a file, submit, list and read their
own. The administration: list, read, compare, accept, return. The financial regulator
reads accepted reports, of their lines those that serve an institution in its scope, and
has no compare (404; issue 14 §6). Reads start from ``ServiceReport.objects.visible_to(user)``
(another carrier's report is a 404; an institution has no report API at all: 404); writes
go through registry.services."""

from __future__ import annotations

import re

import django_filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.settings import api_settings

from portal import workdays
from portal.api import QUARTER_PARAMETER, QUARTER_PATTERN, OrganisationBriefSerializer
from portal.errors import PortalError
from portal.filters import ID_SCHEMA, IdFilter, ShapedCharFilter, bounded_id
from portal.permissions import OrganisationKinds
from portal.schema import ApiErrorSerializer
from portal.spreadsheets.api import UploadJobSerializer

from . import selectors, services
from .models import ObjectMatch, Purpose, ReportStatus, ServiceReport, ServiceReportLine

TAGS = ["服务对象报送"]


def _error(description: str) -> OpenApiResponse:
    """An error status with this view's own words; its body is the one error shape, which
    portal.schema puts on every error response (the ApiError component)."""
    return OpenApiResponse(ApiErrorSerializer, description=description)


INVALID = _error("请求有误（invalid、quarter、report_empty、report_not_draft 等）")
NOT_FOUND = _error("不存在，或不属于调用者可见的报送")
FORBIDDEN = _error("无权限：非本运营商的管理员或经办人，或非通信管理局审核人员")
CONFLICT = _error(
    "该季度已有未审核的版本（report_open），或工作日历未包含该年（calendar_year_missing）"
)


class ReportReader(OrganisationKinds):
    """Institutions (and users outside every organisation) have no report API: 404
    (documented on every operation by portal.schema)."""

    kinds = selectors.REPORT_READERS


def _raise(denial) -> None:
    if denial is not None:
        raise denial


def _quarter(text: str) -> tuple[int, int]:
    try:
        return workdays.parse_quarter(text)
    except ValueError as exc:
        raise PortalError(str(exc), code="quarter", field="quarter") from exc


class ServiceReportSerializer(serializers.ModelSerializer):
    carrier = OrganisationBriefSerializer(read_only=True)
    quarter_code = serializers.CharField(read_only=True, help_text="季度，如 2026Q4")
    status = serializers.ChoiceField(choices=ReportStatus.choices, read_only=True)
    status_display = serializers.CharField(source="get_status_display", read_only=True)
    is_late = serializers.BooleanField(read_only=True, help_text="逾期提交")
    based_on = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True, help_text="起始版本 id"
    )
    source_job = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True, help_text="最近一次上传任务 id"
    )

    class Meta:
        model = ServiceReport
        fields = [
            "id",
            "carrier",
            "year",
            "quarter",
            "quarter_code",
            "version",
            "status",
            "status_display",
            "based_on",
            "deadline",
            "line_count",
            "flagged_count",
            "submitted_at",
            "late_working_days",
            "is_late",
            "reviewed_at",
            "return_reason",
            "source_job",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class ServiceReportLineSerializer(serializers.ModelSerializer):
    kind_display = serializers.CharField(read_only=True)
    purpose = serializers.ChoiceField(choices=Purpose.choices, read_only=True)
    object_match = serializers.ChoiceField(choices=ObjectMatch.choices, read_only=True)
    institution_match = serializers.ChoiceField(
        choices=ObjectMatch.choices, allow_blank=True, read_only=True, help_text="未填写时为空"
    )
    flagged = serializers.BooleanField(read_only=True, help_text="信用代码未知或校验位错误")

    class Meta:
        model = ServiceReportLine
        fields = [
            "id",
            "row_no",
            "number",
            "kind",
            "kind_display",
            "main_port",
            "is_sub_port",
            "object_name",
            "object_credit_code",
            "object_match",
            "institution_name",
            "institution_credit_code",
            "institution_match",
            "purpose",
            "document_number",
            "valid_from",
            "valid_to",
            "flagged",
        ]
        read_only_fields = fields


class ReportCreateSerializer(serializers.Serializer):
    quarter = serializers.CharField(max_length=8, help_text="季度，如 2026Q4")
    start_from = serializers.ChoiceField(
        choices=[
            ("empty", "空白"),
            ("previous", "上季度已受理的报送"),
            ("latest", "本季度最近的版本"),
        ],
        default="empty",
    )


class ReportUploadSerializer(serializers.Serializer):
    quarter = serializers.CharField(max_length=8, help_text="季度，如 2026Q4")
    file = serializers.FileField(help_text="服务对象报送表：.xlsx、.xls 或 .csv")


class ReportUploadedSerializer(serializers.Serializer):
    report = ServiceReportSerializer()
    job = UploadJobSerializer()
    duplicate = serializers.BooleanField(help_text="同一文件已上传到该草稿：返回原任务")


class ReportReturnSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=services.RETURN_REASON_MAX, help_text="退回原因")


class CompareLineSerializer(serializers.Serializer):
    number = serializers.CharField()
    kind = serializers.CharField()
    main_port = serializers.CharField()
    object_name = serializers.CharField()
    object_credit_code = serializers.CharField()
    institution_name = serializers.CharField()
    institution_credit_code = serializers.CharField()
    purpose = serializers.CharField(help_text="用途（中文）")
    document_number = serializers.CharField()
    valid_from = serializers.CharField()
    valid_to = serializers.CharField(help_text="空为长期")


class FieldChangeSerializer(serializers.Serializer):
    field = serializers.ChoiceField(
        choices=list(selectors.COMPARE_FIELDS),
        help_text="不同的列：" + "、".join(label for _, label in selectors.COMPARE_FIELDS),
    )
    label = serializers.CharField()
    old = serializers.CharField()
    new = serializers.CharField()


class ChangedLineSerializer(serializers.Serializer):
    number = serializers.CharField()
    changes = FieldChangeSerializer(many=True)


class FieldCountsSerializer(serializers.Serializer):
    kind = serializers.IntegerField()
    main_port = serializers.IntegerField()
    object_name = serializers.IntegerField()
    object_credit_code = serializers.IntegerField()
    institution_name = serializers.IntegerField()
    institution_credit_code = serializers.IntegerField()
    purpose = serializers.IntegerField()
    document_number = serializers.IntegerField()
    valid_from = serializers.IntegerField()
    valid_to = serializers.IntegerField()


class ComparisonSerializer(serializers.Serializer):
    old = serializers.IntegerField(source="old.pk", help_text="比较基准版本 id")
    new = serializers.IntegerField(source="new.pk", help_text="本版本 id")
    added = serializers.IntegerField(help_text="新增的号码数")
    ended = serializers.IntegerField(help_text="不再报送的号码数")
    changed = serializers.IntegerField(help_text="有变更的号码数")
    unchanged = serializers.IntegerField()
    fields = FieldCountsSerializer(help_text="各字段变更的号码数")
    added_lines = CompareLineSerializer(many=True)
    ended_lines = CompareLineSerializer(many=True)
    changed_lines = ChangedLineSerializer(many=True)


class ReportFilter(django_filters.FilterSet):
    quarter = ShapedCharFilter(
        method="filter_quarter", help_text="季度，如 2026Q4（格式 ^[0-9]{4}Q[1-4]$）"
    )
    carrier = IdFilter(field_name="carrier_id", help_text="运营商 id（监管部门使用）")
    status = django_filters.ChoiceFilter(choices=ReportStatus.choices, help_text="状态")

    class Meta:
        model = ServiceReport
        fields: list[str] = []

    def filter_quarter(self, queryset, name, value):
        # As the schema says (QUARTER_PATTERN): any year of four digits, quarter 1–4.
        if not re.fullmatch(QUARTER_PATTERN, value):
            raise PortalError(
                f"季度格式应为 2026Q2，实际为“{value}”", code="quarter", field="quarter"
            )
        return queryset.filter(year=int(value[:4]), quarter=int(value[5]))


LINE_PARAMETERS = [
    OpenApiParameter("q", str, description="号码（任意写法，数字子串）、服务对象名称或信用代码"),
    OpenApiParameter("purpose", str, description="用途：marketing / collection / both 或中文"),
    OpenApiParameter(
        "flagged", bool, description="true：只列信用代码待核实的行；false 或不填：全部"
    ),
]


@extend_schema_view(
    list=extend_schema(
        summary="服务对象报送列表（各版本）",
        tags=TAGS,
        parameters=[QUARTER_PARAMETER],
        responses={200: ServiceReportSerializer(many=True), 400: INVALID},
    ),
    retrieve=extend_schema(
        summary="服务对象报送详情",
        tags=TAGS,
        responses={200: ServiceReportSerializer, 404: NOT_FOUND},
    ),
)
class ServiceReportViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    permission_classes = [*api_settings.DEFAULT_PERMISSION_CLASSES, ReportReader]
    serializer_class = ServiceReportSerializer
    filterset_class = ReportFilter
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    def get_queryset(self):
        return selectors.reports_visible(self.request.user).order_by(
            "-year", "-quarter", "carrier_id", "-version"
        )

    @extend_schema(
        summary="新建报送版本（空白、以上季度已受理的报送或本季度最近版本为起点）",
        tags=TAGS,
        request=ReportCreateSerializer,
        responses={
            201: ServiceReportSerializer,
            403: FORBIDDEN,
            409: OpenApiResponse(description="该季度已有未审核的版本"),
        },
    )
    def create(self, request):
        user = request.user
        _raise(services.report_write_denial(user))
        data = ReportCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        year, quarter = _quarter(data.validated_data["quarter"])
        report = services.service_report_create(
            actor=user,
            carrier=user.organisation,
            year=year,
            quarter=quarter,
            start_from=data.validated_data["start_from"],
        )
        return Response(ServiceReportSerializer(report).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="上传服务对象报送表到本季度草稿（后台导入）",
        description="文件替换草稿的全部行；任何一行有错误则不导入，任务给出错误报告。"
        "同一文件已上传到该草稿时返回 200 与原任务。",
        tags=TAGS,
        request={"multipart/form-data": ReportUploadSerializer},
        responses={
            201: ReportUploadedSerializer,
            200: OpenApiResponse(ReportUploadedSerializer, description="重复上传：原任务"),
            400: INVALID,
            403: FORBIDDEN,
            409: CONFLICT,
        },
    )
    @action(detail=False, methods=["post"], parser_classes=[MultiPartParser, FormParser])
    def upload(self, request):
        user = request.user
        _raise(services.report_write_denial(user))
        data = ReportUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        year, quarter = _quarter(data.validated_data["quarter"])
        upload = data.validated_data["file"]
        report, job, created = services.service_report_upload(
            actor=user,
            carrier=user.organisation,
            year=year,
            quarter=quarter,
            upload=upload,
            original_name=upload.name,
        )
        body = {
            "report": ServiceReportSerializer(report).data,
            "job": UploadJobSerializer(job).data,
            "duplicate": not created,
        }
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(
        summary="报送的号码行（可按号码、服务对象、用途查询）",
        description="金融管理部门只看到为其监管范围内机构提供服务的行。",
        tags=TAGS,
        parameters=LINE_PARAMETERS,
        responses={200: ServiceReportLineSerializer(many=True), 404: NOT_FOUND},
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def lines(self, request, pk=None):
        report = self.get_object()
        params = request.query_params
        purpose = params.get("purpose", "")
        flagged = params.getlist("flagged")
        if len(flagged) > 1 or (flagged and flagged[0] not in ("true", "false")):
            raise PortalError("flagged 只能是 true 或 false", code="invalid", field="flagged")
        lines = selectors.report_lines(
            user=request.user,
            report=report,
            q=params.get("q", ""),
            purpose=purpose,
            flagged=flagged == ["true"],
        )
        page = self.paginate_queryset(lines)
        return self.get_paginated_response(ServiceReportLineSerializer(page, many=True).data)

    @extend_schema(
        summary="提交报送（逾期照常接收，标记逾期工作日）",
        tags=TAGS,
        request=None,
        responses={
            200: ServiceReportSerializer,
            400: INVALID,
            403: FORBIDDEN,
            404: NOT_FOUND,
            409: CONFLICT,
        },
    )
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        report = self.get_object()
        _raise(services.report_write_denial(request.user, report.carrier_id))
        report = services.service_report_submit(actor=request.user, report=report)
        return Response(ServiceReportSerializer(report).data)

    @extend_schema(
        summary="受理报送（通信管理局）",
        tags=TAGS,
        request=None,
        responses={200: ServiceReportSerializer, 400: INVALID, 403: FORBIDDEN, 404: NOT_FOUND},
    )
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        report = self.get_object()
        _raise(services.review_denial(request.user))
        report = services.service_report_accept(actor=request.user, report=report)
        return Response(ServiceReportSerializer(report).data)

    @extend_schema(
        summary="退回报送并说明原因（通信管理局）",
        tags=TAGS,
        request=ReportReturnSerializer,
        responses={200: ServiceReportSerializer, 400: INVALID, 403: FORBIDDEN, 404: NOT_FOUND},
    )
    @action(detail=True, methods=["post"], url_path="return")
    def return_report(self, request, pk=None):
        report = self.get_object()
        _raise(services.review_denial(request.user))
        data = ReportReturnSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        report = services.service_report_return(
            actor=request.user, report=report, reason=data.validated_data["reason"]
        )
        return Response(ServiceReportSerializer(report).data)

    @extend_schema(
        summary="比较两个版本：新增、不再报送、逐字段变更",
        description="默认与起始版本比较（无则与本季度上一版本、上季度已受理的版本）。"
        "比较涉及报送的全部行，只供运营商和通信管理局使用：金融管理部门调用为 404。",
        tags=TAGS,
        parameters=[
            OpenApiParameter("with", OpenApiTypes.INT, description="比较基准版本 id"),
            OpenApiParameter(
                "limit",
                ID_SCHEMA,
                description=f"每类最多列出的号码数（默认 {selectors.COMPARE_LIMIT}，"
                f"超过 {selectors.COMPARE_LIMIT_MAX} 按 {selectors.COMPARE_LIMIT_MAX}）",
            ),
        ],
        responses={200: ComparisonSerializer, 400: INVALID, 404: NOT_FOUND},
    )
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def compare(self, request, pk=None):
        report = self.get_object()
        if not selectors.can_compare(request.user):
            raise NotFound  # a financial regulator reads only its scope's lines
        visible = selectors.reports_visible(request.user)
        raw = request.query_params.get("with")
        if raw is not None:
            other_pk = bounded_id(raw)
            other = visible.filter(pk=other_pk).first() if other_pk else None
        else:
            other = selectors.compare_default(user=request.user, report=report)
        if other is None:
            raise NotFound
        limit = selectors.COMPARE_LIMIT
        if "limit" in request.query_params:
            # As the schema says: one positive integer (a larger one counts as the maximum).
            given = request.query_params.getlist("limit")
            limit = bounded_id(given[0]) if len(given) == 1 else None
            if limit is None:
                raise PortalError("limit 应为一个正整数", code="invalid", field="limit")
        comparison = selectors.report_compare(old=other, new=report, limit=limit)
        return Response(ComparisonSerializer(comparison).data)
