"""Bootstrap from the shell: ``create_organisation`` and ``create_user``
(portal/management/commands/), and the audit side of ``load_calendar``.

Each prints one JSON line, is idempotent (the same arguments again change nothing and write
no audit event), refuses bad input with one Chinese line on stderr and exit 1, and writes
the audit trail as 系统 (000 §二(一)5 / 001 第十九–二十一条: every change audited).
"""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from portal.audit import SYSTEM_ACTOR
from portal.models import AuditEvent, Organisation, User
from tests.commands import command_args, run, run_failing
from tests.conftest import CODES, PASSWORD

pytestmark = pytest.mark.django_db

NEW_CODE = "91330000MA2D0000XY"  # valid (tests/portal/test_accounts_views.py)


def snapshot(model) -> list[dict]:
    return list(model.objects.order_by("pk").values())


# --- create_organisation ------------------------------------------------------------------


def create_org(**overrides) -> list[str]:
    values = {
        "kind": "institution",
        "name": "丙小额贷款有限公司",
        "credit-code": NEW_CODE,
        "licence": "small_loan",
        "province": "浙江省",
    } | overrides
    return command_args("create_organisation", values)


def test_create_organisation_prints_its_id_and_is_audited_as_the_system():
    """000 §一(一): a small-loan company is licensed by the local financial regulator."""
    result = run(*create_org())
    org = Organisation.objects.get(credit_code=NEW_CODE)
    assert result == {"id": org.pk, "created": True}
    assert (org.kind, org.name, org.province) == ("institution", "丙小额贷款有限公司", "浙江省")
    assert (org.licence_category, org.licensing_authority) == ("small_loan", "local")
    event = AuditEvent.objects.get(action="organisation.create", object_id=str(org.pk))
    assert event.actor is None
    assert event.actor_label == SYSTEM_ACTOR
    assert event.organisation == org


@pytest.mark.parametrize("kind", ["institution", "carrier", "regulator", "financial_regulator"])
def test_create_organisation_takes_every_kind(kind):
    result = run(*create_org(kind=kind))
    assert Organisation.objects.get(pk=result["id"]).kind == kind


def test_create_organisation_twice_changes_nothing():
    first = run(*create_org())
    orgs, events = snapshot(Organisation), AuditEvent.objects.count()
    second = run(*create_org())
    assert second == {"id": first["id"], "created": False}
    assert snapshot(Organisation) == orgs
    assert AuditEvent.objects.count() == events


def test_a_wrong_check_character_names_the_position():
    """GB 32100-2015: the 18th character is the check character; the message says so."""
    message = run_failing(*create_org(**{"credit-code": NEW_CODE[:17] + "X"}))
    assert message == "统一社会信用代码第 18 位校验码错误：应为“Y”，实际为“X”"
    assert not Organisation.objects.exists()


def test_an_illegal_character_names_the_position():
    message = run_failing(*create_org(**{"credit-code": "91330000MA2D0O00XY"}))
    assert message.startswith("统一社会信用代码第 14 位“O”不是合法字符")


def test_an_invalid_licence_lists_the_choices():
    message = run_failing(*create_org(licence="bnak"))
    assert message.startswith("金融机构的许可类别“bnak”无效，可选：")
    assert "bank（银行）" in message
    assert "small_loan（小额贷款公司）" in message
    assert not Organisation.objects.exists()


def test_an_institution_needs_a_licence():
    """000 §一(一): an institution names its licence category."""
    assert run_failing(*create_org(licence=None)).startswith("金融机构的许可类别“”无效")


def test_a_credit_code_registered_as_another_kind_is_refused(org_carrier):
    message = run_failing(*create_org(**{"credit-code": CODES["carrier"]}))
    assert message == f"统一社会信用代码 {CODES['carrier']} 已登记为“电信运营商”某移动公司"


def test_an_empty_name_is_refused():
    assert run_failing(*create_org(name="  ")) == "单位名称不能为空"


def test_an_unknown_kind_is_refused_in_chinese_naming_codes_and_labels():
    message = run_failing(*create_org(kind="bank"))
    assert message.startswith("单位类型“bank”无效，可选：")
    assert "institution（金融机构）" in message and "carrier（电信运营商）" in message


@pytest.mark.parametrize(
    ("kind", "licence"), [("金融机构", "银行"), ("institution", "bank"), ("金融机构", "bank")]
)
def test_enumerations_take_the_code_or_the_chinese_label(kind, licence):
    """Issue 10 §12: the command line accepts the Chinese labels, as the spreadsheets do."""
    org = Organisation.objects.get(pk=run(*create_org(kind=kind, licence=licence))["id"])
    assert (org.kind, org.licence_category) == ("institution", "bank")


@pytest.mark.parametrize(
    ("command", "shown"),
    [
        ("create_organisation", ["institution（金融机构）", "bank（银行）"]),
        ("create_user", ["operator（经办人）"]),
        ("add_partner", ["collection（催收）"]),
    ],
)
def test_help_lists_codes_and_labels(capsys, command, shown):
    with pytest.raises(SystemExit):
        call_command(command, "--help")
    text = " ".join(capsys.readouterr().out.split())
    for item in shown:
        assert item in text


# --- create_user --------------------------------------------------------------------------


def create_user(username: str = "dave", role: str = "admin", org: str = CODES["alice"]):
    return ["create_user", "--organisation", org, "--username", username, "--role", role]


def test_create_user_prints_a_one_time_password_that_must_be_changed(org_alice):
    """An invited user gets a one-time password, shown once, changed at first login."""
    result = run(*create_user())
    dave = User.objects.get(username="dave")
    password = result.pop("one_time_password")
    assert result == {"id": dave.pk, "created": True, "username": "dave"}
    assert dave.organisation == org_alice
    assert dave.role == "admin"
    assert dave.must_change_password
    assert dave.check_password(password)
    event = AuditEvent.objects.get(action="user.create", object_id=str(dave.pk))
    assert (event.actor, event.actor_label) == (None, SYSTEM_ACTOR)
    assert event.organisation == org_alice

    client = Client()
    response = client.post(reverse("login"), {"username": "dave", "password": password})
    assert response["Location"] == reverse("password_change")


def test_create_user_twice_changes_nothing_and_prints_no_password(org_alice):
    first = run(*create_user())
    users, events = snapshot(User), AuditEvent.objects.count()
    second = run(*create_user())
    assert second == {
        "id": first["id"],
        "created": False,
        "username": "dave",
        "one_time_password": None,
    }
    assert snapshot(User) == users  # the password hash too: not reset
    assert AuditEvent.objects.count() == events


def test_an_existing_user_with_the_same_role_keeps_their_password(inst_alice):
    result = run(*create_user("alice"), "--password-stdin", stdin="Another-Horse-Battery-7\n")
    assert result["created"] is False
    inst_alice.refresh_from_db()
    assert inst_alice.check_password(PASSWORD)


def test_password_from_stdin_is_still_temporary(org_alice):
    """A password the administrator chose is also a temporary one: changed at first login."""
    result = run(*create_user(), "--password-stdin", stdin="Correct-Horse-Battery-9\n")
    assert result["one_time_password"] is None
    assert result["created"] is True
    dave = User.objects.get(username="dave")
    assert dave.check_password("Correct-Horse-Battery-9")
    assert dave.must_change_password


@pytest.mark.parametrize(
    ("password", "message"),
    [
        (
            "12345678\n",
            "密码长度太短。密码必须包含至少 10 个字符；这个密码太常见了；密码只包含数字；"
            "密码强度不足",
        ),
        ("1234567890\n", "密码只包含数字；密码强度不足"),
        ("dave-Horse-Battery-9\n", "密码不能包含用户名"),
        ("\n", "未从标准输入读到密码"),
        ("", "未从标准输入读到密码"),
    ],
    ids=["short", "numeric", "username", "blank-line", "empty"],
)
def test_a_weak_password_on_stdin_is_refused_in_chinese(org_alice, password, message):
    assert message in run_failing(*create_user(), "--password-stdin", stdin=password)
    assert not User.objects.filter(username="dave").exists()
    assert not AuditEvent.objects.filter(action="user.create").exists()


def test_an_unknown_organisation_is_refused(db):
    message = run_failing(*create_user(org=CODES["bob"]))
    assert message == f"未找到统一社会信用代码为 {CODES['bob']} 的单位"


def test_a_wrong_organisation_code_names_the_position(db):
    message = run_failing(*create_user(org=CODES["bob"][:17] + "A"))
    assert message == "所属单位统一社会信用代码第 18 位校验码错误：应为“F”，实际为“A”"


def test_a_username_of_another_organisation_is_refused(inst_alice, org_bob):
    assert run_failing(*create_user("ALICE", org=CODES["bob"])) == "该用户名不可用，请换一个"
    assert User.objects.filter(username__iexact="alice").count() == 1


def test_an_existing_username_with_another_role_is_refused(inst_alice):
    """Same arguments, same account; a different role is a mistake, not a silent no-op
    (changing a role is the users page's job, audited as user.update)."""
    events = AuditEvent.objects.count()
    message = run_failing(*create_user("alice", role="viewer"))
    assert message == (
        "用户名“alice”已存在，角色为“管理员”，不是“查看”；如需改变角色，请在“用户”页面修改"
    )
    inst_alice.refresh_from_db()
    assert inst_alice.role == "admin"
    assert AuditEvent.objects.count() == events


def test_an_unknown_role_is_refused_in_chinese(org_alice):
    assert run_failing(*create_user(role="root")) == (
        "角色“root”无效，可选：admin（管理员）、operator（经办人）、viewer（查看）"
    )


def test_a_role_given_by_its_chinese_label(org_alice):
    """Issue 10 §12: --role 经办人 is --role operator."""
    user_id = run(*create_user(role="经办人"))["id"]
    assert User.objects.get(pk=user_id).role == "operator"


# --- load_calendar (idempotency is in test_deadline_command.py) -----------------------------


def test_load_calendar_is_audited_as_the_system(tmp_path):
    path = tmp_path / "2027.csv"
    path.write_text("date,kind,name\n2027-01-01,holiday,元旦\n", encoding="utf-8")
    run("load_calendar", "--year", "2027", str(path))
    event = AuditEvent.objects.get(action="calendar.load_year", object_id="2027")
    assert (event.actor, event.actor_label, event.organisation) == (None, SYSTEM_ACTOR, None)
    assert event.summary["source"] == "CSV 文件"


def test_load_calendar_dry_run_shows_working_days_per_month_and_saves_nothing(tmp_path):
    """Issue 5 §1: the new year's schedule is checked against the State Council notice
    before it is saved: working days per month, nothing written on a dry run."""
    from portal.models import CalendarYear, WorkDay

    path = tmp_path / "2027.csv"
    path.write_text(
        "date,kind,name\n2027-01-01,holiday,元旦\n2027-02-13,workday,春节\n", encoding="utf-8"
    )
    events = AuditEvent.objects.count()
    preview = run("load_calendar", "--year", "2027", str(path), "--dry-run")
    assert preview["dry_run"] is True and preview["changed"] is False
    # January 2027 has 21 weekdays, one of them 元旦; February 20 weekdays and a Saturday 调休.
    assert (preview["per_month"]["1"], preview["per_month"]["2"]) == (20, 21)
    assert preview["working_days"] == sum(preview["per_month"].values())
    assert not CalendarYear.objects.filter(year=2027).exists()
    assert not WorkDay.objects.filter(date__year=2027).exists()
    assert AuditEvent.objects.count() == events
    saved = run("load_calendar", "--year", "2027", str(path))
    assert (saved["changed"], saved["per_month"]) == (True, preview["per_month"])


def test_an_existing_organisation_under_another_name_is_kept_and_the_cli_says_so(db):
    """Idempotent by credit code: the second run renames nothing, prints the same JSON and a
    one-line notice on stderr (exit 0)."""
    first = run(*create_org())
    out, err = StringIO(), StringIO()
    call_command(*create_org(name="丙小贷（新名称）"), stdout=out, stderr=err)
    assert json.loads(out.getvalue()) == {"id": first["id"], "created": False}
    assert "已登记为“丙小额贷款有限公司”，名称未改动" in err.getvalue()
    assert Organisation.objects.get(pk=first["id"]).name == "丙小额贷款有限公司"
