"""Pages of oversight, part 2 (issue 14 §1–3): the review of findings (one by one and in
bulk), disposal cases (处置) and appeals (申诉, 002).

Who has what: the administration reviews, orders, verifies and decides appeals; a carrier
sees the cases ordered to it, reports the action taken or disputes, restores a number
after an upheld appeal; an institution sees the cases and appeals about its own numbers
and appeals; a financial regulator reads those about the institutions it supervises.
Another organisation's case or appeal is a 404; so is a page for the wrong kind."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Case, Q, When
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from portal.errors import PortalError
from portal.filters import bounded_id
from portal.models import Organisation, OrgKind, Role
from portal.views import paginate, require_kind, stored_file_response
from registry.forms import PortalForm

from . import casework
from .attachments import ATTACHMENT_ACCEPT
from .cases import (
    AWAITING_CARRIER,
    OPEN_CASE_STATUSES,
    Appeal,
    AppealStatus,
    CaseStatus,
    DisposalAction,
    DisposalCase,
    FindingDecision,
    Review,
)
from .models import Finding, FindingState

PARTIES = (OrgKind.REGULATOR, OrgKind.FINANCIAL_REGULATOR, OrgKind.INSTITUTION, OrgKind.CARRIER)


def _writer(user) -> bool:
    return user.kind == OrgKind.REGULATOR and user.role in (Role.ADMIN, Role.OPERATOR)


def _acts(user) -> bool:
    """An institution's or a carrier's admin/operator (a viewer reads only)."""
    return user.kind in (OrgKind.INSTITUTION, OrgKind.CARRIER) and user.role != Role.VIEWER


# --- forms --------------------------------------------------------------------------------


def _text(label: str, *, required: bool = True, rows: int = 3, limit: int = 500, help_text=""):
    return forms.CharField(
        label=label,
        required=required,
        max_length=limit,
        widget=forms.Textarea(attrs={"rows": rows}),
        help_text=help_text,
    )


def _file(label: str, *, required: bool, help_text: str):
    return forms.FileField(
        label=label,
        required=required,
        help_text=help_text,
        widget=forms.ClearableFileInput(attrs={"accept": ATTACHMENT_ACCEPT}),
    )


def _day(label: str):
    return forms.DateField(
        label=label, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )


class ReviewForm(PortalForm):
    decision = forms.ChoiceField(
        label="研判结论",
        choices=[
            (Review.CONFIRMED, "确认（属实，可下达处置）"),
            (Review.DISMISSED, "排除（不属实）"),
        ],
        widget=forms.RadioSelect,
    )
    reason = _text(
        "研判理由", rows=2, help_text="写明依据；排除的线索在证据不变时，之后的比对中保持排除"
    )


class OrderForm(PortalForm):
    action = forms.ChoiceField(
        label="处置要求", choices=DisposalAction.choices, widget=forms.RadioSelect
    )
    carrier = forms.ModelChoiceField(
        label="承办运营商",
        queryset=Organisation.objects.filter(kind=OrgKind.CARRIER, is_active=True),
        required=False,
        help_text="线索未指明运营商时必选",
    )
    instruction = _text("处置说明", required=False, limit=casework.TEXT_MAX)


class AppealForm(PortalForm):
    reasons = _text("申诉理由", rows=4, limit=casework.TEXT_MAX, help_text="说明业务的合法性")
    document = _file(
        "申诉材料", required=False, help_text="PDF、JPG、PNG、OFD 或 Excel，10 MB 以内"
    )


class ReportForm(PortalForm):
    action_taken = forms.ChoiceField(label="已采取措施", choices=DisposalAction.choices)
    action_date = _day("处置日期")
    note = _text("处置情况", limit=casework.TEXT_MAX)
    document = _file("处置凭证", required=True, help_text="停机工单、整改报告等：PDF、图片或 Excel")


class DisputeForm(PortalForm):
    reason = _text("异议理由", limit=casework.TEXT_MAX)


class VerifyForm(PortalForm):
    outcome = forms.ChoiceField(
        label="核验结论",
        choices=[("accept", "核验通过，办结"), ("return", "核验未通过，退回运营商")],
        widget=forms.RadioSelect,
    )
    note = _text("核验意见", required=False, rows=2, help_text="退回时必填")


class AnswerForm(PortalForm):
    outcome = forms.ChoiceField(
        label="答复",
        choices=[("maintain", "维持处置要求"), ("withdraw", "采纳异议，撤销处置")],
        widget=forms.RadioSelect,
    )
    note = _text("答复意见", rows=2)


class RestoreForm(PortalForm):
    restored_on = _day("恢复日期")
    note = _text("恢复情况", rows=2)


class AppealDecisionForm(PortalForm):
    outcome = forms.ChoiceField(
        label="处理结论",
        choices=[("upheld", "申诉成立（排除线索、撤销处置、恢复号码）"), ("rejected", "申诉驳回")],
        widget=forms.RadioSelect,
    )
    reason = _text("处理意见", limit=casework.TEXT_MAX)


# --- findings: review, order, appeal ---------------------------------------------------------


def finding_casework(request: HttpRequest, finding: Finding, **bound) -> dict:
    """The finding page's part of issue 14: decisions, cases, appeals and forms."""
    user = request.user
    decisions = FindingDecision.objects.filter(identity=finding.identity).select_related(
        "decided_by"
    )[:20]
    cases = DisposalCase.objects.visible_to(user).filter(identity=finding.identity)
    appeals = Appeal.objects.visible_to(user).filter(identity=finding.identity)
    open_case = next((c for c in cases if c.is_open), None)
    is_open = finding.state != FindingState.RESOLVED
    latest = not Finding.objects.filter(
        identity=finding.identity, run_id__gt=finding.run_id
    ).exists()
    parties = {finding.institution_id, finding.other_institution_id} | {c.carrier_id for c in cases}
    can_appeal = (
        _acts(user)
        and user.organisation_id in parties
        and (finding.review == Review.CONFIRMED or any(c.is_open for c in cases))
    )
    window = _window(finding, open_case or cases.first()) if can_appeal else None
    writer = _writer(user) and is_open and latest
    return {
        "decisions": decisions if user.kind in (OrgKind.REGULATOR,) else [],
        "cases": cases,
        "appeals": appeals,
        "latest_decision": decisions[0] if decisions else None,
        "review_form": bound.get("review_form") or (ReviewForm() if writer else None),
        "order_form": bound.get("order_form")
        or (
            OrderForm(initial={"carrier": finding.carrier_id})
            if writer and finding.review == Review.CONFIRMED and open_case is None
            else None
        ),
        "appeal_form": bound.get("appeal_form")
        or (AppealForm() if can_appeal and window and timezone.now() <= window else None),
        "appeal_window": window,
        "needs_carrier": finding.carrier_id is None,
    }


def _window(finding: Finding, case: DisposalCase | None):
    """The appeal deadline for the page; None when there is none, or when the calendar does
    not know the year it falls in (the appeal itself then says so, never a guessed date)."""
    try:
        return casework.appeal_window(finding, case)
    except PortalError:
        return None


def _finding(request: HttpRequest, pk: int) -> Finding:
    require_kind(request, *PARTIES)
    return get_object_or_404(
        Finding.objects.visible_to(request.user).select_related(
            "run", "institution", "other_institution", "carrier"
        ),
        pk=pk,
    )


def _finding_again(request: HttpRequest, finding: Finding, **bound) -> HttpResponse:
    from .views import finding_context

    return render(
        request,
        "oversight/findings/detail.html",
        finding_context(request, finding, **bound),
        status=400,
    )


@require_POST
@login_required
def finding_review(request: HttpRequest, pk: int) -> HttpResponse:
    finding = _finding(request, pk)
    if not _writer(request.user):
        raise Http404
    form = ReviewForm(request.POST)
    if form.is_valid():
        try:
            casework.finding_review(actor=request.user, findings=[finding], **form.cleaned_data)
        except PortalError as exc:
            form.add_portal_error(exc)
        else:
            messages.success(request, "已记录研判结论")
            return redirect("finding_detail", pk=finding.pk)
    return _finding_again(request, finding, review_form=form)


@require_POST
@login_required
def finding_review_bulk(request: HttpRequest) -> HttpResponse:
    """Confirm or dismiss the ticked findings, or every finding the filter matches."""
    from .views import finding_filters

    require_kind(request, OrgKind.REGULATOR)
    if not _writer(request.user):
        raise Http404
    run, qs, _filters = finding_filters(request)
    back = reverse("finding_list") + "?" + (request.POST.get("query") or "")
    form = ReviewForm(request.POST)
    if not form.is_valid():
        messages.error(request, "请选择研判结论并填写理由")
        return redirect(back)
    if request.POST.get("scope") != "all":
        ids = [i for i in (bounded_id(v) for v in request.POST.getlist("ids")) if i]
        qs = qs.filter(pk__in=ids)
    findings = list(qs[: casework.BULK_MAX + 1])
    try:
        n = casework.finding_review(actor=request.user, findings=findings, **form.cleaned_data)
    except PortalError as exc:
        messages.error(request, exc.message)
    else:
        label = Review(form.cleaned_data["decision"]).label
        messages.success(request, f"已将 {n} 条问题线索标记为“{label}”")
    return redirect(back)


@require_POST
@login_required
def finding_order(request: HttpRequest, pk: int) -> HttpResponse:
    finding = _finding(request, pk)
    if not _writer(request.user):
        raise Http404
    form = OrderForm(request.POST)
    if form.is_valid():
        try:
            case = casework.case_order(actor=request.user, finding=finding, **form.cleaned_data)
        except PortalError as exc:
            form.add_portal_error(exc)
        else:
            messages.success(request, f"已下达处置要求 {case.case_number}")
            return redirect("case_detail", pk=case.pk)
    return _finding_again(request, finding, order_form=form)


@require_POST
@login_required
def finding_appeal(request: HttpRequest, pk: int) -> HttpResponse:
    finding = _finding(request, pk)
    if not _acts(request.user):
        raise Http404
    form = AppealForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            appeal = casework.appeal_lodge(
                actor=request.user,
                finding=finding,
                reasons=form.cleaned_data["reasons"],
                document=form.cleaned_data.get("document"),
            )
        except PortalError as exc:
            form.add_portal_error(exc)
        else:
            messages.success(request, "申诉已提交，通信管理局处理后将通知贵单位")
            return redirect("appeal_detail", pk=appeal.pk)
    return _finding_again(request, finding, appeal_form=form)


# --- cases ---------------------------------------------------------------------------------


@login_required
def case_list(request: HttpRequest) -> HttpResponse:
    require_kind(request, *PARTIES)
    user = request.user
    g = request.GET
    filters = {k: g.get(k, "").strip() for k in ("status", "q", "carrier", "overdue")}
    qs = DisposalCase.objects.visible_to(user).select_related("carrier", "institution")
    if filters["status"] in CaseStatus.values:
        qs = qs.filter(status=filters["status"])
    elif filters["status"] == "open":
        qs = qs.open()
    if filters["overdue"]:
        qs = qs.overdue()
    if filters["q"]:
        digits = "".join(ch for ch in filters["q"] if ch.isdigit())
        qs = qs.filter(Q(number__contains=digits) | Q(case_number__icontains=filters["q"]))
    carrier = bounded_id(filters["carrier"])
    if carrier and user.kind in (OrgKind.REGULATOR, OrgKind.FINANCIAL_REGULATOR):
        qs = qs.filter(carrier_id=carrier)
    if user.kind == OrgKind.CARRIER:
        # What it still owes first, the nearest deadline on top.
        qs = qs.annotate(
            done=Case(When(status__in=OPEN_CASE_STATUSES, then=0), default=1)
        ).order_by("done", "deadline", "pk")
    return render(
        request,
        "oversight/cases/list.html",
        {
            "page": paginate(request, qs),
            "filters": filters,
            "statuses": CaseStatus.choices,
            "carriers": Organisation.objects.filter(kind=OrgKind.CARRIER)
            if user.kind in (OrgKind.REGULATOR, OrgKind.FINANCIAL_REGULATOR)
            else [],
            "appeal_days": settings.APPEAL_WORKING_DAYS,
        },
    )


def _case(request: HttpRequest, pk: int) -> DisposalCase:
    require_kind(request, *PARTIES)
    return get_object_or_404(
        DisposalCase.objects.visible_to(request.user).select_related(
            "carrier", "institution", "finding", "finding__run", "ordered_by", "verified_by"
        ),
        pk=pk,
    )


def _case_forms(user, case: DisposalCase, **bound) -> dict:
    carrier = _acts(user) and user.organisation_id == case.carrier_id
    writer = _writer(user)
    appeal_parties = {case.carrier_id, case.institution_id}
    pending = case.appeals.filter(status=AppealStatus.PENDING, appellant_id=user.organisation_id)
    can_appeal = (
        _acts(user)
        and user.organisation_id in appeal_parties
        and case.status != CaseStatus.REVERSED
        and not pending.exists()
    )
    window = _window(case.finding, case) if can_appeal else None

    def pick(name, cls, when, **initial):
        return bound.get(name) or (cls(initial=initial) if when else None)

    return {
        "report_form": pick(
            "report_form",
            ReportForm,
            carrier and case.status in AWAITING_CARRIER,
            action_taken=case.action,
            action_date=timezone.localdate(),
        ),
        "dispute_form": pick(
            "dispute_form", DisputeForm, carrier and case.status == CaseStatus.ORDERED
        ),
        "restore_form": pick(
            "restore_form",
            RestoreForm,
            carrier and case.restore_pending,
            restored_on=timezone.localdate(),
        ),
        "verify_form": pick(
            "verify_form", VerifyForm, writer and case.status == CaseStatus.REPORTED
        ),
        "answer_form": pick(
            "answer_form", AnswerForm, writer and case.status == CaseStatus.DISPUTED
        ),
        "appeal_form": pick(
            "appeal_form",
            AppealForm,
            can_appeal and window is not None and timezone.now() <= window,
        ),
        "appeal_window": window,
    }


def _record_page(request, template: str, name: str, record, status: int, **context):
    """A case's or an appeal's page: the record, its events, whether the user may open its
    finding, and the page's own ``context``."""
    return render(
        request,
        template,
        {
            name: record,
            "events": record.events.select_related("actor", "organisation"),
            "finding_visible": Finding.objects.visible_to(request.user)
            .filter(pk=record.finding_id)
            .exists(),
            **context,
        },
        status=status,
    )


def _case_page(request, case: DisposalCase, status: int = 200, **bound) -> HttpResponse:
    return _record_page(
        request,
        "oversight/cases/detail.html",
        "case",
        case,
        status,
        appeals=Appeal.objects.visible_to(request.user).filter(case=case),
        **_case_forms(request.user, case, **bound),
    )


@login_required
def case_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _case_page(request, _case(request, pk))


def _case_post(request, pk: int, form_class, name: str, call, done: str, files=False):
    case = _case(request, pk)
    form = form_class(request.POST, request.FILES if files else None)
    if form.is_valid():
        try:
            call(case, form.cleaned_data)
        except PortalError as exc:
            form.add_portal_error(exc)
        else:
            messages.success(request, done)
            return redirect("case_detail", pk=case.pk)
    case.refresh_from_db()
    return _case_page(request, case, status=400, **{name: form})


def _require(allowed: bool) -> None:
    if not allowed:
        raise Http404


def _carrier_acts(user) -> bool:
    return _acts(user) and user.kind == OrgKind.CARRIER


def _case_action(form_class, name: str, allowed, call, done: str, *, files: bool = False):
    """A POST on a case: who may (else 404), the form, the service ``call(user, case,
    cleaned_data)``; back to the case page, or the page again with the form's errors."""

    @require_POST
    @login_required
    def view(request: HttpRequest, pk: int) -> HttpResponse:
        _require(allowed(request.user))
        return _case_post(
            request,
            pk,
            form_class,
            name,
            lambda case, d: call(request.user, case, d),
            done,
            files=files,
        )

    return view


case_report = _case_action(
    ReportForm,
    "report_form",
    _carrier_acts,
    lambda user, case, d: casework.case_report(
        actor=user,
        case=case,
        action_taken=d["action_taken"],
        action_date=d["action_date"],
        note=d["note"],
        evidence=d["document"],
    ),
    "已反馈处置情况，等待核验",
    files=True,
)
case_dispute = _case_action(
    DisputeForm,
    "dispute_form",
    _carrier_acts,
    lambda user, case, d: casework.case_dispute(actor=user, case=case, reason=d["reason"]),
    "已提出异议",
)
case_restore = _case_action(
    RestoreForm,
    "restore_form",
    _carrier_acts,
    lambda user, case, d: casework.case_restore(actor=user, case=case, **d),
    "已反馈号码恢复情况",
)
case_verify = _case_action(
    VerifyForm,
    "verify_form",
    _writer,
    lambda user, case, d: casework.case_verify(
        actor=user, case=case, accepted=d["outcome"] == "accept", note=d["note"]
    ),
    "已记录核验结论",
)
case_answer = _case_action(
    AnswerForm,
    "answer_form",
    _writer,
    lambda user, case, d: casework.case_answer_dispute(
        actor=user, case=case, maintain=d["outcome"] == "maintain", note=d["note"]
    ),
    "已答复异议",
)


@require_POST
@login_required
def case_appeal(request: HttpRequest, pk: int) -> HttpResponse:
    _require(_acts(request.user))
    case = _case(request, pk)
    form = AppealForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            appeal = casework.appeal_lodge(
                actor=request.user,
                finding=case.finding,
                case=case,
                reasons=form.cleaned_data["reasons"],
                document=form.cleaned_data.get("document"),
            )
        except PortalError as exc:
            form.add_portal_error(exc)
        else:
            messages.success(request, "申诉已提交")
            return redirect("appeal_detail", pk=appeal.pk)
    return _case_page(request, case, status=400, appeal_form=form)


@login_required
def case_evidence(request: HttpRequest, pk: int):
    case = _case(request, pk)
    return stored_file_response(case.evidence, filename=case.evidence_name or "处置凭证")


# --- appeals -------------------------------------------------------------------------------


@login_required
def appeal_list(request: HttpRequest) -> HttpResponse:
    require_kind(request, *PARTIES)
    status = request.GET.get("status", "").strip()
    qs = Appeal.objects.visible_to(request.user).select_related("appellant", "institution", "case")
    if status in AppealStatus.values:
        qs = qs.filter(status=status)
    return render(
        request,
        "oversight/appeals/list.html",
        {"page": paginate(request, qs), "status": status, "statuses": AppealStatus.choices},
    )


def _appeal(request: HttpRequest, pk: int) -> Appeal:
    require_kind(request, *PARTIES)
    return get_object_or_404(
        Appeal.objects.visible_to(request.user).select_related(
            "appellant",
            "institution",
            "case",
            "case__carrier",
            "finding",
            "lodged_by",
            "decided_by",
        ),
        pk=pk,
    )


def _appeal_page(request, appeal: Appeal, form=None, status: int = 200) -> HttpResponse:
    writer = _writer(request.user) and appeal.status == AppealStatus.PENDING
    return _record_page(
        request,
        "oversight/appeals/detail.html",
        "appeal",
        appeal,
        status,
        form=form or (AppealDecisionForm() if writer else None),
    )


@login_required
def appeal_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _appeal_page(request, _appeal(request, pk))


@require_POST
@login_required
def appeal_decide(request: HttpRequest, pk: int) -> HttpResponse:
    _require(_writer(request.user))
    appeal = _appeal(request, pk)
    form = AppealDecisionForm(request.POST)
    if form.is_valid():
        try:
            casework.appeal_decide(
                actor=request.user,
                appeal=appeal,
                upheld=form.cleaned_data["outcome"] == "upheld",
                reason=form.cleaned_data["reason"],
            )
        except PortalError as exc:
            form.add_portal_error(exc)
        else:
            messages.success(request, f"已处理：{appeal.get_status_display()}")
            return redirect("appeal_detail", pk=appeal.pk)
    return _appeal_page(request, appeal, form, status=400)


@login_required
def appeal_document(request: HttpRequest, pk: int):
    appeal = _appeal(request, pk)
    return stored_file_response(appeal.document, filename=appeal.document_name or "申诉材料")
