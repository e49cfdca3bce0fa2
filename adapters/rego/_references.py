"""What a bundle names: catalog categories, purposes and obligations, and `data.` paths.

Found in policy modules (through their AST):

* a string compared with `….purpose.name` (a purpose) or `….category` (a category),
  also through `in` with a literal set, array, or a rule holding one
  (`input.purpose.name in _pricing_purposes`);
* a string tested for membership in `….categories` / `….sensitive_categories`;
* any string shaped like a category (`contact.phone`) whose first segment is a
  namespace the catalog uses (`contact`): a typo there is a category the catalog
  lacks, while unrelated dotted strings (`rego.v1`) are left alone.

Found in data documents, by key: the keys of `by_purpose` and the items (or keys)
of `purposes` are purposes; the keys of `by_category` and the items of
`categories` / `sensitive_categories` are categories; in the obligations
document (`data.governance.obligations`) the keys of `default` and of each
`by_purpose` entry are categories and every value is an obligation. Strings
shaped like categories are checked as in policies.
"""

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from adapters.rego._load import DataDocument
from adapters.rego._regorus import (
    DataPath,
    Module,
    line_of,
    references,
    root_var,
    static_path,
    walk,
)
from governance.catalog import Catalog

OBLIGATIONS_DOCUMENT: DataPath = ("governance", "obligations")
_DOTTED = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
_CATEGORY_COLLECTIONS = ("categories", "sensitive_categories")


@dataclass(frozen=True)
class Reference:
    """A name the bundle uses that the catalog must define."""

    kind: str  # "category", "purpose" or "obligation"
    value: str
    file: str
    line: int | None


def known_categories(catalog: Catalog) -> set[str]:
    """Every category the catalog gives a field, a tag, a purpose or a notice."""
    found = {f.category for d in catalog.datasets.values() for f in d.fields.values()}
    found |= {t.category for t in catalog.tags.values()}
    for purpose in catalog.purposes.values():
        found |= purpose.categories | purpose.sensitive_categories
    for notices in catalog.notices.values():
        for notice in notices:
            found |= notice.categories
    return found


def namespaces(catalog: Catalog) -> set[str]:
    """First segments of the catalog's dotted categories (`contact`, `health`)."""
    return {c.split(".", 1)[0] for c in known_categories(catalog) if "." in c}


def rego_references(mods: Sequence[Module], catalog: Catalog) -> list[Reference]:
    """Categories and purposes named by the policy (non-test) modules."""
    spaces = namespaces(catalog)
    found: list[Reference] = []
    for module in mods:
        literals = _literal_rules(module)
        for kind, body in walk(module.ast.get("rules", [])):
            for role, value, line in _compared(kind, body, literals):
                if value:  # `x != ""` tests for emptiness and names nothing
                    found.append(Reference(role, value, module.file, line))
            if kind == "String" and _category_shaped(body["value"], spaces):
                found.append(
                    Reference("category", body["value"], module.file, line_of(body))
                )
    return found


def _compared(
    kind: str, body: dict[str, Any], literals: dict[str, list[tuple[str, int]]]
) -> Iterator[tuple[str, str, int]]:
    """(role, string, line) for strings compared with a purpose name or a category."""
    if kind == "BoolExpr" and body.get("op") in ("Eq", "Ne"):
        for ref, other in ((body["lhs"], body["rhs"]), (body["rhs"], body["lhs"])):
            role = _role(ref)
            if role:
                for value, line in _strings(other, literals):
                    yield role, value, line
    elif kind == "Membership":
        value, collection = body["value"], body["collection"]
        role = _role(value)
        if role:
            for item, line in _strings(collection, literals):
                yield role, item, line
        if "String" in value and _path(collection)[-1:] in [
            (c,) for c in _CATEGORY_COLLECTIONS
        ]:
            yield "category", value["String"]["value"], line_of(value["String"])


def _path(node: Any) -> DataPath:
    return static_path(node)[0] if root_var(node) else ()


def _role(node: Any) -> str | None:
    """What a reference holds: a purpose name, a category, or neither."""
    path = _path(node)
    if path[-2:] == ("purpose", "name"):
        return "purpose"
    if path[-1:] == ("category",):
        return "category"
    return None


def _strings(
    node: Any, literals: dict[str, list[tuple[str, int]]]
) -> list[tuple[str, int]]:
    """The string literals of a string, a literal set or array, or a rule holding one."""
    if not isinstance(node, dict) or len(node) != 1:
        return []
    ((kind, body),) = node.items()
    if kind == "String":
        return [(body["value"], line_of(body))]
    if kind in ("Set", "Array"):
        return [
            (item["String"]["value"], line_of(item["String"]))
            for item in body["items"]
            if "String" in item
        ]
    if kind == "Var":
        return literals.get(body["value"], [])
    return []


def _literal_rules(module: Module) -> dict[str, list[tuple[str, int]]]:
    """Package rules defined once as a literal set or array of strings."""
    found: dict[str, list[tuple[str, int]]] = {}
    for rule in module.rules:
        spec = rule.node.get("Spec")
        if rule.function or not spec or spec.get("bodies") or len(rule.path) < 1:
            continue
        head = spec["head"].get("Compr")
        value = (head or {}).get("assign") or {}
        strings = _strings(value.get("value"), {}) if value.get("value") else []
        if strings:
            found[rule.path[-1]] = strings
    return found


def _category_shaped(value: str, spaces: set[str]) -> bool:
    return bool(_DOTTED.match(value)) and value.split(".", 1)[0] in spaces


def data_reads(module: Module) -> list[tuple[DataPath, int]]:
    """The `data.` paths a module reads (static prefix), each once, with a line."""
    seen: dict[DataPath, int] = {}
    for path, line in _import_paths(module):
        seen.setdefault(path, line)
    for ref in references(module.ast.get("rules", [])):
        var = root_var(ref)
        path, line = static_path(ref)
        if var == "data":
            full = path[1:]
        elif var in module.imports:
            full = module.imports[var] + path[1:]
        else:
            continue
        seen.setdefault(full, line)
    return list(seen.items())


def _import_paths(module: Module) -> Iterator[tuple[DataPath, int]]:
    for imp in module.ast.get("imports", []):
        path, line = static_path(imp["refr"])
        if path[:1] == ("data",):
            yield path[1:], line


def data_references(docs: Sequence[DataDocument], catalog: Catalog) -> list[Reference]:
    """Categories, purposes and obligations named by the data documents."""
    spaces = namespaces(catalog)
    found: list[Reference] = []
    for doc in docs:
        for kind, value in _document_names(doc.mount, doc.document, spaces):
            found.append(Reference(kind, value, doc.file, _line(doc.lines, value)))
    return found


def _document_names(
    mount: DataPath, document: dict[str, Any], spaces: set[str]
) -> Iterator[tuple[str, str]]:
    if mount == OBLIGATIONS_DOCUMENT:
        yield from _obligation_names(document)
    yield from _keyed_names(document, spaces)


def _obligation_names(document: dict[str, Any]) -> Iterator[tuple[str, str]]:
    tables = [document.get("default")]
    by_purpose = document.get("by_purpose")
    if isinstance(by_purpose, dict):
        tables += list(by_purpose.values())
    for table in tables:
        if isinstance(table, dict):
            for category, obligation in table.items():
                yield "category", category
                yield "obligation", str(obligation)


def _keyed_names(node: Any, spaces: set[str]) -> Iterator[tuple[str, str]]:
    """Names found by the key they sit under, and category-shaped strings."""
    if isinstance(node, dict):
        for key, value in node.items():
            if _category_shaped(key, spaces):
                yield "category", key
            role = _KEY_ROLES.get(key)
            if role:
                names = value if isinstance(value, list) else list(value or ())
                yield from ((role, n) for n in names if isinstance(n, str))
            yield from _keyed_names(value, spaces)
    elif isinstance(node, list):
        for item in node:
            yield from _keyed_names(item, spaces)
    elif isinstance(node, str) and _category_shaped(node, spaces):
        yield "category", node


_KEY_ROLES = {
    "by_purpose": "purpose",
    "purposes": "purpose",
    "by_category": "category",
    "categories": "category",
    "sensitive_categories": "category",
}


def _line(lines: Sequence[str], value: str) -> int | None:
    """The first line of a JSON file that holds `value` as a string."""
    needles = {json.dumps(value, ensure_ascii=False), json.dumps(value)}
    return next(
        (n for n, text in enumerate(lines, 1) if any(x in text for x in needles)),
        None,
    )
