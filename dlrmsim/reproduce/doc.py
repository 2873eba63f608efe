"""A tiny document model (headings, paragraphs, lists, tables, images) rendered to Markdown and
to standalone HTML from the same blocks, so that both reports say the same thing. Inline markup
is limited to `code` and **bold**."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass

from dlrmsim.reproduce.types import VERDICTS


@dataclass(frozen=True)
class Heading:
    """A section title of `level` 1 to 4."""

    level: int
    text: str


@dataclass(frozen=True)
class Para:
    """A paragraph of text."""

    text: str


@dataclass(frozen=True)
class Bullets:
    """An unordered list."""

    items: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    """A table of text cells; a cell that is a verdict (pass, fail, ...) is coloured in HTML."""

    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Image:
    """A figure: its path relative to the report and a caption."""

    path: str
    caption: str


Block = Heading | Para | Bullets | Table | Image

_CSS = """body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45}table{border-collapse:collapse;margin:.8em 0;font-size:.9em}
td,th{border:1px solid #ccc;padding:.25em .5em;vertical-align:top}th{background:#f3f3f3}
td.pass{background:#dff3df}td.fail{background:#f8dcdc}td.not-compared{background:#eee}
img{max-width:100%}figure{margin:1em 0}figcaption{font-size:.85em;color:#555}
code{background:#f3f3f3;padding:0 .2em}"""


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(blocks: Sequence[Block]) -> str:
    out: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            out.append("#" * b.level + " " + b.text)
        elif isinstance(b, Para):
            out.append(b.text)
        elif isinstance(b, Bullets):
            out.append("\n".join(f"- {item}" for item in b.items))
        elif isinstance(b, Table):
            lines = ["| " + " | ".join(_md_cell(h) for h in b.headers) + " |",
                     "|" + "---|" * len(b.headers)]
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in b.rows]
            out.append("\n".join(lines))
        else:
            out.append(f"![{b.caption}]({b.path})\n\n*{b.caption}*")
    return "\n\n".join(out) + "\n"


def _inline(text: str) -> str:
    escaped = html.escape(text, quote=False)
    escaped = re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", escaped)


def _cell(tag: str, text: str) -> str:
    cls = f' class="{text.replace(" ", "-")}"' if text in VERDICTS else ""
    return f"<{tag}{cls}>{_inline(text)}</{tag}>"


def to_html(blocks: Sequence[Block], title: str) -> str:
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"]
    for b in blocks:
        if isinstance(b, Heading):
            out.append(f"<h{b.level}>{_inline(b.text)}</h{b.level}>")
        elif isinstance(b, Para):
            out.append(f"<p>{_inline(b.text)}</p>")
        elif isinstance(b, Bullets):
            out.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in b.items) + "</ul>")
        elif isinstance(b, Table):
            head = "".join(_cell("th", h) for h in b.headers)
            body = "".join("<tr>" + "".join(_cell("td", c) for c in row) + "</tr>"
                           for row in b.rows)
            out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        else:
            out.append(f'<figure><img src="{html.escape(b.path)}" alt="{html.escape(b.caption)}">'
                       f"<figcaption>{_inline(b.caption)}</figcaption></figure>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"
