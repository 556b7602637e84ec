"""Filing data for the tests, made through the services, on top of the named users in
tests/conftest.py: carol (a 中国移动 carrier) files campaigns for alice (甲银行), whose
register holds the port 1069055599 (营销, 中国移动) and a collection port."""

from __future__ import annotations

import datetime as dt

import pytest

from filings import services
from tests.conftest import CODES
from tests.registry.conftest import eager, register, save_partner  # noqa: F401 - eager: a fixture

PORT = "1069055599"
SUB_PORT = "106905559901"
COLLECTION_PORT = "1069055588"
PARTNER_CODE = "91330100MA2PART01W"

GOOD = {
    "报备单位": "某移动公司",
    "发送主体名称": "甲银行",
    "发送主体统一社会信用代码": CODES["alice"],
    "短信签名": "【甲银行】",
    "发送端口": PORT,
    "发送目的": "营销",
    "短信内容": "【甲银行】尊敬的{姓名}，信用卡分期优惠至月底，详询95599。回T退订",
    "计划发送开始时间": "2026-03-20 09:00",
    "计划发送结束时间": "2026-03-20 18:00",
    "计划发送数量": "50000",
    "发送对象范围": "本行信用卡客户",
    "发送对象同意情况": "开户时勾选同意接收营销信息",
    "发送地域": "浙江省",
    "退订方式": "回T退订",
    "联系人": "张三",
    "联系电话": "0571-87650001",
}

COLLECTION = {
    **GOOD,
    "发送端口": COLLECTION_PORT,
    "发送目的": "催收",
    "短信内容": "【甲银行】{姓名}您好，您的信用卡账单已逾期，请及时还款，详询95599。",
    "退订方式": "",
}


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def columns(**changes) -> dict[str, str]:
    return {**GOOD, **changes}


@pytest.fixture
def alice_ports(inst_alice, fixed_day):
    register(inst_alice, PORT, 用途="营销", 电信运营商="中国移动", 合作起始日期="2026-01-01")
    register(inst_alice, COLLECTION_PORT, 用途="催收", 电信运营商="中国移动")
    return inst_alice


@pytest.fixture
def partner(inst_alice, fixed_day):
    """甲银行's collection agency, entrusted until 2026-03-25."""
    return save_partner(inst_alice, code=PARTNER_CODE, kind="both", valid_to=dt.date(2026, 3, 25))


def file(carrier_user, **changes):
    values = services.values_from_columns(columns(**changes), carrier=carrier_user.organisation)
    return services.filing_create(
        actor=carrier_user, carrier=carrier_user.organisation, values=values
    )


def codes(filing) -> list[str]:
    return [c["code"] for c in filing.checks]


CARRIER_B_CODE = "91330000MA2CUC0001"[:17]


@pytest.fixture
def carrier_bert(db):
    """Carrier B (a 中国联通 company), with its 管理员 bert."""
    from portal.accounts import services as accounts
    from portal.audit import SYSTEM
    from portal.creditcode import check_character
    from tests.conftest import _user

    org, _ = accounts.organisation_create(
        actor=SYSTEM,
        kind="carrier",
        name="某联通公司",
        credit_code=CARRIER_B_CODE + check_character(CARRIER_B_CODE),
        network="unicom",
    )
    return _user(org, "bert")
