"""Small HTML builders for the report page: every value is escaped unless built here.

`Html` marks markup this package produced (a chart, a cell with a code and its
label); anything else given to `cell()` or `table()` is text and is escaped.
"""

from collections.abc import Iterable, Sequence
from html import escape


class Html(str):
    """Markup built by this package, inserted as it is."""

    __slots__ = ()


Cell = Html | str | int | float | None


def cell(value: Cell) -> str:
    """A value as table-cell content: markup kept, numbers grouped, text escaped."""
    if isinstance(value, Html):
        return str(value)
    if value is None:
        return "—"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.1f}"
    return escape(value)


def coded(code: str, label: str) -> Html:
    """Plain-Chinese words with their code under them; a code alone when it has no words."""
    if not label:
        return Html(f"<code>{breakable(code)}</code>")
    return Html(f'{escape(label)}<code class="under">{breakable(code)}</code>')


def breakable(code: str) -> str:
    """`code` escaped, and allowed to wrap after `_`, `.` and `:` on a narrow screen."""
    text = escape(code)
    for mark in ("_", ".", ":"):
        text = text.replace(mark, f"{mark}<wbr>")
    return text


def table(
    head: Sequence[str],
    rows: Iterable[Sequence[Cell]],
    *,
    numeric: Iterable[int] = (),
    keep: Iterable[int] = (),
    empty: str = "本月无记录。",
) -> Html:
    """A table in a horizontally scrolling box.

    `numeric` columns are right-aligned; `keep` columns (times, names) never wrap.
    """
    right, whole = set(numeric), set(keep)

    def attrs(n: int) -> str:
        classes = " ".join(
            c for c, on in (("num", n in right), ("keep", n in whole)) if on
        )
        return f' class="{classes}"' if classes else ""

    body = "".join(
        "<tr>"
        + "".join(f"<td{attrs(n)}>{cell(v)}</td>" for n, v in enumerate(row))
        + "</tr>"
        for row in rows
    )
    if not body:
        return Html(f'<p class="empty">{escape(empty)}</p>')
    heads = "".join(f"<th{attrs(n)}>{escape(h)}</th>" for n, h in enumerate(head))
    return Html(
        f'<div class="scroll"><table><thead><tr>{heads}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def section(anchor: str, number: str, title: str, english: str, body: str) -> Html:
    """A section with its Chinese heading (numbered if `number`) and English subtitle."""
    no = f'<span class="no">{escape(number)}、</span>' if number else ""
    return Html(
        f'<section id="{escape(anchor)}"><h2><span class="zh">{no}{escape(title)}</span>'
        f'<span class="en">{escape(english)}</span></h2>{body}</section>'
    )


def figure(chart: str, caption: str = "") -> Html:
    """A chart, with its caption if it has one."""
    under = f"<figcaption>{escape(caption)}</figcaption>" if caption else ""
    return Html(f"<figure>{chart}{under}</figure>")
