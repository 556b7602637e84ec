"""API skeleton: who am I, deadlines; the exception handler that gives code + message."""

from __future__ import annotations

import datetime as dt

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from . import workdays
from .errors import PortalError


def exception_handler(exc, context):
    """Typed portal errors become ``{"code", "detail"}`` with their HTTP status."""
    if isinstance(exc, PortalError):
        body = {"code": exc.code, "detail": exc.message}
        if exc.field:
            body["field"] = exc.field
        return Response(body, status=exc.status)
    if isinstance(exc, workdays.CalendarYearMissing):
        return Response({"code": exc.code, "detail": exc.message}, status=409)
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(exc, Http404):
        response.data = {"code": "not_found", "detail": "未找到"}
    elif response is not None and isinstance(
        exc, (exceptions.AuthenticationFailed, exceptions.NotAuthenticated)
    ):
        # A client tells an expired token from a revoked one by the code (token_expired…).
        response.data = {"code": exc.get_codes(), "detail": str(exc.detail)}
    return response


class OrganisationBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.CharField()
    kind_display = serializers.CharField(source="get_kind_display")
    credit_code = serializers.CharField()


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    full_name = serializers.CharField(source="first_name")
    role = serializers.CharField()
    role_display = serializers.CharField(source="get_role_display")
    totp_enabled = serializers.BooleanField()
    organisation = OrganisationBriefSerializer(allow_null=True)


class MeView(APIView):
    @extend_schema(responses=MeSerializer, summary="当前用户及其所属单位")
    def get(self, request):
        return Response(MeSerializer(request.user).data)


class DeadlineSerializer(serializers.Serializer):
    kind = serializers.CharField()
    subject = serializers.CharField()
    due = serializers.DateTimeField()
    due_date = serializers.DateField()


class DeadlinesView(APIView):
    @extend_schema(
        summary="计算报送截止时间（按官方工作日历，含调休）",
        parameters=[
            OpenApiParameter("sms_start", str, description="短信计划发送开始日期 2026-03-16"),
            OpenApiParameter("quarter", str, description="季度 2026Q2"),
        ],
        responses=DeadlineSerializer(many=True),
    )
    def get(self, request):
        result = []
        start = request.query_params.get("sms_start")
        quarter = request.query_params.get("quarter")
        try:
            if start:
                due = workdays.sms_filing_deadline(dt.date.fromisoformat(start))
                result.append(
                    {"kind": "sms_filing", "subject": start, "due": due, "due_date": due.date()}
                )
            if quarter:
                year, q = workdays.parse_quarter(quarter)
                due = workdays.quarterly_report_deadline(year, q)
                result.append(
                    {
                        "kind": "quarterly_report",
                        "subject": quarter,
                        "due": due,
                        "due_date": due.date(),
                    }
                )
        except ValueError as exc:
            raise PortalError(str(exc), code="bad_date") from exc
        return Response(DeadlineSerializer(result, many=True).data)
