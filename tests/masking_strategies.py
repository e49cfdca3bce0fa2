"""Hypothesis strategies of synthetic personal values, by data category.

Every value is made up: mobiles of the 13x–19x ranges, ID numbers with a valid
check character, Faker-like names, `*.example` e-mail domains, card numbers of
12 to 19 digits, addresses down to the street and number.
"""

from datetime import date

from hypothesis import strategies as st

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_HAN = r"[\u4e00-\u9fa5]"


def resident_id(body: str) -> str:
    """The 17-digit `body` with its GB 11643 check character appended."""
    total = sum(int(d) * w for d, w in zip(body, _ID_WEIGHTS, strict=True))
    return body + _ID_CHECK[total % 11]


mobiles = st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)
# Mobiles a person may hold: the MIIT plan's allocated 11-digit prefixes, without
# ranges never given to people (IoT-only 140-144, unallocated 154, 160...), which
# text scanning skips.
allocated_mobiles = st.from_regex(
    r"1(?:3[0-9]|4[5-9]|5[0-35-9]|6[2567]|7[0-8]|8[0-9]|9[0-35-9])[0-9]{8}",
    fullmatch=True,
)
id_numbers = st.builds(
    lambda region, birth, seq: resident_id(f"{region}{birth:%Y%m%d}{seq:03d}"),
    st.sampled_from(["110101", "310104", "330122", "440103"]),
    st.dates(date(1940, 1, 1), date(2025, 12, 31)),
    st.integers(0, 999),
)
names = st.builds(
    str.__add__,
    st.sampled_from(["张", "王", "李", "欧阳", "司马", "诸葛", "陈"]),
    st.from_regex(f"{_HAN}{{1,2}}", fullmatch=True),
)
emails = st.from_regex(
    r"[a-z][a-z0-9._]{2,15}@(mail|shop|demo)\.example", fullmatch=True
)
bank_cards = st.from_regex(r"62[0-9]{10,17}", fullmatch=True)
addresses = st.builds(
    "{}{}{}路{}号".format,
    st.sampled_from(["浙江省杭州市", "北京市", "广东省广州市", "四川省成都市"]),
    st.from_regex(f"{_HAN}{{1,3}}区", fullmatch=True),
    st.from_regex(f"{_HAN}{{2,3}}", fullmatch=True),
    st.integers(1, 999),
)
birth_dates = st.dates(date(1930, 1, 1), date(2025, 12, 31)).map(date.isoformat)
customer_ids = st.from_regex(r"C[0-9]{6}", fullmatch=True)

BY_CATEGORY = {
    "contact.phone": mobiles,
    "identity.id_card": id_numbers,
    "identity.name": names,
    "contact.email": emails,
    "financial.bank_card": bank_cards,
    "contact.address": addresses,
    "identity.birth_date": birth_dates,
    "identity.customer_id": customer_ids,
}
"""Each catalogued personal category and values of it."""

personal_values = st.sampled_from(sorted(BY_CATEGORY)).flatmap(
    lambda category: st.tuples(st.just(category), BY_CATEGORY[category])
)
"""(category, value) pairs across every category."""
