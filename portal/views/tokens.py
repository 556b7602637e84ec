"""API tokens: each organisation's 管理员 issues and revokes them for its own users
(issue 16 item 6)."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from ..accounts import tokens as account_tokens
from ..errors import PortalError
from ..models import (
    ApiToken,
    Organisation,
    Role,
    User,
)
from . import form_errors_from, paginate


class TokenForm(forms.Form):
    user = forms.ModelChoiceField(label="令牌所属用户", queryset=User.objects.none())
    name = forms.CharField(
        label="用途",
        max_length=100,
        help_text="如“核心系统对接”“催收系统每日同步”，便于日后识别和撤销",
    )

    def __init__(self, *args, organisation: Organisation, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = User.objects.filter(
            organisation=organisation, is_active=True
        ).order_by("username")
        self.fields["user"].label_from_instance = lambda u: (
            f"{u.username}（{u.get_role_display()}）"
        )


def _token_admin_refused(request: HttpRequest) -> HttpResponse | None:
    """The page exists for an organisation's 管理员 only (404 for anyone else), and works
    only in a session that passed every factor its user needs: a token is a credential
    that skips the second factor, so it is not handed out on the strength of a password."""
    user = request.user
    if user.organisation_id is None or user.role != Role.ADMIN:
        raise Http404
    if not account_tokens.session_is_fully_authenticated(request):
        return render(request, "portal/tokens/unverified.html", status=403)
    return None


@never_cache
@login_required
def token_list(request: HttpRequest) -> HttpResponse:
    if refused := _token_admin_refused(request):
        return refused
    org = request.user.organisation
    tokens = (
        ApiToken.objects.visible_to(request.user)
        .select_related("user", "created_by")
        .order_by("-created_at", "-id")
    )
    holder = None
    if request.GET.get("user", "").isdigit():
        holder = get_object_or_404(
            User.objects.filter(organisation=org), pk=int(request.GET["user"])
        )
        tokens = tokens.filter(user=holder)
    form = TokenForm(
        request.POST or None,
        organisation=org,
        initial={"user": holder.pk} if holder else None,
    )
    if request.method == "POST" and form.is_valid():
        try:
            token, key = account_tokens.api_token_issue(
                actor=request.user, user=form.cleaned_data["user"], name=form.cleaned_data["name"]
            )
        except PortalError as exc:
            form_errors_from(exc, form)
        else:
            return render(request, "portal/tokens/issued.html", {"token": token, "key": key})
    return render(
        request,
        "portal/tokens/list.html",
        {
            "org": org,
            "form": form,
            "page": paginate(request, tokens),
            "holder": holder,
            "token_days": settings.API_TOKEN_DAYS,
        },
    )


@login_required
@require_POST
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    if refused := _token_admin_refused(request):
        return refused
    token = get_object_or_404(
        ApiToken.objects.visible_to(request.user).select_related("user"), pk=pk
    )
    try:
        account_tokens.api_token_revoke(actor=request.user, token=token)
    except PortalError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"已撤销“{token.user.username}”的令牌 {token.prefix}…")
    return redirect("token_list")
