"""Findings, disposal cases and appeals under /api/oversight/ (issue 14 §7). Thin: reads
start from ``visible_to(request.user)`` (another organisation's object is a 404), writes go
through oversight.casework (who may is checked there: 403 with the reason). Files (处置凭证,
申诉材料) are multipart uploads with the same checks as the pages."""

from __future__ import annotations

import django_filters
from django.db.models import Q, Subquery
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.settings import api_settings

from portal.api import TextField, YesNoField
from portal.errors import choices_text
from portal.filters import BooleanFilter, IdFilter
from portal.models import Organisation, OrgKind
from portal.permissions import OrganisationKinds

from . import casework
from .cases import (
    Appeal,
    AppealStatus,
    CaseEvent,
    CaseStatus,
    DisposalAction,
    DisposalCase,
    Review,
)
from .models import Finding, FindingCode, FindingState, ReconciliationRun, RunStatus

PARTIES = (OrgKind.REGULATOR, OrgKind.FINANCIAL_REGULATOR, OrgKind.INSTITUTION, OrgKind.CARRIER)
NOT_FOUND = OpenApiResponse(description="不存在，或不属于调用者可见的范围")
FORBIDDEN = OpenApiResponse(description="无权限：该操作只能由规定的单位和角色办理")
CONFLICT = OpenApiResponse(description="状态不允许（如案件已办结、已有待处理申诉）")


class Parties(OrganisationKinds):
    kinds = PARTIES


class FindingSerializer(serializers.ModelSerializer):
    code = serializers.ChoiceField(choices=FindingCode.choices, help_text=choices_text(FindingCode))
    state = serializers.ChoiceField(choices=FindingState.choices)
    review = serializers.ChoiceField(choices=Review.choices, help_text=choices_text(Review))
    review_reason = serializers.SerializerMethodField(help_text="当前研判理由")
    institution = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    other_institution = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    carrier = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)

    class Meta:
        model = Finding
        fields = (
            "id",
            "run",
            "code",
            "identity",
            "state",
            "number",
            "institution",
            "other_institution",
            "carrier",
            "object_name",
            "object_credit_code",
            "complaint_count",
            "review",
            "review_reason",
        )
        read_only_fields = fields

    def get_review_reason(self, obj) -> str:
        return obj.decision.reason if obj.decision_id and obj.decision else ""


# What a review may decide (named in the schema: portal/settings.py ENUM_NAME_OVERRIDES).
REVIEW_DECISIONS = [(Review.CONFIRMED.value, "确认"), (Review.DISMISSED.value, "排除")]


class FindingReviewSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(
        choices=REVIEW_DECISIONS,
        help_text="confirmed（确认）或 dismissed（排除）",
    )
    reason = TextField(max_length=casework.REASON_MAX, help_text="研判理由")


class FindingBulkReviewSerializer(FindingReviewSerializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        min_length=1,
        max_length=casework.BULK_MAX,
        help_text=f"问题线索 id（最多 {casework.BULK_MAX} 条）",
    )


class ReviewResultSerializer(serializers.Serializer):
    reviewed = serializers.IntegerField(help_text="研判的线索数")


class OrderSerializer(serializers.Serializer):
    action = serializers.ChoiceField(
        choices=DisposalAction.choices, help_text=choices_text(DisposalAction)
    )
    instruction = TextField(
        max_length=casework.TEXT_MAX, required=False, allow_blank=True, default=""
    )
    carrier = serializers.PrimaryKeyRelatedField(
        queryset=Organisation.objects.filter(kind=OrgKind.CARRIER),
        required=False,
        allow_null=True,
        default=None,
        help_text="承办运营商 id（线索未指明运营商时必填）",
    )


class EventSerializer(serializers.ModelSerializer):
    organisation = serializers.CharField(
        source="organisation.name", default="系统", read_only=True, help_text="办理单位"
    )

    class Meta:
        model = CaseEvent
        fields = ("kind", "label", "note", "organisation", "at")
        read_only_fields = fields


class CaseSerializer(serializers.ModelSerializer):
    action = serializers.ChoiceField(choices=DisposalAction.choices)
    status = serializers.ChoiceField(choices=CaseStatus.choices, help_text=choices_text(CaseStatus))
    action_taken = serializers.CharField(help_text="已采取措施：" + choices_text(DisposalAction))
    is_overdue = serializers.BooleanField(read_only=True, help_text="是否已逾期")
    carrier = serializers.PrimaryKeyRelatedField(read_only=True)
    institution = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    has_evidence = serializers.SerializerMethodField(help_text="是否已上传处置凭证")
    events = EventSerializer(many=True, read_only=True)

    class Meta:
        model = DisposalCase
        fields = (
            "id",
            "case_number",
            "finding",
            "code",
            "number",
            "carrier",
            "institution",
            "action",
            "instruction",
            "status",
            "ordered_at",
            "deadline",
            "is_overdue",
            "overdue_since",
            "action_taken",
            "action_date",
            "action_note",
            "has_evidence",
            "reported_at",
            "dispute_reason",
            "verified_at",
            "verify_note",
            "restore_deadline",
            "restored_on",
            "events",
        )
        read_only_fields = fields

    def get_has_evidence(self, obj) -> bool:
        return bool(obj.evidence)


class CaseReportSerializer(serializers.Serializer):
    action_taken = serializers.ChoiceField(choices=DisposalAction.choices)
    action_date = serializers.DateField(help_text="处置日期（不晚于今天）")
    note = TextField(max_length=casework.TEXT_MAX, help_text="处置情况")
    document = serializers.FileField(help_text="处置凭证：PDF、JPG、PNG、OFD 或 Excel，10 MB 以内")


class ReasonSerializer(serializers.Serializer):
    reason = TextField(max_length=casework.TEXT_MAX)


class VerifySerializer(serializers.Serializer):
    accepted = YesNoField(help_text="true 办结；false 退回运营商（须填意见）")
    note = TextField(max_length=casework.REASON_MAX, required=False, allow_blank=True, default="")


class AnswerSerializer(serializers.Serializer):
    maintain = YesNoField(help_text="true 维持处置要求；false 采纳异议、撤销处置")
    note = TextField(max_length=casework.REASON_MAX)


class RestoreSerializer(serializers.Serializer):
    restored_on = serializers.DateField(help_text="恢复日期（不晚于今天）")
    note = TextField(max_length=casework.REASON_MAX)


class AppealSerializer(serializers.ModelSerializer):
    status = serializers.ChoiceField(
        choices=AppealStatus.choices, help_text=choices_text(AppealStatus)
    )
    appellant = serializers.PrimaryKeyRelatedField(read_only=True)
    institution = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    case = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    has_document = serializers.SerializerMethodField(help_text="是否附有申诉材料")
    events = EventSerializer(many=True, read_only=True)

    class Meta:
        model = Appeal
        fields = (
            "id",
            "finding",
            "case",
            "number",
            "institution",
            "appellant",
            "lodged_at",
            "reasons",
            "has_document",
            "status",
            "decision_reason",
            "decided_at",
            "events",
        )
        read_only_fields = fields

    def get_has_document(self, obj) -> bool:
        return bool(obj.document)


class AppealWriteSerializer(serializers.Serializer):
    finding = serializers.IntegerField(min_value=1, max_value=2**63 - 1, help_text="问题线索 id")
    reasons = TextField(max_length=casework.TEXT_MAX, help_text="申诉理由")
    document = serializers.FileField(required=False, help_text="申诉材料（可选）")


class AppealDecideSerializer(serializers.Serializer):
    upheld = YesNoField(help_text="true 申诉成立；false 驳回")
    reason = TextField(max_length=casework.TEXT_MAX, help_text="处理意见")


# --- filters ---------------------------------------------------------------------------


class FindingFilter(django_filters.FilterSet):
    run = IdFilter(field_name="run_id", help_text="比对 id（默认最近一次完成的比对）")
    code = django_filters.ChoiceFilter(choices=FindingCode.choices, help_text="问题类型")
    state = django_filters.ChoiceFilter(choices=FindingState.choices, help_text="新增/持续/已消除")
    review = django_filters.ChoiceFilter(choices=Review.choices, help_text="研判状态")
    institution = IdFilter(method="filter_institution", help_text="机构 id")
    carrier = IdFilter(field_name="carrier_id", help_text="运营商 id")

    class Meta:
        model = Finding
        fields: list[str] = []

    def filter_institution(self, queryset, name, value):
        return queryset.filter(Q(institution_id=value) | Q(other_institution_id=value))


class CaseFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=CaseStatus.choices, help_text="状态")
    overdue = BooleanFilter(method="filter_overdue", help_text="true 只看逾期；false 只看未逾期")
    carrier = IdFilter(field_name="carrier_id", help_text="运营商 id")
    institution = IdFilter(field_name="institution_id", help_text="机构 id")

    class Meta:
        model = DisposalCase
        fields: list[str] = []

    def filter_overdue(self, queryset, name, value):
        overdue = queryset.overdue()
        return overdue if value else queryset.exclude(pk__in=overdue.values("pk"))


class AppealFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=AppealStatus.choices, help_text="状态")

    class Meta:
        model = Appeal
        fields: list[str] = []


# --- viewsets --------------------------------------------------------------------------

FINDINGS = ["问题线索"]
CASES = ["处置案件"]
APPEALS = ["申诉"]


@extend_schema_view(
    list=extend_schema(summary="问题线索列表（默认最近一次比对，未消除的）", tags=FINDINGS),
    retrieve=extend_schema(
        summary="问题线索详情", tags=FINDINGS, responses={200: FindingSerializer, 404: NOT_FOUND}
    ),
)
class FindingViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    permission_classes = [*api_settings.DEFAULT_PERMISSION_CLASSES, Parties]
    serializer_class = FindingSerializer
    filterset_class = FindingFilter
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self):
        qs = Finding.objects.visible_to(self.request.user).select_related("decision")
        if self.action == "list":
            if "run" not in self.request.query_params:
                # A subquery, not a query now: the schema generator calls this too.
                latest = ReconciliationRun.objects.filter(status=RunStatus.DONE).order_by("-pk")
                qs = qs.filter(run_id=Subquery(latest.values("pk")[:1]))
            if "state" not in self.request.query_params:
                qs = qs.exclude(state=FindingState.RESOLVED)
        return qs.order_by("code", "number", "pk")

    @extend_schema(
        summary="研判一条线索：确认或排除（通信管理局管理员、经办人）",
        tags=FINDINGS,
        request=FindingReviewSerializer,
        responses={200: FindingSerializer, 403: FORBIDDEN, 404: NOT_FOUND, 409: CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def review(self, request, pk=None):
        finding = self.get_object()
        data = FindingReviewSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        casework.finding_review(actor=request.user, findings=[finding], **data.validated_data)
        finding.refresh_from_db()
        return Response(FindingSerializer(finding).data)

    @extend_schema(
        summary="批量研判（所列 id 须均可见且未消除）",
        operation_id="oversight_findings_review_many",
        tags=FINDINGS,
        request=FindingBulkReviewSerializer,
        responses={200: ReviewResultSerializer, 403: FORBIDDEN, 404: NOT_FOUND, 409: CONFLICT},
    )
    @action(detail=False, methods=["post"], url_path="review")
    def review_many(self, request):
        data = FindingBulkReviewSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        ids = set(data.validated_data["ids"])
        findings = list(Finding.objects.visible_to(request.user).filter(pk__in=ids))
        if len(findings) != len(ids):
            from rest_framework.exceptions import NotFound

            raise NotFound("部分问题线索不存在或不可见")
        n = casework.finding_review(
            actor=request.user,
            findings=findings,
            decision=data.validated_data["decision"],
            reason=data.validated_data["reason"],
        )
        return Response({"reviewed": n})

    @extend_schema(
        summary="对已确认线索下达处置要求（通信管理局管理员、经办人）",
        tags=CASES,
        request=OrderSerializer,
        responses={201: CaseSerializer, 403: FORBIDDEN, 404: NOT_FOUND, 409: CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def order(self, request, pk=None):
        finding = self.get_object()
        data = OrderSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        case = casework.case_order(actor=request.user, finding=finding, **data.validated_data)
        return Response(CaseSerializer(case).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    list=extend_schema(summary="处置案件列表", tags=CASES),
    retrieve=extend_schema(
        summary="处置案件详情（含办理过程）",
        tags=CASES,
        responses={200: CaseSerializer, 404: NOT_FOUND},
    ),
)
class CaseViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    permission_classes = [*api_settings.DEFAULT_PERMISSION_CLASSES, Parties]
    serializer_class = CaseSerializer
    filterset_class = CaseFilter
    http_method_names = ["get", "post", "head", "options"]
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    def get_queryset(self):
        return (
            DisposalCase.objects.visible_to(self.request.user)
            .prefetch_related("events__organisation")
            .order_by("-ordered_at", "-pk")
        )

    def _done(self, case):
        case.refresh_from_db()
        return Response(CaseSerializer(case).data)

    @extend_schema(
        summary="运营商反馈处置情况（multipart，附处置凭证）",
        tags=CASES,
        request={"multipart/form-data": CaseReportSerializer},
        responses={200: CaseSerializer, 403: FORBIDDEN, 404: NOT_FOUND, 409: CONFLICT},
    )
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser, FormParser])
    def report(self, request, pk=None):
        case = self.get_object()
        data = CaseReportSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        d = data.validated_data
        casework.case_report(
            actor=request.user,
            case=case,
            action_taken=d["action_taken"],
            action_date=d["action_date"],
            note=d["note"],
            evidence=d["document"],
        )
        return self._done(case)

    @extend_schema(
        summary="运营商对处置要求提出异议",
        tags=CASES,
        request=ReasonSerializer,
        responses={200: CaseSerializer, 403: FORBIDDEN, 404: NOT_FOUND, 409: CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def dispute(self, request, pk=None):
        case = self.get_object()
        data = ReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        casework.case_dispute(actor=request.user, case=case, **data.validated_data)
        return self._done(case)

    @extend_schema(
        summary="核验处置情况：办结或退回（通信管理局）",
        tags=CASES,
        request=VerifySerializer,
        responses={200: CaseSerializer, 403: FORBIDDEN, 404: NOT_FOUND, 409: CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def verify(self, request, pk=None):
        case = self.get_object()
        data = VerifySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        casework.case_verify(actor=request.user, case=case, **data.validated_data)
        return self._done(case)

    @extend_schema(
        summary="答复运营商异议：维持或撤销（通信管理局）",
        tags=CASES,
        request=AnswerSerializer,
        responses={200: CaseSerializer, 403: FORBIDDEN, 404: NOT_FOUND, 409: CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def answer(self, request, pk=None):
        case = self.get_object()
        data = AnswerSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        casework.case_answer_dispute(actor=request.user, case=case, **data.validated_data)
        return self._done(case)

    @extend_schema(
        summary="申诉成立后运营商反馈号码已恢复",
        tags=CASES,
        request=RestoreSerializer,
        responses={200: CaseSerializer, 403: FORBIDDEN, 404: NOT_FOUND, 409: CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def restore(self, request, pk=None):
        case = self.get_object()
        data = RestoreSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        casework.case_restore(actor=request.user, case=case, **data.validated_data)
        return self._done(case)


@extend_schema_view(
    list=extend_schema(summary="申诉列表", tags=APPEALS),
    retrieve=extend_schema(
        summary="申诉详情（含办理过程）",
        tags=APPEALS,
        responses={200: AppealSerializer, 404: NOT_FOUND},
    ),
)
class AppealViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    permission_classes = [*api_settings.DEFAULT_PERMISSION_CLASSES, Parties]
    serializer_class = AppealSerializer
    filterset_class = AppealFilter
    http_method_names = ["get", "post", "head", "options"]
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    def get_queryset(self):
        return (
            Appeal.objects.visible_to(self.request.user)
            .prefetch_related("events__organisation")
            .order_by("-lodged_at", "-pk")
        )

    @extend_schema(
        summary="提出申诉（所涉机构或承办运营商；处置下达后规定工作日内）",
        tags=APPEALS,
        request={
            "multipart/form-data": AppealWriteSerializer,
            "application/json": AppealWriteSerializer,
        },
        responses={201: AppealSerializer, 403: FORBIDDEN, 404: NOT_FOUND, 409: CONFLICT},
    )
    def create(self, request):
        data = AppealWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        d = data.validated_data
        from django.shortcuts import get_object_or_404

        finding = get_object_or_404(Finding.objects.visible_to(request.user), pk=d["finding"])
        appeal = casework.appeal_lodge(
            actor=request.user, finding=finding, reasons=d["reasons"], document=d.get("document")
        )
        return Response(AppealSerializer(appeal).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="处理申诉：成立或驳回（通信管理局）",
        tags=APPEALS,
        request=AppealDecideSerializer,
        responses={200: AppealSerializer, 403: FORBIDDEN, 404: NOT_FOUND, 409: CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def decide(self, request, pk=None):
        appeal = self.get_object()
        data = AppealDecideSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        casework.appeal_decide(actor=request.user, appeal=appeal, **data.validated_data)
        appeal.refresh_from_db()
        return Response(AppealSerializer(appeal).data)
