"""Carry out a decision's obligations on records, field by field.

The policy states the obligations; this only executes them with the purpose's
operators (`governance.masking.registry`). A field without an obligation, with
an obligation that has no operator here, or whose operator returns `WITHHELD`
is left out, so a gap in the decision or the wiring can never leak a value.
"""

from collections.abc import Mapping

from governance.masking.operators.base import WITHHELD, Operator
from governance.types import FieldFact, Obligation, Record


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
        operator = operators.get(obligations.get(name, Obligation.WITHHOLD))
        if operator is not None:
            masked = operator.apply(value, fields[name])
            if masked is not WITHHELD:
                out[name] = masked
    return out
