"""Registry pages: the numbers register, entrusted partners, bulk imports and their progress
(issue 4 §6–7). Institutions read and (管理员/经办人) write their own; regulators and
financial regulators read every institution's; carriers have no registry pages (404)."""

from __future__ import annotations

import datetime as dt
import io
import os
import tempfile

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from portal.errors import PortalError
from portal.models import OrgKind
from portal.spreadsheets.template import form_template
from portal.views import paginate, require_kind, stored_file_response

from . import exports, selectors, services
from .forms import (
    CARRIERS,
    DOCUMENT_TYPES,
    EndForm,
    ImportForm,
    NumberForm,
    PartnerForm,
    number_initial,
)
from .importers import register
from .models import ImportStatus, Partner, Purpose, RegisteredNumber, RegisteredSignature, Status

OVERSEERS = (OrgKind.REGULATOR, OrgKind.FINANCIAL_REGULATOR)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SHARED_NOTICE = "该号码也由其他机构登记在用，已标记为“多机构登记”，通信管理局将予以核实"
NUMBER_FILTERS = ("q", "purpose", "carrier", "status", "kind", "partner", "institution", "shared")


def _reader(request: HttpRequest) -> None:
    """Carriers (and users without an organisation) have no registry pages: 404."""
    require_kind(request, *selectors.READERS)


def _can_write(user, institution_id: int | None = None) -> bool:
    return services.write_denial(user, institution_id) is None


def _writer(request: HttpRequest, institution_id: int | None = None) -> None:
    """services.write_denial for pages: a write page is one that only institutions have (a
    404 for everyone else); an institution's 查看 gets a 403 saying what she can do. Another
    institution's object never gets here: its lookup through ``visible_to`` is a 404."""
    if not request.user.is_institution:
        raise Http404
    denial = services.write_denial(request.user, institution_id)
    if denial is not None:
        raise PermissionDenied(denial.message)


def _is_overseer(user) -> bool:
    return user.kind in OVERSEERS


# --- numbers -----------------------------------------------------------------------------


def _number_filters(request: HttpRequest) -> dict:
    filters = {key: request.GET.get(key, "").strip() for key in NUMBER_FILTERS}
    if "status" not in request.GET:
        filters["status"] = Status.ACTIVE  # the register as it stands today
    if not _is_overseer(request.user):
        filters["institution"] = ""
    return filters


@login_required
def number_list(request: HttpRequest) -> HttpResponse:
    _reader(request)
    user = request.user
    filters = _number_filters(request)
    numbers = selectors.numbers_for_list(user=user, **filters).with_shared_mark()
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "registry/numbers/list.html",
        {
            "page": paginate(request, numbers),
            "filters": filters,
            "query": query.urlencode(),
            "overseer": _is_overseer(user),
            "can_write": _can_write(user),
            "purposes": Purpose.choices,
            "statuses": selectors.status_filter_choices(),
            "kinds": selectors.kind_filter_choices(),
            "carriers": selectors.carrier_choices(user=user),
            "partners": selectors.partner_choices(user=user, institution=filters["institution"]),
            "institutions": selectors.institutions_for_filter(user=user),
        },
    )


@login_required
def number_export(request: HttpRequest) -> FileResponse:
    """The list as filtered on the page, as a 号码登记表 workbook (registry.exports)."""
    _reader(request)
    numbers = selectors.numbers_for_list(user=request.user, **_number_filters(request))
    stream = tempfile.TemporaryFile()  # noqa: SIM115 - FileResponse closes it
    exports.export_numbers(numbers, stream)
    stream.seek(0)
    return FileResponse(
        stream,
        as_attachment=True,
        filename=f"号码登记-{timezone.localdate():%Y%m%d}.xlsx",
        content_type=XLSX,
    )


@login_required
def number_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _reader(request)
    user = request.user
    number = get_object_or_404(
        RegisteredNumber.objects.visible_to(user)
        .select_related("institution", "partner")
        .with_shared_mark(),
        pk=pk,
    )
    history = selectors.number_history(user=user, number=number)
    current = next((entry.row for entry in history if entry.row.status == Status.ACTIVE), None)
    can_write = _can_write(user, number.institution_id) and number.status == Status.ACTIVE
    return render(
        request,
        "registry/numbers/detail.html",
        {
            "number": number,
            "history": list(reversed(history)),
            "current": current,
            "can_write": can_write,
            "overseer": _is_overseer(user),
            "end_form": EndForm(initial={"end_date": timezone.localdate()}) if can_write else None,
        },
    )


def _number_form_context(request: HttpRequest, form: NumberForm, **extra) -> dict:
    return {
        "form": form,
        "partners": Partner.objects.visible_to(request.user).order_by("name"),
        "carriers": CARRIERS,
        **extra,
    }


@login_required
def number_create(request: HttpRequest) -> HttpResponse:
    _reader(request)
    _writer(request)
    user = request.user
    form = NumberForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            row = services.number_register(
                actor=user, institution=user.organisation, fields=form.column_values()
            )
        except PortalError as exc:
            form.add_portal_error(exc)
        else:
            messages.success(request, f"已登记号码 {row.number}")
            if row.shared:
                messages.info(request, SHARED_NOTICE)
            return redirect("registry_number_detail", pk=row.pk)
    return render(request, "registry/numbers/form.html", _number_form_context(request, form))


@login_required
def number_edit(request: HttpRequest, pk: int) -> HttpResponse:
    _reader(request)
    number = get_object_or_404(RegisteredNumber.objects.visible_to(request.user), pk=pk)
    _writer(request, number.institution_id)
    if number.status != Status.ACTIVE:
        messages.error(request, "只能修改在用的登记；历史版本和已终止的登记不能修改")
        return redirect("registry_number_detail", pk=number.pk)
    form = NumberForm(
        request.POST or None, initial=number_initial(number), fixed_number=number.number
    )
    if request.method == "POST" and form.is_valid():
        try:
            row = services.number_update(
                actor=request.user, number=number, fields=form.column_values()
            )
        except PortalError as exc:
            form.add_portal_error(exc)
        else:
            if row.pk == number.pk:
                messages.info(request, "登记内容没有变化，未生成新版本")
            else:
                messages.success(request, f"已修改号码 {row.number} 的登记，原登记保留为历史版本")
            return redirect("registry_number_detail", pk=row.pk)
    return render(
        request, "registry/numbers/form.html", _number_form_context(request, form, number=number)
    )


@login_required
def number_end(request: HttpRequest, pk: int) -> HttpResponse:
    _reader(request)
    number = get_object_or_404(RegisteredNumber.objects.visible_to(request.user), pk=pk)
    _writer(request, number.institution_id)
    if number.status != Status.ACTIVE:
        messages.error(request, "该登记已终止或已有新版本，不能再终止")
        return redirect("registry_number_detail", pk=number.pk)
    form = EndForm(request.POST or None, initial={"end_date": timezone.localdate()})
    if request.method == "POST" and form.is_valid():
        try:
            services.number_end(
                actor=request.user,
                number=number,
                end_date=form.cleaned_data["end_date"],
                reason=form.cleaned_data["reason"],
            )
        except PortalError as exc:
            form.add_portal_error(exc)
        else:
            messages.success(request, f"已终止号码 {number.number} 的登记")
            return redirect("registry_number_detail", pk=number.pk)
    return render(request, "registry/numbers/end.html", {"number": number, "form": form})


@login_required
def register_template(request: HttpRequest) -> FileResponse:
    """The empty 号码登记表 with instructions and drop-downs (forms.md §1)."""
    _reader(request)
    return FileResponse(
        io.BytesIO(form_template(register.FORM)),
        as_attachment=True,
        filename="号码登记表模板.xlsx",
        content_type=XLSX,
    )


# --- partners ------------------------------------------------------------------------------


@login_required
def partner_list(request: HttpRequest) -> HttpResponse:
    _reader(request)
    user = request.user
    overseer = _is_overseer(user)
    q = request.GET.get("q", "").strip()
    institution = request.GET.get("institution", "").strip() if overseer else ""
    partners = selectors.partners_for_list(user=user, q=q, institution=institution)
    return render(
        request,
        "registry/partners/list.html",
        {
            "page": paginate(request, partners),
            "q": q,
            "institution": institution,
            "overseer": overseer,
            "can_write": _can_write(user),
            "institutions": selectors.institutions_for_filter(user=user),
            "soon": timezone.localdate() + dt.timedelta(days=selectors.EXPIRY_WARNING_DAYS),
        },
    )


def _active_count(partner: Partner) -> int:
    return partner.numbers.filter(status=Status.ACTIVE).count()


@login_required
def partner_create(request: HttpRequest) -> HttpResponse:
    _reader(request)
    _writer(request)
    form = PartnerForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            partner, created = services.partner_save(
                actor=request.user, institution=request.user.organisation, **form.cleaned_data
            )
        except PortalError as exc:
            form.add_portal_error(exc)
        else:
            if created:
                messages.success(request, f"已登记合作单位“{partner.name}”")
            else:
                messages.info(
                    request,
                    f"统一社会信用代码 {partner.credit_code} 的合作单位已登记，已按本次填写更新",
                )
            return redirect("registry_partner_list")
    return render(request, "registry/partners/form.html", {"form": form})


@login_required
def partner_edit(request: HttpRequest, pk: int) -> HttpResponse:
    _reader(request)
    partner = get_object_or_404(Partner.objects.visible_to(request.user), pk=pk)
    _writer(request, partner.institution_id)
    initial = {
        "name": partner.name,
        "credit_code": partner.credit_code,
        "kind": partner.kind,
        "document_number": partner.document_number,
        "valid_from": partner.valid_from,
        "valid_to": partner.valid_to,
        "contact": partner.contact,
    }
    form = PartnerForm(request.POST or None, request.FILES or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        active_before = _active_count(partner)
        try:
            partner, _created = services.partner_save(
                actor=request.user,
                institution=partner.institution,
                partner=partner,
                **form.cleaned_data,
            )
        except PortalError as exc:
            form.add_portal_error(exc)
        else:
            messages.success(request, f"已保存合作单位“{partner.name}”")
            ended = active_before - _active_count(partner)
            if ended > 0:
                messages.warning(
                    request, f"委托书已到期，该合作单位使用的 {ended} 个号码已自动终止"
                )
            return redirect("registry_partner_list")
    return render(request, "registry/partners/form.html", {"form": form, "partner": partner})


@require_POST
@login_required
def partner_public_contact(request: HttpRequest, pk: int) -> HttpResponse:
    """The contact shown for this agency on the public disclosure page (001 第十三条)."""
    _reader(request)
    partner = get_object_or_404(Partner.objects.visible_to(request.user), pk=pk)
    _writer(request, partner.institution_id)
    try:
        changed = services.partner_set_public_contact(
            actor=request.user, partner=partner, contact=request.POST.get("public_contact", "")
        )
    except PortalError as exc:
        messages.error(request, f"“{partner.name}”的公示联系电话未保存：{exc.message}")
    else:
        if changed:
            shown = partner.public_contact or "不公布"
            messages.success(request, f"“{partner.name}”的公示联系电话：{shown}")
    return redirect("registry_partner_list")


@login_required
def partner_document(request: HttpRequest, pk: int) -> FileResponse:
    """The entrustment document, only to those who may see the partner (never MEDIA_URL)."""
    _reader(request)
    partner = get_object_or_404(Partner.objects.visible_to(request.user), pk=pk)
    return partner_document_response(partner)


def partner_document_response(partner: Partner) -> FileResponse:
    """The page's and the API's one download of an entrustment document."""
    name = partner.document_name or os.path.basename(partner.document.name or "")
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return stored_file_response(
        partner.document,
        filename=name,
        content_type=DOCUMENT_TYPES.get(suffix, "application/octet-stream"),
    )


# --- imports -------------------------------------------------------------------------------


@login_required
def import_list(request: HttpRequest) -> HttpResponse:
    _reader(request)
    user = request.user
    overseer = _is_overseer(user)
    institution = request.GET.get("institution", "").strip() if overseer else ""
    jobs = selectors.import_jobs_for_list(user=user, institution=institution)
    return render(
        request,
        "registry/imports/list.html",
        {
            "page": paginate(request, jobs),
            "overseer": overseer,
            "institution": institution,
            "institutions": selectors.institutions_for_filter(user=user),
            "can_write": _can_write(user),
        },
    )


@login_required
def import_create(request: HttpRequest) -> HttpResponse:
    _reader(request)
    _writer(request)
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            job, created = services.import_job_create(
                actor=request.user,
                institution=request.user.organisation,
                upload=upload,
                original_name=upload.name,
                mode=form.cleaned_data["mode"],
            )
        except PortalError as exc:
            form.add_portal_error(exc, {None: "file"})
        else:
            if not created:
                messages.warning(request, services.duplicate_message(job))
            elif job.status == ImportStatus.REJECTED:
                messages.error(request, "文件未通过检查，未导入")
            else:
                messages.success(request, f"已上传“{job.original_name}”，导入进度和结果见下方")
            return redirect("registry_import_detail", pk=job.pk)
    return render(request, "registry/imports/form.html", {"form": form})


# --- dashboard panels (registered in apps.py) ----------------------------------------------


def institution_panel(request: HttpRequest) -> dict:
    return {
        **selectors.institution_summary(user=request.user),
        "can_write": _can_write(request.user),
    }


def regulator_panel(request: HttpRequest) -> dict:
    return selectors.regulator_summary(user=request.user)


# --- registered signatures -----------------------------------------------------------------


@login_required
def signature_list(request: HttpRequest) -> HttpResponse:
    """An institution's registered SMS signatures (its trademark, app name…): the bulk-SMS
    filing checks accept them as the sender's identity (domain.md "SMS signatures")."""
    require_kind(request, OrgKind.INSTITUTION)
    user = request.user
    error = ""
    if request.method == "POST":
        _writer(request)
        try:
            signature, created = services.signature_add(
                actor=user,
                institution=user.organisation,
                name=request.POST.get("name", ""),
                note=request.POST.get("note", ""),
            )
        except PortalError as exc:
            error = exc.message
        else:
            if created:
                messages.success(request, f"已登记签名“{signature.name}”")
            else:
                messages.info(request, f"签名“{signature.name}”已登记")
            return redirect("registry_signature_list")
    rows = RegisteredSignature.objects.visible_to(user).filter(removed_at__isnull=True)
    return render(
        request,
        "registry/signatures/list.html",
        {"signatures": rows, "can_write": _can_write(user), "error": error},
    )


@login_required
def signature_remove(request: HttpRequest, pk: int) -> HttpResponse:
    require_kind(request, OrgKind.INSTITUTION)
    signature = get_object_or_404(
        RegisteredSignature.objects.visible_to(request.user), pk=pk, removed_at__isnull=True
    )
    _writer(request, signature.institution_id)
    if request.method != "POST":
        raise Http404
    services.signature_remove(actor=request.user, signature=signature)
    messages.success(request, f"已删除签名“{signature.name}”")
    return redirect("registry_signature_list")
