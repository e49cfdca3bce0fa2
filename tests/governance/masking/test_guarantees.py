"""The masking guarantees of issue #5, as properties over synthetic personal values.

* No original value of a catalogued personal field appears in what `mask`,
  `generalise`, `pseudonymise` or `tokenise` let leave (nor its compact form).
* Masking is idempotent where that means something: masking a masked value
  reveals nothing new, and generalising a generalised value changes nothing.
* Pseudonyms are stable for one key and differ across domains.
* Tokenise then detokenise is the identity.
"""

import re
import unicodedata
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st
from masking_strategies import BY_CATEGORY, personal_values

from governance.masking.operators.generalise import Generalise
from governance.masking.operators.mask import Mask
from governance.masking.operators.pseudonymise import Pseudonymise
from governance.masking.operators.tokenise import Tokenise
from governance.masking.params import MaskParams
from governance.types import FieldFact

KEY = bytes(range(32))
DOMAINS = st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True)
TODAY = date(2026, 1, 1)
OPERATORS = {
    "mask": Mask(),
    "mask-configured": Mask(
        {
            "contact.phone": MaskParams("mobile", keep_head=0, keep_tail=4, char="#"),
            "financial.bank_card": MaskParams("bank_card", keep_head=6),
            "identity.customer_id": MaskParams("id_card"),
        }
    ),
    "generalise": Generalise(today=lambda: TODAY),
    "pseudonymise": Pseudonymise(key=KEY, version="v1", domain="analytics"),
    "tokenise": Tokenise(keys={"v1": KEY}, current="v1", domain="customer_service"),
}
each_operator = pytest.mark.parametrize("name", sorted(OPERATORS))


def fact(category: str) -> FieldFact:
    """A field of `category`."""
    return FieldFact("f", category, False)


def forms(value: str) -> set[str]:
    """The value as stored, and compacted (NFKC, no whitespace or separators)."""
    compact = re.sub(r"[\s\-.]", "", unicodedata.normalize("NFKC", value))
    return {value, compact}


@each_operator
@given(pair=personal_values)
def test_no_original_value_leaves(name, pair):
    """No catalogued personal value survives any masking operator, whole."""
    category, value = pair

    out = OPERATORS[name].apply(value, fact(category))

    assert all(form not in str(out) for form in forms(value))


@pytest.mark.parametrize("name", ["mask", "mask-configured"])
@given(pair=personal_values)
def test_masking_a_masked_value_reveals_nothing_new(name, pair):
    """Masking again gives the same mask or the generic one, and no new character."""
    category, value = pair
    mask = OPERATORS[name]

    once = mask.apply(value, fact(category))
    twice = mask.apply(once, fact(category))

    assert twice == once or set(twice) <= {"*", "#"}
    assert set(twice) - {"*", "#"} <= set(once)


@given(pair=personal_values)
def test_generalising_is_idempotent(pair):
    """A generalised value generalises to itself."""
    category, value = pair
    generalise = OPERATORS["generalise"]

    once = generalise.apply(value, fact(category))

    assert generalise.apply(once, fact(category)) == once


@given(pair=personal_values, domain=DOMAINS, other=DOMAINS)
def test_pseudonyms_are_stable_per_key_and_differ_across_domains(pair, domain, other):
    """Same key and domain: same pseudonym. Another domain: another pseudonym."""
    category, value = pair
    first = Pseudonymise(key=KEY, version="v1", domain=domain)
    again = Pseudonymise(key=KEY, version="v1", domain=domain)
    elsewhere = Pseudonymise(key=KEY, version="v1", domain=other)

    mine = first.apply(value, fact(category))

    assert again.apply(value, fact(category)) == mine
    assert (elsewhere.apply(value, fact(category)) == mine) == (domain == other)


@given(pair=personal_values)
def test_tokenise_then_detokenise_is_the_identity(pair):
    """Every personal value comes back exactly, with its category."""
    category, value = pair
    tokeniser = OPERATORS["tokenise"]

    token = tokeniser.apply(value, fact(category))
    opened = tokeniser.detokenise(token)

    assert (opened.category, opened.value) == (category, value)


@given(value=st.one_of(*BY_CATEGORY.values()))
def test_a_value_masked_as_another_category_still_does_not_leave(value):
    """Misclassified data fails safe: any category's mask hides any personal value."""
    for category in BY_CATEGORY:
        out = OPERATORS["mask"].apply(value, fact(category))

        assert value not in out
