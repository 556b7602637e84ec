"""Quality and speed of the abnormal-complaint grouping (issue 15 §4), measured, not assumed.

Seeds N synthetic Chinese complaints (default 100,000): 95% written independently (a few
sentences drawn from a large pool, with their own numbers, times, amounts and names) and
5% from 20 campaign templates (代理维权 / 反催收 scripts), each copy lightly edited (a
filler word, a dropped or swapped clause, its own numbers, names and dates). Runs the
detection the service runs (oversight.abnormal.find_groups over the quarter's rows) and
prints the time, recall and precision of the campaign grouping (a complaint counts as
found when it lands in a flagged 内容雷同 group; goal ≥ 95% both, ≤ 30 s), the groups
found and how pure they are (one template each).

    .venv/bin/python bench/abnormal_complaints.py [--count 100000] [--seed 15]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

import django  # noqa: E402

django.setup()

from oversight import abnormal  # noqa: E402

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红娥玲芬燕斌辉"
BANKS = [
    "某某银行",
    "某消费金融公司",
    "某小额贷款公司",
    "某信用卡中心",
    "某网贷平台",
    "某保险公司",
    "某融资担保公司",
    "某信托公司",
    "某汽车金融公司",
    "某典当行",
    "某商业保理公司",
    "某支付公司",
]
PLACES = ["单位", "老家", "家里", "公司前台", "学校", "小区物业", "朋友", "父母", "同事", "领导"]

# Independent complaints: many sentence shapes, each with its own details.
OPENINGS = [
    "我在{d}接到{n}打来的电话，",
    "{d}上午有人用{n}联系我，",
    "最近一周{n}反复来电，",
    "{d}晚上{h}点多收到{n}的短信，",
    "本人于{d}被{n}骚扰，",
    "从{d}开始{n}每天打电话，",
    "我母亲{d}接到{n}的电话，",
    "{d}中午{n}连续打了{k}次，",
    "我没有办过任何贷款，{d}却接到{n}来电，",
    "前几天（{d}）{n}给我发短信，",
    "{d}下午{h}点左右，{n}打给我，",
    "今天{d}又是{n}，",
]
MIDDLES = [
    "对方自称{b}的工作人员，",
    "说是{b}委托的催收公司，",
    "说我在{b}有一笔{m}元的欠款逾期了，",
    "推销{b}的贷款产品，利率说得很低，",
    "说要给我办理{b}的信用卡提额，",
    "说话很不客气，",
    "我说不需要之后对方还是继续打，",
    "对方知道我的姓名和身份证号，",
    "对方要求我当天还清{m}元，",
    "说再不还就要上门，",
    "说要把我的情况告诉{p}，",
    "语气非常凶，还骂人，",
    "一直让我下载一个APP，",
    "让我添加微信{w}办理，",
    "说是回访客户满意度，",
    "问我要不要办理分期，",
    "说我的账户有风险需要处理，",
    "自称是{s}经理，",
    "我问他是哪家公司他不说，",
    "反复强调是最后一次通知，",
]
ENDINGS = [
    "严重影响我的生活。",
    "我已经回复退订但没用。",
    "请查一下这个号码是不是正规的。",
    "希望有关部门处理。",
    "我怀疑是诈骗。",
    "我根本不认识这家机构。",
    "请尽快制止这种行为。",
    "孩子都被吓哭了。",
    "我已经还清了，还在打。",
    "我要求删除我的个人信息。",
    "晚上十点以后还在打电话。",
    "我还在上班，被领导批评。",
    "他们还打给了我的{p}。",
    "请核实对方有没有资质。",
    "我多次拒绝了，仍然被推销。",
    "对方态度恶劣。",
]

# Campaign scripts (organised complaints): 20 templates with slots for each copy's details.
TEMPLATES = [
    "本人{s}，身份证号{id}，因{b}暴力催收，多次电话轰炸我的{p}，严重侵犯个人隐私，现依法投诉，要求停止催收、减免全部罚息并书面道歉，否则将向媒体曝光。",
    "我是{b}的借款人{s}，该机构委托的第三方催收公司使用{n}对我进行恐吓威胁，违反了监管规定，请求贵局立即查处并责令其停息挂账。",
    "投诉{b}：未经本人同意向我的通讯录联系人发送催收短信，号码{n}，请依法处理，并要求该机构协商个性化分期还款方案。",
    "{b}及其合作催收机构每天拨打我电话超过三次，严重影响工作生活，依据相关规定，我要求立即停止骚扰并免除违约金，请监管部门督促。",
    "本人郑重投诉{b}：其催收人员冒充律师和法院工作人员，使用{n}发送虚假的起诉通知，恐吓我和家人，请求依法追究其责任。",
    "我因疫情失业无力还款，{b}却频繁催收，还威胁上门和通知单位，我要求停息挂账、分六十期还本，请贵单位主持公道。",
    "{b}在催收过程中泄露我的借款信息给{p}，造成恶劣影响，我已保存通话录音，要求该机构赔礼道歉并减免全部利息。",
    "投诉人{s}：{b}利息远超法定上限，属于高利贷，催收号码{n}每天骚扰，请求贵局认定合同无效并退还多收的利息。",
    "本人多次与{b}协商还款均被拒绝，对方委托的催收公司用{n}辱骂我，现申请监管介入，要求停止一切催收行为，等待协商结果。",
    "{b}的催收员自称{s}，在晚上十点后仍然拨打电话，违反催收时间规定，请贵局对该机构进行处罚并要求其停止催收。",
    "我是反暴力催收维权群成员，现统一投诉{b}：其催收行为违法，要求全额退还砍头息，停止上征信，立即销毁我的个人资料。",
    "{b}未取得合法资质即开展贷款营销，使用{n}向我推销，请求贵局核查其经营资质，并将处理结果书面回复本人。",
    "本人{s}投诉{b}的营销号码{n}：未经同意多次推送贷款广告，退订无效，要求赔偿精神损失，并列入骚扰号码名单。",
    "依据个人信息保护法，{b}无权将我的债务信息告知第三方，但其委托的催收机构使用{n}联系了我的{p}，请依法严查。",
    "我方代理{k}名借款人集体投诉{b}，其催收公司存在辱骂、恐吓、冒充公检法等违法行为，请求贵局立案调查并公开结果。",
    "{b}在我已经申请停催后仍然使用{n}催收，我要求该机构出具停催确认书，并在三个工作日内给出个性化分期方案。",
    "投诉{b}强制搭售保险，借款{m}元实际到手远少于合同金额，催收号码{n}威胁我，请监管部门责令退还费用。",
    "本人强烈投诉{b}：催收人员{s}通过{n}发送带有侮辱性质的短信，并伪造律师函，请依法处理并给予答复。",
    "{b}的客服推销贷款时承诺零利息，实际年化利率很高，现在又用{n}频繁催收，我要求解除合同并退还全部利息。",
    "我是{b}的客户{s}，因还款困难申请延期被拒，对方催收号码{n}每天打十几个电话，恳请贵局督促其停止催收并减免罚息。",
]
FILLERS = ["真的", "非常", "实在", "一直", "再次", "特此", "恳请", "强烈"]


def name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))


def phone(rng: random.Random) -> str:
    if rng.random() < 0.2:
        return "1069" + "".join(rng.choice("0123456789") for _ in range(rng.randint(6, 10)))
    return "1" + rng.choice("3456789") + "".join(rng.choice("0123456789") for _ in range(9))


def slots(rng: random.Random) -> dict:
    day = dt.date(2026, 1, 1) + dt.timedelta(days=rng.randint(0, 89))
    return {
        "d": f"{day.month}月{day.day}日",
        "h": rng.randint(1, 11),
        "n": phone(rng),
        "b": rng.choice(BANKS),
        "m": rng.choice([800, 1500, 3200, 5000, 12000, 26800, 46000]),
        "p": rng.choice(PLACES),
        "s": name(rng),
        "k": rng.randint(2, 40),
        "w": "wx" + "".join(rng.choice("abcdefgh0123456789") for _ in range(8)),
        "id": "3301" + "".join(rng.choice("0123456789") for _ in range(14)),
    }


WHO = [
    "对方",
    "来电的人",
    "那个男的",
    "一个女的",
    "自称客服的人",
    "打电话的人",
    "发短信的",
    "这个号码",
    "他们",
    "催收员",
    "业务员",
    "所谓的经理",
    "对方工作人员",
    "这家公司",
    "另一个号码",
    "那边的人",
]
VERB = [
    "一直问我",
    "反复要求我",
    "威胁说要",
    "催我尽快",
    "推销说可以",
    "非要我",
    "劝我",
    "骗我说要",
    "打听我",
    "吓唬我要",
    "逼我",
    "暗示可以",
    "坚持让我",
    "通知我需要",
    "说能帮我",
    "警告我不",
]
OBJ = [
    "还钱",
    "办贷款",
    "提额度",
    "下载软件",
    "加微信",
    "去网点",
    "签协议",
    "交手续费",
    "做分期",
    "提供验证码",
    "转账到指定账户",
    "回电话",
    "去派出所",
    "联系我家人",
    "上门处理",
    "办保险",
    "更新资料",
    "注销账户",
    "开通会员",
    "确认身份",
]
WHEN = [
    "{d}",
    "{d}上午",
    "{d}晚上{h}点",
    "上个月",
    "这两天",
    "凌晨",
    "周末",
    "午休的时候",
    "开会时",
    "昨天",
    "前天下午",
    "连续三天",
    "{d}前后",
    "春节期间",
    "刚下班",
    "{h}点多",
]
TAIL = [
    "我很害怕",
    "我拒绝了",
    "我挂了电话",
    "我说没借过",
    "我问了银行",
    "我没理",
    "我录了音",
    "我要求删除信息",
    "我已经还清",
    "家人很担心",
    "孩子也接到了",
    "邻居都知道了",
    "影响工作",
    "睡不好觉",
    "对方还在打",
    "换了号码继续打",
    "说我不配合",
    "说要起诉",
    "发了律师函",
    "要求当天答复",
]


def clause(rng: random.Random) -> str:
    shape = rng.random()
    if shape < 0.3:
        return rng.choice(WHEN) + rng.choice(WHO) + rng.choice(VERB) + rng.choice(OBJ)
    if shape < 0.5:
        return rng.choice(WHO) + "用{n}" + rng.choice(VERB) + rng.choice(OBJ)
    if shape < 0.65:
        return (
            "自称{b}的"
            + rng.choice(["人", "员工", "合作方", "客服", "法务"])
            + rng.choice(VERB)
            + rng.choice(OBJ)
        )
    if shape < 0.8:
        return (
            rng.choice(TAIL) + "，" + rng.choice(WHEN) + "又" + rng.choice(VERB) + rng.choice(OBJ)
        )
    if shape < 0.9:
        return (
            "说我欠了{m}元"
            + rng.choice(["", "利息", "本金", "罚息", "手续费"])
            + "，"
            + rng.choice(TAIL)
        )
    return rng.choice(TAIL)


def genuine(rng: random.Random) -> str:
    """An independent complaint: 3–6 clauses built word by word, in the writer's order,
    sometimes with a sentence of the common stock (real complaints share phrases)."""
    parts = [clause(rng) for _ in range(rng.randint(3, 6))]
    if rng.random() < 0.5:
        parts.insert(0, rng.choice(OPENINGS).rstrip("，"))
    if rng.random() < 0.4:
        parts.append(rng.choice(MIDDLES).rstrip("，"))
    if rng.random() < 0.6:
        parts.append(rng.choice(ENDINGS).rstrip("。"))
    return ("，".join(parts) + "。").format(**slots(rng))


def edited(rng: random.Random, template: str) -> str:
    text = template.format(**slots(rng))
    clauses = [c for c in text.replace("。", "，").split("，") if c]
    for _ in range(rng.randint(1, 3)):
        move = rng.random()
        if move < 0.35 and len(clauses) > 3:
            clauses.pop(rng.randrange(1, len(clauses)))  # a clause dropped
        elif move < 0.7:
            i = rng.randrange(len(clauses))
            clauses[i] = rng.choice(FILLERS) + clauses[i]  # a filler word
        else:
            i = rng.randrange(len(clauses) - 1)
            clauses[i], clauses[i + 1] = clauses[i + 1], clauses[i]  # two clauses swapped
    return "，".join(clauses) + rng.choice(["。", "！", "。。", ""])


def seed(count: int, rng: random.Random) -> tuple[list[tuple], dict[int, int]]:
    campaign_total = count // 20  # 5%
    rows, truth = [], {}
    base = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    kinds = [None] * (count - campaign_total) + [i % len(TEMPLATES) for i in range(campaign_total)]
    rng.shuffle(kinds)
    for pk, template in enumerate(kinds, start=1):
        text = genuine(rng) if template is None else edited(rng, TEMPLATES[template])
        if template is not None:
            truth[pk] = template
        received = base + dt.timedelta(seconds=rng.randint(0, 89 * 86400))
        # Independent complainants: their own contact (most leave one), no shared source.
        contact = phone(rng) if rng.random() < 0.7 else ""
        rows.append((pk, text, contact, None, rng.choice(BANKS), "", received, phone(rng)))
    return rows, truth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    started = time.perf_counter()
    rows, truth = seed(args.count, rng)
    seeded = time.perf_counter() - started
    started = time.perf_counter()
    groups = abnormal.find_groups(rows)
    elapsed = time.perf_counter() - started
    text = [g for g in groups if g.kind == "text"]
    flagged = {pk for g in text for pk in g.members}
    hits = len(flagged & truth.keys())
    recall = hits / len(truth) if truth else 1.0
    precision = hits / len(flagged) if flagged else 1.0
    pure = sum(1 for g in text if len({truth.get(pk, -1) for pk in g.members}) == 1)
    templates_found = len({truth[g.members[0]] for g in text if g.members[0] in truth})
    print(f"complaints: {len(rows):,} ({len(truth):,} from {len(TEMPLATES)} campaign templates)")
    print(f"seeding: {seeded:.2f} s (not part of the detection)")
    print(
        f"detection (find_groups: 内容雷同 + 联系方式 + 集中投诉): {elapsed:.2f} s  (goal ≤ 30 s)"
    )
    print(
        f"内容雷同 groups: {len(text)}; templates found: {templates_found}/{len(TEMPLATES)}; "
        f"groups of one template only: {pure}/{len(text)}"
    )
    print(f"recall: {recall:.2%}  precision: {precision:.2%}  (goal ≥ 95% both)")
    others = {kind: sum(1 for g in groups if g.kind == kind) for kind in ("contact", "burst")}
    print(f"other groups (independent contacts, expected 0): {others}")


if __name__ == "__main__":
    main()
