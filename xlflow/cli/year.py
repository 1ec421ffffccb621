"""The year: `scorecard` and `history`."""

from __future__ import annotations

from typing import Any

import click

from ..wording import (
    OVERDUE_LABEL,
    role_label,
)
from .shared import (
    echo,
    json_option,
    library_errors,
    open_workspace,
    print_json,
    table,
    workspace_option,
)


@click.command()
@workspace_option
@click.option("--year", type=int, help="年度；默认为最近一个轮次的年度。")
@json_option
def scorecard(workspace: str, year: int | None, as_json: bool) -> None:
    """年度考核情况：各单位全年各轮次的按时、逾期、未报，一次通过或退回后通过，
    平均提前（推后）天数，进展变差、进度下降和连续滞后的任务。

    \b
    全部取自台账；按各单位自己的报送时限（含延期）判断是否逾期。
    例：xlflow scorecard
        xlflow scorecard --year 2025 --json
    """
    from ..reporting.scorecard import scorecard as year_scorecard

    ws = open_workspace(workspace)
    with library_errors():
        card = year_scorecard(ws, year)
    if as_json:
        print_json(card.to_dict())
        return
    titles = "、".join(r.title for r in card.rounds) or "（无）"
    echo(f"{card.year or ''}年度考核情况（{len(card.rounds)} 个轮次：{titles}）")
    rows = [
        [
            d.division,
            str(len(d.rounds)),
            str(d.on_time),
            str(d.late),
            str(d.never),
            f"{d.first_time}/{d.after_rework}",
            str(d.rework_returns),
            "" if d.average_days is None else f"{d.average_days:+g}",
            str(len(d.worsened)),
            str(len(d.fell)),
            "、".join(d.lagging),
        ]
        for d in card.divisions
    ]
    heads = [
        "单位",
        "轮次",
        "按时",
        OVERDUE_LABEL,
        "未报",
        "一次通过/退回后",
        "返工",
        "平均提前天数",
        "变差",
        "进度降",
        "连续滞后",
    ]
    echo(table(heads, rows))


@click.command()
@workspace_option
@click.option("--task", "task_id", help="只看这一项任务（序号）。")
@json_option
def history(workspace: str, task_id: str | None, as_json: bool) -> None:
    """查看任务在历次轮次中的完成状态、进度和各处室的进展情况。

    \b
    例：xlflow history --task 5
        xlflow history --json
    """
    from ..reporting.history import task_history

    ws = open_workspace(workspace)
    with library_errors():
        data = task_history(ws, task_id)
    if as_json:
        print_json(data.to_dict())
        return
    if not data.rounds:
        echo("还没有任何轮次；先运行 generate。")
        return
    if task_id is None:
        rows = [
            [t["id"], t["name"][:20]]
            + [f"{r['status']} {_percent(r['percent'])}".strip() for r in t["rounds"]]
            for t in data.tasks
        ]
        echo(table(["序号", "任务", *data.rounds], rows))
        return
    (task,) = data.tasks
    echo(f"{task['id']}. {task['name']}（{task['group']}）")
    for r in task["rounds"]:
        flag = "（各处室状态不一致）" if r["conflict"] else ""
        was = r.get("task_ids") or []
        then = f"［当时序号 {'、'.join(was)}］" if was and was != [task["id"]] else ""
        event = f"〔{r['event']}〕" if r.get("event") else ""
        echo(
            f"\n{r['title']}（{r['round']}）{then}{event}：{r['status']} {_percent(r['percent'])}{flag}"
        )
        for rep in r["reports"]:
            role = role_label(rep["role"])
            values = rep["values"]
            echo(
                f"  【{rep['division']}·{role}】{values.get('status', '')} {_percent(values.get('percent'))}"
            )
            for key, label in (("progress", "进展"), ("problems", "问题"), ("next_steps", "下步")):
                if values.get(key):
                    echo(f"    {label}：{values[key]}")


def _percent(value: Any) -> str:
    return "" if value is None else f"{value}%"
