"""The numbers register pages (issue 4 §6): list, detail with history, add, edit, end,
export and the template. Institutions see only their own numbers (000 §二(一)5: data of
different institutions isolated); regulators read all; carriers have no registry pages."""

from __future__ import annotations

import datetime as dt
import io

import openpyxl
import pytest
import time_machine

from registry.models import RegisteredNumber, Status
from tests.registry.conftest import PARTNER_CODE, register, save_partner

pytestmark = pytest.mark.django_db

LIST = "/registry/numbers/"
NEW = "/registry/numbers/new/"

VALID = {
    "number": "0571-87654321",
    "kind": "",
    "main_port": "",
    "purpose": "催收",
    "user_name": "本机构",
    "user_credit_code": "",
    "carrier": "电信",
    "document_number": "",
    "valid_from": "2026-02-01",
    "valid_to": "",
    "remark": "",
}


def rows_of(response) -> str:
    return response.content.decode()


# --- list --------------------------------------------------------------------------------


def test_alice_sees_her_numbers_and_not_bobs(client_for, inst_alice, alice_number, bob_number):
    response = client_for(inst_alice).get(LIST)
    assert response.status_code == 200
    body = rows_of(response)
    assert "13800138000" in body
    assert "13700137000" not in body
    assert 'data-testid="add-number"' in body


def test_bobs_list_does_not_contain_alices_rows(client_for, inst_bob, alice_number, bob_number):
    body = rows_of(client_for(inst_bob).get(LIST))
    assert "13700137000" in body
    assert "13800138000" not in body


@pytest.mark.parametrize("who", ["regulator_rita", "financial_fiona"])
def test_regulators_read_every_institution(request, client_for, who, alice_number, bob_number):
    user = request.getfixturevalue(who)
    response = client_for(user).get(LIST)
    assert response.status_code == 200
    body = rows_of(response)
    assert "13800138000" in body and "13700137000" in body
    assert "甲银行" in body and "乙消费金融" in body  # the institution column
    assert "号码库" in body
    assert 'data-testid="add-number"' not in body


def test_regulator_filters_by_institution(client_for, regulator_rita, alice_number, bob_number):
    response = client_for(regulator_rita).get(LIST, {"institution": alice_number.institution_id})
    body = rows_of(response)
    assert "13800138000" in body
    assert "13700137000" not in body


def test_institution_filter_is_ignored_for_institutions(
    client_for, inst_bob, alice_number, bob_number
):
    body = rows_of(client_for(inst_bob).get(LIST, {"institution": alice_number.institution_id}))
    assert "13800138000" not in body
    assert "13700137000" in body


def test_carrier_gets_404_on_every_registry_page(client_for, carrier_carol, alice_number):
    client = client_for(carrier_carol)
    for path in (
        LIST,
        NEW,
        f"/registry/numbers/{alice_number.pk}/",
        f"/registry/numbers/{alice_number.pk}/edit/",
        f"/registry/numbers/{alice_number.pk}/end/",
        "/registry/numbers/export.xlsx",
        "/registry/template.xlsx",
    ):
        assert client.get(path).status_code == 404, path


def test_anonymous_is_sent_to_login(client, alice_number):
    response = client.get(LIST)
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_viewer_reads_but_sees_no_write_buttons(client_for, viewer_viola, alice_number):
    client = client_for(viewer_viola)
    body = rows_of(client.get(LIST))
    assert "13800138000" in body
    assert 'data-testid="add-number"' not in body
    detail = rows_of(client.get(f"/registry/numbers/{alice_number.pk}/"))
    assert 'data-testid="edit-number"' not in detail
    assert 'data-testid="end-number"' not in detail


def test_search_accepts_a_formatted_number_and_a_substring(client_for, inst_alice, alice_number):
    register(inst_alice, "13900139000")
    client = client_for(inst_alice)
    body = rows_of(client.get(LIST, {"q": "+86 138 0013 8000"}))
    assert "13800138000" in body and "13900139000" not in body
    body = rows_of(client.get(LIST, {"q": "0013 8"}))
    assert "13800138000" in body and "13900139000" not in body
    body = rows_of(client.get(LIST, {"q": "+86 138 0013"}))  # partial, with country code
    assert "13800138000" in body and "13900139000" not in body
    body = rows_of(client.get(LIST, {"q": "１３９"}))  # full-width digits
    assert "13900139000" in body and "13800138000" not in body


def test_filters_purpose_kind_carrier(client_for, inst_alice, alice_number):
    register(inst_alice, "95599", 用途="催收", 电信运营商="中国电信")
    register(inst_alice, "1069055599")
    register(inst_alice, "106905559901", 所属主端口="1069055599")
    client = client_for(inst_alice)
    body = rows_of(client.get(LIST, {"purpose": "collection"}))
    assert "95599" in body and "13800138000" not in body
    body = rows_of(client.get(LIST, {"kind": "sub_port"}))
    assert "106905559901" in body and "13800138000" not in body
    assert "子端口" in body
    body = rows_of(client.get(LIST, {"kind": "sms_port"}))
    assert ">1069055599<" in body and "106905559901" not in body
    body = rows_of(client.get(LIST, {"carrier": "电信"}))
    assert "95599" in body and "13800138000" not in body


def test_default_status_is_active_and_all_shows_ended(client_for, inst_alice, alice_number):
    from registry import services

    services.number_end(
        actor=inst_alice, number=alice_number, end_date=dt.date(2026, 3, 1), reason="号码停用"
    )
    client = client_for(inst_alice)
    assert "13800138000" not in rows_of(client.get(LIST))
    body = rows_of(client.get(LIST, {"status": "all"}))
    assert "13800138000" in body and "已终止" in body and "号码停用" in body
    assert "13800138000" in rows_of(client.get(LIST, {"status": "ended"}))


def test_partner_filter_and_expired_entrustment_badge(client_for, inst_alice):
    with time_machine.travel(dt.datetime(2026, 2, 1, 10, tzinfo=dt.UTC), tick=False):
        partner = save_partner(inst_alice, valid_to=dt.date(2026, 3, 31))
        register(
            inst_alice,
            "13900139000",
            用途="催收",
            使用单位=partner.name,
            使用单位统一社会信用代码=PARTNER_CODE,
            合作起始日期="2026-02-01",
        )
        register(inst_alice, "13800138000")
        body = rows_of(client_for(inst_alice).get(LIST, {"partner": partner.pk}))
        assert "13900139000" in body and "13800138000" not in body
        assert "2026-02-01 – 2026-03-31" in body  # capped by the entrustment
        assert "委托书已到期" not in body
    # The daily job has not ended the number yet: the list shows why it must go.
    with time_machine.travel(dt.datetime(2026, 4, 2, 10, tzinfo=dt.UTC), tick=False):
        body = rows_of(client_for(inst_alice).get(LIST))
        assert 'data-testid="entrustment-expired"' in body
        assert "委托书已到期" in body


def test_pagination(client_for, inst_alice):
    for i in range(30):
        register(inst_alice, f"1380013{i:04d}")
    client = client_for(inst_alice)
    first = rows_of(client.get(LIST))
    assert first.count('data-testid="number-row"') == 25
    assert "共 30 条" in first
    second = rows_of(client.get(LIST, {"page": 2}))
    assert second.count('data-testid="number-row"') == 5


# --- detail and history ------------------------------------------------------------------


def test_detail_shows_history_with_superseded_versions(client_for, inst_alice, alice_number):
    from registry import services

    changed = services.number_update(
        actor=inst_alice,
        number=alice_number,
        fields={
            "号码": "13800138000",
            "用途": "营销",
            "使用单位": "本机构",
            "电信运营商": "中国联通",
            "合作起始日期": "2026-01-01",
        },
    )
    client = client_for(inst_alice)
    body = rows_of(client.get(f"/registry/numbers/{changed.pk}/"))
    assert body.count('data-testid="history-row"') == 2
    assert "首次登记" in body and "变更" in body
    assert "<del>中国移动</del> → 中国联通" in body
    assert "历史版本" in body
    assert "网页登记" in body
    assert "alice" in body
    # The old version's own page says it is history and links to the current one.
    old = rows_of(client.get(f"/registry/numbers/{alice_number.pk}/"))
    assert "这是一个历史版本" in old
    assert f"/registry/numbers/{changed.pk}/" in old
    assert 'data-testid="edit-number"' not in old


def test_bob_gets_404_on_alices_number(client_for, inst_bob, alice_number):
    client = client_for(inst_bob)
    for suffix in ("", "edit/", "end/"):
        assert client.get(f"/registry/numbers/{alice_number.pk}/{suffix}").status_code == 404
    response = client.post(
        f"/registry/numbers/{alice_number.pk}/end/", {"end_date": "2026-03-01", "reason": "x"}
    )
    assert response.status_code == 404
    alice_number.refresh_from_db()
    assert alice_number.status == Status.ACTIVE


@pytest.mark.parametrize("who", ["regulator_rita", "financial_fiona"])
def test_regulators_read_a_number_but_cannot_write(request, client_for, who, alice_number):
    client = client_for(request.getfixturevalue(who))
    body = rows_of(client.get(f"/registry/numbers/{alice_number.pk}/"))
    assert "13800138000" in body and "甲银行" in body
    assert 'data-testid="edit-number"' not in body
    assert client.get(NEW).status_code == 404
    assert client.post(NEW, VALID).status_code == 404
    assert client.get(f"/registry/numbers/{alice_number.pk}/edit/").status_code == 404
    response = client.post(
        f"/registry/numbers/{alice_number.pk}/end/", {"end_date": "2026-03-01", "reason": "x"}
    )
    assert response.status_code == 404
    alice_number.refresh_from_db()
    assert alice_number.status == Status.ACTIVE


def test_viewer_cannot_add_edit_or_end(client_for, viewer_viola, alice_number):
    client = client_for(viewer_viola)
    assert client.get(NEW).status_code == 403
    assert client.post(NEW, VALID).status_code == 403
    assert client.post(f"/registry/numbers/{alice_number.pk}/edit/", VALID).status_code == 403
    response = client.post(
        f"/registry/numbers/{alice_number.pk}/end/", {"end_date": "2026-03-01", "reason": "x"}
    )
    assert response.status_code == 403
    assert RegisteredNumber.objects.count() == 1


# --- add ---------------------------------------------------------------------------------


def test_add_a_number(client_for, inst_alice, alice_partner):
    client = client_for(inst_alice)
    form = rows_of(client.get(NEW))
    assert 'list="registry-user-names"' in form
    assert alice_partner.name in form  # offered in the 使用单位 datalist
    response = client.post(NEW, VALID)
    row = RegisteredNumber.objects.get(number="057187654321")
    assert response.status_code == 302
    assert response["Location"] == f"/registry/numbers/{row.pk}/"
    assert row.kind == "landline"
    assert row.purpose == "collection"
    assert row.carrier == "中国电信"
    assert row.created_by == inst_alice
    page = rows_of(client.get(response["Location"]))
    assert "已登记号码 057187654321" in page


def test_add_a_partner_number(client_for, inst_alice, alice_partner):
    data = {
        **VALID,
        "number": "13900139000",
        "user_name": alice_partner.name,
        "user_credit_code": PARTNER_CODE,
    }
    response = client_for(inst_alice).post(NEW, data)
    assert response.status_code == 302
    row = RegisteredNumber.objects.get(number="13900139000")
    assert row.partner == alice_partner
    assert row.document_number == "WT-2026-001"


def test_add_shows_errors_in_chinese_on_the_field(client_for, inst_alice):
    client = client_for(inst_alice)
    response = client.post(NEW, {**VALID, "number": "12345"})
    assert response.status_code == 200
    body = rows_of(response)
    assert 'data-testid="error-number"' in body
    assert "is-invalid" in body
    assert not RegisteredNumber.objects.exists()

    body = rows_of(client.post(NEW, {**VALID, "purpose": "", "valid_from": ""}))
    assert 'data-testid="error-purpose"' in body
    assert 'data-testid="error-valid_from"' in body
    assert "该字段是必填项" in body


def test_add_a_partner_without_credit_code_names_the_field(client_for, inst_alice):
    body = rows_of(client_for(inst_alice).post(NEW, {**VALID, "user_name": "某外包公司"}))
    assert 'data-testid="error-user_credit_code"' in body
    assert "统一社会信用代码" in body


def test_purpose_not_covered_by_the_entrustment(client_for, inst_alice, alice_partner):
    data = {
        **VALID,
        "number": "13900139000",
        "purpose": "营销",
        "user_name": alice_partner.name,
        "user_credit_code": PARTNER_CODE,
    }
    body = rows_of(client_for(inst_alice).post(NEW, data))
    assert "委托类型为“催收”" in body
    assert not RegisteredNumber.objects.filter(number="13900139000").exists()


def test_end_date_before_start_in_the_form_is_refused(client_for, inst_alice):
    body = rows_of(
        client_for(inst_alice).post(
            NEW, {**VALID, "valid_from": "2026-03-01", "valid_to": "2026-02-01"}
        )
    )
    assert 'data-testid="error-valid_to"' in body
    assert "早于起始日期" in body


# --- edit --------------------------------------------------------------------------------


def test_edit_makes_a_new_version(client_for, inst_alice, alice_number):
    client = client_for(inst_alice)
    url = f"/registry/numbers/{alice_number.pk}/edit/"
    form = rows_of(client.get(url))
    assert 'value="13800138000"' in form and "disabled" in form
    assert 'value="2026-01-01"' in form
    data = {
        **VALID,
        "number": "99999999999",  # ignored: the number itself is fixed
        "purpose": "营销及催收",
        "carrier": "中国移动",
        "valid_from": "2026-01-01",
    }
    response = client.post(url, data)
    assert response.status_code == 302
    alice_number.refresh_from_db()
    assert alice_number.status == Status.SUPERSEDED
    current = RegisteredNumber.objects.get(number="13800138000", status=Status.ACTIVE)
    assert current.purpose == "both"
    assert response["Location"] == f"/registry/numbers/{current.pk}/"
    assert not RegisteredNumber.objects.filter(number="99999999999").exists()


def test_edit_without_changes_keeps_the_version(client_for, inst_alice, alice_number):
    data = {
        **VALID,
        "number": "",
        "purpose": "营销",
        "carrier": "中国移动",
        "valid_from": "2026-01-01",
    }
    response = client_for(inst_alice).post(f"/registry/numbers/{alice_number.pk}/edit/", data)
    assert response["Location"] == f"/registry/numbers/{alice_number.pk}/"
    assert RegisteredNumber.objects.count() == 1


def test_edit_shows_service_errors(client_for, inst_alice, alice_number):
    data = {**VALID, "purpose": "营销", "kind": "子端口", "valid_from": "2026-01-01"}
    body = rows_of(client_for(inst_alice).post(f"/registry/numbers/{alice_number.pk}/edit/", data))
    assert "is-invalid" in body
    assert "号码识别为“手机”" in body or "子端口须填写所属主端口" in body
    alice_number.refresh_from_db()
    assert alice_number.status == Status.ACTIVE


def test_a_superseded_version_cannot_be_edited(client_for, inst_alice, alice_number):
    from registry import services

    services.number_end(
        actor=inst_alice, number=alice_number, end_date=dt.date(2026, 2, 1), reason="停用"
    )
    client = client_for(inst_alice)
    response = client.get(f"/registry/numbers/{alice_number.pk}/edit/", follow=True)
    assert "只能修改在用的登记" in rows_of(response)


# --- end ---------------------------------------------------------------------------------


def test_end_a_number(client_for, inst_alice, alice_number):
    client = client_for(inst_alice)
    detail = rows_of(client.get(f"/registry/numbers/{alice_number.pk}/"))
    assert 'data-confirm="确定终止号码 13800138000 的登记吗？"' in detail
    response = client.post(
        f"/registry/numbers/{alice_number.pk}/end/",
        {"end_date": "2026-06-30", "reason": "合作结束"},
        follow=True,
    )
    body = rows_of(response)
    assert "已终止号码 13800138000 的登记" in body
    assert "合作结束" in body
    alice_number.refresh_from_db()
    assert alice_number.status == Status.ENDED
    assert alice_number.valid_to == dt.date(2026, 6, 30)


def test_end_shows_errors_in_chinese(client_for, inst_alice, alice_number):
    client = client_for(inst_alice)
    url = f"/registry/numbers/{alice_number.pk}/end/"
    body = rows_of(client.post(url, {"end_date": "2025-12-31", "reason": "停用"}))
    assert 'data-testid="error-end_date"' in body
    assert "终止日期不能早于合作起始日期" in body
    body = rows_of(client.post(url, {"end_date": "2026-06-30", "reason": ""}))
    assert 'data-testid="error-reason"' in body
    alice_number.refresh_from_db()
    assert alice_number.status == Status.ACTIVE


# --- files -------------------------------------------------------------------------------


def _sheet_numbers(response) -> list[str]:
    data = b"".join(response.streaming_content)
    ws = openpyxl.load_workbook(io.BytesIO(data)).active
    return [row[0] for row in ws.iter_rows(min_row=2, values_only=True)]


def test_export_is_the_filtered_list_of_ones_own(client_for, inst_alice, alice_number, bob_number):
    register(inst_alice, "95599", 用途="催收")
    client = client_for(inst_alice)
    response = client.get("/registry/numbers/export.xlsx")
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    assert sorted(_sheet_numbers(response)) == ["13800138000", "95599"]
    response = client.get("/registry/numbers/export.xlsx", {"purpose": "collection"})
    assert _sheet_numbers(response) == ["95599"]


def test_bobs_export_has_none_of_alices(client_for, inst_bob, alice_number, bob_number):
    response = client_for(inst_bob).get("/registry/numbers/export.xlsx")
    assert _sheet_numbers(response) == ["13700137000"]


def test_regulator_exports_all(client_for, regulator_rita, alice_number, bob_number):
    response = client_for(regulator_rita).get("/registry/numbers/export.xlsx")
    assert sorted(_sheet_numbers(response)) == ["13700137000", "13800138000"]


@pytest.mark.parametrize("who", ["inst_alice", "viewer_viola", "regulator_rita"])
def test_template_download(request, client_for, who):
    response = client_for(request.getfixturevalue(who)).get("/registry/template.xlsx")
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    ws = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    assert ws.cell(row=1, column=1).value.startswith("号码")


# --- 多机构登记 (issue 16 item 8; issue 9 §6) ------------------------------------------


def test_a_number_held_elsewhere_is_registered_marked_and_nobody_named(
    client_for, inst_bob, regulator_rita, alice_number
):
    """A 409 naming the other institution was the only place one institution learnt of
    another's numbers: now bob's entry is registered, marked, and names no one."""
    client = client_for(inst_bob)
    response = client.post(NEW, {**VALID, "number": "138 0013 8000"}, follow=True)
    body = rows_of(response)
    assert response.status_code == 200
    assert "多机构登记" in body and "通信管理局将予以核实" in body
    assert "甲银行" not in body
    listed = rows_of(client.get(LIST))
    assert 'data-testid="shared-mark"' in listed
    rita = client_for(regulator_rita)
    assert "13800138000" in rows_of(rita.get(LIST, {"shared": "1"}))
    assert "13800138000" not in rows_of(rita.get(LIST, {"shared": "0"}))


def test_the_carrier_filter_is_a_drop_down_with_the_institutions_providers(
    client_for, inst_alice, alice_number
):
    """Issue 10 §14: the 运营商 filter was free text while the others were drop-downs."""
    register(inst_alice, "1069055599", 电信运营商="某某短信服务有限公司")
    body = rows_of(client_for(inst_alice).get(LIST, {"carrier": "中国移动"}))
    assert '<select id="f-carrier"' in body
    assert '<option value="中国移动" selected>' in body
    assert '<option value="某某短信服务有限公司">' in body
