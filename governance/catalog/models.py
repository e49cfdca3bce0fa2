"""The catalog as declared in YAML: categories, sources, datasets, tags and purposes.

These models check each entry on its own; `governance.catalog.load` checks the
references between entries and turns every fault into a `ConfigurationError`
that names the file and the entry.
"""

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

IDENTIFIER = r"^[A-Za-z_][A-Za-z0-9_]{0,62}$"
NAME = r"^[a-z][a-z0-9_.-]{0,62}$"

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
    description: str = ""


class TagSpec(_Strict):
    """A marketing tag (用户标签) and its classification."""

    category: str = Field(min_length=1)
    description: str = ""


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


class CatalogSpec(_Strict):
    """The whole catalog file."""

    categories: dict[str, CategorySpec] = Field(min_length=1)
    sources: dict[str, SourceSpec] = Field(min_length=1)
    datasets: dict[str, DatasetSpec] = Field(min_length=1)
    tags: dict[str, TagSpec] = Field(default_factory=dict)
    purposes: dict[str, PurposeSpec] = Field(min_length=1)
    notices: dict[str, list[NoticeSpec]] = Field(default_factory=dict)
