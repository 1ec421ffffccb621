"""The data for analysts: `export`."""

from __future__ import annotations

from pathlib import Path

import click

from .shared import echo, json_option, library_errors, open_workspace, print_json, workspace_option


@click.command()
@workspace_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "xlsx", "json", "parquet", "sqlite"]),
    required=True,
    help="导出格式。",
)
@click.option(
    "--round", "round_ids", multiple=True, help="只导出这个轮次（可重复）；默认全部轮次。"
)
@click.option(
    "--wide", is_flag=True, help="每轮每项任务一行（如汇总表的任务明细）；默认每个填报项一行。"
)
@click.option(
    "--encoding", default="utf-8", show_default=True, help="CSV 的编码：utf-8（带 BOM）或 gbk。"
)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False), required=True, help="写到这个文件。"
)
@json_option
def export(
    workspace: str,
    fmt: str,
    round_ids: tuple[str, ...],
    wide: bool,
    encoding: str,
    output: str,
    as_json: bool,
) -> None:
    """导出全部填报数据，供分析或导入数据库：CSV、Excel、JSON、Parquet 或 SQLite。

    \b
    默认每行是一个轮次、一项任务、一个单位的一个填报项（长表）；--wide 为每轮每项任务一行。
    全部取自台账；同一台账导出两次，文件逐字节相同。CSV 为带 BOM 的 UTF-8，
    中文版 Excel 直接打开不乱码；--encoding gbk 写 GBK（GB18030）。
    Parquet 需要可选组件：pip install 'xlflow[parquet]'。
    例：xlflow export --format csv -o 全部填报.csv
        xlflow export --format sqlite -o 督查.sqlite
        xlflow export --format xlsx --wide --round 2019-H1 -o 任务.xlsx
    """
    from ..reporting.data import export as export_data

    ws = open_workspace(workspace)
    with library_errors():
        result = export_data(ws, fmt, Path(output), list(round_ids) or None, wide, encoding)
    if as_json:
        print_json(result.to_dict())
        return
    kind = "任务" if wide else "填报项"
    echo(f"已导出 {result.rows} 行（每行一个{kind}）：{result.path}")
