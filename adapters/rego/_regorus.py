"""What regorus tells us about a bundle: its modules' AST and its error messages.

`modules(engine)` reads `Engine.get_ast_as_json()` into small values: each
module's file, package path, imports (alias -> data path) and rule heads.
`walk` and `static_path` let the linter look into rule bodies. `engine_error`
turns a regorus `RuntimeError` (a location line, the offending source line, an
`error:` line, then a Rust backtrace) into file, line and message; the
backtrace is dropped.
"""

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

_LOCATION = re.compile(r"-->\s*(?P<file>.+?):(?P<line>\d+):\d+")
_ERROR = re.compile(r"^error:\s*(?P<message>.+)$", re.MULTILINE)
_IMPORT_ALIAS = re.compile(r"^\s*import\s+([\w.\[\]\"]+)(?:\s+as\s+(\w+))?")

DataPath = tuple[str, ...]


@dataclass(frozen=True)
class EngineError:
    """A regorus error: where (when it says) and what."""

    file: str | None
    line: int | None
    message: str


def engine_error(exc: BaseException) -> EngineError:
    """Read file, line and message out of a regorus error; drop the backtrace."""
    text = str(exc).split("Stack backtrace", 1)[0].strip()
    location = _LOCATION.search(text)
    error = _ERROR.search(text)
    if error:
        message = error.group("message").strip()
    else:
        message = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return EngineError(
        file=location.group("file") if location else None,
        line=int(location.group("line")) if location else None,
        message=message or type(exc).__name__,
    )


@dataclass(frozen=True)
class Rule:
    """One rule definition: its path below `data`, its line, and its kind."""

    path: DataPath
    line: int
    function: bool
    node: dict[str, Any]


@dataclass(frozen=True)
class Module:
    """One parsed policy module."""

    file: str
    package: DataPath  # below `data`: ("governance", "access")
    package_line: int
    imports: dict[str, DataPath]
    rules: tuple[Rule, ...]
    ast: dict[str, Any]


def modules(engine: Any) -> list[Module]:
    """The modules loaded into `engine`, in the order they were added."""
    found = []
    for entry in json.loads(engine.get_ast_as_json()):
        source, ast = entry["source"], entry["ast"]
        package, line = static_path(ast["package"]["refr"])
        found.append(
            Module(
                file=source["file"],
                package=package,
                package_line=line,
                imports=_imports(ast.get("imports", []), source["contents"]),
                rules=tuple(_rule(package, r) for r in ast.get("rules", [])),
                ast=ast,
            )
        )
    return found


def _imports(imports: list[dict[str, Any]], source: str) -> dict[str, DataPath]:
    """Alias -> data path of each `import data...` (the AST keeps no alias name)."""
    lines = source.splitlines()
    aliases = {}
    for imp in imports:
        path, line = static_path(imp["refr"])
        if not path or path[0] != "data":
            continue
        match = _IMPORT_ALIAS.match(lines[line - 1]) if 0 < line <= len(lines) else None
        alias = match.group(2) if match and match.group(2) else path[-1]
        aliases[alias] = path[1:]
    return aliases


def _rule(package: DataPath, node: dict[str, Any]) -> Rule:
    ((kind, body),) = node.items()
    if kind == "Default":
        head_ref, function = body["refr"], bool(body.get("args"))
    else:
        ((head_kind, head),) = body["head"].items()
        head_ref, function = head["refr"], head_kind == "Func"
    path, line = static_path(head_ref)
    return Rule(path=package + path, line=line, function=function, node=node)


def static_path(ref: Any) -> tuple[DataPath, int]:
    """The names of a reference up to its first non-literal index, and its line.

    `data.governance.obligations.by_purpose[input.purpose.name]` gives
    `("data", "governance", "obligations", "by_purpose")`.
    """
    parts: list[str | None] = []
    line = 0
    node = ref
    while isinstance(node, dict) and len(node) == 1:
        ((kind, body),) = node.items()
        line = body.get("span", {}).get("line", line) if isinstance(body, dict) else 0
        if kind == "RefDot":
            parts.append(body["field"][1])
            node = body["refr"]
        elif kind == "RefBrack":
            index = body["index"]
            parts.append(index["String"]["value"] if "String" in index else None)
            node = body["refr"]
        elif kind == "Var":
            parts.append(body["value"])
            break
        else:
            return (), line
    names = list(reversed(parts))
    static = names[: names.index(None)] if None in names else names
    return tuple(str(n) for n in static), line


def root_var(ref: Any) -> str | None:
    """The variable a reference chain starts from (`input`, `data`, an alias)."""
    node = ref
    while isinstance(node, dict) and len(node) == 1:
        ((kind, body),) = node.items()
        if kind in ("RefDot", "RefBrack"):
            node = body["refr"]
        elif kind == "Var":
            return str(body["value"])
        else:
            return None
    return None


def references(node: Any) -> Iterator[dict[str, Any]]:
    """Every outermost reference chain (`a.b[c].d`) below `node`, in source order.

    The parts of a chain are not reported again; expressions used as an index
    inside a chain (`c` above) are searched too.
    """
    if isinstance(node, dict):
        if len(node) == 1 and next(iter(node)) in ("RefDot", "RefBrack"):
            yield node
            chain: Any = node
            while isinstance(chain, dict) and len(chain) == 1:
                ((kind, body),) = chain.items()
                if kind not in ("RefDot", "RefBrack"):
                    break
                if kind == "RefBrack":
                    yield from references(body["index"])
                chain = body["refr"]
            return
        for value in node.values():
            yield from references(value)
    elif isinstance(node, list):
        for item in node:
            yield from references(item)


def walk(node: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every typed AST node below `node`, as (kind, body), depth first."""
    if isinstance(node, dict):
        if len(node) == 1:
            ((kind, body),) = node.items()
            if isinstance(body, dict):
                yield kind, body
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)


def line_of(body: dict[str, Any]) -> int:
    """The line an AST node starts on (0 when the node has no span)."""
    span = body.get("span")
    return int(span["line"]) if isinstance(span, dict) else 0
