"""A labelled corpus of Chinese free text with personal data, for bench/pii_eval.py.

`positives(n, seed)` fills templates (service notes, order remarks, chats,
JSON and log lines, mixed Chinese and English) with synthetic values from
Faker ``zh_CN`` and from generators here that make valid check digits (bank
cards, USCC codes, 15-digit IDs, plates). Each value comes in a varied surface
form: separators, ``+86``, full-width digits, zero-width characters or a
right-to-left mark inside the number, emoji around the sentence.
`hard_negatives(seed)` returns text that holds no personal data but looks as if
it might: order, tracking and invoice numbers, prices, dates, versions,
product codes, ``1.3888e10``, words that start with a surname, places without
a street. Labels are (type, start, end) over the sample's text; every value is
synthetic and every e-mail domain is an RFC 2606 ``.example`` name.
"""

import random
from collections.abc import Callable
from dataclasses import dataclass

from faker import Faker

Label = tuple[str, int, int]


@dataclass(frozen=True)
class Sample:
    """One sentence and where its personal values are."""

    text: str
    labels: tuple[Label, ...]


# A generated value: unlabelled context before it, the labelled value, context after.
Value = tuple[str, str, str]

_FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
_INVISIBLE = ("\u200b", "\u200d", "\u200c", "\ufeff", "\u200f", "\u2060")
_EMOJI = ("😊", "👍", "🙏", "📦", "✅", "🔥", "💐", "[微笑]", "~", "！！")
_DOMAINS = ("mail.example", "shop.example", "corp.example", "163.example", "qq.example")
_AREA_CODES = ("010", "021", "022", "023", "020", "024", "025", "027", "028", "029")
_AREA_CODES_4 = ("0571", "0755", "0512", "0532", "0731", "0371", "0591", "0871")
_PLATE_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
_ESTATES = (
    "翠苑",
    "阳光",
    "金色家园",
    "幸福里",
    "绿城",
    "万科城",
    "碧水湾",
    "锦绣",
    "和园",
)
_ESTATE_SUFFIX = ("小区", "花园", "家园", "公寓", "新村", "大厦")
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


class Values:
    """Synthetic personal values in varied surface forms, from one seed."""

    def __init__(self, seed: int) -> None:
        self.fake = Faker("zh_CN")
        self.fake.seed_instance(seed)
        self.rng = random.Random(f"pii-corpus:{seed}")

    def pick(self, options: tuple[str, ...]) -> str:
        """One of `options`."""
        return options[self.rng.randrange(len(options))]

    def digits(self, count: int) -> str:
        """`count` random digits."""
        return "".join(self.rng.choice("0123456789") for _ in range(count))

    def _group(self, number: str, sizes: tuple[int, ...], separator: str) -> str:
        parts, at = [], 0
        for size in sizes:
            parts.append(number[at : at + size])
            at += size
        if at < len(number):
            parts.append(number[at:])
        return separator.join(parts)

    def _surface(self, number: str, sizes: tuple[int, ...]) -> str:
        """The number as people type it: plain, grouped, full-width, or split."""
        form = self.rng.random()
        if form < 0.4:
            return number
        if form < 0.6:
            return self._group(number, sizes, self.pick((" ", "-", " ")))
        if form < 0.75:
            return number.translate(_FULL_WIDTH)
        if form < 0.85:
            return self._group(number, sizes, "-").translate(_FULL_WIDTH)
        return self._group(number, sizes, self.pick(_INVISIBLE))

    def mobile(self) -> Value:
        """A mobile number, sometimes with +86, grouped 3-4-4 or with dots."""
        number = str(self.fake.phone_number())
        form = self.rng.random()
        if form < 0.15:
            prefix = self.pick(("+86", "+86 ", "+86-", "0086 ", "(+86)"))
            return (
                "",
                prefix + self._group(number, (3, 4), self.pick((" ", "-", ""))),
                "",
            )
        if form < 0.22:
            return "", self._group(number, (3, 4), "."), ""
        return "", self._surface(number, (3, 4)), ""

    def landline(self) -> Value:
        """A landline with its area code, in several writings."""
        if self.rng.random() < 0.5:
            area, number = (
                self.pick(_AREA_CODES),
                self.rng.choice("2345678") + self.digits(7),
            )
        else:
            area = self.pick(_AREA_CODES_4)
            number = self.rng.choice("2345678") + self.digits(self.rng.choice((6, 7)))
        form = self.rng.random()
        if form < 0.3:
            value = f"{area}-{number}"
        elif form < 0.45:
            value = f"({area}){number}"
        elif form < 0.6:
            value = f"{area} {number[:4]} {number[4:]}"
        elif form < 0.7:
            value = f"+86 {area[1:]} {number}"
        elif form < 0.8:
            value = f"{area}-{number}转{self.digits(3)}"
        elif form < 0.9:
            value = f"{area}{number}"
        else:
            value = f"{area}-{number}".translate(_FULL_WIDTH)
        return "", value, ""

    def id_card(self) -> Value:
        """An 18-digit resident ID (Faker's, valid check digit), or a legacy 15-digit one."""
        number = str(self.fake.ssn())
        if self.rng.random() < 0.1:
            return "", number[:6] + number[8:17], ""
        if self.rng.random() < 0.1:
            number = number[:-1] + number[-1].lower()
        return "", self._surface(number, (6, 8)), ""

    def bank_card(self) -> Value:
        """A Luhn-valid card number on a UnionPay, Visa or Mastercard prefix."""
        prefix = self.pick(("622202", "621700", "622848", "625807", "436742", "524091"))
        length = self.rng.choice((16, 16, 19)) if prefix.startswith("62") else 16
        body = prefix + self.digits(length - len(prefix) - 1)
        number = body + _luhn_digit(body)
        return "", self._surface(number, (4, 4, 4, 4)), ""

    def uscc(self) -> Value:
        """A unified social credit code with a valid check character."""
        region = str(self.fake.ssn())[:6]
        body = self.pick(("91", "92", "12", "52", "93")) + region
        body += "".join(self.rng.choice(_USCC_ALPHABET) for _ in range(9))
        total = sum(
            _USCC_ALPHABET.index(c) * w
            for c, w in zip(body, _USCC_WEIGHTS, strict=True)
        )
        return "", body + _USCC_ALPHABET[(31 - total % 31) % 31], ""

    def passport(self) -> Value:
        """A passport number after a word naming it."""
        number = "E" + (
            self.digits(8) if self.rng.random() < 0.6 else "A" + self.digits(7)
        )
        before = self.pick(
            ("护照号码：", "护照号", "护照 ", "passport no. ", "护照号码为")
        )
        return before, number, ""

    def travel_permit(self) -> Value:
        """A Hong Kong/Macau or Taiwan permit number after a word naming it."""
        kind = self.rng.randrange(4)
        if kind == 0:
            return (
                self.pick(("往来港澳通行证：", "港澳通行证号")),
                "C" + self.digits(8),
                "",
            )
        if kind == 1:
            return (
                self.pick(("回乡证号码", "回乡证：")),
                self.pick(("H", "M")) + self.digits(8),
                "",
            )
        if kind == 2:
            return (
                self.pick(("台湾通行证", "大陆居民往来台湾通行证号码")),
                "L" + self.digits(8),
                "",
            )
        return self.pick(("台胞证号", "台胞证：")), self.digits(8), ""

    def plate(self) -> Value:
        """An ordinary or new-energy licence plate."""
        head = self.pick(tuple(_PLATE_PROVINCES)) + self.pick(tuple(_PLATE_LETTERS))
        if self.rng.random() < 0.25:
            tail = (
                self.pick(("D", "F"))
                + self.rng.choice("ABCDEFGHJK0123456789")
                + self.digits(4)
            )
        else:
            tail = self.digits(3) + "".join(
                self.rng.choice("0123456789ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(2)
            )
            tail = "".join(self.rng.sample(tail, len(tail)))
        return "", head + self.pick(("", "", "·", " ", "-")) + tail, ""

    def email(self) -> Value:
        """An e-mail address on an .example domain."""
        user = str(self.fake.user_name()) + self.pick(("", "", "88", ".cn", "_2024"))
        return "", f"{user}@{self.pick(_DOMAINS)}", ""

    def ip(self) -> Value:
        """An IPv4 or IPv6 address."""
        form = self.rng.random()
        if form < 0.5:
            return "", str(self.fake.ipv4()), ""
        if form < 0.75:
            return "", str(self.fake.ipv4_private()), ""
        if form < 0.9:
            return "", f"2001:db8:{self.digits(2)}::{self.rng.randrange(1, 999)}", ""
        return "", str(self.fake.ipv6()), ""

    def wechat(self) -> Value:
        """A WeChat id after a word naming it."""
        if self.rng.random() < 0.2:
            user = "wxid_" + "".join(
                self.rng.choice("abcdefghijk0123456789") for _ in range(12)
            )
        else:
            user = str(self.fake.user_name())
            user = (user + self.digits(6 - len(user))) if len(user) < 6 else user
            user += self.pick(("", "_", "-")) + self.digits(self.rng.randrange(0, 4))
        before = self.pick(
            ("微信：", "微信号", "vx:", "加微信 ", "WeChat: ", "微信号是", "wx ")
        )
        return before, user, ""

    def qq(self) -> Value:
        """A QQ number after a word naming it."""
        number = self.rng.choice("123456789") + self.digits(self.rng.randrange(4, 10))
        return self.pick(("QQ：", "QQ号", "qq ", "扣扣", "QQ号码：")), number, ""

    def name(self) -> Value:
        """A Chinese personal name (Faker's, surnames by frequency)."""
        return "", str(self.fake.name()), ""

    def address(self) -> Value:
        """A postal address down to the house number or room."""
        district = str(self.fake.district()) + self.pick(("区", "区", "县"))
        road = str(self.fake.street_name()) + f"{self.rng.randrange(1, 999)}号"
        unit = f"{self.rng.randrange(1, 30)}栋{self.rng.randrange(1, 6)}单元"
        room = self.pick(
            (
                "",
                "",
                f"{unit}{self.rng.randrange(101, 2800)}室",
                f"{self.rng.randrange(1, 20)}号楼{self.rng.randrange(101, 2800)}",
                f"{self.rng.randrange(1, 40)}楼",
            )
        )
        estate = self.pick(_ESTATES) + self.pick(_ESTATE_SUFFIX)
        form = self.rng.random()
        if form < 0.35:
            value = (
                str(self.fake.province())
                + str(self.fake.city())
                + district
                + road
                + room
            )
        elif form < 0.6:
            value = str(self.fake.city()) + district + road + room
        elif form < 0.75:
            value = road + room
        elif form < 0.9:
            value = (
                str(self.fake.city())
                + district
                + estate
                + f"{self.rng.randrange(1, 30)}栋{self.rng.randrange(101, 2800)}室"
            )
        else:
            value = (
                str(self.fake.province()) + str(self.fake.city()) + road + estate + room
            )
        return "", value, ""


def _luhn_digit(body: str) -> str:
    total = 0
    for position, char in enumerate(reversed(body)):
        value = int(char)
        if position % 2 == 0:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return str((10 - total % 10) % 10)


# Slot -> (entity type, generator). «SLOT» in a template is replaced by a value.
SLOTS: dict[str, tuple[str, Callable[[Values], Value]]] = {
    "MOBILE": ("CN_MOBILE", Values.mobile),
    "LANDLINE": ("CN_LANDLINE", Values.landline),
    "ID": ("CN_ID_CARD", Values.id_card),
    "CARD": ("CN_BANK_CARD", Values.bank_card),
    "USCC": ("CN_USCC", Values.uscc),
    "PASSPORT": ("CN_PASSPORT", Values.passport),
    "PERMIT": ("CN_TRAVEL_PERMIT", Values.travel_permit),
    "PLATE": ("CN_LICENSE_PLATE", Values.plate),
    "EMAIL": ("EMAIL_ADDRESS", Values.email),
    "IP": ("IP_ADDRESS", Values.ip),
    "WECHAT": ("CN_WECHAT_ID", Values.wechat),
    "QQ": ("CN_QQ", Values.qq),
    "NAME": ("PERSON", Values.name),
    "ADDRESS": ("CN_ADDRESS", Values.address),
}

TEMPLATES = (
    # customer-service notes
    "客户«NAME»来电咨询退款进度，已回拨«MOBILE»。",
    "«NAME»反馈快递外包装破损，已登记补发。",
    "客户要求改用«MOBILE»接收发货通知",
    "退款进度已短信通知«MOBILE»，客户表示满意",
    "«NAME»来电咨询会员积分，已回拨«MOBILE»",
    "回访记录：联系人«NAME»，座机«LANDLINE»，下午3点后方便接听",
    "客户投诉配送延迟，客户姓名«NAME»，联系方式«MOBILE»，已补发无门槛券",
    "售后工单：客户«NAME»（«MOBILE»）反映收到的商品有划痕，要求换货。",
    "请联系«NAME»女士，电话«MOBILE»，她会协助办理退货",
    "已通知«NAME»先生明天上午送货上门，收货地址«ADDRESS»",
    "致«NAME»：您好，您的退款已原路退回尾号卡«CARD»",
    "感谢«NAME»的耐心等待，我们已为您加急处理",
    # orders and delivery
    "收件人：«NAME»，电话：«MOBILE»，地址：«ADDRESS»",
    "收货人«NAME» «MOBILE» «ADDRESS»",
    "寄件人：«NAME»，«LANDLINE»，寄件地址«ADDRESS»",
    "订单备注：请送到«ADDRESS»，到了打«MOBILE»",
    "麻烦放快递柜，地址«ADDRESS»，有问题联系«MOBILE»谢谢",
    "配送地址变更为«ADDRESS»，收件人不变",
    "发票抬头：«NAME»，邮箱«EMAIL»，手机«MOBILE»",
    # identity and payment
    "实名认证：姓名«NAME»，身份证号«ID»，银行卡«CARD»",
    "用户提交的身份证«ID»与姓名«NAME»不一致，请复核",
    "持卡人«NAME»，卡号«CARD»，预留手机«MOBILE»",
    "退款账户：«CARD»（开户人：«NAME»）",
    "请核对身份证号码«ID»，核对后回复",
    "证件号：«ID»，有效期至2035年",
    "客户提供的银行卡号为«CARD»，已提交财务",
    # business
    "开票信息：统一社会信用代码«USCC»，联系电话«LANDLINE»",
    "供应商资质审核：信用代码«USCC»，负责人«NAME»，手机«MOBILE»",
    "个体工商户«NAME»，统一社会信用代码«USCC»",
    # travel and documents
    "乘客«NAME»，«PASSPORT»，已出票",
    "签证材料：«PASSPORT»，联系邮箱«EMAIL»",
    "旅客«NAME»持«PERMIT»办理登机",
    "证件类型：«PERMIT»，请于出发前核验",
    # cars
    "车主«NAME»，车牌号«PLATE»，预约周六保养",
    "停车场记录：«PLATE» 于 08:32 入场",
    "违停通知：车辆«PLATE»，请车主«NAME»尽快挪车",
    "新能源车«PLATE»已完成充电，电话«MOBILE»",
    # chats and social
    "亲，麻烦加一下我«WECHAT»，或者«QQ»哦",
    "加我«WECHAT»，拉你进会员群",
    "有问题可以找我，«QQ»，晚上在线",
    "我«WECHAT»，手机«MOBILE»，随时联系",
    "群主«NAME»：新人请备注姓名，«WECHAT»",
    "@«NAME» 请跟进一下这个客户，电话«MOBILE»",
    "«NAME»，您好！您的订单已发货，请注意查收",
    # e-mail and IT
    "用户 «EMAIL» 从 «IP» 登录失败3次，已临时锁定",
    "请把报价单发到«EMAIL»，抄送«EMAIL»",
    "管理员«NAME»（«EMAIL»）修改了权限配置",
    "异常访问来源IP：«IP»，用户手机号«MOBILE»",
    # JSON and log lines
    '{"name": "«NAME»", "mobile": "«MOBILE»", "email": "«EMAIL»"}',
    '{"receiver": "«NAME»", "phone": "«MOBILE»", "address": "«ADDRESS»", "remark": "放门口"}',
    '{"id_no": "«ID»", "card_no": "«CARD»", "ip": "«IP»"}',
    "2026-01-12T08:15:30Z INFO login ok user=«EMAIL» ip=«IP» device=ios",
    "2026-01-12 09:01:44 WARN sms send failed to=«MOBILE» code=1008",
    "[order-svc] update address uid=829134 addr=«ADDRESS» tel=«MOBILE»",
    'level=info msg="kyc passed" id_card=«ID» name=«NAME»',
    # mixed Chinese and English
    "Please call «NAME» at «MOBILE» before 6pm.",
    "Contact: «NAME», tel «LANDLINE», email «EMAIL»",
    "Shipping to «ADDRESS», recipient «NAME», phone «MOBILE»",
    "Hi team, 客户«NAME»的 card number is «CARD», pls check",
    "VPN login from «IP» by «EMAIL» (MFA ok)",
)


# Checks on overfitting, reported separately by bench/pii_eval.py. The first set
# was written after tuning on TEMPLATES; its first run found names in phrasings
# the recognizer lacked (recall 0.397), and generic context words were added.
# The second set was written after that and has never been tuned on.
HELD_OUT_TEMPLATES = (
    "麻烦«NAME»明早前回个电话«MOBILE»，订单有点问题",
    "家里座机«LANDLINE»，白天没人接就打手机«MOBILE»",
    "«NAME»的快递放在«ADDRESS»门卫室了",
    "刚加了客户«WECHAT»，她说«NAME»是她母亲",
    "报销单：经手人«NAME»，收款卡«CARD»，金额¥320.50",
    "身份信息核验失败（证件«ID»），请«NAME»重新上传",
    "发货提醒 -> «EMAIL»; 备用 «MOBILE»",
    "ip=«IP» ua=Mozilla/5.0 uid=77812 action=checkout",
    "企业认证资料：«USCC»，对公账户 6222 0000 0000 0000 0",
    "小程序留言：我是«NAME»，车«PLATE»停在你们店门口了",
    "机票改签：«PASSPORT»，旅客«NAME»，航班CA1502",
    "«PERMIT»，出境日期2026-02-01",
    "【售后】客户«NAME»于1月3日来电，反映尺码问题，联系方式«MOBILE»，已处理",
    "To: «EMAIL»\nSubject: 订单确认\n收货人 «NAME»，«ADDRESS»",
    "备注：找前台«NAME»签收，«QQ»也可以联系",
)


FRESH_TEMPLATES = (
    "老顾客了，«NAME»每个月都会来买两次，上次留的号码是«MOBILE»",
    "跟进结果：已与«NAME»确认，周五下午送到«ADDRESS»",
    "开户信息 户名«NAME» 账号«CARD» 开户行 招商银行",
    "这是我的邮箱«EMAIL»，发票开好了发我，谢谢亲",
    "Hi «NAME», your parcel is waiting at «ADDRESS». Call «LANDLINE» if needed.",
    "会员资料变更：手机号由«MOBILE»改为«MOBILE»",
    "[WARN] risk-check hit: id=«ID» device_ip=«IP»",
    "请转告«NAME»，合同扫描件已发至«EMAIL»",
    "车辆«PLATE»的车主电话«MOBILE»，保险下月到期",
    "«NAME»和«NAME»是同一个收货地址吗？«ADDRESS»",
    "团购群里«NAME»说她«WECHAT»，可以私聊",
    "临时联系方式：«QQ»（工作时间在线）",
)


# Round 3, written before the name model that followed round 2 was built, and
# never tuned on: names in free positions (sentence start, lists, after verbs
# such as 听 or 帮), next to the other types.
ROUND3_TEMPLATES = (
    "周三晚上«NAME»又打来电话，问能不能把地址改成«ADDRESS»",
    "店长交代：«NAME»的退款今天必须处理完，她已经催了三次",
    "昨天下单的是«NAME»本人吗？身份证«ID»对不上",
    "«NAME»、«NAME»两位同事负责本次618活动的客服排班",
    "经核实，«NAME»名下共有两张卡，其中一张是«CARD»",
    "快递小哥说«NAME»不在家，包裹放在了«ADDRESS»",
    "本次中奖用户：«NAME»（«MOBILE»），奖品为保温杯一个",
    "留言板：谢谢«NAME»耐心解答，问题已经解决了👍",
    "«NAME»在群里发了张截图，上面有«QQ»",
    "如果联系不上«NAME»，可以发邮件到«EMAIL»",
    "原收件人«NAME»已搬走，新地址«ADDRESS»，新电话«MOBILE»",
    "这单是«NAME»帮忙代下的，车牌«PLATE»，到店自提",
    "audit: operator=«NAME» changed phone to «MOBILE» from «IP»",
    "早上好！今天值班的是«NAME»，有事打«LANDLINE»",
    "听«NAME»讲，上次寄到«ADDRESS»的货丢了",
    "备注：«NAME»，男，35岁，过敏体质",
)


# Name development set: names in free positions (sentence start, after a verb
# or a time word, before a verb or particle), written to tune the name model
# on, openly; bench/pii_eval.py reports it apart from the held-out rounds.
NAME_DEV_TEMPLATES = (
    "«NAME»今天请假，工单先转给«NAME»处理",
    "上周«NAME»在门店买的面霜过敏了，要求退款",
    "这个订单«NAME»已经签收了",
    "谢谢«NAME»！«NAME»也辛苦了",
    "客服主管：«NAME»，值班电话«LANDLINE»",
    "«NAME»和«NAME»都反映了同样的问题",
    "明天由«NAME»负责对接，有事找她",
    "昨晚«NAME»打电话来，说包裹还没到",
    "我们跟«NAME»沟通过了，她同意换货",
    "«NAME»：好的，我晚点把截图发给你",
    "同事«NAME»会在周三联系您",
    "转交«NAME»审核，抄送«EMAIL»",
    "«NAME»（工号3021）今日处理工单42个",
    "售后«NAME»回复：已补发",
    "这位«NAME»买了三次都没收到货",
    "«NAME»给的地址是«ADDRESS»",
    "据«NAME»反映，快递员态度不好",
    "宝妈群里«NAME»推荐了这款奶粉",
    "«NAME»要的发票已经开好了",
    "问了«NAME»，她说下周再来拿",
    "今天早上«NAME»来店里取货了",
    "请«NAME»本人携带身份证«ID»到柜台办理",
    "审批人：«NAME» 备注：同意",
    "«NAME», 麻烦看下这个单子",
    "店里的«NAME»帮我包装的，很用心",
    "«NAME»说的那个优惠活动还有吗？",
    "周末«NAME»会来店里看看",
    "那天是«NAME»值班，监控显示17:30离开",
    "组长«NAME»安排«NAME»、«NAME»负责今晚的直播",
    "下午三点«NAME»到店，带了两个朋友",
    "«NAME»那边还没回复，我再催一下",
    "operator=«NAME» action=refund amount=35.00",
    "«NAME»，女，28岁，会员等级V3",
    "刚才碰到«NAME»，她说快递放错地方了",
    "«NAME»家的地址改成了«ADDRESS»",
    "安排«NAME»明天上门安装",
    "«NAME»跟«NAME»一起来店里的",
    "由«NAME»签收，签收时间14:20",
    "听说«NAME»辞职了，她的客户转给«NAME»",
    "«NAME»你好，你的包裹到了",
    "assignee: «NAME», reviewer: «NAME»",
    "群公告：«NAME»负责售后，«NAME»负责发货",
    "店长«NAME»说这批货有问题",
    "是«NAME»推荐我来的",
    "给«NAME»发了短信«MOBILE»，没回",
    "这是«NAME»的身份证«ID»",
    "我是«NAME»的家属，代她取件",
)


def fill(template: str, values: Values) -> Sample:
    """The template with every «SLOT» replaced by a generated value, labelled."""
    pieces: list[str] = []
    labels: list[Label] = []
    length = 0
    rest = template
    while "«" in rest:
        head, _, tail = rest.partition("«")
        slot, _, rest = tail.partition("»")
        kind, generate = SLOTS[slot]
        before, value, after = generate(values)
        pieces += (head, before)
        length += len(head) + len(before)
        labels.append((kind, length, length + len(value)))
        pieces += (value, after)
        length += len(value) + len(after)
    pieces.append(rest)
    text = "".join(pieces)
    if values.rng.random() < 0.15:  # emoji or chat noise around the sentence
        noise = values.pick(_EMOJI)
        if values.rng.random() < 0.5:
            text += noise
        else:
            text = noise + " " + text
            labels = [(k, s + len(noise) + 1, e + len(noise) + 1) for k, s, e in labels]
    return Sample(text, tuple(labels))


def positives(
    count: int, seed: int, templates: tuple[str, ...] = TEMPLATES
) -> list[Sample]:
    """`count` labelled sentences, every template in turn, each with new values."""
    values = Values(seed)
    return [fill(templates[i % len(templates)], values) for i in range(count)]


HARD_NEGATIVES = (
    "订单号13812345678已发货，预计明天送达",
    "您的订单编号：15898765432，请妥善保管",
    "快递单号：773012345678901，中通快递",
    "运单号 SF1234567890123 已揽收",
    "工单13912345678已关闭",
    "物流单号JD0012345678901",
    "交易流水号20260112153045123456",
    "发票号码：04400123456789012345",
    "商品编号100012345678，规格：500ml",
    "SKU: A13812345678-RED-XL",
    "型号 ZX-13800138000 的备件已到货",
    "券码 1381 2345 6789 仅限本周使用",
    "取件码 8-3-1024，请到驿站领取",
    "验证码 382910，5分钟内有效",
    "价格：¥1380.00，优惠后13812.34元",
    "本月销售额 1,381,234,567 元，同比增长12.5%",
    "估值约为1.3888e10美元",
    "日期 2026-01-12，时间 13:45:12",
    "活动时间：2026年1月12日至2026年2月28日",
    "时间戳 1768201530123 毫秒",
    "版本 v1.2.3.4 已发布",
    "固件版本 10.0.19041.1 需要升级",
    "请升级到 version 2.10.3.1",
    "Build 2026.01.12.1 passed all checks",
    "MAC 地址 00:1A:2B:3C:4D:5E",
    "会议室 12:30 到 13:30 已被预订",
    "UUID 550e8400-e29b-41d4-a716-446655440000",
    "提交哈希 3f2c9a1b7d4e6f8091a2b3c4d5e6f708",
    "客服热线400-820-8820，工作时间9:00-21:00",
    "建设银行客服95533",
    "IMEI 861234567890123",
    "序列号：SN2026011200123",
    "批次号 20260112001，生产日期2026-01-12",
    "条码 6901234567892",
    "货号 620123456789012 已下架",
    "门店编码 110101199001",
    "合同编号 HT-2026-0001234",
    "房间号 1201，楼层 12",
    "请到5号窗口办理",
    "地铁2号线换乘10号线",
    "本店位于商场3楼",
    "我们在北京市朝阳区有三家门店",
    "浙江省杭州市的用户增长最快",
    "高兴见到你，周末一起吃饭",
    "黄金价格今天上涨了",
    "马上为您处理，请稍等",
    "方便的话请回电",
    "明白了，谢谢",
    "好的，收到",
    "安全第一，文明驾驶",
    "全国包邮，七天无理由退货",
    "温度 36.5 度，湿度 45%",
    "优惠券满200减30",
    "第三季度营收同比增长 13.8%",
    "库存 138123 件",
    "分辨率 1920x1080，刷新率 144Hz",
    "会员等级 V3，积分 13812",
    "包裹重量 1.38kg",
    "请在 2026/01/12 前完成支付",
    "单号：YT7712345678901",
    "退货单 RT20260112000123",
    "充值卡密码 1381-2345-6789-0123",
    "设备编号 CN-2026-000123",
    "产品批号 E12345678 已检验",
    "型号 C12345678 缺货",
    "货架 L12345678 位置",
    "组件 G1234567 需要更换",
    "坐标 30.2741, 120.1551",
    "圆周率约为3.1415926535",
    "参考文献[12] 第138页",
    "产品尺寸 180×60×45cm",
    "ISBN 978-7-111-12345-6",
    "航班 CA1234 于 13:45 起飞",
    "车次 G1234 二等座",
    "股票代码 600519",
    "邮编 310012",
    "身高 175cm，体重 68kg",
    # common words that start with a surname character, where a name model
    # that reads names without an introducing word could see one
    "今天很高兴为您服务",
    "这款游戏里的王国越来越大了",
    "张开包装袋检查一下有没有破损",
    "周末愉快，下周一见",
    "黄金首饰不支持七天无理由退货",
    "白色款已经售罄了",
    "安全起见，请不要透露验证码",
    "方便面和火腿肠买一送一",
    "常用地址已更新",
    "明天上午会有专人联系您",
    "高级会员可以享受免运费",
    "马上就到了，请稍等片刻",
    "何时发货？我都等了一周了",
    "于是我又下了一单",
    "余额不足，请先充值",
    "许多客户反馈这款偏大",
    "曾经买过一次，质量不错",
    "谢谢惠顾，欢迎下次光临",
    "田园风格的窗帘卖得很好",
    "程序升级期间暂停服务",
    "方向盘套颜色可选",
    "安装师傅明天上门",
    "常见问题请查看帮助中心",
    "全部商品参加满减",
    "文明用语，礼貌待客",
    "成功下单后会收到短信",
    "金额有误，请重新核对",
    "江南水乡的风景很美",
    "龙虾今天到货了，新鲜",
    "夏天到了，防晒霜热卖",
    "史上最低价，错过等一年",
    "万一不合适可以退",
    "钱包丢了，里面有会员卡",
    "向左转就是收银台",
    "温馨提示：商品拆封后不退不换",
    "康复训练要坚持",
    "施工期间请绕行",
    "牛奶要冷藏保存",
    "易碎品请轻拿轻放",
    "关注店铺领取优惠券",
    "包邮到家，放心购买",
    "尚未发货的订单可以直接取消",
    "单价太高了，能便宜点吗",
    "路过门店顺便取一下",
    "管理员已经处理了",
    "连衣裙有三个颜色",
    "解决方案已经发给您了",
    "原价299，现价199",
    "应该明天就能到",
    "乐意为您效劳",
    "齐全的配件都在盒子里",
    "申请退款后三天内到账",
    "司机说马上到小区门口",
    "古风发簪卖得不错",
    "左右两侧都有划痕",
    "花费了不少时间才找到",
    "海报已经印好了",
    "平时都是这个点发货",
    "国庆期间正常发货",
    "杨梅季节快到了，欢迎预订",
    "金华的仓库明天发货",
    "武汉的客户比较多",
    "华为手机壳有现货",
    "苏宁易购也有卖",
    "宁波仓发货更快",
    "温州的朋友帮忙代购的",
    "高兴地说收到了礼物",
    "董事长明天来视察",
    "石榴汁买二送一",
    "陆续发货中，请耐心等待",
    "严格按照流程处理",
    "孔雀蓝的款式很受欢迎",
    "宋体字号调大一点",
    "邓白氏编码已提交",
    "蒋公粥是我们的招牌",
    "胡萝卜汁适合小朋友",
    "朱红色的包装很喜庆",
    "林荫大道旁边就是我们店",
    "罗马仕充电宝有货",
    "秦岭深处的蜂蜜",
    "任何问题都可以咨询客服",
    "毛巾和浴巾一起买更划算",
    "雷达显示快递正在派送",
    "沈阳仓今天不发货",
    "唐诗宋词礼盒装",
    "韩式半永久纹眉",
)


def _order_number(values: Values) -> str:
    return values.rng.choice("13456789") + values.digits(10)


def _version(values: Values) -> str:
    parts = (values.rng.randrange(1, 20), values.rng.randrange(0, 99))
    more = (values.rng.randrange(0, 99), values.rng.randrange(0, 255))
    return "版本号 v" + ".".join(str(n) for n in (*parts, *more))


def _timestamp(values: Values) -> str:
    day = f"{values.rng.randrange(2020, 2027)}-{values.rng.randrange(1, 13):02d}"
    day += f"-{values.rng.randrange(1, 29):02d}"
    time = f"{values.rng.randrange(0, 24):02d}:{values.rng.randrange(0, 60):02d}"
    return f"{day} {time}:{values.rng.randrange(0, 60):02d} 任务完成"


NEGATIVE_TEMPLATES: tuple[Callable[[Values], str], ...] = (
    lambda v: f"订单号：1{v.pick(('38', '39', '58', '86'))}{v.digits(8)}，已发货",
    lambda v: f"快递单号{v.digits(12)}，请注意查收",
    lambda v: f"运单号：SF{v.digits(13)}",
    lambda v: f"工单{_order_number(v)}已处理完毕",
    lambda v: f"交易单号 {v.digits(20)}",
    lambda v: f"退款金额 ¥{v.rng.randrange(1, 9999)}.{v.digits(2)}",
    _version,
    lambda v: f"订单{_order_number(v)}的商品已出库",
    lambda v: f"发票号{v.digits(8)}，金额{v.rng.randrange(100, 99999)}元",
    lambda v: f"SKU-{v.digits(11)}-{v.pick(('S', 'M', 'L'))}",
    _timestamp,
    lambda v: f"取件码 {v.rng.randrange(1, 20)}-{v.rng.randrange(1, 9)}-{v.digits(4)}",
    lambda v: f"浏览量 {v.rng.randrange(1, 999):,}{v.digits(3)} 次",
    lambda v: f"IMEI：86{v.digits(13)}",
    lambda v: f"条形码 69{v.digits(11)}",
)


def hard_negatives(seed: int, generated: int = 1000) -> list[Sample]:
    """The hand-written negatives and `generated` more from negative templates."""
    values = Values(seed + 1)
    samples = [Sample(text, ()) for text in HARD_NEGATIVES]
    for i in range(generated):
        samples.append(
            Sample(NEGATIVE_TEMPLATES[i % len(NEGATIVE_TEMPLATES)](values), ())
        )
    return samples
