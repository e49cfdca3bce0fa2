"""The catalog as declared in YAML: categories, sources, datasets, tags, recipients, purposes.

These models check each entry on its own; `governance.catalog.load` checks the
references between entries and turns every fault into a `ConfigurationError`
that names the file and the entry.
"""

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

IDENTIFIER = r"^[A-Za-z_][A-Za-z0-9_]{0,62}$"
NAME = r"^[a-z][a-z0-9_.-]{0,62}$"
REFERENCE = r"^[A-Za-z0-9][A-Za-z0-9._:/#-]{0,63}$"
FREQUENCY = r"^[1-9]\d{0,2}/(day|week|month)$"
RECIPIENT_SCOPE = "recipient:"
"""Prefix of the consent-scope entry naming a recipient, e.g. `recipient:cobrand-bank`."""

LegalBasis = Literal[
    "consent",
    "contract",
    "legal_obligation",
    "vital_interest",
    "public_interest",
    "publicly_available",
    "employment",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CategorySpec(_Strict):
    """What a field or tag is about; `sensitive` marks PIPL Art. 28 classes."""

    sensitive: bool = False
    description: str = ""


class SourceSpec(_Strict):
    """A data store the proxy reads through an adapter."""

    url: str = Field(min_length=1, description="SQLAlchemy async URL; ${VAR} expands.")


class FieldSpec(_Strict):
    """One column of a dataset and its classification."""

    category: str = Field(min_length=1)
    sensitive: bool | None = Field(
        None, description="Defaults to the category's flag; may only raise it."
    )
    description: str = ""


class TagTableSpec(_Strict):
    """Where a dataset's marketing tags live: one row per (subject, tag)."""

    table: str = Field(pattern=IDENTIFIER)
    subject_key: str = Field(pattern=IDENTIFIER)
    column: str = Field(pattern=IDENTIFIER)


class DatasetSpec(_Strict):
    """A table of personal data, keyed by subject."""

    source: str
    table: str = Field(pattern=IDENTIFIER)
    schema_name: str | None = Field(None, alias="schema", pattern=IDENTIFIER)
    subject_key: str = Field(pattern=IDENTIFIER)
    fields: dict[str, FieldSpec] = Field(min_length=1)
    tags: TagTableSpec | None = None
    bulk_threshold: int | None = Field(
        None,
        ge=1,
        description="Reads of more records at once need an approval reference (K-02).",
    )
    description: str = ""


class DerivedFromSpec(_Strict):
    """What a tag is inferred from (S-04): categories, other tags, `dataset.field`s."""

    categories: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    fields: list[str] = Field(default_factory=list)


class TagSpec(_Strict):
    """A marketing tag (用户标签), its classification and its lineage."""

    category: str = Field(min_length=1)
    derived_from: DerivedFromSpec | None = Field(
        None, description="A tag derived from anything sensitive is sensitive."
    )
    description: str = ""


class TransferMechanismSpec(_Strict):
    """The recorded legal mechanism for transfers abroad (PIPL 38; SC-04)."""

    type: Literal["standard_contract", "certification", "security_assessment"]
    reference: str = Field(pattern=REFERENCE, description="Filing or approval number.")
    recorded: date


class RecipientSpec(_Strict):
    """An independent recipient data may be provided to (PIPL 23; SC-02)."""

    legal_name: str = Field(min_length=1)
    country: str = Field(
        pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2; CN is domestic."
    )
    contact: str = ""
    transfer_mechanism: TransferMechanismSpec | None = None


class MaskingSpec(_Strict):
    """Parameters of `mask` and `generalise` for one category; checked at load.

    `mask`: `style` (mobile, id_card, bank_card, name, email, address, generic),
    `keep_head`, `keep_tail`, `char`. `generalise`: `to` (year, age_band,
    province, city, district, grid, band), `bands`, `decimals`. See
    `governance.masking.params`.
    """

    mask: dict[str, Any] | None = None
    generalise: dict[str, Any] | None = None


class PurposeSpec(_Strict):
    """A declared processing purpose and what it may use."""

    legal_basis: LegalBasis
    description: str = ""
    categories: list[str] = Field(default_factory=list)
    sensitive_categories: list[str] = Field(default_factory=list)
    excludes_minors: bool = False
    marketing: bool = Field(False, description="Withdrawn by 'withdraw all marketing'.")
    personalised: bool = Field(
        False, description="Off when the subject opts out (A-01)."
    )
    messaging: bool = Field(
        False, description="Sends messages: consent must declare a frequency (MSG-02)."
    )
    pricing: bool = Field(
        False,
        description="Sets prices or coupon values: no sensitive or willingness-to-pay"
        " data (A-03).",
    )
    third_party: bool = Field(
        False, description="Provides data to the named recipients (PIPL 23)."
    )
    recipients: list[str] = Field(default_factory=list)
    impact_assessment: str | None = Field(
        None,
        pattern=REFERENCE,
        description="Id of the impact assessment covering it (PIPL 55; L-03).",
    )
    pseudonym_domain: str | None = Field(
        None,
        pattern=NAME,
        description="Pseudonyms and tokens join only within one domain; default:"
        " the purpose's own name.",
    )
    detokenise: bool = Field(
        False, description="May turn tokens of its domain back into values (audited)."
    )
    masking: dict[str, MaskingSpec] = Field(
        default_factory=dict,
        description="Overrides the catalog's `masking:` for this purpose, by category.",
    )


class NoticeSpec(_Strict):
    """One version of the notice (告知) a consent for a purpose refers to."""

    version: str = Field(pattern=r"^[\w.\-]{1,64}$")
    published: date
    summary: str = Field(
        min_length=1, description="What the subject is told, in Chinese."
    )
    categories: list[str] = Field(min_length=1, description="What the consent covers.")
    kind: Literal["general", "separate"] = "general"
    retired: bool = False
    frequency: str | None = Field(
        None,
        pattern=FREQUENCY,
        description="A messaging purpose's notice: the most messages it promises,"
        " like '4/month' (MSG-02); a consent may declare no more.",
    )


class CatalogSpec(_Strict):
    """The whole catalog file."""

    categories: dict[str, CategorySpec] = Field(min_length=1)
    sources: dict[str, SourceSpec] = Field(min_length=1)
    datasets: dict[str, DatasetSpec] = Field(min_length=1)
    tags: dict[str, TagSpec] = Field(default_factory=dict)
    recipients: dict[str, RecipientSpec] = Field(default_factory=dict)
    purposes: dict[str, PurposeSpec] = Field(min_length=1)
    masking: dict[str, MaskingSpec] = Field(
        default_factory=dict,
        description="How `mask` and `generalise` treat a category.",
    )
    notices: dict[str, list[NoticeSpec]] = Field(default_factory=dict)
