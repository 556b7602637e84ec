"""Organisations (the administration creates and renames them) and their users (each
organisation's 管理员 manages its own; the administration's manage any)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
)
from django.shortcuts import get_object_or_404, redirect, render

from ..accounts import services as account_services
from ..carriers import CarrierNetwork
from ..errors import PortalError
from ..models import (
    LICENCE_AUTHORITY,
    LicenceCategory,
    LicensingAuthority,
    Organisation,
    OrgKind,
    Role,
    User,
)
from . import form_errors_from, paginate, require_kind

TRADE_NAMES_HELP = (
    "号码登记表、服务对象报送表中“电信运营商”一栏可能写到的名称，每行一个；"
    "比对按这些名称认定运营商，不按单位全称"
)


class OrganisationForm(forms.Form):
    kind = forms.ChoiceField(label="单位类型", choices=OrgKind.choices)
    name = forms.CharField(label="单位名称", max_length=200)
    credit_code = forms.CharField(label="统一社会信用代码", max_length=40)
    licence_category = forms.ChoiceField(
        label="许可类别（金融机构必填）",
        choices=[("", "—")] + list(LicenceCategory.choices),
        required=False,
    )
    province = forms.CharField(label="所在省份", max_length=32, required=False)
    contact_email = forms.EmailField(label="联系邮箱", required=False)
    network = forms.ChoiceField(
        label="所属网络（电信运营商必填）",
        choices=[("", "—")] + list(CarrierNetwork.choices),
        required=False,
    )
    trade_names = forms.CharField(
        label="对外名称（短信服务商填写）",
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        help_text=TRADE_NAMES_HELP,
    )

    def clean(self):
        data = super().clean()
        if data.get("kind") == OrgKind.CARRIER and not data.get("network"):
            self.add_error("network", "电信运营商必须选择所属网络（短信服务商选“短信服务商”）")
        return data


class UserForm(forms.Form):
    username = forms.CharField(label="用户名", max_length=150)
    full_name = forms.CharField(label="姓名", max_length=150, required=False)
    email = forms.EmailField(label="邮箱", required=False)
    role = forms.ChoiceField(label="角色", choices=Role.choices, initial=Role.OPERATOR)


@login_required
def organisation_list(request: HttpRequest) -> HttpResponse:
    require_kind(request, OrgKind.REGULATOR, OrgKind.FINANCIAL_REGULATOR)
    qs = (
        Organisation.objects.visible_to(request.user)
        .annotate(user_count=Count("users"))
        .order_by("kind", "name")
    )
    kind = request.GET.get("kind", "")
    q = request.GET.get("q", "").strip()
    if kind in OrgKind.values:
        qs = qs.filter(kind=kind)
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(credit_code__icontains=q.upper()))
    return render(
        request,
        "portal/organisations/list.html",
        {"page": paginate(request, qs), "kinds": OrgKind.choices, "kind": kind, "q": q},
    )


@login_required
def organisation_create(request: HttpRequest) -> HttpResponse:
    require_kind(request, OrgKind.REGULATOR)
    form = OrganisationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            org, created = account_services.organisation_create(
                actor=request.user, **form.cleaned_data
            )
        except PortalError as exc:
            form_errors_from(exc, form)
        else:
            if created:
                messages.success(request, f"已创建单位“{org.name}”，请为其添加首位管理员")
            else:
                messages.info(request, f"该统一社会信用代码已登记为“{org.name}”")
            return redirect("organisation_detail", pk=org.pk)
    return render(request, "portal/organisations/form.html", {"form": form})


class OrganisationEditForm(forms.Form):
    name = forms.CharField(label="单位名称", max_length=200)
    licence_category = forms.ChoiceField(
        label="许可类别", choices=[("", "—")] + list(LicenceCategory.choices), required=False
    )
    province = forms.CharField(label="所在省份", max_length=32, required=False)
    contact_email = forms.EmailField(label="联系邮箱", required=False)
    network = forms.ChoiceField(label="所属网络", choices=CarrierNetwork.choices, required=False)
    trade_names = forms.CharField(
        label="对外名称",
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        help_text=TRADE_NAMES_HELP,
    )


@login_required
def organisation_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """The administration's 管理员 renames an organisation or corrects its details; the kind
    and the credit code identify it and stay (accounts.services.organisation_update)."""
    user = request.user
    require_kind(request, OrgKind.REGULATOR)
    if user.role != Role.ADMIN:
        raise Http404
    org = get_object_or_404(Organisation.objects.visible_to(user), pk=pk)
    initial = {key: getattr(org, key) for key in account_services.ORGANISATION_EDITABLE}
    form = OrganisationEditForm(request.POST or None, initial=initial)
    if not org.is_institution:
        del form.fields["licence_category"]
    if not org.is_carrier:
        del form.fields["network"], form.fields["trade_names"]
    if request.method == "POST" and form.is_valid():
        try:
            account_services.organisation_update(actor=user, organisation=org, **form.cleaned_data)
        except PortalError as exc:
            form_errors_from(exc, form)
        else:
            messages.success(request, "已保存单位信息")
            return redirect("organisation_detail", pk=org.pk)
    return render(request, "portal/organisations/edit.html", {"form": form, "org": org})


class InstitutionChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Organisation) -> str:
        return f"{obj.name}（{obj.credit_code}）"


class ScopeForm(forms.Form):
    """A financial regulator's scope (issue 14 §6): licence categories, and institutions
    named one by one beyond them."""

    categories = forms.MultipleChoiceField(
        label="监管的许可类别",
        choices=LicenceCategory.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    institutions = InstitutionChoiceField(
        label="逐一指定的机构",
        queryset=Organisation.objects.none(),
        required=False,
        help_text="许可类别之外单独监管的金融机构；按住 Ctrl（Mac 为 ⌘）可多选",
    )

    def __init__(self, *args, institutions, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["institutions"].queryset = institutions


def _category_groups(form: ScopeForm) -> list[tuple[str, list[tuple[str, str, bool]]]]:
    """The licence categories under their licensing authority (LICENCE_AUTHORITY), each
    with whether the form has it ticked."""
    chosen = set(form["categories"].value() or [])
    groups = []
    for authority, authority_label in LicensingAuthority.choices:
        categories = [
            (value, label, value in chosen)
            for value, label in LicenceCategory.choices
            if LICENCE_AUTHORITY[LicenceCategory(value)] == authority
        ]
        groups.append((authority_label, categories))
    return groups


def _institution_groups(form: ScopeForm) -> list[tuple[str, list[tuple[int, str, bool]]]]:
    """The institutions offered, under their licence category."""
    chosen = {str(v) for v in form["institutions"].value() or []}
    field = form.fields["institutions"]
    labels = dict(LicenceCategory.choices)
    groups: dict[str, list[tuple[int, str, bool]]] = {}
    for org in field.queryset:
        groups.setdefault(labels.get(org.licence_category, org.licence_category), []).append(
            (org.pk, field.label_from_instance(org), str(org.pk) in chosen)
        )
    return list(groups.items())


@login_required
def organisation_scope(request: HttpRequest, pk: int) -> HttpResponse:
    """The administration's 管理员 sets which institutions a financial regulator
    supervises (issue 14 §6), through accounts.services.organisation_set_scope (audited).
    Nobody else has this page (404), nor has any organisation but a financial regulator."""
    user = request.user
    require_kind(request, OrgKind.REGULATOR)
    if user.role != Role.ADMIN:
        raise Http404
    org = get_object_or_404(
        Organisation.objects.visible_to(user).filter(kind=OrgKind.FINANCIAL_REGULATOR), pk=pk
    )
    institutions = (
        Organisation.objects.visible_to(user)
        .filter(kind=OrgKind.INSTITUTION)
        .order_by("licence_category", "name")
    )
    initial = {
        "categories": list(org.supervised_categories or []),
        "institutions": list(org.supervised_institutions.values_list("pk", flat=True)),
    }
    form = ScopeForm(request.POST or None, initial=initial, institutions=institutions)
    if request.method == "POST" and form.is_valid():
        try:
            account_services.organisation_set_scope(
                actor=user,
                organisation=org,
                categories=form.cleaned_data["categories"],
                institutions=form.cleaned_data["institutions"],
            )
        except PortalError as exc:
            form_errors_from(exc, form)
        else:
            messages.success(request, f"已保存“{org.name}”的监管范围")
            return redirect("organisation_detail", pk=org.pk)
    return render(
        request,
        "portal/organisations/scope.html",
        {
            "form": form,
            "org": org,
            "category_groups": _category_groups(form),
            "institution_groups": _institution_groups(form),
        },
    )


@login_required
def organisation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    org = get_object_or_404(Organisation.objects.visible_to(user), pk=pk)
    # Colleagues' roles, second factor and last login are for those who manage the accounts
    # (the organisation's 管理员, or the administration's): never for 查看 or 经办人.
    users = None
    if _manages_users(user, org):
        users = User.objects.visible_to(user).filter(organisation=org).order_by("username")
    context = {"org": org, "users": users}
    if org.is_financial_regulator:
        # Its scope (issue 14 §6): the categories, the institutions named one by one, and
        # how many institutions that makes.
        context["named_institutions"] = org.supervised_institutions.order_by("name")
        context["supervised_count"] = org.supervised().count()
    return render(request, "portal/organisations/detail.html", context)


def _manages_users(user, org: Organisation) -> bool:
    return user.role == Role.ADMIN and (user.is_regulator or org.pk == user.organisation_id)


def _manageable_org(request: HttpRequest, org_pk: int | None) -> Organisation:
    user = request.user
    if org_pk is None:
        if user.role != Role.ADMIN:
            raise Http404
        return user.organisation
    org = get_object_or_404(Organisation.objects.visible_to(user), pk=org_pk)
    if not _manages_users(user, org):
        raise Http404
    return org


@login_required
def user_list(request: HttpRequest) -> HttpResponse:
    org = _manageable_org(request, None)
    users = User.objects.visible_to(request.user).filter(organisation=org).order_by("username")
    return render(request, "portal/users/list.html", {"org": org, "users": users})


@login_required
def user_create(request: HttpRequest, org_pk: int | None = None) -> HttpResponse:
    org = _manageable_org(request, org_pk)
    form = UserForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user, password, created = account_services.user_create(
                actor=request.user, organisation=org, **form.cleaned_data
            )
        except PortalError as exc:
            form_errors_from(exc, form)
        else:
            if not created:
                messages.info(request, f"用户“{user.username}”已存在")
                return (
                    redirect("user_list")
                    if org_pk is None
                    else redirect("organisation_detail", pk=org.pk)
                )
            return render(
                request,
                "portal/users/created.html",
                {"new_user": user, "password": password, "org": org, "org_pk": org_pk},
            )
    return render(request, "portal/users/form.html", {"form": form, "org": org})


@login_required
def user_edit(request: HttpRequest, pk: int) -> HttpResponse:
    target = get_object_or_404(User.objects.visible_to(request.user), pk=pk)
    org = _manageable_org(request, target.organisation_id)
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "reset_password":
                password = account_services.user_reset_password(actor=request.user, user=target)
                return render(
                    request,
                    "portal/users/created.html",
                    {"new_user": target, "password": password, "org": org, "reset": True},
                )
            if action in ("deactivate", "activate"):
                account_services.user_update(
                    actor=request.user, user=target, is_active=action == "activate"
                )
            elif action == "role":
                account_services.user_update(
                    actor=request.user, user=target, role=request.POST.get("role")
                )
            messages.success(request, f"已更新用户“{target.username}”")
        except PortalError as exc:
            messages.error(request, exc.message)
        return redirect("user_edit", pk=target.pk)
    return render(
        request, "portal/users/edit.html", {"target": target, "org": org, "roles": Role.choices}
    )
