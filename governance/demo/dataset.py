"""Deterministic synthetic customer store for the demo: seed and count in, people out.

`generate_customers(seed=s, count=n)` returns `n` synthetic `Customer` values,
`C000001` upwards. The same seed and count always give the same list, whatever
the wall clock (ages are relative to `REFERENCE_DATE`) or the global `random`
state; a smaller count gives a prefix of a larger one. `write_demo_store` writes
them to an SQLite file (tables `customers` and `customer_tags`) that is built
beside the target and moved into place with `os.replace`, so the target holds
either its old content or the complete new store, never a half-built one.

Every person is synthetic. Names and addresses come from Faker `zh_CN`, email
domains are RFC 2606 `*.example` names, and resident ID and UnionPay-style card
numbers are made up but carry valid check digits, so recognizers that verify
them fire; mobiles are on the prefixes the phone recognizer knows as
allocated. About one service note in five repeats the customer's own mobile
number or name inline, as free-text CRM notes do. `DEMO_TAGS` maps each
marketing tag to its data category; the health and debt tags are sensitive
personal information (PIPL art. 28) and sit on a few percent of customers, and
about 5% of customers are under 14, which makes their data sensitive as well.
"""

import os
import random
import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Mapping
from contextlib import closing
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from types import MappingProxyType

from faker import Faker

from governance.pii.recognizers.phone import MOBILE_PREFIXES

REFERENCE_DATE = date(2026, 1, 1)
"""The day ages are measured on, fixed so that the data never depends on today."""

DEMO_TAGS: Mapping[str, str] = MappingProxyType(
    {
        "高消费": "consumption.level",
        "价格敏感": "consumption.price_sensitivity",
        "母婴": "interest.shopping",
        "美妆": "interest.shopping",
        "运动": "interest.shopping",
        "宠物": "interest.shopping",
        "新客": "lifecycle.stage",
        "复购": "lifecycle.stage",
        "沉睡": "lifecycle.stage",
        "孕期": "health.fertility",
        "糖尿病": "health.condition",
        "负债": "financial.debt",
    }
)
"""Marketing tag -> data category of the fact the tag reveals."""

EMAIL_DOMAINS = ("mail.example", "shop.example", "demo.example")
"""RFC 2606 domains, so no demo address can ever reach a real mailbox."""

MAX_COUNT = 999_999
"""Largest store the `C` + 6-digit customer IDs can number."""

# County codes that stdnum's cn/loc table lists as valid for every birth year
# from 1950 to 2025, so an ID validates whatever birth date it carries.
_REGION_CODES = (
    "110101",
    "110105",
    "120101",
    "120103",
    "140121",
    "150121",
    "310101",
    "310104",
    "330122",
    "340121",
    "350121",
    "360121",
    "430121",
    "510121",
    "530124",
    "540121",
    "610323",
    "620121",
    "640121",
    "650121",
)

_MINOR_SHARE = 0.05
_MINOR_BIRTHS = (date(2013, 1, 2), date(2025, 6, 30))
_ADULT_BIRTHS = (date(1950, 1, 2), date(2008, 1, 1))  # 18 to 75 on REFERENCE_DATE

# Tags drawn before the lifecycle stage; _draw_tags keeps the first _MAX_TAGS,
# so the sensitive and headline rates here are never diluted by truncation.
_LEADING_TAG_RATES = (
    ("孕期", 0.045),
    ("糖尿病", 0.045),
    ("负债", 0.045),
    ("高消费", 0.25),
    ("母婴", 0.26),
)
_STAGE_RATES = (("新客", 0.25), ("复购", 0.35), ("沉睡", 0.2))  # at most one
_TRAILING_TAG_RATES = (("价格敏感", 0.2), ("美妆", 0.18), ("运动", 0.12), ("宠物", 0.1))
_ADULT_ONLY_TAGS = frozenset({"孕期", "负债", "母婴"})
_MAX_TAGS = 4

_NICKNAME_STEMS = ("小", "阿", "爱吃鱼的", "快乐的", "追风的", "不吃香菜的", "momo_")
_PII_NOTE_SHARE = 0.2
_PII_NOTES = (
    "客户来电要求改地址，回拨{mobile}",
    "退款进度已短信通知{mobile}",
    "客户要求改用{mobile}接收发货通知",
    "{name}来电咨询会员积分，已回拨{mobile}",
    "{name}反馈快递外包装破损，已登记补发",
)
_PLAIN_NOTES = (
    "客户咨询物流进度，已告知预计送达时间",
    "客户反馈尺码偏小，已安排换货",
    "客户申请七天无理由退货，已审核通过",
    "客户询问优惠券使用规则，已解答",
    "客户投诉配送延迟，已补发无门槛券",
    "客户要求开具电子发票，已发送",
    "客户咨询商品保质期，已核实批次",
    "客户希望参加下期直播抢购，已登记",
)


@dataclass(frozen=True)
class Customer:
    """One synthetic customer as the demo's marketing database holds them."""

    customer_id: str
    name: str
    nickname: str
    mobile: str
    id_number: str
    email: str
    address: str
    birth_date: date
    bank_card: str
    service_note: str
    tags: tuple[str, ...]


def generate_customers(*, seed: int, count: int) -> list[Customer]:
    """Generate `count` synthetic customers, identical for identical arguments.

    Args:
        seed: Seeds both Faker and the module's own `random.Random`.
        count: How many customers to make, from 0 to `MAX_COUNT`.

    Returns:
        Customers `C000001` to `C{count:06d}`, in that order.

    Raises:
        ValueError: If `count` is outside 0..`MAX_COUNT`.
    """
    if not 0 <= count <= MAX_COUNT:
        raise ValueError(f"count must be between 0 and {MAX_COUNT}")
    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    # Faker's seed_instance(seed) runs its own Random(seed); a distinct seed keeps
    # our draws from replaying Faker's stream. str seeds hash stably (sha512).
    rng = random.Random(f"governance.demo.dataset:{seed}")
    taken: set[str] = set()
    return [_build_customer(n, fake, rng, taken) for n in range(1, count + 1)]


def write_demo_store(path: Path, *, seed: int, count: int) -> None:
    """Write `generate_customers(seed=seed, count=count)` to an SQLite file at `path`.

    The store is built in a temporary file in the same directory and then
    renamed over `path`, so a crash leaves the previous file (or none) in place.

    Args:
        path: Where the SQLite file ends up; an existing file is replaced.
        seed: Passed to `generate_customers`.
        count: Passed to `generate_customers`.
    """
    customers = generate_customers(seed=seed, count=count)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        _write_tables(tmp, customers)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _build_customer(
    number: int, fake: Faker, rng: random.Random, taken: set[str]
) -> Customer:
    # One `taken` set serves every unique field: their formats cannot collide.
    name = str(fake.name())
    mobile = _unique(taken, lambda: _draw_mobile(rng))
    birth_date = _draw_birth_date(rng)
    return Customer(
        customer_id=f"C{number:06d}",
        name=name,
        nickname=f"{rng.choice(_NICKNAME_STEMS)}{fake.first_name()}",
        mobile=mobile,
        id_number=_unique(taken, lambda: _draw_id_number(rng, birth_date)),
        email=_unique(taken, lambda: _draw_email(fake, rng)),
        address=str(fake.address()),
        birth_date=birth_date,
        bank_card=_unique(taken, lambda: _draw_bank_card(rng)),
        service_note=_draw_note(rng, name=name, mobile=mobile),
        tags=_draw_tags(rng, minor=birth_date >= _MINOR_BIRTHS[0]),
    )


def _draw_email(fake: Faker, rng: random.Random) -> str:
    # Faker has only some thousands of user names: a number keeps large stores unique.
    return f"{fake.user_name()}{rng.randrange(10_000)}@{rng.choice(EMAIL_DOMAINS)}"


def _unique(taken: set[str], draw: Callable[[], str]) -> str:
    value = draw()
    while value in taken:
        value = draw()
    taken.add(value)
    return value


def _digits(rng: random.Random, length: int) -> str:
    return f"{rng.randrange(10**length):0{length}d}"


def _draw_mobile(rng: random.Random) -> str:
    # The recognizer's own prefixes: a note must not show a mobile it cannot find.
    return f"{rng.choice(MOBILE_PREFIXES)}{_digits(rng, 8)}"


def _draw_birth_date(rng: random.Random) -> date:
    first, last = _MINOR_BIRTHS if rng.random() < _MINOR_SHARE else _ADULT_BIRTHS
    return first + timedelta(days=rng.randint(0, (last - first).days))


def _draw_id_number(rng: random.Random, birth_date: date) -> str:
    body = f"{rng.choice(_REGION_CODES)}{birth_date:%Y%m%d}{rng.randint(1, 999):03d}"
    return body + _mod11_2_check(body)


def _mod11_2_check(body: str) -> str:
    """ISO 7064 MOD 11-2 check character of a 17-digit ID body (GB 11643-1999)."""
    total = sum(int(digit) * pow(2, 17 - i, 11) for i, digit in enumerate(body))
    return "0123456789X"[(12 - total % 11) % 11]


def _draw_bank_card(rng: random.Random) -> str:
    body = "62" + _digits(rng, rng.choice((16, 19)) - 3)  # 62: UnionPay range
    return body + _luhn_check(body)


def _luhn_check(body: str) -> str:
    total = 0
    for i, char in enumerate(reversed(body)):
        digit = int(char) * (2 if i % 2 == 0 else 1)  # doubled once the check joins
        total += digit - 9 if digit > 9 else digit
    return str(-total % 10)


def _draw_note(rng: random.Random, *, name: str, mobile: str) -> str:
    if rng.random() < _PII_NOTE_SHARE:
        return rng.choice(_PII_NOTES).format(name=name, mobile=mobile)
    return rng.choice(_PLAIN_NOTES)


def _draw_tags(rng: random.Random, *, minor: bool) -> tuple[str, ...]:
    tags = _draw_each(rng, _LEADING_TAG_RATES)
    if minor:
        tags = [tag for tag in tags if tag not in _ADULT_ONLY_TAGS]
    roll = rng.random()
    for stage, rate in _STAGE_RATES:
        if roll < rate:
            tags.append(stage)
            break
        roll -= rate
    tags += _draw_each(rng, _TRAILING_TAG_RATES)
    return tuple(tags[:_MAX_TAGS])


def _draw_each(rng: random.Random, rates: Iterable[tuple[str, float]]) -> list[str]:
    return [tag for tag, rate in rates if rng.random() < rate]


_SCHEMA = """
CREATE TABLE customers (
    customer_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    nickname TEXT NOT NULL,
    mobile TEXT NOT NULL,
    id_number TEXT NOT NULL,
    email TEXT NOT NULL,
    address TEXT NOT NULL,
    birth_date TEXT NOT NULL,  -- ISO date
    bank_card TEXT NOT NULL,
    service_note TEXT NOT NULL
);
CREATE TABLE customer_tags (
    customer_id TEXT NOT NULL REFERENCES customers(customer_id),
    tag TEXT NOT NULL,
    PRIMARY KEY (customer_id, tag)
);
CREATE INDEX customer_tags_by_tag ON customer_tags (tag, customer_id);
"""
_INSERT_CUSTOMER = "INSERT INTO customers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_INSERT_TAG = "INSERT INTO customer_tags (customer_id, tag) VALUES (?, ?)"


def _write_tables(path: Path, customers: list[Customer]) -> None:
    with closing(sqlite3.connect(path)) as conn:
        conn.executescript(_SCHEMA)
        with conn:  # one transaction for all rows
            conn.executemany(_INSERT_CUSTOMER, map(_customer_row, customers))
            conn.executemany(
                _INSERT_TAG, ((c.customer_id, tag) for c in customers for tag in c.tags)
            )


def _customer_row(c: Customer) -> tuple[str, ...]:
    return (
        c.customer_id,
        c.name,
        c.nickname,
        c.mobile,
        c.id_number,
        c.email,
        c.address,
        c.birth_date.isoformat(),
        c.bank_card,
        c.service_note,
    )
