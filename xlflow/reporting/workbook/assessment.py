"""考核情况: the year's scorecard per division, with a chart."""

from __future__ import annotations

from typing import Any

from ...excel import (
    LOOK,
    row_height,
    write_text,
    write_value,
)
from ...wording import (
    ASSESSMENT,
    OVERDUE_LABEL,
)
from ..scorecard import Scorecard
from .figures import Consolidation, Inputs
from .look import Page, Styles, list_sheet, print_setup

_CHARTED = 40  # divisions the 考核情况 chart shows at most


def write_assessment(
    wb: Any, ws: Any, st: Styles, data: Consolidation, card: Scorecard, title: str
) -> None:
    """考核情况: the year's scorecard up to this round, a division per row, with a chart of
    each division's returns on time, late and never; one A4 page wide."""
    heads = [
        ("单位", 18.0), ("应报轮次", 7.0), ("按时", 6.0), (OVERDUE_LABEL, 6.0), ("未报", 6.0),
        ("按时率", 7.0), ("一次通过", 7.0), ("退回后通过", 8.0), ("返工次数", 7.0),
        ("平均提前天数", 8.0), ("状态变差", 7.0), ("进度下降", 7.0), ("连续两轮以上滞后的任务", 24.0),
    ]  # fmt: skip
    rounds = "、".join(r.title for r in card.rounds)
    header = list_sheet(ws, st, f"{card.year or ''}年度考核情况（{rounds}）", heads)
    ws.set_row(header, 30)
    r = header
    for d in card.divisions:
        r += 1
        numbers = [
            len(d.rounds), d.on_time, d.late, d.never, d.on_time_rate, d.first_time,
            d.after_rework, d.rework_returns, d.average_days, len(d.worsened), len(d.fell),
        ]  # fmt: skip
        ws.write_string(r, 0, d.division, st.text)
        for j, value in enumerate(numbers, start=1):
            write_value(ws, r, j, value, st.share if j == 5 else st.number)
        lagging = "、".join(f"序号 {t}" for t in d.lagging)
        write_text(ws, r, 12, lagging, st.text)
        ws.set_row(r, row_height([(lagging, 24.0), (d.division, 18.0)]))
    last = r
    r += 2
    ws.merge_range(
        r, 0, r, len(heads) - 1,
        "按时、逾期按各单位自己的报送时限（含延期）判断；平均提前天数为正表示提前、为负表示推后；"
        "状态变差、进度下降为本单位所报与上一轮次相比。",
        st.note,
    )  # fmt: skip
    ws.set_row(r, 30)
    if len(card.divisions) > _CHARTED:
        # a bar per division is no picture beyond a few dozen: the table says it all
        print_setup(ws, title, data.round, header_row=header)
        ws.print_area(0, 0, r, len(heads) - 1)
        return
    chart = wb.add_chart({"type": "bar", "subtype": "stacked"})
    for col, name, colour in (
        (2, "按时", LOOK["good"]),
        (3, OVERDUE_LABEL, LOOK["warn"]),
        (4, "未报", LOOK["bad"]),
    ):
        chart.add_series(
            {
                "name": name,
                "categories": [ASSESSMENT, header + 1, 0, last, 0],
                "values": [ASSESSMENT, header + 1, col, last, col],
                "fill": {"color": colour},
                "border": {"color": LOOK["border"]},
                "gap": 60,
            }
        )
    chart.set_title(
        {
            "name": "各单位报送情况（轮次）",
            "name_font": {"size": 11, "name": data.settings.form.header_font},
        }
    )
    chart.set_y_axis({"reverse": True, "num_font": {"name": data.settings.form.font}})
    chart.set_x_axis({"major_unit": 1, "min": 0})
    chart.set_legend({"position": "bottom"})
    px = sum(int(w * 7 + 0.5) + 5 for _, w in heads)
    rows = max(14, len(card.divisions) + 6)
    chart.set_size({"width": px - 20, "height": rows * 20})
    ws.insert_chart(r + 2, 0, chart, {"x_offset": 10, "y_offset": 5, "object_position": 1})
    for k in range(rows + 1):
        ws.write_blank(r + 2 + k, 0, None, st.plain)
        ws.set_row(r + 2 + k, 20)
    # one A4 page, table and chart together, up to some thirty divisions; more go on
    # across pages with the header repeated
    many = len(card.divisions) > 30
    print_setup(ws, title, data.round, header_row=header if many else None)
    ws.print_area(0, 0, r + 2 + rows, len(heads) - 1)
    ws.fit_to_pages(1, 0 if many else 1)


# --- its place in the workbook (book.SHEETS) ---

NAME = ASSESSMENT
STREAMED = False


def wanted(inputs: Inputs, data: Consolidation | None) -> bool | None:
    """Whether the workbook has this sheet; None until the tasks are counted, if that decides."""
    return (
        None if data is None else bool(inputs.scorecard is not None and inputs.scorecard.divisions)
    )


def write(sheet: Any, page: Page) -> None:
    card = page.inputs.scorecard
    assert card is not None  # wanted: only with a scorecard
    write_assessment(page.book, sheet, page.look, page.data, card, page.title)
