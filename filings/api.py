"""Filings API under /api/filings/. Thin: reads start from ``visible_to(request.user)``
(another organisation's filing is a 404), writes go through filings.services: carriers'
管理员/经办人 file, the administration's review (403 otherwise)."""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.settings import api_settings

from portal.filters import IdFilter

from . import checks, services
from .importers.sms_filing import FIELD_OF
from .models import FilingStatus, SmsFiling, SmsPurpose
from .serializers import (
    AcceptCleanResultSerializer,
    AcceptCleanSerializer,
    CheckResultSerializer,
    FilingSerializer,
    FilingWriteSerializer,
    ReviewSerializer,
    SentSerializer,
    VersionSerializer,
    WithdrawSerializer,
)
from .views import READERS

NOT_FOUND = OpenApiResponse(description="不存在，或不属于调用者可见的报备")
FORBIDDEN = OpenApiResponse(description="无权限：非本运营商的管理员/经办人，或非通信管理局审核人员")
CONFLICT = OpenApiResponse(
    description="状态不允许（如已审核），或有阻断性检查未通过（code filing_blocked，原因见 detail）"
)
TAGS = ["短信报备"]


class FilingReader(BasePermission):
    """Organisations without filing pages have no filing API either (404)."""

    def has_permission(self, request, view) -> bool:
        if request.user.is_authenticated and request.user.kind not in READERS:
            raise NotFound
        return True


def _denied(denial) -> None:
    if denial is not None:
        raise denial


def _values(request) -> dict:
    data = FilingWriteSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    try:
        return services.values_from_columns(data.column_texts(), carrier=request.user.organisation)
    except services.FilingInvalid as exc:
        fields: dict[str, list[str]] = {}
        for column, reason in exc.errors:
            fields.setdefault(FIELD_OF.get(column, "non_field_errors"), []).append(reason)
        raise ValidationError(fields or exc.message) from exc


class FilingFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=FilingStatus.choices, help_text="状态")
    purpose = django_filters.ChoiceFilter(choices=SmsPurpose.choices, help_text="发送目的")
    carrier = IdFilter(field_name="carrier_id", help_text="报备运营商 id")
    job = IdFilter(field_name="source_job_id", help_text="来源上传任务 id")
    start_after = django_filters.IsoDateTimeFilter(
        field_name="end_at", lookup_expr="gte", help_text="计划发送时段结束不早于该时间"
    )
    start_before = django_filters.IsoDateTimeFilter(
        field_name="start_at", lookup_expr="lt", help_text="计划发送开始早于该时间"
    )

    class Meta:
        model = SmsFiling
        fields: list[str] = []


@extend_schema_view(
    list=extend_schema(summary="短信报备列表（按计划发送开始时间）", tags=TAGS),
    retrieve=extend_schema(
        summary="短信报备详情", tags=TAGS, responses={200: FilingSerializer, 404: NOT_FOUND}
    ),
)
class FilingViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    permission_classes = [*api_settings.DEFAULT_PERMISSION_CLASSES, FilingReader]
    serializer_class = FilingSerializer
    filterset_class = FilingFilter
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self):
        return (
            SmsFiling.objects.visible_to(self.request.user)
            .select_related("carrier", "institution")
            .order_by("start_at", "pk")
        )

    @extend_schema(
        summary="新建短信报备（草稿，附检查结果）",
        tags=TAGS,
        request=FilingWriteSerializer,
        responses={201: FilingSerializer, 403: FORBIDDEN},
    )
    def create(self, request):
        _denied(services.filer_denial(request.user))
        filing = services.filing_create(
            actor=request.user, carrier=request.user.organisation, values=_values(request)
        )
        return Response(FilingSerializer(filing).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="修改短信报备（新版本，审核重置为草稿）",
        tags=TAGS,
        request=FilingWriteSerializer,
        responses={200: FilingSerializer, 403: FORBIDDEN, 404: NOT_FOUND, 409: CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def amend(self, request, pk=None):
        filing = self.get_object()
        _denied(services.filer_denial(request.user, filing.carrier_id))
        filing = services.filing_amend(actor=request.user, filing=filing, values=_values(request))
        return Response(FilingSerializer(filing).data)

    @extend_schema(
        summary="检查（不保存）：全部检查结果与报备截止时间",
        tags=TAGS,
        request=FilingWriteSerializer,
        responses={200: CheckResultSerializer, 403: FORBIDDEN},
    )
    @action(detail=False, methods=["post"])
    def check(self, request):
        _denied(services.filer_denial(request.user))
        values = _values(request)
        fact = checks.Facts.from_values(values, carrier=request.user.organisation)
        outcome = checks.run_one(fact)
        return Response(
            CheckResultSerializer({"checks": outcome.checks, "deadline": outcome.deadline}).data
        )

    @extend_schema(
        summary="提交报备（阻断性检查未通过时 409 filing_blocked）",
        tags=TAGS,
        request=None,
        responses={200: FilingSerializer, 403: FORBIDDEN, 404: NOT_FOUND, 409: CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        filing = self.get_object()
        _denied(services.filer_denial(request.user, filing.carrier_id))
        filing = services.filing_submit(actor=request.user, filing=filing)
        return Response(FilingSerializer(filing).data)

    @extend_schema(
        summary="审核：通过 / 退回修改 / 不予通过",
        tags=TAGS,
        request=ReviewSerializer,
        responses={200: FilingSerializer, 403: FORBIDDEN, 404: NOT_FOUND, 409: CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def review(self, request, pk=None):
        filing = self.get_object()
        _denied(services.reviewer_denial(request.user))
        data = ReviewSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        filing = services.filing_review(actor=request.user, filing=filing, **data.validated_data)
        return Response(FilingSerializer(filing).data)

    @extend_schema(
        summary="批量通过无任何提示的已提交报备",
        tags=TAGS,
        request=AcceptCleanSerializer,
        responses={200: AcceptCleanResultSerializer, 403: FORBIDDEN},
    )
    @action(detail=False, methods=["post"], url_path="accept-clean")
    def accept_clean(self, request):
        _denied(services.reviewer_denial(request.user))
        data = AcceptCleanSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        ids = data.validated_data["ids"]
        chosen = list(self.get_queryset().filter(pk__in=ids))
        accepted = services.filings_accept_clean(actor=request.user, filings=chosen)
        done = {f.pk for f in accepted}
        return Response(
            AcceptCleanResultSerializer(
                {"accepted": sorted(done), "skipped": sorted(set(ids) - done)}
            ).data
        )

    @extend_schema(
        summary="标记为已发送（实际发送数量）",
        tags=TAGS,
        request=SentSerializer,
        responses={200: FilingSerializer, 403: FORBIDDEN, 404: NOT_FOUND, 409: CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def sent(self, request, pk=None):
        filing = self.get_object()
        _denied(services.filer_denial(request.user, filing.carrier_id))
        data = SentSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        filing = services.filing_mark_sent(actor=request.user, filing=filing, **data.validated_data)
        return Response(FilingSerializer(filing).data)

    @extend_schema(
        summary="撤回报备",
        tags=TAGS,
        request=WithdrawSerializer,
        responses={200: FilingSerializer, 403: FORBIDDEN, 404: NOT_FOUND, 409: CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        filing = self.get_object()
        _denied(services.filer_denial(request.user, filing.carrier_id))
        data = WithdrawSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        filing = services.filing_withdraw(actor=request.user, filing=filing, **data.validated_data)
        return Response(FilingSerializer(filing).data)

    @extend_schema(
        summary="报备的全部版本及每版的变更",
        tags=TAGS,
        responses={200: VersionSerializer(many=True), 404: NOT_FOUND},
    )
    @action(detail=True, methods=["get"], pagination_class=None)
    def versions(self, request, pk=None):
        filing = self.get_object()
        rows = []
        for entry in services.version_changes(filing):
            version = entry["version"]
            version.changes = [
                {"column": c, "before": b, "after": a} for c, b, a in entry["changes"]
            ]
            rows.append(version)
        return Response(VersionSerializer(rows, many=True).data)
