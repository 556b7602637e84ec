"""The exchange packages' pages (issue 14 §4): the administration lists every package,
generates a quarter's package for one or every financial regulator, and records the day
it sent one; a financial regulator lists and downloads its own (each download audited).
Institutions and carriers have no such pages (404); another regulator's package is a 404."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from portal import workdays
from portal.errors import PortalError
from portal.models import Organisation, OrgKind
from portal.views import paginate, require_kind, stored_file_response
from registry.forms import PortalForm

from . import exchange
from .cases import ExchangePackage

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
READERS = (OrgKind.REGULATOR, OrgKind.FINANCIAL_REGULATOR)
ALL = "all"


def recent_quarters(count: int = 5) -> list[str]:
    """This quarter and the ones before it, newest first."""
    year, quarter = workdays.quarter_of(timezone.localdate())
    labels = []
    for _ in range(count):
        labels.append(f"{year}Q{quarter}")
        year, quarter = (year - 1, 4) if quarter == 1 else (year, quarter - 1)
    return labels


def _recipients():
    return Organisation.objects.filter(kind=OrgKind.FINANCIAL_REGULATOR, is_active=True).order_by(
        "name", "pk"
    )


class GenerateForm(PortalForm):
    quarter = forms.ChoiceField(
        label="季度", widget=forms.Select(attrs={"class": "form-select-sm"})
    )
    recipient = forms.ChoiceField(
        label="金融管理部门", widget=forms.Select(attrs={"class": "form-select-sm"})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["quarter"].choices = [(q, q) for q in recent_quarters()]
        self.fields["recipient"].choices = [(ALL, "全部金融管理部门")] + [
            (str(o.pk), o.name) for o in _recipients()
        ]


class SentForm(PortalForm):
    sent_on = forms.DateField(
        label="发送日期", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    note = forms.CharField(
        label="发送说明",
        max_length=exchange.NOTE_MAX,
        required=False,
        widget=forms.TextInput(attrs={"class": "form-control-sm"}),
        help_text="如：第四季度联席会议前以加密介质送达",
    )


def _package(request: HttpRequest, pk: int) -> ExchangePackage:
    require_kind(request, *READERS)
    return get_object_or_404(
        ExchangePackage.objects.visible_to(request.user).select_related(
            "recipient", "generated_by", "sent_by"
        ),
        pk=pk,
    )


@login_required
def exchange_list(request: HttpRequest) -> HttpResponse:
    require_kind(request, *READERS)
    user = request.user
    packages = ExchangePackage.objects.visible_to(user).select_related(
        "recipient", "generated_by", "sent_by"
    )
    quarter = request.GET.get("quarter", "").strip().upper()
    if quarter:
        try:
            year, q = exchange.parse_quarter(quarter)
        except PortalError:
            quarter = ""
        else:
            packages = packages.filter(year=year, quarter=q)
    can_write = exchange.can_generate(user)
    return render(
        request,
        "oversight/exchange/list.html",
        {
            "page": paginate(request, packages),
            "quarter": quarter,
            "quarters": recent_quarters(8),
            "can_write": can_write,
            "generate_form": GenerateForm() if can_write else None,
            "today": timezone.localdate(),
            "recipients": _recipients() if user.kind == OrgKind.REGULATOR else [],
        },
    )


@require_POST
@login_required
def exchange_generate(request: HttpRequest) -> HttpResponse:
    require_kind(request, *READERS)
    if not exchange.can_generate(request.user):
        raise Http404
    form = GenerateForm(request.POST)
    if not form.is_valid():
        messages.error(request, "请选择季度和金融管理部门")
        return redirect("exchange_list")
    year, quarter = exchange.parse_quarter(form.cleaned_data["quarter"])
    choice = form.cleaned_data["recipient"]
    recipients = list(_recipients() if choice == ALL else _recipients().filter(pk=int(choice)))
    generated = []
    try:
        for recipient in recipients:
            generated.append(
                exchange.exchange_package_generate(
                    actor=request.user, year=year, quarter=quarter, recipient=recipient
                )
            )
    except PortalError as exc:
        messages.error(request, exc.message)
        return redirect("exchange_list")
    if not generated:
        messages.warning(request, "没有启用的金融管理部门，未生成数据包")
        return redirect("exchange_list")
    messages.success(
        request,
        f"已生成 {year}Q{quarter} 数据包 {len(generated)} 个，并已通知"
        + "、".join(p.recipient.name for p in generated),
    )
    if len(generated) == 1:
        return redirect("exchange_detail", pk=generated[0].pk)
    return redirect(f"{reverse('exchange_list')}?quarter={year}Q{quarter}")


@login_required
def exchange_detail(request: HttpRequest, pk: int) -> HttpResponse:
    package = _package(request, pk)
    initial = {"sent_on": package.sent_on or timezone.localdate(), "note": package.sent_note}
    return _detail(request, package, SentForm(initial=initial))


def _detail(request, package, form, status: int = 200) -> HttpResponse:
    can_write = exchange.can_generate(request.user)
    return render(
        request,
        "oversight/exchange/detail.html",
        {
            "package": package,
            "counts": package.counts or {},
            "can_write": can_write,
            "form": form if can_write else None,
            "regenerate": can_write and package.quarter_label in recent_quarters(),
            "today": timezone.localdate(),
        },
        status=status,
    )


@require_POST
@login_required
def exchange_sent(request: HttpRequest, pk: int) -> HttpResponse:
    package = _package(request, pk)
    if not exchange.can_generate(request.user):
        raise Http404
    form = SentForm(request.POST)
    if form.is_valid():
        try:
            exchange.exchange_package_mark_sent(
                actor=request.user,
                package=package,
                sent_on=form.cleaned_data["sent_on"],
                note=form.cleaned_data["note"],
            )
        except PortalError as exc:
            form.add_portal_error(exc)
        else:
            messages.success(
                request,
                f"已登记 {package.quarter_label} 数据包于 {form.cleaned_data['sent_on']} 发送",
            )
            return redirect("exchange_detail", pk=package.pk)
    return _detail(request, package, form, status=400)


@login_required
def exchange_download(request: HttpRequest, pk: int) -> FileResponse:
    """The workbook, each download audited (the recipient's counted)."""
    package = _package(request, pk)
    try:
        exchange.exchange_package_download(actor=request.user, package=package)
    except PortalError as exc:
        raise Http404 from exc
    return stored_file_response(
        package.file, filename=exchange.package_filename(package), content_type=XLSX
    )
