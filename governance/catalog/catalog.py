"""The checked catalog the pipeline reads: datasets, fields, tags, recipients, purposes.

Built once at startup from a validated, cross-checked `CatalogSpec`; immutable
afterwards. Tags carry their lineage and inherited sensitivity
(`governance.catalog.lineage`, S-04).
"""

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import MappingProxyType

from governance._urls import resolve_sqlite_url
from governance.catalog.lineage import TagFact, tag_facts
from governance.catalog.models import (
    CatalogSpec,
    DatasetSpec,
    MaskingSpec,
    RecipientSpec,
)
from governance.errors import UnknownDataset
from governance.masking.params import CategoryMasking, category_masking
from governance.types import FieldFact

_BIRTH_DATE = "identity.birth_date"
_ID_CARD = "identity.id_card"
DOMESTIC = "CN"
"""Mainland China: any other country or region (Hong Kong, Macao, Taiwan too) is abroad."""


@dataclass(frozen=True)
class Recipient:
    """A registered independent recipient (PIPL 23) and how transfers to it are lawful."""

    name: str
    legal_name: str
    country: str
    contact: str
    transfer_mechanism: str | None
    mechanism_reference: str | None

    @property
    def cross_border(self) -> bool:
        """Whether providing data to it is a transfer abroad (SC-04)."""
        return self.country != DOMESTIC


@dataclass(frozen=True)
class TagTable:
    """Where a dataset's tags live."""

    table: str
    subject_key: str
    column: str


@dataclass(frozen=True)
class Dataset:
    """A table of personal data and its classified fields, in catalog order."""

    name: str
    source: str
    table: str
    schema: str | None
    subject_key: str
    fields: Mapping[str, FieldFact]
    tags: TagTable | None
    birth_date_field: str | None
    id_card_field: str | None
    description: str
    bulk_threshold: int | None = None


@dataclass(frozen=True)
class Purpose:
    """A declared purpose with its legal basis and the categories it may use."""

    name: str
    legal_basis: str
    categories: frozenset[str]
    sensitive_categories: frozenset[str]
    excludes_minors: bool
    description: str
    marketing: bool = False
    personalised: bool = False
    messaging: bool = False
    pricing: bool = False
    third_party: bool = False
    recipients: frozenset[str] = frozenset()
    impact_assessment: str | None = None
    pseudonym_domain: str = ""
    """Pseudonyms and tokens join only within one domain (the catalog's default: the name)."""
    detokenise: bool = False
    masking: Mapping[str, CategoryMasking] = field(default_factory=dict, hash=False)
    """This purpose's own operator parameters, by category, over the catalog's."""

    @property
    def requires_consent(self) -> bool:
        """Whether access for this purpose needs the subject's consent."""
        return self.legal_basis == "consent"


@dataclass(frozen=True)
class Notice:
    """One version of a purpose's notice: what a consent citing it covers."""

    purpose: str
    version: str
    published: date
    summary: str
    categories: frozenset[str]
    kind: str
    retired: bool
    frequency: str | None = None
    """The most messages a messaging purpose's notice promises, like `4/month`."""


@dataclass(frozen=True)
class Catalog:
    """Everything the proxy knows about data and purposes."""

    sources: Mapping[str, str]
    datasets: Mapping[str, Dataset]
    tags: Mapping[str, TagFact]
    purposes: Mapping[str, Purpose]
    notices: Mapping[str, tuple[Notice, ...]]
    recipients: Mapping[str, Recipient]
    masking: Mapping[str, CategoryMasking] = field(default_factory=dict, hash=False)
    """Operator parameters by category (`mask`, `generalise`), checked at load."""

    def notice(self, purpose: str, version: str) -> Notice | None:
        """The notice `version` of `purpose`, retired or not, if it exists."""
        return next(
            (n for n in self.notices.get(purpose, ()) if n.version == version), None
        )

    def current_notice(self, purpose: str) -> Notice | None:
        """The newest active notice of `purpose`."""
        return _current_notice(self.notices.get(purpose, ()))

    @functools.cached_property
    def lasting_notices(self) -> frozenset[tuple[str, str]]:
        """(purpose, version) pairs whose consents still hold (not stale, C-05).

        A consent citing an older version stays good while the current notice
        covers the same categories with the same kind of consent. Computed once:
        every consent check asks.
        """
        lasting: set[tuple[str, str]] = set()
        for purpose, versions in self.notices.items():
            current = self.current_notice(purpose)
            if current is not None:
                lasting.update(
                    (purpose, n.version)
                    for n in versions
                    if (n.categories, n.kind) == (current.categories, current.kind)
                )
        return frozenset(lasting)

    def dataset(self, name: str) -> Dataset:
        """Return the dataset or raise `UnknownDataset`."""
        try:
            return self.datasets[name]
        except KeyError:
            raise UnknownDataset("no dataset of that name is declared") from None

    @classmethod
    def build(
        cls, spec: CatalogSpec, *, base_dir: Path, expand: Callable[[str], str]
    ) -> "Catalog":
        """Turn a cross-checked spec into the runtime catalog."""
        sensitive = {name: c.sensitive for name, c in spec.categories.items()}
        datasets = {n: _dataset(n, d, sensitive) for n, d in spec.datasets.items()}
        return cls(
            sources=MappingProxyType(
                {
                    n: resolve_sqlite_url(expand(s.url), base_dir)
                    for n, s in spec.sources.items()
                }
            ),
            datasets=MappingProxyType(datasets),
            tags=MappingProxyType(tag_facts(spec.tags, sensitive, _fields(datasets))),
            purposes=MappingProxyType(
                {
                    n: Purpose(
                        name=n,
                        legal_basis=p.legal_basis,
                        categories=frozenset(p.categories),
                        sensitive_categories=frozenset(p.sensitive_categories),
                        excludes_minors=p.excludes_minors,
                        description=p.description,
                        marketing=p.marketing,
                        personalised=p.personalised,
                        messaging=p.messaging,
                        pricing=p.pricing,
                        third_party=p.third_party,
                        recipients=frozenset(p.recipients),
                        impact_assessment=p.impact_assessment,
                        pseudonym_domain=p.pseudonym_domain or n,
                        detokenise=p.detokenise,
                        masking=_masking(p.masking),
                    )
                    for n, p in spec.purposes.items()
                }
            ),
            notices=MappingProxyType(
                {
                    purpose: tuple(
                        Notice(
                            purpose,
                            n.version,
                            n.published,
                            n.summary,
                            frozenset(n.categories),
                            n.kind,
                            n.retired,
                            n.frequency,
                        )
                        for n in versions
                    )
                    for purpose, versions in spec.notices.items()
                }
            ),
            recipients=MappingProxyType(
                {n: _recipient(n, r) for n, r in spec.recipients.items()}
            ),
            masking=_masking(spec.masking),
        )


@functools.lru_cache(maxsize=256)
def _current_notice(versions: tuple[Notice, ...]) -> Notice | None:
    """Computed once per purpose: every consent check asks for it."""
    active = [n for n in versions if not n.retired]
    return max(active, key=lambda n: n.published) if active else None


def _dataset(name: str, spec: DatasetSpec, sensitive: dict[str, bool]) -> Dataset:
    fields = {
        f: FieldFact(f, s.category, bool(s.sensitive) or sensitive[s.category])
        for f, s in spec.fields.items()
    }
    birth = [f for f, s in spec.fields.items() if s.category == _BIRTH_DATE]
    ids = [f for f, s in spec.fields.items() if s.category == _ID_CARD]
    tags = spec.tags
    return Dataset(
        name=name,
        source=spec.source,
        table=spec.table,
        schema=spec.schema_name,
        subject_key=spec.subject_key,
        fields=MappingProxyType(fields),
        tags=TagTable(tags.table, tags.subject_key, tags.column) if tags else None,
        birth_date_field=birth[0] if birth else None,
        id_card_field=ids[0] if ids else None,
        description=spec.description,
        bulk_threshold=spec.bulk_threshold,
    )


def _fields(datasets: Mapping[str, Dataset]) -> dict[str, FieldFact]:
    """Every field of every dataset, keyed `dataset.field` as lineage names them."""
    return {
        f"{name}.{field}": fact
        for name, ds in datasets.items()
        for field, fact in ds.fields.items()
    }


def _masking(specs: Mapping[str, MaskingSpec]) -> Mapping[str, CategoryMasking]:
    return MappingProxyType(
        {
            category: category_masking(category, mask=s.mask, generalise=s.generalise)
            for category, s in specs.items()
        }
    )


def _recipient(name: str, spec: RecipientSpec) -> Recipient:
    mechanism = spec.transfer_mechanism
    return Recipient(
        name=name,
        legal_name=spec.legal_name,
        country=spec.country,
        contact=spec.contact,
        transfer_mechanism=mechanism.type if mechanism else None,
        mechanism_reference=mechanism.reference if mechanism else None,
    )
