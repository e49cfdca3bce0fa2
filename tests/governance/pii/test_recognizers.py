"""Each recognizer on its own: values it must find beside look-alikes it must not.

All values are synthetic: mobiles on 138-0013-8000-style numbers, ID numbers
and USCC codes built here with valid check characters, Luhn-valid card numbers
on test-style prefixes, ``*.example`` mail domains, documentation IP ranges.
"""

import pytest

from governance.pii import EntityType, scan
from governance.pii.recognizers.bankcard import luhn_valid
from governance.pii.recognizers.idcard import check_character as id_check
from governance.pii.recognizers.uscc import check_character as uscc_check

T = EntityType
ID_18 = "11010519491231002" + id_check("11010519491231002")  # ends in X
ID_18B = "44030619900307123" + id_check("44030619900307123")
USCC = "91110000600037341" + uscc_check("91110000600037341")
CARD_16 = next(
    f"622202020011223{d}" for d in "0123456789" if luhn_valid(f"622202020011223{d}")
)


def found(text: str) -> list[tuple[str, str]]:
    """(type, covered text) of every entity in `text`."""
    return [(e.type.value, text[e.start : e.end]) for e in scan(text)]


FINDS = [
    # mobiles
    ("电话13800138000", [(T.CN_MOBILE, "13800138000")]),
    ("手机：138 0013 8000。", [(T.CN_MOBILE, "138 0013 8000")]),
    ("tel 138-0013-8000", [(T.CN_MOBILE, "138-0013-8000")]),
    ("手机138.0013.8000", [(T.CN_MOBILE, "138.0013.8000")]),
    ("+86 138 0013 8000", [(T.CN_MOBILE, "+86 138 0013 8000")]),
    ("(+86)13800138000", [(T.CN_MOBILE, "(+86)13800138000")]),
    ("008613800138000", [(T.CN_MOBILE, "008613800138000")]),
    ("手机１３８００１３８０００", [(T.CN_MOBILE, "１３８００１３８０００")]),
    ("13800138000", [(T.CN_MOBILE, "13800138000")]),
    # landlines
    ("座机010-62345678", [(T.CN_LANDLINE, "010-62345678")]),
    ("电话(0571)88881234转802", [(T.CN_LANDLINE, "(0571)88881234转802")]),
    ("（0755）2345 6789", [(T.CN_LANDLINE, "（0755）2345 6789")]),
    ("+86 10 6234 5678", [(T.CN_LANDLINE, "+86 10 6234 5678")]),
    # resident IDs
    (f"身份证{ID_18}", [(T.CN_ID_CARD, ID_18)]),
    (f"身份证{ID_18.lower()}", [(T.CN_ID_CARD, ID_18.lower())]),
    (
        f"证件 {ID_18B[:6]} {ID_18B[6:14]} {ID_18B[14:]}",
        [(T.CN_ID_CARD, f"{ID_18B[:6]} {ID_18B[6:14]} {ID_18B[14:]}")],
    ),
    (
        f"{ID_18B[:6]}-{ID_18B[6:10]}-{ID_18B[10:14]}-{ID_18B[14:]}",
        [(T.CN_ID_CARD, f"{ID_18B[:6]}-{ID_18B[6:10]}-{ID_18B[10:14]}-{ID_18B[14:]}")],
    ),
    ("身份证号440306900307123", [(T.CN_ID_CARD, "440306900307123")]),
    # bank cards
    (f"卡号{CARD_16}", [(T.CN_BANK_CARD, CARD_16)]),
    (
        f"卡号 {CARD_16[:4]} {CARD_16[4:8]} {CARD_16[8:12]} {CARD_16[12:]}",
        [
            (
                T.CN_BANK_CARD,
                f"{CARD_16[:4]} {CARD_16[4:8]} {CARD_16[8:12]} {CARD_16[12:]}",
            )
        ],
    ),
    # other identifiers
    (f"统一社会信用代码{USCC}", [(T.CN_USCC, USCC)]),
    ("护照号码E12345678", [(T.CN_PASSPORT, "E12345678")]),
    ("往来港澳通行证C12345678", [(T.CN_TRAVEL_PERMIT, "C12345678")]),
    ("台胞证：12345678", [(T.CN_TRAVEL_PERMIT, "12345678")]),
    ("车牌浙A·12345", [(T.CN_LICENSE_PLATE, "浙A·12345")]),
    ("新能源沪AD12345", [(T.CN_LICENSE_PLATE, "沪AD12345")]),
    ("邮箱zhang.wei@mail.example。", [(T.EMAIL_ADDRESS, "zhang.wei@mail.example")]),
    ("来源IP：192.0.2.17，", [(T.IP_ADDRESS, "192.0.2.17")]),
    ("IP：2001:db8::1", [(T.IP_ADDRESS, "2001:db8::1")]),
    ("加微信：zhangwei_88", [(T.CN_WECHAT_ID, "zhangwei_88")]),
    ("WeChat ID: zhang_wei88", [(T.CN_WECHAT_ID, "zhang_wei88")]),
    ("微 信：zhangwei_88", [(T.CN_WECHAT_ID, "zhangwei_88")]),
    ("微信 号 zhangwei_88", [(T.CN_WECHAT_ID, "zhangwei_88")]),
    ("QQ号 123456789", [(T.CN_QQ, "123456789")]),
    # names and addresses
    ("收件人：欧阳娜娜", [(T.PERSON, "欧阳娜娜")]),
    ("请联系王芳女士", [(T.PERSON, "王芳")]),
    ("张伟来电咨询退款", [(T.PERSON, "张伟")]),
    (
        "收货地址：浙江省杭州市西湖区文三路138号东方大厦3楼",
        [(T.CN_ADDRESS, "浙江省杭州市西湖区文三路138号东方大厦3楼")],
    ),
    (
        "送到杭州市西湖区翠苑小区3栋2单元501室",
        [(T.CN_ADDRESS, "杭州市西湖区翠苑小区3栋2单元501室")],
    ),
]

IGNORES = [
    "订单号13800138000已发货",
    "快递单号：13800138000",
    '{"order_no": "13800138000"}',
    "SKU-13800138000-M",
    "型号 ZX-13800138000",
    "价格¥1380.00，共138件",
    "估值约为1.3888e10美元",
    "日期 2026-01-12 13:45:12",
    "版本 v1.2.3.4 已发布",
    "version 10.0.19041.1",
    "MAC 00:1A:2B:3C:4D:5E",
    "客服热线400-820-8820",
    "12345678901234567",  # 17 digits: nothing
    f"{ID_18[:-1]}{'0' if ID_18[-1] != '0' else '1'}",  # wrong check character, no context
    "产品批号 E12345678",  # a passport format without 护照
    "高兴见到你，马上为您处理",
    "黄金价格上涨",
    "我们在北京市朝阳区有三家门店",
    "请到5号窗口办理",
    "微信支付已到账",
    "WeChat IDs are personal data",
    "QQ群：123456789",
]


@pytest.mark.parametrize(("text", "expected"), FINDS, ids=[t for t, _ in FINDS])
def test_when_a_value_is_present_then_it_is_found_whole(text, expected):
    """The value is found with its type, covering exactly the value."""
    assert found(text) == [(kind.value, value) for kind, value in expected]


@pytest.mark.parametrize("text", IGNORES)
def test_when_text_only_looks_personal_then_nothing_is_found(text):
    """Order numbers, prices, versions, product codes and common words are left alone."""
    assert found(text) == []


def test_when_a_number_repeats_after_an_order_word_then_both_are_found():
    """A mobile found once is masked wherever it repeats, even after 订单号."""
    text = "客户电话138 0013 8000，订单号13800138000"

    assert found(text) == [
        (T.CN_MOBILE.value, "138 0013 8000"),
        (T.CN_MOBILE.value, "13800138000"),
    ]


NUMBERED_AFTER_AN_ORDER_WORD = [
    (f"证件类型：身份证 证件编号：{ID_18B}", [(T.CN_ID_CARD, ID_18B)]),
    (f"身份证编号{ID_18}", [(T.CN_ID_CARD, ID_18)]),
    (f"订单号 {ID_18B}", [(T.CN_ID_CARD, ID_18B)]),
    ("证件编号：440306900307123", [(T.CN_ID_CARD, "440306900307123")]),
    ("会员编号：13800138000", [(T.CN_MOBILE, "13800138000")]),
    ("客户编号 010-62345678", [(T.CN_LANDLINE, "010-62345678")]),
    (f"批次 {CARD_16}", [(T.CN_BANK_CARD, CARD_16)]),
    (f"交易号：{CARD_16}", [(T.CN_BANK_CARD, CARD_16)]),
    (f"订单号{CARD_16}", [(T.CN_BANK_CARD, CARD_16)]),
]
STILL_ORDER_NUMBERS = [
    "订单编号：13800138000",
    "商品编号 13800138000",
    "交易号：13800138000",
    "批次 440306900307123",  # no check character to outweigh the word
    f"订单号 {ID_18B[:-1]}{'0' if ID_18B[-1] != '0' else '1'}",
]


@pytest.mark.parametrize(("text", "expected"), NUMBERED_AFTER_AN_ORDER_WORD)
def test_when_a_checked_or_personal_number_follows_a_number_word_then_it_is_found(
    text, expected
):
    """A valid check character or Luhn digit outweighs an order word; 编号 names no order."""
    assert found(text) == [(kind.value, value) for kind, value in expected]


@pytest.mark.parametrize("text", STILL_ORDER_NUMBERS)
def test_when_an_unchecked_number_follows_an_order_word_then_nothing_is_found(text):
    """Mobiles and IDs without a valid check character stay order numbers after an order word."""
    assert found(text) == []


UNALLOCATED_AFTER_A_PHONE_WORD = [
    ("客户来电要求改地址，回拨19412345678", "19412345678"),
    ("退款进度已短信通知14012345678", "14012345678"),
    ("手机：160 1234 5678", "160 1234 5678"),
    ("联系人张伟，电话 +86 144-1234-5678", "+86 144-1234-5678"),
    ("Tel: 19412345678", "19412345678"),
    ("致电(+86)19412345678", "(+86)19412345678"),
]
UNALLOCATED_WITHOUT_A_PHONE_WORD = [
    "19412345678",
    "客户要求改用19412345678接收发货通知",
    "电话号码在订单里，订单号码：19412345678",
    "hotel 19412345678",
]


@pytest.mark.parametrize(("text", "mobile"), UNALLOCATED_AFTER_A_PHONE_WORD)
def test_when_a_phone_word_precedes_an_unallocated_prefix_then_a_mobile_is_found(
    text, mobile
):
    """A phone word vouches for any 1[3-9] prefix, allocated or not."""
    assert [(k, v) for k, v in found(text) if k != T.PERSON.value] == [
        (T.CN_MOBILE.value, mobile)
    ]


@pytest.mark.parametrize("text", UNALLOCATED_WITHOUT_A_PHONE_WORD)
def test_when_no_phone_word_precedes_an_unallocated_prefix_then_nothing_is_found(
    text,
):
    """Without a phone word, or after an order word, an unallocated prefix is no mobile."""
    assert found(text) == []


def test_when_an_unallocated_number_is_dropped_then_a_landline_inside_is_found():
    """A number on an unallocated prefix without a phone word hides nothing after it."""
    text = "备注 194 0571-8888 1234"  # 194 0571-8888 reads as a mobile

    assert found(text) == [(T.CN_LANDLINE.value, "0571-8888 1234")]


AFTER_A_URL_ESCAPE = [
    (
        "链接 https://m.shop.example/s?kw=%E7%94%B5%E8%AF%9D13800138000",
        [(T.CN_MOBILE, "13800138000")],
    ),
    (f"https://id.example/?q=id%3D{ID_18B}&x=1", [(T.CN_ID_CARD, ID_18B)]),
    (f"card%20{CARD_16}", [(T.CN_BANK_CARD, CARD_16)]),
    ("tel%3A%2B8613800138000", [(T.CN_MOBILE, "8613800138000")]),
    ("s?q=%2013800138000", [(T.CN_MOBILE, "13800138000")]),
]


@pytest.mark.parametrize(("text", "expected"), AFTER_A_URL_ESCAPE)
def test_when_a_value_follows_a_percent_escape_then_it_is_found(text, expected):
    """The hex digits of a %XX escape do not glue the value to a longer token."""
    assert found(text) == [(kind.value, value) for kind, value in expected]


def test_when_a_number_is_glued_to_hex_without_percent_then_nothing_is_found():
    """Hex digits without a % before them still make a longer token."""
    assert found("token=E8AF9D13800138000") == []


def test_when_a_name_repeats_without_context_then_both_are_found():
    """A name introduced once is a name again later in the text."""
    text = "联系人张伟。今天张伟说明天再来"

    assert found(text) == [(T.PERSON.value, "张伟"), (T.PERSON.value, "张伟")]


def test_when_a_name_repeats_at_the_very_end_then_it_is_found():
    """A repetition touching the end of the text is found (no reading past it)."""
    text = "联系人张伟，找张伟"

    assert found(text) == [(T.PERSON.value, "张伟"), (T.PERSON.value, "张伟")]


NAMES_ON_THEIR_OWN = [
    ("老顾客了，李俊每个月都会来买两次", "李俊"),
    ("团购群里郑阳说她可以私聊", "郑阳"),
    ("周末王瑞会来店里看看", "王瑞"),
    ("听说宋淑英辞职了", "宋淑英"),
    ("这是林建平的身份证", "林建平"),
    ("车桂珍反馈快递外包装破损", "车桂珍"),
    ("持卡人汪洋，卡号已核对", "汪洋"),
    ("组长余亮安排今晚的直播", "余亮"),
]

WORDS_THAT_START_WITH_A_SURNAME = [
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
    "金华的仓库明天发货",
    "关于退货的问题",
    "客户关系经理明天到",
    "向正在运行的进程发送信号",
    "丹麦语和拉丁文的键盘布局",
]


@pytest.mark.parametrize(("text", "name"), NAMES_ON_THEIR_OWN)
def test_when_a_name_stands_without_an_introducing_word_then_it_is_found(text, name):
    """A surname and given name read as a name from where they stand and what follows."""
    assert found(text) == [(T.PERSON.value, name)]


@pytest.mark.parametrize("text", WORDS_THAT_START_WITH_A_SURNAME)
def test_when_a_common_word_starts_with_a_surname_then_no_name_is_found(text):
    """Common words, places and languages that begin with a surname are not names."""
    assert found(text) == []
