"""What every sheet of the 汇总表 shares: its cell formats (`Styles`), the print setup of a
page, status colours, and the plain list sheets' heading."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ...config.model import Settings
from ...excel import (
    BORDER,
    LOOK,
    page_text,
)
from ...ledger.book import Ledger
from ...model import Round
from .figures import Consolidation, Inputs

# --- rendering ---


class Styles:
    """The workbook's cell formats. `made` holds them in the order they were made, which
    is the same on every run, so that a format can be named by its place in it."""

    def __init__(self, book: Any, settings: Settings) -> None:
        self.made: list[Any] = []

        class _Keeping:
            @staticmethod
            def add_format(properties: dict[str, Any] | None = None) -> Any:
                made = book.add_format(properties)
                self.made.append(made)
                return made

        wb = _Keeping()
        body = {
            "font_name": settings.form.font,
            "font_size": 10.5,
            "valign": "top",
            "text_wrap": True,
        }
        head = {"font_name": settings.form.header_font}
        self._headings_and_cells(wb, body, head, dict(BORDER))
        self._marks(wb, body, dict(BORDER), settings)

    def _headings_and_cells(
        self, wb: Any, body: dict[str, Any], head: dict[str, Any], border: dict[str, Any]
    ) -> None:
        self.title = wb.add_format(
            {**head, "font_size": 18, "bold": True, "align": "center", "valign": "vcenter"}
        )
        self.subtitle = wb.add_format(
            {**body, "font_size": 11, "valign": "vcenter", "text_wrap": False}
        )
        self.section = wb.add_format(
            {**head, "font_size": 12, "bold": True, "valign": "vcenter", "bottom": 2}
        )
        self.header = wb.add_format(
            {
                **head,
                **border,
                "bold": True,
                "font_size": 10.5,
                "bg_color": LOOK["header"],
                "align": "center",
                "valign": "vcenter",
                "text_wrap": True,
            }
        )
        self.text = wb.add_format({**body, **border})
        self.center = wb.add_format({**body, **border, "align": "center", "valign": "vcenter"})
        self.number = wb.add_format(
            {**body, **border, "align": "center", "valign": "vcenter", "num_format": "0"}
        )
        self.share = wb.add_format(
            {**body, **border, "align": "center", "valign": "vcenter", "num_format": "0.0%"}
        )
        self.group = wb.add_format(
            {**body, **border, "bold": True, "align": "center", "valign": "vcenter"}
        )
        self.big = wb.add_format(
            {
                **head,
                **border,
                "font_size": 16,
                "bold": True,
                "align": "center",
                "valign": "vcenter",
            }
        )
        self.big_label = wb.add_format(
            {**body, **border, "align": "center", "valign": "vcenter", "bg_color": LOOK["shade"]}
        )

    def _marks(
        self, wb: Any, body: dict[str, Any], border: dict[str, Any], settings: Settings
    ) -> None:
        self.note = wb.add_format(
            {**body, "font_size": 9.5, "font_color": LOOK["note_text"], "text_wrap": True}
        )
        self.flag = wb.add_format(
            {**body, **border, "font_color": LOOK["bad_text"], "bg_color": LOOK["input"]}
        )
        self.to_explain = wb.add_format({**body, **border, "bg_color": LOOK["explain"]})
        self.total = wb.add_format(
            {
                **body,
                **border,
                "bold": True,
                "align": "center",
                "valign": "vcenter",
                "bg_color": LOOK["shade"],
            }
        )
        self.status_fill = {
            status: wb.add_format({"bg_color": colour})
            for status, colour in settings.status.colours
        }
        self.missing_fill = wb.add_format(
            {"bg_color": LOOK["shade"], "font_color": LOOK["muted_text"]}
        )
        self.plain = wb.add_format()  # the default look


def print_setup(
    ws: Any, title: str, rnd: Round, *, a3: bool = False, header_row: int | None = None
) -> None:
    ws.set_landscape()
    ws.set_paper(8 if a3 else 9)
    ws.fit_to_pages(1, 0)
    ws.set_margins(left=0.4, right=0.4, top=0.7, bottom=0.6)
    ws.center_horizontally()
    ws.set_header(f"&L{page_text(title)}&R{page_text(f'{rnd.title}（{rnd.id}）')}")
    ws.set_footer("&C&9第 &P 页，共 &N 页")
    if header_row is not None:
        ws.repeat_rows(header_row)


def status_formats(
    ws: Any,
    st: Styles,
    settings: Settings,
    first: int,
    last: int,
    col: int,
    last_col: int | None = None,
) -> None:
    """Status colours as conditional formats, so a status typed later is coloured too."""
    if last < first:
        return
    end = col if last_col is None else last_col
    for status, fmt in st.status_fill.items():
        ws.conditional_format(
            first,
            col,
            last,
            end,
            {"type": "cell", "criteria": "==", "value": f'"{status}"', "format": fmt},
        )
    ws.conditional_format(
        first, col, last, end,
        {"type": "cell", "criteria": "==", "value": f'"{settings.status.missing_label}"', "format": st.missing_fill},
    )  # fmt: skip


def statuses_in_order(data: Consolidation) -> list[str]:
    order = list(data.settings.status_order)
    order.append(data.settings.status.missing_label)
    return order + sorted(s for s in data.statuses if s not in order)


def colour_of(data: Consolidation, status: str) -> str:
    colours = dict(data.settings.status.colours)
    if status == data.settings.status.missing_label:
        return LOOK["chart_missing"]
    return colours.get(status, LOOK["chart_other"])


def list_sheet(ws: Any, st: Styles, heading: str, heads: Sequence[tuple[str, float]]) -> int:
    """A title and a header row of (label, width) columns; returns the header row."""
    for i, (_, width) in enumerate(heads):
        ws.set_column(i, i, width)
    ws.merge_range(0, 0, 0, len(heads) - 1, heading, st.title)
    ws.set_row(0, 32)
    header = 2
    for i, (label, _) in enumerate(heads):
        ws.write_string(header, i, label, st.header)
    return header


@dataclass(frozen=True)
class Page:
    """What a sheet written once the tasks are counted is given: the workbook, its formats,
    the figures, what the pass started from, the workbook's title and the ledger."""

    book: Any
    look: Styles
    data: Consolidation
    inputs: Inputs
    title: str
    ledger: Ledger
