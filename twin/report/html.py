"""One self-contained HTML page per run: opens offline, prints well, states its scale and sources."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from typing import Any

from twin.report import Assumption, Figure, Paragraph, Section, Table

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI","Noto Sans JP",sans-serif;max-width:1100px;
margin:2em auto;padding:0 1em;color:#1a1a1a;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:2px solid #2b5d8a;padding-bottom:.2em;margin-top:2em}
h3{font-size:1.05em;margin-bottom:.3em}
.meta{color:#444;font-size:.92em}.scale{background:#fff4d6;border-left:4px solid #e0a100;padding:.5em .8em;
margin:1em 0}
.wide{max-width:100%;overflow-x:auto}
table{border-collapse:collapse;margin:.4em 0 1.2em 0;font-size:.9em;display:block;max-width:100%;
width:max-content;overflow-x:auto}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}th{background:#eef3f8}
td:first-child,th:first-child{text-align:left}
figure{margin:1em 0 2em 0}figure img{max-width:100%}figcaption{color:#444;font-size:.9em}
.note{color:#555;font-size:.85em}.assumed{color:#9a3b00}
p,li,figcaption,.meta{overflow-wrap:anywhere}
@media print{body{max-width:none;margin:0}table{display:table;width:auto;font-size:.75em}}
"""


def scale_text(scale: float) -> str:
    """'1:100 (1 % of households)' -- printed on every report and figure."""
    if scale >= 1:
        return "1:1 (every household)"
    inv = 1 / scale
    ratio = f"1:{inv:,.0f}" if abs(inv - round(inv)) < 1e-6 else f"1:{inv:,.2f}"
    return f"{ratio} ({scale * 100:g} % of households sampled; counts scaled back to national totals)"


def _fmt(value: Any, fmt: str | None) -> str:
    if value is None:
        return "–"
    if fmt:
        try:
            return fmt.format(value)
        except (ValueError, TypeError):
            pass
    if isinstance(value, float):
        if value != value:
            return "–"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.3g}" if abs(value) < 10 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table_html(t: Table) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in t.columns)
    body = []
    for row in t.rows:
        cells = "".join(
            f"<td>{html.escape(_fmt(v, t.formats.get(c)))}</td>" for c, v in zip(t.columns, row, strict=False)
        )
        body.append(f"<tr>{cells}</tr>")
    note = f'<p class="note">{html.escape(t.note)}</p>' if t.note else ""
    rows = "".join(body)
    table = f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
    return f"<h3>{html.escape(t.title)}</h3><div class='wide'>{table}</div>{note}"  # scrolls, never overflows


def figure_png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    return buf.getvalue()


def render(
    *,
    title: str,
    subtitle: str,
    meta: dict[str, str],
    scale: float,
    sections: Sequence[Section],
    figures_png: dict[str, bytes],
    sources: Sequence[str] = (),
    assumptions: Sequence[Assumption] = (),
) -> str:
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p>{html.escape(subtitle)}</p>" if subtitle else "",
        f"<div class='scale'><b>Scale {html.escape(scale_text(scale))}</b></div>",
        "<p class='meta'>" + " · ".join(f"{html.escape(k)}: {html.escape(v)}" for k, v in meta.items()) + "</p>",
    ]
    for s in sections:
        parts.append(f"<h2>{html.escape(s.title)}</h2>")
        for b in s.blocks:
            if isinstance(b, Paragraph):
                parts.append(f"<p>{html.escape(b.text)}</p>")
            elif isinstance(b, Table):
                parts.append(table_html(b))
            elif isinstance(b, Figure):
                data = base64.b64encode(figures_png[b.name]).decode()
                parts.append(
                    f"<figure><img alt='{html.escape(b.caption)}' src='data:image/png;base64,{data}'>"
                    f"<figcaption>{html.escape(b.caption)}</figcaption></figure>"
                )
    if assumptions:
        rows = [[a.name, a.value, a.source or "assumed (no public source)"] for a in assumptions]
        parts.append("<h2>Assumptions</h2>")
        parts.append(
            table_html(
                Table(
                    "Parameters the results rest on",
                    ["parameter", "value", "source"],
                    rows,
                    note=f"{sum(not a.sourced for a in assumptions)} of {len(assumptions)} "
                    "are assumed rather than sourced.",
                )
            )
        )
    if sources:
        parts.append("<h2>Data sources</h2><ul>")
        parts.extend(f"<li>{html.escape(s)}</li>" for s in sources)
        parts.append("</ul>")
    parts.append("</body></html>")
    return "\n".join(p for p in parts if p)
