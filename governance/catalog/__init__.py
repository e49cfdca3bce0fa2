"""The catalog: what data exists, how it is classified, and which purposes may use it."""

from governance.catalog.catalog import Catalog, Dataset, Notice, Purpose, TagTable
from governance.catalog.load import load_catalog

__all__ = ["Catalog", "Dataset", "Notice", "Purpose", "TagTable", "load_catalog"]
