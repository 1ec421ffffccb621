"""The console and the demo: `serve`, `start` (the double click) and `demo`."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import click

from .rounds import _collect_text
from .shared import (
    Failed,
    Usage,
    echo,
    folder_to_make,
    library_errors,
    open_workspace,
    workspace_option,
)


@click.command()
@folder_to_make("演示用的工作文件夹（默认 xlflow-demo）。")
@click.option("--no-office", is_flag=True, help="不调用 LibreOffice（即使已安装）。")
def demo(directory: str | None, workspace: str | None, no_office: bool) -> None:
    """用自带的任务清单完整演示一轮填报：生成、模拟各处室报送、收集核验、汇总。

    \b
    例：xlflow demo
        xlflow demo 演示
    """
    import shutil

    from ..demo import run_demo

    directory = directory or workspace or "xlflow-demo"

    soffice = None if no_office else shutil.which("soffice")
    with library_errors():
        result = run_demo(Path(directory), soffice)
    root = result.root

    here = Path.cwd().resolve()

    def rel(p: Path) -> str:
        # as the user would type it from where they ran the command
        return str(p.relative_to(here)) if p.is_relative_to(here) else str(p)

    echo(_collect_text(result.report, root))
    s = result.summary
    echo("\n演示完成。工作文件夹：" + str(root))
    echo("先打开这几个文件看看：")
    echo(f"  1. 汇总表（给领导看的）：{rel(result.consolidated)}")
    echo("     “总览”页有报送情况、完成状态和图表；“任务明细”按清单顺序列出每项任务；")
    echo("     “未报送”列出还要催报的处室；“校验问题”和“来源”说明每个文件的处理结果；")
    echo("     “需说明事项”列出需要说明原因的数值（如已完成但进度不足 100%）及各处室的说明。")
    echo(f"  2. 通报（Word，报领导、发各处室的）：{rel(result.notice)}")
    echo(
        "     数字取自汇总表，列出滞后任务的原因和下步打算，附件是任务一览表；改文号和措辞即可印发。"
    )
    echo(f"  3. 回执（发回各处室的）：{rel(result.receipts_dir)}{os.sep}")
    echo("     资源配置与诚信建设处先报的一份有错，回执列出了要改的地方，更正稿已采用。")
    echo(f"  4. 填报表（发给各处室的）：{rel(result.forms_dir)}{os.sep}")
    echo(
        f"\n本轮：{s['tasks']} 项任务，已采用 {s['accepted']} 个处室，未报送：{'、'.join(s['missing']) or '无'}，"
        f"状态不一致 {s['conflicts']} 项。"
    )
    if result.libreoffice:
        echo("创新平台与合作处的报送文件由 LibreOffice 保存，同样被正确识别。")
    else:
        echo("（未找到 LibreOffice，跳过了“用 LibreOffice 保存”的一步。）")
    echo(f"\n自己试试：xlflow status -w {directory} --round {result.round_id}")


@click.command()
@click.argument("folder", required=False, type=click.Path(file_okay=False))
@click.option("--port", type=int, default=0, show_default=True, help="端口；0 为任选一个空闲端口。")
@click.option("--no-browser", is_flag=True, help="不自动打开浏览器。")
def start(folder: str | None, port: int, no_browser: bool) -> None:
    """打开网页控制台（双击 xlflow 时做的就是这件事）：工作文件夹为 FOLDER，省略时为上次用过的，
    第一次为“文档”中新建的“xlflow工作文件夹”（带示例任务清单）。用过的文件夹会被记住。

    \b
    例：xlflow start
        xlflow start D:\\督查\\2026年重点任务
    """
    from ..launcher import choose_folder, settings_path

    with library_errors():
        chosen = choose_folder(Path(folder) if folder else None)
    made = "（新建，内含示例任务清单，可换成本单位的）" if chosen.made else ""
    where = (
        f"工作文件夹：{chosen.folder}{made}\n"
        f"下次双击 xlflow 仍打开它（记在 {settings_path()}）；要换文件夹，把文件夹拖到 xlflow 图标上。\n"
        "关闭这个窗口即停止。"
    )
    _serve(str(chosen.folder), port, "127.0.0.1", None, no_browser, where)


@click.command()
@workspace_option
@click.option(
    "--port",
    default=8765,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="端口；0 表示由系统选一个空闲端口。",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="监听地址。不是本机地址时必须同时给出 --token。",
)
@click.option("--token", help="访问令牌（至少 16 个字符）：监听其他地址时，每个请求都要带上它。")
@click.option("--no-browser", is_flag=True, help="不自动打开浏览器。")
def serve(workspace: str, port: int, host: str, token: str | None, no_browser: bool) -> None:
    """在浏览器中完成整轮工作：新建轮次、下载填报表、上传收到的文件、看报送情况、
    采用或不采用、下载汇总表、回执、催报邮件和通报。

    只在本机（127.0.0.1）上运行，不联网；按 Ctrl-C 停止。需要可选组件：
    pip install 'xlflow[web]'

    \b
    例：xlflow serve
        xlflow serve -w 2019年重点任务 --port 8800
    """
    _serve(workspace, port, host, token, no_browser)


def _serve(
    workspace: str, port: int, host: str, token: str | None, no_browser: bool, where: str = ""
) -> None:
    import importlib.util

    if importlib.util.find_spec("flask") is None or importlib.util.find_spec("waitress") is None:
        raise Failed("网页控制台需要可选组件 Flask 和 waitress：pip install 'xlflow[web]'")
    loopback = host in ("127.0.0.1", "localhost", "::1")
    if not loopback:
        if not token or len(token) < 16:
            raise Usage("监听本机以外的地址（--host）时，必须同时给出至少 16 个字符的 --token。")
        echo(
            f"警告：控制台将监听 {host}，同一网络中的其他电脑也能访问；"
            "只有带访问令牌的网址才能打开。用完请按 Ctrl-C 停止。",
            err=True,
        )
    from ..web.app import serve as run_serve
    from ..web.console import WebConfig

    def ready(url: str) -> None:
        echo(f"xlflow 网页控制台：{url}")
        if where:
            echo(where)
        echo("（按 Ctrl-C 停止）")

    ws = open_workspace(workspace)
    # waitress ends its loop on Ctrl-C and returns
    with contextlib.suppress(KeyboardInterrupt), library_errors():
        run_serve(WebConfig(ws.root, host, port, token), not no_browser, ready)
    echo("已停止。")
