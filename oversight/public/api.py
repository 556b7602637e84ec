"""``GET /api/public/number-check/?number=…`` (issue 15 §1): anonymous, rate-limited per
client address, a fixed list of fields (check.FIELDS). Not DRF's throttles (not atomic):
limits.py. No authentication is read at all, so a session or token changes nothing."""

from __future__ import annotations

import json

from django.contrib.auth.models import AnonymousUser
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from portal.api import error_body
from portal.middleware import client_ip

from . import counting, limits
from .check import InvalidNumber, check_number


class NumberCheckSerializer(serializers.Serializer):
    """The answer; the fields after ``registered`` other than ``message`` only when the
    number is registered and active today."""

    number = serializers.CharField(help_text="号码的规范写法（纯数字）")
    registered = serializers.BooleanField(help_text="今天是否为本平台备案在用的金融营销/催收号码")
    institution = serializers.CharField(
        required=False, help_text="登记机构名称（多家机构登记同一号码时以“、”分隔）"
    )
    purpose = serializers.ChoiceField(
        choices=["营销", "催收", "营销及催收"], required=False, help_text="登记用途"
    )
    user = serializers.CharField(required=False, help_text="使用单位：机构本身或其委托合作单位")
    valid_from = serializers.DateField(required=False, help_text="登记有效期起")
    valid_to = serializers.DateField(
        required=False, allow_null=True, help_text="登记有效期止；null 为长期"
    )
    message = serializers.CharField(help_text="给公众的说明")


class NumberCheckView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer]  # no negotiation: the answer is JSON (hot path)
    parser_classes: list = []  # GET only
    throttle_classes: list = []  # limits.py: atomic, per client address

    @extend_schema(
        operation_id="public_number_check",
        summary="公众号码核验（无需登录，按来访地址限频）",
        tags=["公众服务"],
        auth=[{}],  # anonymous: no credentials needed (an empty security requirement)
        parameters=[
            OpenApiParameter(
                "number",
                str,
                required=True,
                description="号码、短信端口或子端口，任意常见写法（+86、空格、短横线、全角数字）",
            )
        ],
        responses={
            200: OpenApiResponse(
                NumberCheckSerializer, description="核验结果（字段为固定清单，见 NumberCheck）"
            ),
            400: OpenApiResponse(description="invalid_number：输入的不是号码、短信端口或子端口"),
            429: OpenApiResponse(
                description="throttled：超出每个网络地址的频率限制，Retry-After 头给出等待秒数"
            ),
            503: OpenApiResponse(
                description="unavailable：限频服务不可用（拒绝而不是不限频），Retry-After 头"
            ),
        },
    )
    def get(self, request):
        return _response(request)

    def dispatch(self, request, *args, **kwargs):
        """A GET is answered here, without DRF's request and response cycle (wrapping,
        negotiation, parsers, renderer: a third of the check's time in the process, the
        busiest URL of the site): the same answer as ``get``, which the schema documents
        and HEAD and OPTIONS still go through."""
        if request.method != "GET":
            return super().dispatch(request, *args, **kwargs)
        # No authentication is read (as DRF does with no authentication classes): a
        # session's user is not even loaded, and the answer is the same for everyone.
        request.user = AnonymousUser()
        return _response(request)


def _response(request) -> HttpResponse:
    """One check's answer: compact UTF-8 JSON, as DRF's JSONRenderer writes it."""
    status, body, headers = _answer(request)
    response = HttpResponse(
        json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        status=status,
        content_type="application/json",
    )
    for name, value in headers.items():
        response[name] = value
    return response


def _answer(request) -> tuple[int, dict, dict[str, str]]:
    """(status, body, headers) of one check; counted, rate-limited per client address."""
    headers = {"Cache-Control": "no-store"}
    try:
        wait = limits.retry_after(request, limits.CHECK)
    except limits.Unavailable:
        return 503, error_body("unavailable", limits.UNAVAILABLE), headers | {"Retry-After": "60"}
    counting.count(client_ip(request), limited=wait is not None)
    if wait is not None:
        body = error_body("throttled", limits.limit_message(wait))
        return 429, body, headers | {"Retry-After": str(wait)}
    try:
        result = check_number(request.GET.get("number", ""))
    except InvalidNumber as exc:
        return 400, error_body("invalid_number", exc.message), headers
    return 200, result.as_dict(), headers
