"""Organisations, users and the regulator's pages: who sees what (domain.md, "Who uses the
portal"; "data of different institutions isolated" 000 §二(一)5, 001 第十九–二十一条).

Pages of another party's role, and another organisation's objects, do not exist for the
user: 404, never 403 (house style, healthchecks' "bob cannot see alice's check").
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from portal.creditcode import check_character
from portal.models import AuditEvent, Organisation, User
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

USERS = ["regulator_rita", "financial_fiona", "inst_alice", "inst_bob", "carrier_carol"]
ALL = [*USERS, "viewer_viola"]


def url_for(name: str, alice: User) -> str:
    """Object pages point at alice's organisation and alice's own account."""
    return {
        "home": reverse("home"),
        "account_security": reverse("account_security"),
        "organisation_list": reverse("organisation_list"),
        "organisation_create": reverse("organisation_create"),
        "organisation_detail": reverse("organisation_detail", args=[alice.organisation_id]),
        "organisation_user_create": reverse(
            "organisation_user_create", args=[alice.organisation_id]
        ),
        "user_list": reverse("user_list"),
        "user_create": reverse("user_create"),
        "user_edit": reverse("user_edit", args=[alice.pk]),
        "token_list": reverse("token_list"),
        "audit_list": reverse("audit_list"),
        "calendar_index": reverse("calendar_index"),
        "calendar_year": reverse("calendar_year", args=[2026]),
        "calendar_day": reverse("calendar_day", args=["2026-03-16"]),
    }[name]


# Who gets 200; everyone else in ALL gets 404.
ALLOWED = {
    "home": ALL,
    "account_security": ALL,
    "organisation_list": ["regulator_rita", "financial_fiona"],
    "organisation_create": ["regulator_rita"],
    "organisation_detail": ["regulator_rita", "financial_fiona", "inst_alice", "viewer_viola"],
    "organisation_user_create": ["regulator_rita", "inst_alice"],
    "user_list": ["regulator_rita", "inst_alice", "inst_bob", "carrier_carol"],
    "user_create": ["regulator_rita", "inst_alice", "inst_bob", "carrier_carol"],
    "user_edit": ["regulator_rita", "inst_alice"],
    "token_list": ["regulator_rita", "inst_alice", "inst_bob", "carrier_carol"],
    "audit_list": ["regulator_rita"],
    "calendar_index": ["regulator_rita"],
    "calendar_year": ["regulator_rita"],
    "calendar_day": ["regulator_rita"],
}

MATRIX = [
    (page, who, 200 if who in allowed else 404) for page, allowed in ALLOWED.items() for who in ALL
]


@pytest.mark.parametrize(("page", "who", "status"), MATRIX)
def test_tenancy_matrix(request, client_for, inst_alice, page, who, status):
    """000 §二(一)5: access control; data of different institutions isolated. Institutions
    and carriers get 404 on regulator pages; bob gets 404 on alice's organisation and on
    alice's account; a viewer manages nobody."""
    user = request.getfixturevalue(who)
    response = client_for(user).get(url_for(page, inst_alice))
    assert response.status_code == status


@pytest.mark.parametrize("page", list(ALLOWED))
def test_anonymous_is_sent_to_login(client, inst_alice, page):
    response = client.get(url_for(page, inst_alice))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_fiona_sees_alices_organisation_but_not_its_people(client_for, financial_fiona, inst_alice):
    """The financial regulator receives the lists (联络报送机制) but manages no accounts."""
    page = client_for(financial_fiona).get(url_for("organisation_detail", inst_alice)).content
    assert "甲银行".encode() in page
    assert b"alice" not in page


def test_a_viewer_does_not_see_colleagues_roles_2fa_or_last_login(
    client_for, inst_alice, viewer_viola
):
    """Issue 16 item 8 (viewers see colleagues' details); 000 §二(一)5 least necessary: the
    organisation's page shows its people only to a 管理员 who manages them."""
    url = url_for("organisation_detail", inst_alice)
    page = client_for(viewer_viola).get(url).content.decode()
    assert 'data-testid="org-users"' not in page
    assert "alice" not in page and "最近登录" not in page
    admin_page = client_for(inst_alice).get(url).content.decode()
    assert 'data-testid="org-users"' in admin_page and "viola" in admin_page


def test_organisation_list_filters(client_for, regulator_rita, inst_alice, inst_bob, carrier_carol):
    client = client_for(regulator_rita)

    def names(**params):
        response = client.get(reverse("organisation_list"), params)
        return [o.name for o in response.context["page"].object_list]

    assert set(names()) >= {"甲银行", "乙消费金融", "某移动公司", "某省通信管理局"}
    assert names(kind="carrier") == ["某移动公司"]
    assert names(q="消费") == ["乙消费金融"]
    assert names(q=inst_alice.organisation.credit_code.lower()) == ["甲银行"]


# --- an organisation's admin invites colleagues ------------------------------------------------


def test_alice_invites_a_colleague_and_sees_the_password_once(client_for, inst_alice):
    client = client_for(inst_alice)
    response = client.post(
        reverse("user_create"),
        {
            "username": "dave",
            "full_name": "Dave",
            "email": "dave@example.invalid",
            "role": "operator",
        },
    )
    assert response.status_code == 200
    password = response.context["password"]
    page = response.content.decode()
    assert page.count(password) == 1
    assert "一次性密码（只显示这一次）" in page

    dave = User.objects.get(username="dave")
    assert dave.organisation == inst_alice.organisation
    assert dave.role == "operator"
    assert dave.must_change_password
    assert dave.check_password(password)
    event = AuditEvent.objects.get(action="user.create", object_id=str(dave.pk))
    assert event.actor == inst_alice

    # never again: not on the list, not on the account page, not on a repeated invitation
    assert password not in client.get(reverse("user_list")).content.decode()
    assert password not in client.get(reverse("user_edit", args=[dave.pk])).content.decode()
    again = client.post(
        reverse("user_create"), {"username": "dave", "role": "operator"}, follow=True
    )
    assert password not in again.content.decode()
    assert "用户“dave”已存在" in again.content.decode()
    assert User.objects.filter(username="dave").count() == 1


def test_inviting_an_existing_user_with_another_role_names_the_role_it_has(client_for, inst_alice):
    """A second invitation with another role does not pass for "already exists": the form
    says which role the user has and where to change it; nothing changes."""
    client = client_for(inst_alice)
    client.post(reverse("user_create"), {"username": "dave", "role": "operator"})
    response = client.post(reverse("user_create"), {"username": "dave", "role": "admin"})
    assert response.status_code == 200
    assert "角色为“经办人”，不是“管理员”" in response.content.decode()
    assert User.objects.get(username="dave").role == "operator"


def test_the_invited_user_must_change_the_password_at_first_login(client_for, inst_alice):
    response = client_for(inst_alice).post(
        reverse("user_create"), {"username": "dave", "role": "viewer"}
    )
    password = response.context["password"]
    fresh = Client()
    response = fresh.post(reverse("login"), {"username": "dave", "password": password})
    assert response["Location"] == reverse("password_change")
    assert fresh.get("/")["Location"] == reverse("password_change")


def test_a_username_of_another_organisation_is_refused(client_for, inst_alice, inst_bob):
    response = client_for(inst_bob).post(
        reverse("user_create"), {"username": "ALICE", "role": "viewer"}
    )
    assert response.status_code == 200
    assert "该用户名不可用，请换一个" in response.content.decode()
    assert "其他单位" not in response.content.decode()


def test_bob_cannot_add_users_to_alices_organisation(client_for, inst_alice, inst_bob):
    """000 §二(一)5: data of different institutions isolated; another institution's
    organisation does not exist for bob."""
    url = reverse("organisation_user_create", args=[inst_alice.organisation_id])
    response = client_for(inst_bob).post(url, {"username": "mole", "role": "admin"})
    assert response.status_code == 404
    assert not User.objects.filter(username="mole").exists()


def test_bob_cannot_touch_alices_account(client_for, inst_alice, inst_bob):
    """000 §二(一)5: access control; bob's POSTs to alice's account page change nothing."""
    client = client_for(inst_bob)
    url = reverse("user_edit", args=[inst_alice.pk])
    for action in ("deactivate", "reset_password", "role"):
        assert client.post(url, {"action": action, "role": "viewer"}).status_code == 404
    inst_alice.refresh_from_db()
    assert inst_alice.is_active
    assert inst_alice.role == "admin"
    assert inst_alice.check_password(PASSWORD)


def test_a_viewer_cannot_invite(client_for, viewer_viola):
    response = client_for(viewer_viola).post(
        reverse("user_create"), {"username": "x", "role": "admin"}
    )
    assert response.status_code == 404
    assert not User.objects.filter(username="x").exists()


def test_admin_changes_a_colleagues_role_and_deactivates(client_for, inst_alice, viewer_viola):
    client = client_for(inst_alice)
    url = reverse("user_edit", args=[viewer_viola.pk])
    assert client.post(url, {"action": "role", "role": "operator"}).status_code == 302
    assert client.post(url, {"action": "deactivate"}).status_code == 302
    viewer_viola.refresh_from_db()
    assert viewer_viola.role == "operator"
    assert not viewer_viola.is_active
    actions = AuditEvent.objects.filter(object_id=str(viewer_viola.pk)).values_list(
        "action", flat=True
    )
    assert list(actions).count("user.update") == 2


def test_ones_own_account_shows_no_buttons_that_always_fail(client_for, inst_alice, viewer_viola):
    """Issue 10 §10: 修改角色 and 停用 on one's own account always fail: not shown."""
    client = client_for(inst_alice)
    own = client.get(reverse("user_edit", args=[inst_alice.pk])).content.decode()
    assert 'data-testid="own-account"' in own
    assert "修改角色" not in own and "停用</button>" not in own
    other = client.get(reverse("user_edit", args=[viewer_viola.pk])).content.decode()
    assert "修改角色" in other and 'data-testid="user-actions"' in other


def test_admin_cannot_demote_or_deactivate_themselves(client_for, inst_alice):
    client = client_for(inst_alice)
    url = reverse("user_edit", args=[inst_alice.pk])
    response = client.post(url, {"action": "deactivate"}, follow=True)
    assert "不能停用自己或修改自己的角色" in response.content.decode()
    inst_alice.refresh_from_db()
    assert inst_alice.is_active


def test_reset_password_shows_a_new_one_time_password(client_for, inst_alice, viewer_viola):
    response = client_for(inst_alice).post(
        reverse("user_edit", args=[viewer_viola.pk]), {"action": "reset_password"}
    )
    password = response.context["password"]
    viewer_viola.refresh_from_db()
    assert viewer_viola.check_password(password)
    assert viewer_viola.must_change_password


# --- the regulator registers organisations ------------------------------------------------------


def org_form(**overrides) -> dict:
    return {
        "kind": "institution",
        "name": "丙小额贷款有限公司",
        "credit_code": "91330000MA2D0000XY",
        "licence_category": "small_loan",
        "province": "浙江省",
        "contact_email": "",
    } | overrides


def test_regulator_creates_an_institution(client_for, regulator_rita):
    """000 §一(一): a small-loan company is licensed by the local financial regulator."""
    response = client_for(regulator_rita).post(reverse("organisation_create"), org_form())
    org = Organisation.objects.get(credit_code="91330000MA2D0000XY")
    assert response["Location"] == reverse("organisation_detail", args=[org.pk])
    assert org.licensing_authority == "local"
    assert AuditEvent.objects.filter(action="organisation.create", object_id=str(org.pk)).exists()


def test_bad_credit_code_shows_the_position_in_chinese(client_for, regulator_rita):
    """GB 32100-2015 (domain.md): the form names the wrong position and the expected check
    character."""
    client = client_for(regulator_rita)
    expected = check_character("91330000MA2D0000X")
    wrong = "Y" if expected != "Y" else "1"
    response = client.post(
        reverse("organisation_create"), org_form(credit_code="91330000MA2D0000X" + wrong)
    )
    assert response.status_code == 200
    assert (
        f"统一社会信用代码第 18 位校验码错误：应为“{expected}”，实际为“{wrong}”"
        in response.content.decode()
    )
    response = client.post(
        reverse("organisation_create"), org_form(credit_code="91330000MA2D0O00XY")
    )
    assert "统一社会信用代码第 14 位“O”不是合法字符" in response.content.decode()
    assert not Organisation.objects.filter(name="丙小额贷款有限公司").exists()


def test_institution_without_licence_category_is_refused(client_for, regulator_rita):
    """000 §一(一): only licensed institutions; the category names the licence."""
    response = client_for(regulator_rita).post(
        reverse("organisation_create"), org_form(licence_category="")
    )
    assert response.status_code == 200
    assert "金融机构的许可类别“”无效" in response.content.decode()
    assert not Organisation.objects.filter(credit_code="91330000MA2D0000XY").exists()


def test_creating_twice_with_the_same_code_is_idempotent(client_for, regulator_rita):
    client = client_for(regulator_rita)
    first = client.post(reverse("organisation_create"), org_form())
    second = client.post(
        reverse("organisation_create"),
        org_form(name="别的名字", credit_code="91330000ma2d0000xy"),
        follow=True,
    )
    assert Organisation.objects.filter(credit_code="91330000MA2D0000XY").count() == 1
    assert second.redirect_chain[0][0] == first["Location"]
    assert "该统一社会信用代码已登记为“丙小额贷款有限公司”" in second.content.decode()
    assert (
        AuditEvent.objects.filter(
            action="organisation.create", object_repr="丙小额贷款有限公司"
        ).count()
        == 1
    )


def test_same_code_as_another_kind_is_refused(client_for, regulator_rita, org_carrier):
    response = client_for(regulator_rita).post(
        reverse("organisation_create"), org_form(credit_code=org_carrier.credit_code)
    )
    assert response.status_code == 200
    assert "已登记为“电信运营商”某移动公司" in response.content.decode()


def test_regulator_operator_may_not_create_organisations(client_for, operator_rob):
    response = client_for(operator_rob).post(reverse("organisation_create"), org_form())
    assert response.status_code == 200
    assert "只有通信管理局的管理员可以管理单位" in response.content.decode()
    assert not Organisation.objects.filter(credit_code="91330000MA2D0000XY").exists()


def test_regulator_adds_the_first_admin_who_must_change_the_password(client_for, regulator_rita):
    client = client_for(regulator_rita)
    client.post(reverse("organisation_create"), org_form())
    org = Organisation.objects.get(credit_code="91330000MA2D0000XY")
    response = client.post(
        reverse("organisation_user_create", args=[org.pk]), {"username": "erin", "role": "admin"}
    )
    assert response.status_code == 200
    password = response.context["password"]
    erin = User.objects.get(username="erin")
    assert erin.organisation == org
    assert erin.must_change_password

    fresh = Client()
    response = fresh.post(reverse("login"), {"username": "erin", "password": password})
    assert response["Location"] == reverse("password_change")
    assert fresh.get(reverse("user_list"))["Location"] == reverse("password_change")


# --- renaming an organisation (issue 10 §15: organisation_update has a page) -------------


def test_rita_renames_an_organisation_and_it_is_audited(client_for, regulator_rita, inst_alice):
    url = reverse("organisation_edit", args=[inst_alice.organisation_id])
    client = client_for(regulator_rita)
    form = {"name": "甲银行股份有限公司", "licence_category": "bank", "province": "浙江省"}
    response = client.post(url, form)
    assert response.status_code == 302
    org = Organisation.objects.get(pk=inst_alice.organisation_id)
    assert (org.name, org.province, org.kind) == ("甲银行股份有限公司", "浙江省", "institution")
    event = AuditEvent.objects.filter(action="organisation.update").get()
    assert event.summary["before"]["name"] == "甲银行"
    client.post(url, form)  # the same again: nothing changes, nothing is written
    assert AuditEvent.objects.filter(action="organisation.update").count() == 1
    page = client.get(reverse("organisation_detail", args=[org.pk])).content.decode()
    assert 'data-testid="edit-organisation"' in page


def test_an_empty_name_is_refused_on_the_page(client_for, regulator_rita, inst_alice):
    url = reverse("organisation_edit", args=[inst_alice.organisation_id])
    body = client_for(regulator_rita).post(url, {"name": " "}).content.decode()
    assert "该字段是必填项" in body
    assert Organisation.objects.get(pk=inst_alice.organisation_id).name == "甲银行"


@pytest.mark.parametrize(
    "who", ["inst_alice", "inst_bob", "carrier_carol", "financial_fiona", "operator_rob"]
)
def test_only_the_administrations_admin_renames(request, client_for, inst_alice, who):
    url = reverse("organisation_edit", args=[inst_alice.organisation_id])
    client = client_for(request.getfixturevalue(who))
    assert client.get(url).status_code == 404
    assert client.post(url, {"name": "改名"}).status_code == 404
    assert Organisation.objects.get(pk=inst_alice.organisation_id).name == "甲银行"
