"""Carry out a decision's obligations on records: keep, mask, pseudonymise or drop each field.

The policy states the obligations; this only executes them. A field without an
obligation is withheld, so a gap in the decision can never leak a value.
"""

from collections.abc import Mapping

from governance.masking.operators.base import Operator
from governance.masking.operators.keep import Keep
from governance.masking.operators.mask import Mask
from governance.masking.operators.pseudonymise import Pseudonymise
from governance.ports import KeyProvider
from governance.types import FieldFact, Obligation, Record


def build_operators(keys: KeyProvider) -> dict[Obligation, Operator]:
    """The operator for every obligation except `withhold`, which drops the field."""
    version, key = keys.key("pseudonymise")
    return {
        Obligation.KEEP: Keep(),
        Obligation.MASK: Mask(),
        Obligation.PSEUDONYMISE: Pseudonymise(key=key, version=version),
    }


def mask_record(
    record: Record,
    *,
    obligations: Mapping[str, Obligation],
    fields: Mapping[str, FieldFact],
    operators: Mapping[Obligation, Operator],
) -> Record:
    """Return the part of `record` that may leave, each field transformed as obliged."""
    out: Record = {}
    for name, value in record.items():
        obligation = obligations.get(name, Obligation.WITHHOLD)
        operator = operators.get(obligation)
        if operator is not None:
            out[name] = operator.apply(value, fields[name])
    return out
