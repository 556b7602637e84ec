"""Verbs that change organisations and accounts. Each is atomic and writes its audit event."""

from __future__ import annotations

import secrets
import string

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django_otp import verify_token
from django_otp.plugins.otp_totp.models import TOTPDevice

from .. import audit, carriers
from ..carriers import CarrierNetwork
from ..creditcode import CreditCodeError, validate_credit_code
from ..errors import NotPermitted, PortalError, choices_text, joined
from ..models import (
    LICENCE_AUTHORITY,
    CarrierName,
    LicenceCategory,
    Organisation,
    OrgKind,
    PasswordHistory,
    Role,
    TokenRevokeReason,
    User,
    validate_username,
)
from . import tokens, totp


def _require_regulator(actor) -> None:
    """The system (``audit.SYSTEM``: the CLI bootstrap), or a regulator's admin."""
    if audit.is_system(actor):
        return
    if not (actor.is_regulator and actor.role == Role.ADMIN):
        raise NotPermitted("只有通信管理局的管理员可以管理单位")


def organisation_create(
    *,
    actor,
    kind: str,
    name: str,
    credit_code: str,
    licence_category: str = "",
    province: str = "",
    contact_email: str = "",
    network: str = "",
    trade_names: str = "",
) -> tuple[Organisation, bool]:
    """Create an organisation, or return the existing one with the same credit code.

    Institutions must name a licence category (000 §一(一)); the licensing authority
    follows from it. A carrier records its network, or as an SMS service provider the
    names it trades under (portal/carriers.py); without one it is guessed from the name.
    Returns ``(organisation, created)``; running twice changes nothing.
    """
    _require_regulator(actor)
    try:
        code = validate_credit_code(credit_code)
    except CreditCodeError as exc:
        raise PortalError(exc.message, code="credit_code", field="credit_code") from exc
    if kind not in OrgKind.values:
        raise PortalError(
            f"单位类型“{kind}”无效，可选：{choices_text(OrgKind)}", code="kind", field="kind"
        )
    name = (name or "").strip()
    if not name:
        raise PortalError("单位名称不能为空", code="name", field="name")
    authority = ""
    if kind == OrgKind.INSTITUTION:
        if licence_category not in LicenceCategory.values:
            choices = choices_text(LicenceCategory)
            raise PortalError(
                f"金融机构的许可类别“{licence_category}”无效，可选：{choices}",
                code="licence_category",
                field="licence_category",
            )
        authority = LICENCE_AUTHORITY[LicenceCategory(licence_category)]
    else:
        licence_category = ""
    network, trade_names = _carrier_fields(kind, name, network, trade_names)
    with transaction.atomic():
        existing = Organisation.objects.select_for_update().filter(credit_code=code).first()
        if existing is not None:
            if existing.kind != kind:
                raise PortalError(
                    f"统一社会信用代码 {code} 已登记为"
                    f"“{existing.get_kind_display()}”{existing.name}",
                    code="credit_code_taken",
                    field="credit_code",
                )
            return existing, False
        org = Organisation.objects.create(
            kind=kind,
            name=name,
            credit_code=code,
            licence_category=licence_category,
            licensing_authority=authority,
            province=province.strip(),
            contact_email=contact_email.strip(),
            network=network,
            trade_names=trade_names,
        )
        _sync_carrier_names(org)
        after = {"kind": kind, "name": name, "credit_code": code}
        if network:
            after |= {"network": network, "trade_names": trade_names}
        audit.record(
            "organisation.create", actor=actor, organisation=org, obj=org, summary={"after": after}
        )
    return org, True


def _carrier_fields(kind: str, name: str, network: str, trade_names: str) -> tuple[str, str]:
    """(network, trade names) as stored: only carriers have them; a basic network name
    typed as a trade name is recognised (``--network 联通``)."""
    network = (network or "").strip()
    if kind != OrgKind.CARRIER:
        if network or (trade_names or "").strip():
            raise PortalError(
                "只有电信运营商填写所属网络和对外名称", code="network", field="network"
            )
        return "", ""
    extra = ""
    if network and network not in CarrierNetwork.values:
        network, extra = carriers.parse_network(network)
    network = network or carriers.guess_network(name)
    names = carriers.split_names("\n".join(filter(None, [extra, trade_names or ""])))
    return network, "\n".join(names)


def _sync_carrier_names(org: Organisation) -> None:
    """The CarrierName rows SQL joins on, rebuilt from the organisation's record."""
    CarrierName.objects.filter(organisation=org).delete()
    if org.kind != OrgKind.CARRIER:
        return
    CarrierName.objects.bulk_create(
        CarrierName(organisation=org, name=n)
        for n in carriers.names_of(network=org.network, trade_names=org.trade_names, name=org.name)
    )


ORGANISATION_EDITABLE = (
    "name",
    "province",
    "contact_email",
    "licence_category",
    "network",
    "trade_names",
)


def organisation_update(*, actor, organisation: Organisation, **changes) -> Organisation:
    """Rename an organisation or correct its details (单位管理). The kind and the credit code
    never change: they identify it. Only what differs is saved and audited; nothing that
    differs, nothing written."""
    _require_regulator(actor)
    unknown = set(changes) - set(ORGANISATION_EDITABLE)
    if unknown:
        raise PortalError(f"不能修改：{'、'.join(sorted(unknown))}", code="not_editable")
    changes = {key: (value or "").strip() for key, value in changes.items()}
    if "name" in changes and not changes["name"]:
        raise PortalError("单位名称不能为空", code="name", field="name")
    if not organisation.is_carrier:
        changes.pop("network", None)
        changes.pop("trade_names", None)
    if "licence_category" in changes:
        if not organisation.is_institution:
            changes.pop("licence_category")
        elif changes["licence_category"] not in LicenceCategory.values:
            raise PortalError(
                f"许可类别“{changes['licence_category']}”无效，可选：{choices_text(LicenceCategory)}",
                code="licence_category",
                field="licence_category",
            )
    with transaction.atomic():
        current = Organisation.objects.select_for_update().get(pk=organisation.pk)
        if current.is_carrier and changes.keys() & {"network", "trade_names"}:
            changes["network"], changes["trade_names"] = _carrier_fields(
                current.kind,
                changes.get("name", current.name),
                changes.get("network", current.network),
                changes.get("trade_names", current.trade_names),
            )
        before = {k: getattr(current, k) for k, v in changes.items() if getattr(current, k) != v}
        if not before:
            return current
        for key in before:
            setattr(current, key, changes[key])
        if "licence_category" in before:
            current.licensing_authority = LICENCE_AUTHORITY[
                LicenceCategory(current.licence_category)
            ]
        current.full_clean(exclude=["credit_code"])
        current.save()
        if before.keys() & {"name", "network", "trade_names"}:
            _sync_carrier_names(current)
        audit.record(
            "organisation.update",
            actor=actor,
            organisation=current,
            obj=current,
            summary={"before": before, "after": {k: changes[k] for k in before}},
        )
    return current


def organisation_set_scope(
    *, actor, organisation: Organisation, categories=(), institutions=()
) -> Organisation:
    """A financial regulator's scope (issue 14 §6): the licence categories it supervises
    and institutions named one by one (organisations or their ids). Replaces the scope;
    audited with before and after; unchanged, nothing written."""
    _require_regulator(actor)
    if organisation.kind != OrgKind.FINANCIAL_REGULATOR:
        raise PortalError("只有金融管理部门设置监管范围", code="not_financial_regulator")
    categories = sorted(set(categories))
    bad = [c for c in categories if c not in LicenceCategory.values]
    if bad:
        raise PortalError(
            f"许可类别“{bad[0]}”无效，可选：{choices_text(LicenceCategory)}",
            code="licence_category",
            field="supervised_categories",
        )
    ids = sorted({getattr(i, "pk", i) for i in institutions})
    found = set(
        Organisation.objects.filter(pk__in=ids, kind=OrgKind.INSTITUTION).values_list(
            "pk", flat=True
        )
    )
    if len(found) != len(ids):
        raise PortalError(
            "监管的机构必须是平台上的金融机构", code="institution", field="supervised_institutions"
        )
    with transaction.atomic():
        current = Organisation.objects.select_for_update().get(pk=organisation.pk)
        before = {
            "supervised_categories": sorted(current.supervised_categories or []),
            "supervised_institutions": sorted(
                current.supervised_institutions.values_list("pk", flat=True)
            ),
        }
        after = {"supervised_categories": categories, "supervised_institutions": ids}
        if before == after:
            return current
        current.supervised_categories = categories
        current.save(update_fields=["supervised_categories"])
        current.supervised_institutions.set(ids)
        audit.record(
            "organisation.scope",
            actor=actor,
            organisation=current,
            obj=current,
            summary={"before": before, "after": after},
        )
    return current


def one_time_password() -> str:
    alphabet = string.ascii_letters + string.digits
    while True:
        pw = "".join(secrets.choice(alphabet) for _ in range(14))
        if any(c.isdigit() for c in pw) and any(c.isalpha() for c in pw):
            return pw


def _can_manage_users(actor, organisation: Organisation | None) -> bool:
    if audit.is_system(actor):
        return True
    if organisation is None:
        return False  # outside every organisation: manage.py and the admin only
    if actor.is_regulator and actor.role == Role.ADMIN:
        return True
    return actor.role == Role.ADMIN and actor.organisation_id == organisation.pk


def _can_manage_user(actor, user: User) -> bool:
    """No portal role manages an account outside every organisation, nor a superuser or
    staff account (issue 16 item 3: a regulator could reset root's password)."""
    if audit.is_system(actor):
        return True
    if user.organisation_id is None or user.is_superuser or user.is_staff:
        return False
    return _can_manage_users(actor, user.organisation)


def _remember_password(user: User) -> None:
    """Keep the new password's hash (only the hash) and drop those past the history."""
    PasswordHistory.objects.create(user=user, password=user.password)
    keep = max(settings.PASSWORD_HISTORY_COUNT, 1)
    old = PasswordHistory.objects.filter(user=user).values_list("pk", flat=True)[keep:]
    PasswordHistory.objects.filter(pk__in=list(old)).delete()


def user_create(
    *,
    actor,
    organisation: Organisation,
    username: str,
    role: str,
    email: str = "",
    full_name: str = "",
    password: str | None = None,
    demo: bool = False,
) -> tuple[User, str | None, bool]:
    """Invite a user into an organisation (regulators create any first admin; an
    organisation's admin invites its own colleagues).

    Returns ``(user, one_time_password or None, created)``. Without a password a one-time
    password is generated; either way the user must change it at first login. The same
    username in the same organisation with the same role is returned unchanged (password
    untouched: inviting twice is harmless); with another role it is refused, naming the
    role it has (a role is changed on the user's page, audited as such).

    ``demo``: the demo data's accounts (load_demo, the system only) keep their published
    password instead of having to change it at first login; the audit event says so.
    """
    if demo and not audit.is_system(actor):
        raise NotPermitted("只有演示数据可以创建无需修改初始密码的账号")
    if not _can_manage_users(actor, organisation):
        raise NotPermitted("只有本单位管理员或通信管理局管理员可以添加用户")
    username = (username or "").strip()
    if not username:
        raise PortalError("用户名不能为空", code="username", field="username")
    try:
        validate_username(username)
    except ValidationError as exc:
        raise PortalError(exc.messages[0], code=exc.code, field="username") from exc
    if role not in Role.values:
        raise PortalError(
            f"角色“{role}”无效，可选：{choices_text(Role)}", code="role", field="role"
        )
    with transaction.atomic():
        existing = User.objects.filter(username__iexact=username).first()
        if existing is not None:
            if existing.organisation_id != organisation.pk:
                # Usernames are global; saying whose it is would confirm another
                # organisation's account (issue 16 item 8).
                raise PortalError(
                    "该用户名不可用，请换一个", code="username_taken", field="username"
                )
            if existing.role != role:
                raise PortalError(
                    f"用户名“{existing.username}”已存在，角色为“{existing.get_role_display()}”，"
                    f"不是“{Role(role).label}”；如需改变角色，请在“用户”页面修改",
                    code="username_role",
                    field="role",
                )
            return existing, None, False
        user = User(
            username=username,
            organisation=organisation,
            role=role,
            email=email.strip(),
            first_name=full_name.strip(),
            must_change_password=not demo,
        )
        generated = None
        if password is None:
            generated = password = one_time_password()
        else:
            try:
                validate_password(password, user)
            except ValidationError as exc:
                raise PortalError(joined(exc.messages), code="password", field="password") from exc
        user.set_password(password)
        user.save()
        _remember_password(user)
        audit.record(
            "user.create",
            actor=actor,
            organisation=organisation,
            obj=user,
            summary={
                "after": {"username": username, "role": role},
                **({"demo": True} if demo else {}),
            },
        )
    return user, generated, True


def user_update(
    *, actor, user: User, role: str | None = None, is_active: bool | None = None
) -> User:
    if not _can_manage_user(actor, user):
        raise NotPermitted("只有本单位管理员可以修改用户")
    if (
        not audit.is_system(actor)
        and actor.pk == user.pk
        and (is_active is False or (role and role != user.role))
    ):
        raise PortalError("不能停用自己或修改自己的角色", code="self_change")
    before, after = {}, {}
    if role is not None and role != user.role:
        if role not in Role.values:
            raise PortalError(f"角色“{role}”无效", code="role", field="role")
        before["role"], after["role"] = user.role, role
        user.role = role
    if is_active is not None and is_active != user.is_active:
        before["is_active"], after["is_active"] = user.is_active, is_active
        user.is_active = is_active
    with transaction.atomic():
        user.save()
        audit.record(
            "user.update",
            actor=actor,
            organisation=user.organisation,
            obj=user,
            summary={"before": before, "after": after},
        )
        if after.get("is_active") is False:
            # A deactivated account keeps no API access (issue 16 item 6).
            tokens.api_tokens_revoke_all(
                actor=actor, user=user, reason=TokenRevokeReason.DEACTIVATED
            )
    return user


def user_reset_password(*, actor, user: User) -> str:
    if not _can_manage_user(actor, user):
        raise NotPermitted("只有本单位管理员可以重置密码")
    password = one_time_password()
    with transaction.atomic():
        user.set_password(password)
        user.must_change_password = True
        user.save(update_fields=["password", "must_change_password"])
        _remember_password(user)
        audit.record("user.reset_password", actor=actor, organisation=user.organisation, obj=user)
        tokens.api_tokens_revoke_all(
            actor=actor, user=user, reason=TokenRevokeReason.PASSWORD_RESET
        )
    return password


def password_changed(*, user: User) -> None:
    """The user chose a new password (Django's form already validated it, history and
    strength included: settings.AUTH_PASSWORD_VALIDATORS)."""
    with transaction.atomic():
        user.must_change_password = False
        user.password_changed_at = timezone.now()
        user.save(update_fields=["password", "must_change_password", "password_changed_at"])
        _remember_password(user)
        audit.record("auth.password_change", actor=user, obj=user)
        # A token must not outlive the password it was issued under (issue 16 item 6).
        tokens.api_tokens_revoke_all(
            actor=user, user=user, reason=TokenRevokeReason.PASSWORD_CHANGE
        )


# --- second factor (django-otp TOTP devices) ----------------------------------------------


def totp_device(user: User) -> TOTPDevice | None:
    """The account's confirmed TOTP device (one per account), or None."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("-pk").first()


def _new_device(*, user: User, secret: str, last_t: int) -> TOTPDevice:
    return TOTPDevice.objects.create(
        user=user,
        name="验证器",
        key=totp.base32_to_hex(secret),
        step=totp.STEP,
        digits=totp.DIGITS,
        tolerance=1,
        last_t=last_t,
        confirmed=True,
    )


def totp_enable(*, user: User, secret: str, code: str) -> TOTPDevice | None:
    """First enrolment: the authenticator shows the right code for ``secret`` (base32).
    Only for an account without a device: one that has one replaces it with
    ``totp_replace``, which needs the current device's code (issue 16 item 1)."""
    step = totp.verify_new(secret, code)
    if step is None:
        return None
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).first()
        if totp_device(user) is not None:
            raise PortalError(
                "该账号已绑定验证器；如需更换，请登录后在“账户安全”中输入当前验证码更换",
                code="totp_exists",
            )
        device = _new_device(user=user, secret=secret, last_t=step)
        audit.record("auth.totp_enable", actor=user, obj=user)
    return device


def totp_replace(*, user: User, current_code: str, secret: str, code: str) -> TOTPDevice | None:
    """Replace the authenticator: the current device's code first, then the new one's.
    The caller must be a fully authenticated (OTP-verified) session."""
    device = totp_device(user)
    if device is None:
        raise PortalError("该账号尚未绑定验证器", code="totp_missing")
    current = totp.normalise_code(current_code)
    if current is None or verify_token(user, device.persistent_id, current) is None:
        raise PortalError(
            "当前验证码错误或已使用，请输入原验证器中当前显示的 6 位数字",
            code="totp_current",
            field="current_code",
        )
    step = totp.verify_new(secret, code)
    if step is None:
        return None
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        new = _new_device(user=user, secret=secret, last_t=step)
        audit.record("auth.totp_enable", actor=user, obj=user, summary={"replaced": True})
    return new


def totp_provision(*, actor, user: User, secret: str) -> TOTPDevice:
    """Give an account a device with a known secret (the demo data; ``audit.SYSTEM`` is the
    system). Replaces any device it had."""
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        device = _new_device(user=user, secret=secret, last_t=-1)
        audit.record(
            "auth.totp_enable",
            actor=actor,
            organisation=user.organisation,
            obj=user,
            summary={"provisioned": True},
        )
    return device


def totp_disable(*, user: User) -> None:
    if user.is_regulator:
        raise PortalError("通信管理局账号必须使用双因素认证，不能关闭", code="totp_required")
    if user.totp_mandatory:
        raise PortalError("管理后台账号必须使用双因素认证，不能关闭", code="totp_required")
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        audit.record("auth.totp_disable", actor=user, obj=user)


def totp_check(*, user: User, code: str) -> TOTPDevice | None:
    """Check a login code against the account's device; django-otp burns its time step
    (``last_t``) so it cannot be replayed. Returns the device that accepted it."""
    device = totp_device(user)
    code = totp.normalise_code(code)
    if device is None or code is None:
        return None
    return verify_token(user, device.persistent_id, code)


def login_recorded(*, user: User, ip: str | None) -> None:
    with transaction.atomic():
        audit.record("auth.login", actor=user, obj=user, ip=ip)


def login_failed_recorded(*, username: str, ip: str | None, locked: bool) -> None:
    with transaction.atomic():
        audit.record(
            "auth.locked" if locked else "auth.login_failed",
            object_type="portal.User",
            object_repr=username[:150],
            ip=ip,
        )


def lockouts_release(*, actor, attempts) -> int:
    """Lift lockouts before their 15 minutes are up (the admin's 解除锁定): only a superuser
    who passed the second factor gets there (the admin site); each lifted lockout is audited
    with its username and address, then its axes rows go."""
    if not getattr(actor, "is_superuser", False):
        raise NotPermitted("只有平台超级管理员可以解除登录锁定")
    rows = list(attempts.values_list("pk", "username", "ip_address", "failures_since_start"))
    with transaction.atomic():
        for _pk, username, ip, failures in rows:
            audit.record(
                "auth.unlock",
                actor=actor,
                organisation=None,
                object_type="portal.User",
                object_repr=(username or "")[:150],
                summary={"address": ip, "failures": failures},
            )
        attempts.model.objects.filter(pk__in=[row[0] for row in rows]).delete()
    return len(rows)
