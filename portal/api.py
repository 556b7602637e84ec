"""API skeleton: who am I, deadlines; the exception handler that gives code + message."""

from __future__ import annotations

import logging
import re

from django.core.exceptions import SuspiciousOperation
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from . import workdays
from .errors import PortalError
from .models import OrgKind, Role

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


BAD_REQUEST = "请求无法处理：请检查请求的格式与大小"


def server_error_body(request) -> dict:
    """A 500's body: no detail of the failure, the request id the log line carries."""
    rid = getattr(request, "request_id", "")
    return error_body(
        "server_error", f"服务器内部错误，请稍后重试；如持续出现，请把请求编号 {rid} 告知平台运维"
    )


def exception_handler(exc, context):
    """Every error the API returns is ``{"code", "detail"[, "fields"]}`` (issue 10 §3): typed
    portal errors with their status, DRF's errors with a stable code, and anything else a
    500 that is logged with the request id, never a debug page."""
    if isinstance(exc, PortalError):
        fields = {exc.field: [exc.message]} if exc.field else None
        return Response(error_body(exc.code, exc.message, fields), status=exc.status)
    if isinstance(exc, workdays.CalendarYearMissing):
        return Response(error_body(exc.code, exc.message), status=409)
    if isinstance(exc, SuspiciousOperation):  # too many fields, a body past the limit ...
        log.warning("API request refused: %s", exc)
        return Response(error_body("bad_request", BAD_REQUEST), status=400)
    response = drf_exception_handler(exc, context)
    if response is None:
        log.exception("API error %s %s", context["request"].method, context["request"].path)
        return Response(server_error_body(context["request"]), status=500)
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


class TextField(serializers.CharField):
    """A string field for request bodies that takes only a string: DRF's CharField turns
    ``0`` into ``"0"``, which the schema (``type: string``) says is refused (schemathesis,
    issue 17). A form encoding sends strings anyway."""

    default_error_messages = {"not_a_string": "应为字符串"}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_a_string")
        return super().to_internal_value(data)


class YesNoField(serializers.BooleanField):
    """A yes/no in a request body: JSON ``true``/``false`` (a form: the strings), nothing
    else; and, when required, really required. DRF's BooleanField takes ``1``, ``"yes"``
    and a form without the field as false (schemathesis)."""

    default_empty_html = serializers.empty
    default_error_messages = {"invalid": "应为 true 或 false"}

    def to_internal_value(self, data):
        if isinstance(data, bool):
            return data
        if data in ("true", "false"):
            return data == "true"
        self.fail("invalid")


class OrganisationBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=OrgKind.choices, help_text="单位类型")
    kind_display = serializers.CharField(source="get_kind_display")
    credit_code = serializers.CharField()


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    full_name = serializers.CharField(source="first_name")
    role = serializers.ChoiceField(choices=Role.choices, help_text="角色")
    role_display = serializers.CharField(source="get_role_display")
    totp_enabled = serializers.BooleanField()
    organisation = OrganisationBriefSerializer(allow_null=True)


class MeView(APIView):
    @extend_schema(responses=MeSerializer, summary="当前用户及其所属单位", tags=["账户"])
    def get(self, request):
        return Response(MeSerializer(request.user).data)


class DeadlineSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=[("sms_filing", "非应邀短信报备"), ("quarterly_report", "服务对象季度报送")],
        help_text="截止事项",
    )
    subject = serializers.CharField(help_text="所给的日期或季度")
    due = serializers.DateTimeField(help_text="截止时刻（北京时间当日 23:59:59）")
    due_date = serializers.DateField(help_text="截止日期")


ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# ASCII digits: in a JSON Schema pattern \d is [0-9], in a Python one any Unicode digit.
QUARTER_PATTERN = r"^[0-9]{4}Q[1-4]$"
QUARTER = re.compile(QUARTER_PATTERN)
# The ``?quarter=2026Q4`` filter of the lists that have one (reports, exchange packages).
QUARTER_PARAMETER = OpenApiParameter(
    "quarter", {"type": "string", "pattern": QUARTER_PATTERN}, description="季度，如 2026Q4"
)


def _sms_start(text: str):
    if not ISO_DAY.fullmatch(text):
        raise PortalError(f"日期“{text}”格式应为 2026-03-01", code="bad_date", field="sms_start")
    try:
        return workdays.parse_iso_day(text)
    except ValueError as exc:
        raise PortalError(str(exc), code="bad_date", field="sms_start") from exc


def _quarter(text: str) -> tuple[int, int]:
    try:
        year, quarter = workdays.parse_quarter(text)
    except ValueError as exc:
        raise PortalError(str(exc), code="bad_date", field="quarter") from exc
    if not QUARTER.fullmatch(text):  # parse_quarter forgives 2026q2 and 2026-Q2, the API does not
        raise PortalError(f"季度格式应为 2026Q2，实际为“{text}”", code="bad_date", field="quarter")
    if year < 1:
        raise workdays.CalendarYearMissing(year)
    return year, quarter


class DeadlinesView(APIView):
    @extend_schema(
        summary="计算报送截止时间（按官方工作日历，含调休）",
        description="两个参数都可省略；给出哪个就计算哪个。工作日历未包含所涉年份时返回 409 "
        "calendar_year_missing。",
        tags=["截止日期"],
        parameters=[
            OpenApiParameter(
                "sms_start",
                OpenApiTypes.DATE,
                description="短信计划发送开始日期，如 2026-03-16：返回非应邀短信报备的截止时间",
            ),
            OpenApiParameter(
                "quarter",
                {"type": "string", "pattern": QUARTER_PATTERN},
                description="季度，如 2026Q2：返回运营商服务对象季度报送的截止时间",
            ),
        ],
        responses={
            200: DeadlineSerializer(many=True),
            409: OpenApiResponse(description="calendar_year_missing：工作日历未包含所涉年份"),
        },
    )
    def get(self, request):
        result = []
        start = request.query_params.get("sms_start")
        quarter = request.query_params.get("quarter")
        if start is not None:
            due = workdays.sms_filing_deadline(_sms_start(start))
            result.append(
                {"kind": "sms_filing", "subject": start, "due": due, "due_date": due.date()}
            )
        if quarter is not None:
            year, q = _quarter(quarter)
            due = workdays.quarterly_report_deadline(year, q)
            result.append(
                {"kind": "quarterly_report", "subject": quarter, "due": due, "due_date": due.date()}
            )
        return Response(DeadlineSerializer(result, many=True).data)
