"""The API's page numbers (issue 17 §2): ``?page=`` is a positive integer, documented with
its bounds; anything else is a 400 in the one error shape, a page past the end a 404."""

from __future__ import annotations

from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import PageNumberPagination


class PagePagination(PageNumberPagination):
    last_page_strings = ()  # "?page=last" is not an integer: the schema does not offer it

    def get_page_number(self, request, paginator):
        text = request.query_params.get(self.page_query_param)
        if text is None:
            return 1
        if not (text.isascii() and text.isdigit()) or int(text) < 1:
            raise ValidationError({self.page_query_param: ["页码应为从 1 开始的整数"]})
        return int(text)

    def paginate_queryset(self, queryset, request, view=None):
        try:
            return super().paginate_queryset(queryset, request, view)
        except NotFound as exc:
            raise NotFound("页码超出末页") from exc

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": self.page_query_param,
                "required": False,
                "in": "query",
                "description": f"页码，从 1 开始，每页 {self.page_size} 条；超出末页为 404",
                "schema": {"type": "integer", "minimum": 1},
            }
        ]
