"""API skeleton: who am I, deadlines; the exception handler that gives code + message."""

from __future__ import annotations

import logging

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from . import workdays
from .errors import PortalError

log = logging.getLogger(__name__)


# Stable codes of DRF's own errors (their messages come in Chinese from DRF's catalogue).
DRF_CODES = {
    exceptions.ParseError: "parse_error",
    exceptions.PermissionDenied: "forbidden",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
}


def _field_errors(detail, prefix: str = "") -> dict[str, list[str]]:
    """A DRF ValidationError's detail as ``{"field": ["message", ...]}`` ("a.0.b" nested)."""
    if isinstance(detail, dict):
        fields: dict[str, list[str]] = {}
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if key == "non_field_errors" and not prefix:
                name = "non_field_errors"
            fields.update(_field_errors(value, name))
        return fields
    if isinstance(detail, list) and any(isinstance(item, (dict, list)) for item in detail):
        fields = {}
        for index, value in enumerate(detail):
            fields.update(_field_errors(value, f"{prefix}.{index}" if prefix else str(index)))
        return fields
    items = detail if isinstance(detail, list) else [detail]
    return {prefix or "non_field_errors": [str(item) for item in items]}


def error_body(code: str, detail: str, fields: dict | None = None) -> dict:
    """The one shape of every API error (README "API"): code, Chinese detail, and the
    fields only for validation errors."""
    body = {"code": code, "detail": detail}
    if fields:
        body["fields"] = fields
    return body


def exception_handler(exc, context):
    """Every error the API returns is ``{"code", "detail"[, "fields"]}`` (issue 10 §3): typed
    portal errors with their status, DRF's errors with a stable code, and anything else a
    500 that is logged with the request id, never a debug page."""
    if isinstance(exc, PortalError):
        fields = {exc.field: [exc.message]} if exc.field else None
        return Response(error_body(exc.code, exc.message, fields), status=exc.status)
    if isinstance(exc, workdays.CalendarYearMissing):
        return Response(error_body(exc.code, exc.message), status=409)
    response = drf_exception_handler(exc, context)
    if response is None:
        log.exception("API error %s %s", context["request"].method, context["request"].path)
        rid = getattr(context["request"], "request_id", "")
        return Response(
            error_body(
                "server_error",
                f"服务器内部错误，请稍后重试；如持续出现，请把请求编号 {rid} 告知平台运维",
            ),
            status=500,
        )
    if isinstance(exc, Http404):
        response.data = error_body("not_found", "未找到")
    elif isinstance(exc, exceptions.ValidationError):
        fields = _field_errors(exc.detail)
        first = next(iter(fields.items()))
        label = "" if first[0] == "non_field_errors" else f"{first[0]}："
        response.data = error_body("invalid", f"{label}{first[1][0]}", fields)
    elif isinstance(exc, (exceptions.AuthenticationFailed, exceptions.NotAuthenticated)):
        # A client tells an expired token from a revoked one by the code (token_expired…).
        response.data = error_body(exc.get_codes(), str(exc.detail))
    elif isinstance(exc, exceptions.ParseError):
        # The parser's own words are Python's English ("Expecting property name ...").
        response.data = error_body("parse_error", "请求内容无法解析：请检查 JSON 格式")
    elif isinstance(exc, exceptions.Throttled):
        wait = f"，请 {exc.wait:.0f} 秒后再试" if exc.wait else ""
        response.data = error_body("throttled", f"请求过于频繁{wait}")
    elif isinstance(exc, exceptions.APIException):
        code = next((c for cls, c in DRF_CODES.items() if isinstance(exc, cls)), None)
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        response.data = error_body(code or str(exc.get_codes()), str(detail))
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
    @extend_schema(responses=MeSerializer, summary="当前用户及其所属单位", tags=["账户"])
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
        tags=["截止日期"],
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
                due = workdays.sms_filing_deadline(workdays.parse_iso_day(start))
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
