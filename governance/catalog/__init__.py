"""The catalog: what data exists, how it is classified, and which purposes may use it."""

from governance.catalog.catalog import (
    Catalog,
    Dataset,
    Notice,
    Purpose,
    Recipient,
    TagTable,
)
from governance.catalog.lineage import DerivedInput, TagFact
from governance.catalog.load import load_catalog
from governance.catalog.registration import TagScreen

__all__ = [
    "Catalog",
    "Dataset",
    "DerivedInput",
    "Notice",
    "Purpose",
    "Recipient",
    "TagFact",
    "TagScreen",
    "TagTable",
    "load_catalog",
]
