"""A level below: `forward` a form to sub-units and `roll-up` their returns."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .shared import (
    Exit,
    echo,
    json_option,
    library_errors,
    open_workspace,
    parse_date,
    print_json,
    table,
    well_formed,
    workspace_option,
)


@click.command()
@click.argument("form", type=click.Path(dir_okay=False))
@click.option(
    "--to",
    "to",
    callback=lambda ctx, param, value: well_formed(value, "--to"),
    help="下级单位：单位名录文件（.xlsx/.csv），或用“、”隔开的单位名称。第一次分发时必填。",
)
@workspace_option
@click.option("--deadline", help="下级报送时限，YYYY-MM-DD；默认与上级的时限相同，宜提前几天。")
@json_option
def forward(form: str, to: str | None, workspace: str, deadline: str | None, as_json: bool) -> None:
    """把收到的上级填报表分发给下级单位：在本单位自己的工作文件夹中建立子轮次。

    \b
    收到的表格成为这个文件夹的任务清单（templates/任务清单.xlsx），“分解到”一列写每项
    任务交给哪些下级单位（默认全部，第一个牵头）；改好后重新运行即可。每个下级单位
    一份填报表，用本文件夹自己的密钥签名。下级报回后照常 collect、merge，然后
    xlflow roll-up 把汇总结果写回收到的表格，上报。
    例：xlflow forward 甲区人民政府_2025-H1_填报表.xlsx --to 单位名录.xlsx -w 分发
        xlflow forward 收到的表.xlsx --to "区科技局、区发改局、区住建局" -w 分发
    """
    from ..relay.forward import forward as forward_form

    due = parse_date(deadline)
    with library_errors():
        result = forward_form(Path(workspace), Path(form), to, due)
    if as_json:
        print_json(result.to_dict())
        return
    received = result.received
    echo(
        f"{'已新建' if result.created else '已更新'}分发文件夹：{result.root}"
        f"（{received.office or '上级'}发给{received.division}的{received.round_title}填报表，"
        f"{len(received.rows)} 项任务）"
    )
    echo(f"  任务清单：{result.register}（“分解到”一列可改，改后重新运行 forward）")
    rows = [
        [f.division, str(len(f.task_ids)), str(f.path.relative_to(result.root))]
        for f in result.generated.forms
    ]
    echo(table(["下级单位", "任务数", "填报表"], rows))
    for note in result.notes:
        echo(f"提示：{note}")
    echo(
        f"\n下一步：把填报表发给各下级单位；收回后放进 {result.root / 'inbox'}，"
        f"运行 xlflow collect -w {result.root} --round {received.round_id}，"
        f"再运行 xlflow roll-up -w {result.root}。"
    )


@click.command(name="roll-up")
@workspace_option
@click.option("--round", "round_id", help="轮次；这个文件夹只分发过一个轮次时可省略。")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    help="写到这个文件；默认 outbox/轮次/上报/原文件名。",
)
@click.option(
    "--anyway",
    is_flag=True,
    help="汇总结果中有上级会退回的内容（如合并后超过字数）时，仍然写出表格。",
)
@json_option
def roll_up(
    workspace: str, round_id: str | None, output: str | None, anyway: bool, as_json: bool
) -> None:
    """把下级单位的报送汇总写回收到的上级填报表，供上报。

    \b
    只改动填报的单元格，表格的签名不变，上级照常收取。每项按 [rollup] 的规则汇总：
    完成状态取最慢的，进度取最小值，文字按单位分段列出。表中注明“据某某、某某报送”，
    隐藏工作表记录每份下级文件的 sha256。没有报送的下级单位，其部分空缺并注明。
    例：xlflow roll-up -w 分发
        xlflow roll-up -w 分发 --round 2025-H1 -o 上报.xlsx
    """
    from ..relay.rollup import roll_up as roll_up_round

    ws = open_workspace(workspace)
    with library_errors():
        result = roll_up_round(ws, round_id, Path(output) if output else None, anyway=anyway)
    if as_json:
        print_json(result.to_dict())
    elif not result.written:
        echo(
            f"{result.unit} {result.round} 的汇总结果有 {len(result.refused)} 处上级会退回，未写出表格："
        )
        for line in result.refused:
            echo(f"  - {line}")
        echo(
            "请让相关下级单位精简后重新报送（xlflow collect 后再 roll-up），或加 --anyway 仍然写出后手工修改。"
        )
    else:
        _show_rollup(result)
    if result.refused and not result.written:
        raise SystemExit(Exit.PROBLEMS)


def _show_rollup(result: Any) -> None:
    echo(f"已汇总 {result.unit} {result.round} 的上报表格：{result.path}")
    echo(
        f"  据 {'、'.join(result.answered) or '（无）'} 报送，填写了 {result.filled} 个单元格"
        + (f"；未报送：{'、'.join(result.missing)}" if result.missing else "")
    )
    for note in result.notes:
        echo(f"提示：{note}")
    for line in result.refused:
        echo(f"注意（上级会退回，已按 --anyway 写出）：{line}")
