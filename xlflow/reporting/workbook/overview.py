"""总览, the page leadership reads first: returns, statuses, by group, by division, charts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from ...excel import (
    row_height,
)
from ...standing import Standing
from ...wording import (
    EXPLANATIONS,
    OVERVIEW,
    deadline_text,
)
from .figures import Consolidation, Inputs
from .look import Page, Styles, colour_of, print_setup, status_formats, statuses_in_order


def write_overview(ws: Any, wb: Any, st: Styles, data: Consolidation, title: str) -> None:
    """The page leadership reads first: returns, statuses, by group, by division, charts."""
    page = _Overview(ws, wb, st, data)
    page.heading(title)
    page.returns()
    status_rows = page.status_table()
    group_rows = page.by_group()
    page.by_division()
    last_row = page.charts(status_rows, group_rows)
    ws = page.ws
    print_setup(ws, title, data.round)
    ws.print_area(0, 0, last_row, page.ncols - 1)
    if len(data.divisions) <= 30:
        ws.fit_to_pages(1, 1)
    ws.activate()


class _Overview:
    """The overview sheet, written top to bottom; `r` is the next free row."""

    def __init__(self, ws: Any, wb: Any, st: Styles, data: Consolidation) -> None:
        self.wb, self.st, self.data = wb, st, data
        self.ws = ws
        self.statuses = statuses_in_order(data)
        self.ncols = max(len(self.statuses) + 2, 8)
        self.widths = [24.0] + [12.0] * (self.ncols - 1)
        for i, w in enumerate(self.widths):
            self.ws.set_column(i, i, w)
        self.r = 0

    def section(self, text: str) -> None:
        self.ws.merge_range(self.r, 0, self.r, self.ncols - 1, text, self.st.section)
        self.r += 1

    def heading(self, title: str) -> None:
        ws, st, rnd = self.ws, self.st, self.data.round
        ws.merge_range(0, 0, 0, self.ncols - 1, title, st.title)
        ws.set_row(0, 34)
        ws.merge_range(
            1, 0, 1, self.ncols - 1,
            f"轮次：{rnd.title}（{rnd.id}）    报送时限：{deadline_text(rnd.deadline)}    汇总时间：{self.data.made_at:%Y-%m-%d %H:%M}",
            st.subtitle,
        )  # fmt: skip
        self.r = 3

    def returns(self) -> None:
        """一、报送情况: the counts in boxes, who is missing or late, and the change since last round."""
        ws, st, data = self.ws, self.st, self.data
        late = [d.division for d in data.divisions if d.accepted and d.accepted.late]
        self.section("一、报送情况")
        boxes = [
            ("应报处室", len(data.divisions)),
            (Standing.ACCEPTED.label, len(data.accepted)),
            (
                Standing.REJECTED.label,
                sum(1 for d in data.divisions if d.standing is Standing.REJECTED),
            ),
            (
                Standing.MISSING.label,
                sum(1 for d in data.divisions if d.standing is Standing.MISSING),
            ),
            ("逾期报送", len(late)),
        ]
        # row by row: the workbook is streamed (see streamed_workbook)
        for i, (label, _) in enumerate(boxes):
            ws.write_string(self.r, i, label, st.big_label)
        for i, (_, n) in enumerate(boxes):
            ws.write_number(self.r + 1, i, n, st.big)
        ws.set_row(self.r + 1, 30)
        self.r += 2
        lines = [f"未报送或未通过核验：{'、'.join(data.missing) if data.missing else '无'}"]
        for name, done, waiting in data.collective_returns():
            lines.append(
                f"{name}：{len(done)}/{len(done) + len(waiting)} 个成员已报"
                + (f"，未报：{'、'.join(waiting)}" if waiting else "，全部已报")
            )
        if late:
            lines.append(f"逾期报送：{'、'.join(late)}")
        if data.flags:
            states = Counter(f.state for f in data.flags)
            parts = [
                f"{label} {n} 处"
                for label, n in (
                    ("已说明", states["explained"]),
                    ("待说明", states["unexplained"] + states["asked_again"]),
                    ("仅提醒", states["noted"]),
                )
                if n
            ]
            lines.append(
                f"需说明事项 {len(data.flags)} 处：{'，'.join(parts)}（见“{EXPLANATIONS}”工作表）"
            )
        if data.changes:
            c = data.changes
            lines.append(
                f"与上一轮次（{data.rounds[-2].title}）相比：状态改善 {c['improved']} 项，"
                f"变差 {c['worsened']} 项，持平 {c['same']} 项。"
            )
        for line in lines:
            ws.merge_range(self.r, 0, self.r, self.ncols - 1, line, st.note)
            ws.set_row(self.r, row_height([(line, 100)]))
            self.r += 1
        self.r += 1

    def status_table(self) -> tuple[int, int]:
        """二、任务完成状态: tasks and shares by status; returns the first and last status rows."""
        ws, st, data = self.ws, self.st, self.data
        self.section("二、任务完成状态")
        counts = data.status_counts()
        total = data.tasks
        for i, head in enumerate(("状态", "任务数", "占比")):
            ws.write_string(self.r, i, head, st.header)
        top = self.r + 1
        for status in self.statuses:
            self.r += 1
            ws.write_string(self.r, 0, status, st.center)
            ws.write_number(self.r, 1, counts.get(status, 0), st.number)
            ws.write_number(self.r, 2, counts.get(status, 0) / total if total else 0, st.share)
        bottom = self.r
        status_formats(ws, st, data.settings, top, bottom, 0)
        self.r += 1
        ws.write_string(self.r, 0, "合计", st.total)
        ws.write_number(self.r, 1, total, st.total)
        ws.write_number(self.r, 2, 1 if total else 0, st.share)
        self.r += 2
        return top, bottom

    def crosstab(
        self, heading: str, label: str, keys: Sequence[str], rows: dict[str, Counter[str]]
    ) -> int:
        """A table of status counts per key; returns its header row."""
        ws, st = self.ws, self.st
        self.section(heading)
        ws.write_string(self.r, 0, label, st.header)
        for j, status in enumerate(self.statuses):
            ws.write_string(self.r, 1 + j, status, st.header)
        ws.write_string(self.r, 1 + len(self.statuses), "合计", st.header)
        ws.set_row(self.r, 30)
        head = self.r
        for key in keys:
            self.r += 1
            ws.write_string(self.r, 0, key, st.text)
            for j, status in enumerate(self.statuses):
                ws.write_number(self.r, 1 + j, rows[key].get(status, 0), st.number)
            ws.write_number(self.r, 1 + len(self.statuses), sum(rows[key].values()), st.total)
        self.r += 2
        return head

    def by_group(self) -> tuple[int, int]:
        """三、按分组统计; returns the header row and the last row."""
        groups = self.data.groups
        head = self.crosstab("三、按分组统计（按牵头处室所报状态）", "分组", list(groups), groups)
        return head, head + len(groups)

    def by_division(self) -> None:
        """四、按处室统计: each division's own answers on its own tasks."""
        data = self.data
        self.crosstab(
            "四、按处室统计（各处室对本处室承担任务所报状态）",
            "处室",
            [d.division for d in data.divisions],
            data.by_division,
        )

    def charts(self, status_rows: tuple[int, int], group_rows: tuple[int, int]) -> int:
        """五、图表: a pie of statuses and a stacked bar by group, native charts sized to the
        columns so that both stay inside the printed page; returns the last row."""
        wb, ws, data = self.wb, self.ws, self.data
        self.section("五、图表")
        r = self.r
        font, header_font = data.settings.form.font, data.settings.form.header_font
        top, bottom = status_rows
        pie = wb.add_chart({"type": "pie"})
        pie.add_series(
            {
                "name": "任务完成状态",
                "categories": [OVERVIEW, top, 0, bottom, 0],
                "values": [OVERVIEW, top, 1, bottom, 1],
                "data_labels": {"value": True, "percentage": False, "leader_lines": True},
                "points": [{"fill": {"color": colour_of(data, s)}} for s in self.statuses],
            }
        )
        pie.set_title({"name": "任务完成状态", "name_font": {"size": 11, "name": header_font}})
        pie.set_legend({"position": "right", "font": {"name": font}})
        px = [int(w * 7 + 0.5) + 5 for w in self.widths]
        bar_col = 4
        pie.set_size({"width": sum(px[:bar_col]) - 15, "height": 300})
        ws.insert_chart(r, 0, pie, {"x_offset": 5, "y_offset": 5, "object_position": 1})
        head, last = group_rows
        bar = wb.add_chart({"type": "bar", "subtype": "stacked"})
        for j, status in enumerate(self.statuses):
            bar.add_series(
                {
                    "name": [OVERVIEW, head, 1 + j],
                    "categories": [OVERVIEW, head + 1, 0, last, 0],
                    "values": [OVERVIEW, head + 1, 1 + j, last, 1 + j],
                    "fill": {"color": colour_of(data, status)},
                    "gap": 60,
                }
            )
        bar.set_title({"name": "各分组任务状态", "name_font": {"size": 11, "name": header_font}})
        bar.set_y_axis({"reverse": True, "num_font": {"name": font}})
        bar.set_x_axis({"major_unit": 1, "min": 0})
        bar.set_legend({"position": "bottom"})
        bar.set_size({"width": sum(px[bar_col:]) - 15, "height": 300})
        ws.insert_chart(r, bar_col, bar, {"x_offset": 10, "y_offset": 5, "object_position": 1})
        chart_rows = 16
        for k in range(chart_rows):
            # a streamed sheet writes a row's height only with a cell in it
            ws.write_blank(r + k, 0, None, self.st.plain)
            ws.set_row(r + k, 20)
        return r + chart_rows


# --- its place in the workbook (book.SHEETS) ---

NAME = OVERVIEW
STREAMED = False


def wanted(inputs: Inputs, data: Consolidation | None) -> bool | None:
    """Whether the workbook has this sheet; None until the tasks are counted, if that decides."""
    return True


def write(sheet: Any, page: Page) -> None:
    write_overview(sheet, page.book, page.look, page.data, page.title)
