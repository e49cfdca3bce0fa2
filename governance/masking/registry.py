"""Every purpose's operators, built once at startup: `build_operators(keys, catalog)`.

An obligation names what happens to a field; which parameters it runs with
depends on the purpose: its `masking:` overrides over the catalog's (`mask`,
`generalise`), and its pseudonym domain (`pseudonymise`, `tokenise`). So the
proxy holds one operator map per purpose, and a read masks with
`OperatorTable.for_purpose(name)`. Purposes sharing a domain share one
pseudonymiser and one tokeniser.

`withhold` has an operator too (it returns `WITHHELD`); an obligation without
an operator is withheld by `mask_record` all the same. `redact_text` has an
operator only when the wiring passes a `TextRedactor`.
"""

import functools
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from types import MappingProxyType

from governance.catalog import Catalog, Purpose
from governance.masking.operators.base import Operator
from governance.masking.operators.generalise import Generalise
from governance.masking.operators.keep import Keep
from governance.masking.operators.mask import Mask
from governance.masking.operators.pseudonymise import Pseudonymise
from governance.masking.operators.redact_text import RedactText, TextRedactor
from governance.masking.operators.tokenise import Tokenise
from governance.masking.operators.withhold import Withhold
from governance.masking.params import CategoryMasking
from governance.ports import KeyProvider
from governance.subjects import china_date
from governance.types import Obligation

PSEUDONYMISE_KEY = "pseudonymise"
TOKENISE_KEY = "tokenise"
Operators = Mapping[Obligation, Operator]


@dataclass(frozen=True)
class OperatorTable:
    """The operators of every catalog purpose, and its tokeniser."""

    purposes: Mapping[str, Operators]
    tokenisers: Mapping[str, Tokenise]

    def for_purpose(self, purpose: str) -> Operators:
        """The operator of each obligation, with this purpose's parameters."""
        return self.purposes[purpose]

    def tokeniser(self, purpose: str) -> Tokenise:
        """The tokeniser of the purpose's pseudonym domain."""
        return self.tokenisers[purpose]


@functools.lru_cache(maxsize=2)
def _china_day(minute: int) -> date:
    return china_date(datetime.fromtimestamp(minute * 60, UTC))


def _china_today() -> date:
    """Today in China, read once a minute: age bands are asked for every value."""
    return _china_day(int(time.time() // 60))


def build_operators(
    keys: KeyProvider,
    catalog: Catalog,
    *,
    redactor: TextRedactor | None = None,
    today: Callable[[], date] = _china_today,
) -> OperatorTable:
    """Build every purpose's operators; `MaskingParamsError` if a parameter is bad."""
    version, key = keys.key(PSEUDONYMISE_KEY)
    current, _ = keys.key(TOKENISE_KEY)
    token_keys = keys.versions(TOKENISE_KEY)
    shared: dict[Obligation, Operator] = {
        Obligation.KEEP: Keep(),
        Obligation.WITHHOLD: Withhold(),
    }
    if redactor is not None:
        shared[Obligation.REDACT_TEXT] = RedactText(redactor)
    pseudonymisers: dict[str, Pseudonymise] = {}
    tokenisers: dict[str, Tokenise] = {}
    purposes: dict[str, Operators] = {}
    for name, purpose in catalog.purposes.items():
        domain = purpose.pseudonym_domain or name
        if domain not in pseudonymisers:
            pseudonymisers[domain] = Pseudonymise(
                key=key, version=version, domain=domain
            )
            tokenisers[domain] = Tokenise(
                keys=token_keys, current=current, domain=domain
            )
        masking = _merged(catalog, purpose)
        purposes[name] = MappingProxyType(
            {
                **shared,
                Obligation.MASK: Mask(
                    {c: m.mask for c, m in masking.items() if m.mask is not None}
                ),
                Obligation.GENERALISE: Generalise(
                    {
                        c: m.generalise
                        for c, m in masking.items()
                        if m.generalise is not None
                    },
                    today=today,
                ),
                Obligation.PSEUDONYMISE: pseudonymisers[domain],
                Obligation.TOKENISE: tokenisers[domain],
            }
        )
    return OperatorTable(
        purposes=MappingProxyType(purposes),
        tokenisers=MappingProxyType(
            {
                n: tokenisers[p.pseudonym_domain or n]
                for n, p in catalog.purposes.items()
            }
        ),
    )


def _merged(catalog: Catalog, purpose: Purpose) -> dict[str, CategoryMasking]:
    """The catalog's parameters with the purpose's own over them, per operator."""
    merged = dict(catalog.masking)
    for category, own in purpose.masking.items():
        base = merged.get(category, CategoryMasking())
        merged[category] = CategoryMasking(
            mask=own.mask or base.mask, generalise=own.generalise or base.generalise
        )
    return merged
