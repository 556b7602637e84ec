"""Registry API under /api/registry/: numbers, partners, imports. Thin: reads start from
``visible_to(request.user)`` (another institution's object is a 404), writes go through
registry.services and only for the institution's own 管理员/经办人 (403 otherwise)."""

from __future__ import annotations

import django_filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.settings import api_settings

from portal.errors import PortalError
from portal.filters import BooleanFilter, IdFilter
from portal.permissions import OrganisationKinds
from portal.spreadsheets.api import UploadJobFilter, UploadJobViewSet

from . import selectors, services
from .forms import COLUMN_FIELDS, DOCUMENT_CONTENT_TYPES, column_values, number_initial
from .importers import register
from .models import Partner, RegisteredNumber, Status
from .serializers import (
    PURPOSE_CHOICES,
    ImportCreatedSerializer,
    ImportJobSerializer,
    ImportUploadSerializer,
    NumberEndSerializer,
    NumberSerializer,
    NumberVersionSerializer,
    NumberWriteSerializer,
    PartnerSerializer,
    PartnerWriteSerializer,
    purpose_code,
)
from .views import partner_document_response

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
NOT_FOUND = OpenApiResponse(description="不存在，或不属于调用者可见的机构")
FORBIDDEN = OpenApiResponse(description="无写权限：查看角色、监管部门或非金融机构")


def require_writer(user, institution_id: int | None = None) -> None:
    """services.write_denial, as a 403 with its code. Callers look the object up through
    ``visible_to`` first, so another institution's object is already a 404."""
    denial = services.write_denial(user, institution_id)
    if denial is not None:
        raise denial


class RegistryReader(OrganisationKinds):
    """Carriers have no registry (the pages are a 404): neither has the API (issue 10 §6)."""

    kinds = selectors.READERS


def _with_api_field(exc: PortalError) -> PortalError:
    """Services name the Chinese column; the API speaks its English field names."""
    if exc.field in COLUMN_FIELDS:
        exc.field = COLUMN_FIELDS[exc.field]
    return exc


# --- numbers -----------------------------------------------------------------------------


class NumberFilter(django_filters.FilterSet):
    number = django_filters.CharFilter(
        method="filter_number", help_text="号码，任意写法，按纯数字子串匹配"
    )
    purpose = django_filters.ChoiceFilter(
        method="filter_purpose",
        choices=PURPOSE_CHOICES,
        help_text="用途：marketing / collection / both，或 营销 / 催收 / 营销及催收",
    )
    carrier = django_filters.CharFilter(method="filter_carrier", help_text="电信运营商")
    status = django_filters.ChoiceFilter(
        method="filter_status",
        choices=selectors.status_filter_choices(),
        help_text="状态，默认 active（在用）；all 为全部",
    )
    kind = django_filters.ChoiceFilter(
        method="filter_kind", choices=selectors.kind_filter_choices(), help_text="号码类型"
    )
    shared = BooleanFilter(
        method="filter_shared", help_text="多机构登记：true 只列其他机构也登记在用的号码"
    )
    partner = IdFilter(field_name="partner_id", help_text="合作单位 id")
    institution = IdFilter(field_name="institution_id", help_text="机构 id（监管部门使用）")

    class Meta:
        model = RegisteredNumber
        fields: list[str] = []

    def filter_number(self, queryset, name, value):
        return selectors.filter_numbers(queryset, q=value, status="")

    def filter_purpose(self, queryset, name, value):
        return selectors.filter_numbers(queryset, purpose=purpose_code(value), status="")

    def filter_carrier(self, queryset, name, value):
        return selectors.filter_numbers(queryset, carrier=value, status="")

    def filter_status(self, queryset, name, value):
        return selectors.filter_numbers(queryset, status=value)

    def filter_shared(self, queryset, name, value):
        return selectors.filter_numbers(queryset, shared="1" if value else "0", status="")

    def filter_kind(self, queryset, name, value):
        return selectors.filter_numbers(queryset, kind=value, status="")

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        if not self.form.cleaned_data.get("status"):
            queryset = queryset.filter(status=Status.ACTIVE)
        return queryset


@extend_schema_view(
    list=extend_schema(summary="号码登记列表（默认只列在用）", tags=["号码备案"]),
    retrieve=extend_schema(
        summary="号码登记详情", tags=["号码备案"], responses={200: NumberSerializer, 404: NOT_FOUND}
    ),
)
class NumberViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    permission_classes = [*api_settings.DEFAULT_PERMISSION_CLASSES, RegistryReader]
    # JSON only: a form encoding has no null (valid_to), and a number has no file to send.
    parser_classes = [JSONParser]
    serializer_class = NumberSerializer
    filterset_class = NumberFilter
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        return (
            RegisteredNumber.objects.visible_to(self.request.user)
            .select_related("institution", "partner", "created_by")
            .with_shared_mark()
            .order_by("number", "institution_id", "-id")
        )

    def filter_queryset(self, queryset):
        # The list's filters (and its default of 在用) never hide an object fetched by id.
        if self.action != "list":
            return queryset
        return super().filter_queryset(queryset)

    @extend_schema(
        summary="登记号码",
        tags=["号码备案"],
        request=NumberWriteSerializer,
        responses={201: NumberSerializer, 403: FORBIDDEN},
    )
    def create(self, request):
        user = request.user
        require_writer(user)
        data = NumberWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            row = services.number_register(
                actor=user, institution=user.organisation, fields=column_values(data.validated_data)
            )
        except PortalError as exc:
            raise _with_api_field(exc) from exc
        return Response(NumberSerializer(row).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="修改号码登记（原登记保留为历史版本）",
        tags=["号码备案"],
        request=NumberWriteSerializer(partial=True),
        responses={200: NumberSerializer, 403: FORBIDDEN, 404: NOT_FOUND},
    )
    def partial_update(self, request, pk=None):
        number = self.get_object()
        require_writer(request.user, number.institution_id)
        data = NumberWriteSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        merged = {**number_initial(number), **data.validated_data}
        try:
            row = services.number_update(
                actor=request.user, number=number, fields=column_values(merged)
            )
        except PortalError as exc:
            raise _with_api_field(exc) from exc
        return Response(NumberSerializer(row).data)

    @extend_schema(
        summary="终止号码登记",
        tags=["号码备案"],
        request=NumberEndSerializer,
        responses={200: NumberSerializer, 403: FORBIDDEN, 404: NOT_FOUND},
    )
    @action(detail=True, methods=["post"])
    def end(self, request, pk=None):
        number = self.get_object()
        require_writer(request.user, number.institution_id)
        data = NumberEndSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        row = services.number_end(actor=request.user, number=number, **data.validated_data)
        return Response(NumberSerializer(row).data)

    @extend_schema(
        summary="号码登记的全部版本（含历史版本与终止）",
        tags=["号码备案"],
        responses={200: NumberVersionSerializer(many=True), 404: NOT_FOUND},
    )
    @action(detail=True, methods=["get"], pagination_class=None)
    def history(self, request, pk=None):
        number = self.get_object()
        versions = []
        for entry in selectors.number_history(user=request.user, number=number):
            row = entry.row
            row.event = entry.event
            row.changes = [
                {"field": label, "before": before, "after": after}
                for label, before, after in entry.changes
            ]
            versions.append(row)
        return Response(NumberVersionSerializer(versions, many=True).data)


# --- partners ----------------------------------------------------------------------------


class PartnerFilter(django_filters.FilterSet):
    institution = IdFilter(field_name="institution_id", help_text="机构 id（监管部门使用）")

    class Meta:
        model = Partner
        fields: list[str] = []


@extend_schema_view(
    list=extend_schema(summary="委托合作单位列表", tags=["合作单位"]),
    retrieve=extend_schema(
        summary="委托合作单位详情",
        tags=["合作单位"],
        responses={200: PartnerSerializer, 404: NOT_FOUND},
    ),
)
class PartnerViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    permission_classes = [*api_settings.DEFAULT_PERMISSION_CLASSES, RegistryReader]
    serializer_class = PartnerSerializer
    parser_classes = [JSONParser, MultiPartParser, FormParser]
    filterset_class = PartnerFilter

    def get_queryset(self):
        return selectors.partners_for_list(user=self.request.user)

    def _save(self, request, partner: Partner | None, *, partial: bool) -> tuple[Partner, bool]:
        data = PartnerWriteSerializer(data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        if partner is not None:
            values = {
                "name": partner.name,
                "credit_code": partner.credit_code,
                "kind": partner.kind,
                "document_number": partner.document_number,
                "valid_from": partner.valid_from,
                "valid_to": partner.valid_to,
                "contact": partner.contact,
                **values,
            }
        institution = partner.institution if partner else request.user.organisation
        return services.partner_save(
            actor=request.user, institution=institution, partner=partner, **values
        )

    @extend_schema(
        summary="登记委托合作单位（可同时上传委托书，multipart）",
        tags=["合作单位"],
        request={
            "multipart/form-data": PartnerWriteSerializer,
            "application/json": PartnerWriteSerializer,
        },
        responses={
            201: PartnerSerializer,
            200: OpenApiResponse(PartnerSerializer, description="同一信用代码已登记：已更新"),
            403: FORBIDDEN,
        },
    )
    def create(self, request):
        require_writer(request.user)
        partner, created = self._save(request, None, partial=False)
        return Response(
            PartnerSerializer(partner).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(
        summary="修改委托合作单位",
        tags=["合作单位"],
        request={
            "multipart/form-data": PartnerWriteSerializer,
            "application/json": PartnerWriteSerializer,
        },
        responses={200: PartnerSerializer, 403: FORBIDDEN, 404: NOT_FOUND},
    )
    def update(self, request, pk=None):
        partner = self.get_object()
        require_writer(request.user, partner.institution_id)
        partner, _ = self._save(request, partner, partial=False)
        return Response(PartnerSerializer(partner).data)

    @extend_schema(
        summary="修改委托合作单位（部分字段）",
        tags=["合作单位"],
        request={
            "multipart/form-data": PartnerWriteSerializer(partial=True),
            "application/json": PartnerWriteSerializer(partial=True),
        },
        responses={200: PartnerSerializer, 403: FORBIDDEN, 404: NOT_FOUND},
    )
    def partial_update(self, request, pk=None):
        partner = self.get_object()
        require_writer(request.user, partner.institution_id)
        partner, _ = self._save(request, partner, partial=True)
        return Response(PartnerSerializer(partner).data)

    @extend_schema(
        summary="下载委托书文件",
        tags=["合作单位"],
        responses={
            **{(200, kind): OpenApiTypes.BINARY for kind in DOCUMENT_CONTENT_TYPES},
            404: OpenApiResponse(description="不存在、不可见，或未上传委托书"),
        },
    )
    @action(detail=True, methods=["get"])
    def document(self, request, pk=None):
        return partner_document_response(self.get_object())


# --- imports -----------------------------------------------------------------------------


class ImportJobFilter(UploadJobFilter):
    institution = IdFilter(field_name="organisation_id", help_text="机构 id（监管部门使用）")


@extend_schema_view(
    list=extend_schema(summary="号码登记表导入任务列表", tags=["批量导入"]),
    retrieve=extend_schema(
        summary="导入任务详情（进度与结果）",
        tags=["批量导入"],
        responses={200: ImportJobSerializer, 404: NOT_FOUND},
    ),
    error_report=extend_schema(summary="下载导入错误报告（xlsx）", tags=["批量导入"]),
)
class ImportJobViewSet(UploadJobViewSet):
    """The engine's job API for the 号码登记表, plus its upload."""

    permission_classes = [*api_settings.DEFAULT_PERMISSION_CLASSES, RegistryReader]

    serializer_class = ImportJobSerializer
    parser_classes = [MultiPartParser, FormParser]
    filterset_class = ImportJobFilter
    form_code = register.FORM.code

    @extend_schema(
        summary="上传号码登记表（后台导入）",
        description="返回 201 与新任务；同一文件（内容相同）已上传过时返回 200 与原任务，"
        "`duplicate` 为 true，不会重复导入。",
        tags=["批量导入"],
        request={"multipart/form-data": ImportUploadSerializer},
        responses={
            201: ImportCreatedSerializer,
            200: OpenApiResponse(ImportCreatedSerializer, description="重复上传：原任务"),
            403: FORBIDDEN,
        },
    )
    def create(self, request):
        user = request.user
        require_writer(user)
        data = ImportUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        job, created = services.import_job_create(
            actor=user,
            institution=user.organisation,
            upload=upload,
            original_name=upload.name,
            mode=data.validated_data["mode"],
        )
        body = {**ImportJobSerializer(job).data, "duplicate": not created}
        if not created:
            body["detail"] = services.duplicate_message(job)
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)
