"""Rendering of table documents: fixed-decimal cells, Markdown and standalone HTML, and a table rule's three outputs."""
from __future__ import annotations

import html
from dataclasses import dataclass, field

import pandas as pd

from .io import write_text, write_tsv


@dataclass
class Block:
    """One rendered table: a heading, a frame of display strings, and which cells to emphasize."""

    heading: str
    frame: pd.DataFrame
    bold: set = field(default_factory=set)  # (row position, column name)


@dataclass
class Document:
    """A titled group of tables with explanatory notes, rendered to Markdown or HTML."""

    title: str
    notes: list[str]
    blocks: list[Block]


def fmt(x, decimals: int) -> str:
    """A number with a fixed number of decimals ('' for missing)."""
    return "" if x is None or pd.isna(x) else f"{float(x):.{decimals}f}"


def fmt_pm(mean, sd, decimals: int) -> str:
    """mean +- sd with a fixed number of decimals."""
    return "" if pd.isna(mean) else f"{fmt(mean, decimals)} ± {fmt(sd, decimals)}"


def fmt_pct(x, decimals: int) -> str:
    """A percentage with a fixed number of decimals."""
    return "" if x is None or pd.isna(x) else f"{float(x):.{decimals}f}%"


def _md_cell(s: str) -> str:
    return str(s).replace("|", "\\|")


def to_markdown(doc: Document) -> str:
    """The document as GitHub-flavoured Markdown (bold cells in **)."""
    out = [f"# {doc.title}", ""] + [n for note in doc.notes for n in (note, "")]
    for b in doc.blocks:
        if b.heading:
            out += [f"## {b.heading}", ""]
        cols = list(b.frame.columns)
        out.append("| " + " | ".join(_md_cell(c) for c in cols) + " |")
        out.append("|" + "|".join("---" for _ in cols) + "|")
        for i, row in enumerate(b.frame.itertuples(index=False)):
            cells = [f"**{_md_cell(v)}**" if (i, c) in b.bold and v != "" else _md_cell(v) for c, v in zip(cols, row)]
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


HTML_STYLE = """body{font-family:sans-serif;font-size:14px;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:0.5em 0 1.5em}th,td{padding:3px 10px;border-bottom:1px solid #ddd;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}p{max-width:60em}"""


def to_html(doc: Document) -> str:
    """The document as a standalone HTML page (bold cells in <strong>)."""
    e = html.escape
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">', f"<title>{e(doc.title)}</title>",
           f"<style>{HTML_STYLE}</style></head><body>", f"<h1>{e(doc.title)}</h1>"]
    out += [f"<p>{e(n)}</p>" for n in doc.notes]
    for b in doc.blocks:
        if b.heading:
            out.append(f"<h2>{e(b.heading)}</h2>")
        cols = list(b.frame.columns)
        out.append("<table><thead><tr>" + "".join(f"<th>{e(str(c))}</th>" for c in cols) + "</tr></thead><tbody>")
        for i, row in enumerate(b.frame.itertuples(index=False)):
            cells = [f"<strong>{e(str(v))}</strong>" if (i, c) in b.bold else e(str(v)) for c, v in zip(cols, row)]
            out.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
        out.append("</tbody></table>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def write_table(output, df: pd.DataFrame, doc, log) -> str:
    """Write a table rule's outputs (TSV of `df`, Markdown and HTML of `doc`) and log the Markdown."""
    md = to_markdown(doc)
    write_tsv(output.tsv, df, float_format="%.8g")
    write_text(output.md, md)
    write_text(output.html, to_html(doc))
    log.info("\n%s", md)
    return md
