"""The OpenAPI schema of the API (issue 17 §1–2): the one error shape as a component, and an
AutoSchema that adds to every operation each error status it can return, so that an API a
later issue adds is documented (and checked by ``make api-contract``) with no extra work.

Which statuses an operation can return follows from the operation itself:

- every operation: 401 (no or a bad token, an expired session; not for a view that reads
  no credentials, ``authentication_classes = []``), 429 (throttled), 500;
- 403 unless the view lets anyone in (a one-time password, a role without write rights);
- 404 with a path parameter, on a paginated list (a page past the end), or when a
  permission answers a role without the capability with a 404 (``denies_with_404``);
- 400 with a request body, a page parameter, or a query parameter that can be invalid
  (anything but a free string);
- 409 on a write (a conflict with the current state: already registered, already ended);
- 415 with a request body.

A status the view declares itself (``extend_schema(responses=...)``) keeps its own
description; every error response has the error shape as its body.
"""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers
from rest_framework.permissions import AllowAny

from .filters import ID_SCHEMA

ERROR_DESCRIPTIONS = {
    "400": "请求不符合接口约定或登记规则：code 为 invalid（fields 指明每个字段的错误）、"
    "parse_error（请求内容无法解析）、bad_date、bad_request（请求过大等）",
    "401": "未认证：not_authenticated（未提供令牌或未登录）、token_invalid、token_expired、"
    "token_revoked、token_malformed、user_inactive、session_expired",
    "403": "无权限：forbidden、viewer_read_only（查看角色只读）、not_institution、"
    "password_change_required（须先修改初始密码）等",
    "404": "not_found：不存在、不属于调用者可见的单位、页码超出末页，或调用者的单位类型没有此功能",
    "409": "与当前状态冲突：conflict（如号码已登记、登记已终止或已被修改）、"
    "calendar_year_missing（工作日历未包含该年份）",
    "415": "unsupported_media_type：请求内容类型不受支持",
    "429": "throttled：请求过于频繁，Retry-After 头给出等待秒数",
    "500": "server_error：服务器内部错误，detail 中给出请求编号，供平台运维查询日志",
}
SUCCESS_DESCRIPTIONS = {"200": "成功", "201": "已创建", "204": "成功，无响应内容"}
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


class ApiErrorSerializer(serializers.Serializer):
    """The one shape of every API error (``portal.api.error_body``)."""

    code = serializers.CharField(
        help_text="稳定的错误代码（英文），如 invalid、not_found、conflict"
    )
    detail = serializers.CharField(help_text="中文说明，可直接展示给用户")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="仅校验错误（invalid 等）：字段名 → 该字段的错误说明",
    )


def _free_string(parameter: dict) -> bool:
    schema = parameter.get("schema", {})
    return schema.get("type") == "string" and not (
        set(schema) & {"enum", "format", "pattern", "minLength", "maxLength"}
    )


class PortalAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema with the error responses of every operation."""

    def get_description(self):
        # Docstrings are written for developers, in English; an operation's text for the
        # API's users comes from extend_schema(description=...), in Chinese.
        return ""

    def _map_basic_serializer(self, serializer, direction):
        schema = super()._map_basic_serializer(serializer, direction)
        schema.pop("description", None)  # the serializer's docstring, as above
        return schema

    def get_filter_backends(self):
        # A detail action (``/{id}/history/``) never filters a list, even when it answers
        # one: only a list advertises the list's filters.
        if getattr(self.view, "detail", False):
            return []
        return super().get_filter_backends()

    def error_statuses(self, operation: dict) -> list[str]:
        parameters = operation.get("parameters", [])
        body = "requestBody" in operation
        paginated = self._is_list_view() and self._get_paginator() is not None
        permissions = getattr(self.view, "permission_classes", [])
        open_to_all = bool(permissions) and all(issubclass(p, AllowAny) for p in permissions)
        # A view that reads no credentials at all (the public number check) never says 401.
        anonymous = getattr(self.view, "authentication_classes", None) == []
        statuses = ["429", "500"] if anonymous else ["401", "429", "500"]
        if not open_to_all:
            statuses.append("403")
        if (
            any(p["in"] == "path" for p in parameters)
            or paginated
            or any(getattr(p, "denies_with_404", False) for p in permissions)
        ):
            statuses.append("404")
        if body or paginated or any(p["in"] == "query" and not _free_string(p) for p in parameters):
            statuses.append("400")
        if self.method in WRITE_METHODS:
            statuses.append("409")
        if body:
            statuses.append("415")
        return sorted(statuses)

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        error = self.resolve_serializer(ApiErrorSerializer(), "response").ref
        content = {"application/json": {"schema": error}}
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "path" and parameter["schema"].get("type") == "integer":
                parameter["schema"] = {**parameter["schema"], **ID_SCHEMA}
        responses = operation["responses"]
        for status in self.error_statuses(operation):
            responses.setdefault(status, {"description": ERROR_DESCRIPTIONS[status]})
        for status, response in responses.items():
            if status[0] in "45":  # every error has the one shape, whatever a view declared
                response["content"] = content
                response["description"] = response.get("description") or ERROR_DESCRIPTIONS.get(
                    status, "错误：code 与 detail 说明原因"
                )
            elif not response.get("description"):
                response["description"] = SUCCESS_DESCRIPTIONS.get(status, "成功")
        operation["responses"] = dict(sorted(responses.items()))
        return operation
