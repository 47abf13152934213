"""Reports: what a run shows a policymaker, as headline tables, figures and plain sentences.

A model returns a list of :class:`Section` s made of :class:`Paragraph`, :class:`Table` and
:class:`Figure` blocks; :func:`twin.report.html.render` turns them into one self-contained
``index.html`` (figures embedded, no network needed) with the scale factor, seed, sources and
assumptions on the first screen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Paragraph:
    text: str


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[Any]]
    note: str | None = None
    #: per-column number format, e.g. {"population": "{:,.0f}"}
    formats: dict[str, str] = field(default_factory=dict)


@dataclass
class Figure:
    """A matplotlib figure; saved as ``figures/<name>.png`` and embedded in the HTML."""

    name: str
    figure: Any
    caption: str


@dataclass
class Section:
    title: str
    blocks: list[Paragraph | Table | Figure] = field(default_factory=list)


@dataclass
class Assumption:
    """A parameter value the report relies on, and whether a public source backs it."""

    name: str
    value: str
    source: str | None = None  # None: assumed, not sourced

    @property
    def sourced(self) -> bool:
        return self.source is not None


__all__ = ["Assumption", "Figure", "Paragraph", "Section", "Table"]
