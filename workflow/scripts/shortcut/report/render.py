"""The report as a document (sections of paragraphs, bullets, tables and figures) and its two
renderings: a self-contained HTML page (inline CSS, figures as base64 ``data:`` URIs, no scripts,
no external references) and Markdown linking the PNGs relatively.

Both renderings are byte-identical for the same document, except the cost section (job timings),
which is wrapped in ``<!-- cost:start -->`` and ``<!-- cost:end -->`` so a comparison can strip
it (:func:`strip_cost`).
"""

from __future__ import annotations

import base64
import html as _html
import re
from dataclasses import dataclass, field
from typing import Callable, Mapping

from .names import FIGURES


COST_START = "<!-- cost:start -->"
COST_END = "<!-- cost:end -->"


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]
    numeric: list[bool]  # right-aligned columns
    strong: set = field(default_factory=set)  # (row, column) cells to emphasise
    total: bool = False  # the last row is a total


@dataclass
class Figure:
    name: str
    caption: str
    draw: Callable[[], object] | None = None  # returns a matplotlib Figure
    source: bytes | None = None  # a PNG made by another rule, copied unchanged
    missing: str = ""  # why the figure is not available (drawn as a placeholder)

    @property
    def title(self) -> str:
        return FIGURES.get(self.name, self.name)


@dataclass
class Para:
    text: str  # **bold** and `code` are the only inline markup
    kind: str = ""  # "answer", "answer alert" or "note" (CSS class in HTML)


@dataclass
class Bullets:
    items: list[str]


@dataclass
class Heading:
    text: str  # a sub-heading inside a section


@dataclass
class Section:
    id: str
    title: str
    blocks: list = field(default_factory=list)
    marker: str = ""  # "cost": the body is wrapped in <!-- cost:start --> ... <!-- cost:end -->


@dataclass
class Document:
    title: str
    subtitle: str
    sections: list[Section]

    def figures(self) -> list[Figure]:
        return [b for s in self.sections for b in s.blocks if isinstance(b, Figure)]

    def captions(self) -> dict[str, str]:
        """Figure name -> caption (what ``snakemake --report`` labels the figures with)."""
        return {f.name: f.caption for f in self.figures()}


CSS = """
body{margin:0;background:#fff;color:#1f2328;
  font:15px/1.5 -apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:980px;margin:0 auto;padding:24px 32px 64px}
h1{font-size:1.9em;margin:0 0 .2em}
h2{font-size:1.4em;margin:2em 0 .6em;padding-bottom:.2em;border-bottom:1px solid #d0d7de}
h3{font-size:1.1em;margin:1.4em 0 .4em}
p.subtitle{color:#57606a;margin-top:0}
p.answer{font-size:1.1em;padding:12px 16px;border-left:6px solid #1a7f37;background:#f0f9f2}
p.answer.alert{border-left-color:#cf222e;background:#fff4f4}
p.note{color:#57606a;font-style:italic}
nav.toc ol{columns:2;margin:.4em 0 0;padding-left:1.4em}
nav.toc a{color:#0969da;text-decoration:none}
code{font:.9em ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#f6f8fa;
  padding:0 3px;border-radius:3px}
.scroll{overflow-x:auto;margin:8px 0 16px}
table{border-collapse:collapse;font-size:13px;font-variant-numeric:tabular-nums}
th,td{padding:4px 8px;border-bottom:1px solid #d8dee4;text-align:left;vertical-align:top}
th{background:#f6f8fa;font-weight:600;vertical-align:bottom}
td.num,th.num{text-align:right}
td.num{white-space:normal}
td code{overflow-wrap:anywhere}
tr.total td{font-weight:600;border-top:2px solid #8c959f}
figure{margin:16px 0 28px;max-width:900px}
figure img{display:block;max-width:100%;height:auto;border:1px solid #eaeef2}
figcaption{font-size:.93em;color:#444c56;margin-top:6px}
""".strip()


_BOLD = re.compile(r"\*\*(.+?)\*\*")
_CODE = re.compile(r"`([^`]+)`")


def _inline_html(text: str) -> str:
    out = _html.escape(text, quote=False)
    out = _CODE.sub(r"<code>\1</code>", out)
    return _BOLD.sub(r"<strong>\1</strong>", out)


def _html_table(t: Table) -> str:
    def cls(j):
        return ' class="num"' if t.numeric[j] else ""

    head = "".join(f"<th{cls(j)}>{_inline_html(h)}</th>" for j, h in enumerate(t.header))
    lines = ['<div class="scroll"><table>', f"<thead><tr>{head}</tr></thead>", "<tbody>"]
    for i, row in enumerate(t.rows):
        tr = '<tr class="total">' if t.total and i == len(t.rows) - 1 else "<tr>"
        cells = []
        for j, c in enumerate(row):
            inner = _inline_html(c)
            if (i, j) in t.strong:
                inner = f"<strong>{inner}</strong>"
            cells.append(f"<td{cls(j)}>{inner}</td>")
        lines.append(tr + "".join(cells) + "</tr>")
    lines.append("</tbody></table></div>")
    return "\n".join(lines)


def render_html(doc: Document, pngs: Mapping[str, bytes]) -> str:
    """The self-contained page: inline CSS, figures as data: URIs, nothing loaded from elsewhere."""
    out = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>{_html.escape(doc.title)}</title>", f"<style>\n{CSS}\n</style>", "</head>", "<body>", "<main>",
           f"<h1>{_inline_html(doc.title)}</h1>", f'<p class="subtitle">{_inline_html(doc.subtitle)}</p>',
           '<nav class="toc"><strong>Contents</strong><ol>']
    out += [f'<li><a href="#{s.id}">{_html.escape(s.title)}</a></li>' for s in doc.sections]
    out.append("</ol></nav>")
    n_fig = 0
    for k, s in enumerate(doc.sections, 1):
        out.append(f'<section id="{s.id}">')
        out.append(f"<h2>{k}. {_html.escape(s.title)}</h2>")
        if s.marker:
            out.append(f"<!-- {s.marker}:start -->")
        for b in s.blocks:
            if isinstance(b, Para):
                cls = f' class="{b.kind}"' if b.kind else ""
                out.append(f"<p{cls}>{_inline_html(b.text)}</p>")
            elif isinstance(b, Heading):
                out.append(f"<h3>{_inline_html(b.text)}</h3>")
            elif isinstance(b, Bullets):
                out.append("<ul>" + "".join(f"<li>{_inline_html(i)}</li>" for i in b.items) + "</ul>")
            elif isinstance(b, Table):
                out.append(_html_table(b))
            elif isinstance(b, Figure):
                n_fig += 1
                data = base64.b64encode(pngs[b.name]).decode("ascii")
                out.append(f'<figure id="fig-{b.name}"><img src="data:image/png;base64,{data}" '
                           f'alt="{_html.escape(b.title)}">'
                           f"<figcaption><strong>Figure {n_fig}. {_html.escape(b.title)}.</strong> "
                           f"{_inline_html(b.caption)}</figcaption></figure>")
        if s.marker:
            out.append(f"<!-- {s.marker}:end -->")
        out.append("</section>")
    out += ["</main>", "</body>", "</html>", ""]
    return "\n".join(out)


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _md_table(t: Table) -> str:
    def fmt(i, j, c):
        c = _md_cell(c)
        return f"**{c}**" if (i, j) in t.strong or (t.total and i == len(t.rows) - 1) else c

    lines = ["| " + " | ".join(_md_cell(h) or " " for h in t.header) + " |",
             "| " + " | ".join("---:" if n else ":---" for n in t.numeric) + " |"]
    lines += ["| " + " | ".join(fmt(i, j, c) for j, c in enumerate(row)) + " |" for i, row in enumerate(t.rows)]
    return "\n".join(lines)


def render_markdown(doc: Document, links: Mapping[str, str]) -> str:
    """The same document as Markdown; ``links`` maps figure names to relative PNG paths."""
    out = [f"# {doc.title}", "", doc.subtitle, "", "**Contents:** "
           + " · ".join(f"[{k}. {s.title}](#{s.id})" for k, s in enumerate(doc.sections, 1)), ""]
    n_fig = 0
    for k, s in enumerate(doc.sections, 1):
        out += [f'<a id="{s.id}"></a>', "", f"## {k}. {s.title}", ""]
        if s.marker:
            out += [f"<!-- {s.marker}:start -->", ""]
        for b in s.blocks:
            if isinstance(b, Para):
                text = f"*{b.text}*" if b.kind == "note" else b.text
                out += [("> " if b.kind.startswith("answer") else "") + text, ""]
            elif isinstance(b, Heading):
                out += [f"### {b.text}", ""]
            elif isinstance(b, Bullets):
                out += [f"- {i}" for i in b.items] + [""]
            elif isinstance(b, Table):
                out += [_md_table(b), ""]
            elif isinstance(b, Figure):
                n_fig += 1
                out += [f"![{b.title}]({links[b.name]})", "", f"**Figure {n_fig}. {b.title}.** {b.caption}", ""]
        if s.marker:
            out += [f"<!-- {s.marker}:end -->", ""]
    return "\n".join(out).rstrip("\n") + "\n"


def strip_cost(text: str) -> str:
    """The text without its cost block (the only part that differs between reruns)."""
    return re.sub(re.escape(COST_START) + r".*?" + re.escape(COST_END), "", text, flags=re.S)
