"""The upload job's API, one for every form (issue 9 item 2): ``/api/uploads/`` lists the
caller's organisation's jobs (regulators: all), ``/api/uploads/{id}/`` status, progress and
counts, ``/api/uploads/{id}/error-report/`` the error workbook. Forms add their own upload
endpoint (the register: ``POST /api/registry/imports/``) on a subclass."""

from __future__ import annotations

import django_filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action

from portal.api import OrganisationBriefSerializer
from portal.filters import IdFilter

from .models import UploadJob, UploadStatus
from .pipeline import live_rows_done
from .views import XLSX, error_report_response


class UploadJobSerializer(serializers.ModelSerializer):
    organisation = OrganisationBriefSerializer(read_only=True)
    status_display = serializers.CharField(source="get_status_display", read_only=True)
    form_label = serializers.CharField(read_only=True, help_text="表单名称")
    percent = serializers.IntegerField(read_only=True, help_text="进度百分比")
    is_finished = serializers.BooleanField(read_only=True)
    created_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True, help_text="上传人用户名"
    )
    error_report_url = serializers.SerializerMethodField(
        help_text="错误报告下载地址；没有错误报告时为 null"
    )
    error_report_route = "upload-error-report"

    class Meta:
        model = UploadJob
        fields = [
            "id",
            "organisation",
            "form",
            "form_label",
            "options",
            "status",
            "status_display",
            "original_name",
            "size",
            "rows_total",
            "rows_done",
            "percent",
            "is_finished",
            "created",
            "updated",
            "unchanged",
            "ended",
            "counts",
            "error_count",
            "error_report_url",
            "message",
            "warnings",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_error_report_url(self, obj: UploadJob) -> str | None:
        from django.urls import reverse

        if not obj.error_report:
            return None
        return reverse(self.error_report_route, args=[obj.pk])


class UploadJobFilter(django_filters.FilterSet):
    organisation = IdFilter(field_name="organisation_id", help_text="单位 id（监管部门使用）")
    form = django_filters.CharFilter(field_name="form", help_text="表单代码")
    status = django_filters.ChoiceFilter(choices=UploadStatus.choices, help_text="任务状态")

    class Meta:
        model = UploadJob
        fields: list[str] = []


NOT_FOUND = OpenApiResponse(description="不存在、无权查看（其他单位的任务），或没有错误报告")


@extend_schema_view(
    list=extend_schema(summary="上传任务列表", tags=["上传任务"]),
    retrieve=extend_schema(summary="上传任务详情（进度与结果）", tags=["上传任务"]),
)
class UploadJobViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = UploadJobSerializer
    filterset_class = UploadJobFilter
    form_code: str | None = None  # a form's own endpoint lists only that form's jobs

    def get_queryset(self):
        jobs = UploadJob.objects.visible_to(self.request.user)
        if self.form_code:
            jobs = jobs.of_form(self.form_code)
        return jobs.select_related("organisation", "created_by").order_by("-created_at", "-id")

    def get_object(self):
        # A running job's live count (the progress file on SQLite), as the page shows it.
        return live_rows_done(super().get_object())

    @extend_schema(
        summary="下载错误报告（xlsx）",
        tags=["上传任务"],
        responses={(200, XLSX): OpenApiTypes.BINARY, 404: NOT_FOUND},
    )
    @action(detail=True, methods=["get"], url_path="error-report")
    def error_report(self, request, pk=None):
        return error_report_response(self.get_object())
