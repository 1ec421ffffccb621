"""A round's steps: `generate`, `collect`, `merge`, `report`, `status`, `remind` and
`receipts`."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from ..issues import Severity
from ..wording import (
    STANDING_LABELS,
    VERDICT_LABELS,
    days_left_text,
)
from .shared import (
    echo,
    json_option,
    library_errors,
    open_workspace,
    parse_date,
    print_json,
    round_option,
    table,
    workspace_option,
)


@click.command()
@workspace_option
@round_option
@click.option("--year", type=int, help="目标年份；默认取轮次开头的四位年份。")
@click.option("--deadline", help="报送时限，YYYY-MM-DD。")
@click.option("--title", help="轮次的中文名称，如“2019年上半年”；默认由轮次推出。")
@click.option("--prefill-from", "prefill_from", help="把该轮次已采用的内容预填到新表中。")
@click.option("--division", "divisions", multiple=True, help="只生成这些处室的表（可多次给出）。")
@json_option
def generate(
    workspace: str,
    round_id: str,
    year: int | None,
    deadline: str | None,
    title: str | None,
    prefill_from: str | None,
    divisions: tuple[str, ...],
    as_json: bool,
) -> None:
    """为每个处室生成只含本处室任务的填报表，写入 outbox/轮次/forms/。

    \b
    例：xlflow generate --round 2019-H1 --deadline 2019-07-10
        xlflow generate --round 2019-H2 --prefill-from 2019-H1
    """
    from ..generate.forms import generate_forms
    from ..model import parse_round

    ws = open_workspace(workspace)
    with library_errors():
        rnd = parse_round(round_id, title=title, year=year, deadline=parse_date(deadline))
        result = generate_forms(ws, rnd, prefill_from or "", divisions)
    if as_json:
        print_json(result.to_dict())
        return
    rows = [
        [f.division, str(len(f.task_ids)), str(f.path.relative_to(ws.root))] for f in result.forms
    ]
    echo(f"{result.round.title}（{result.round.id}）：已生成 {len(result.forms)} 份填报表")
    if result.round.deadline:
        echo(f"报送时限：{result.round.deadline.isoformat()}")
    if prefill_from:
        echo(f"已预填轮次 {prefill_from} 采用的内容（浅蓝色单元格）。")
    echo(table(["处室", "任务数", "文件"], rows))


@click.command()
@workspace_option
@round_option
@click.option(
    "--no-receipts",
    is_flag=True,
    help="不生成回执（收件很多时更快；之后可用 xlflow receipts 生成）。",
)
@json_option
def collect(workspace: str, round_id: str, no_receipts: bool, as_json: bool) -> None:
    """核验 inbox/ 中收到的全部文件，登记结果并生成回执。

    不会修改、移动或删除 inbox/ 中的任何文件。重复运行结果相同。

    \b
    例：xlflow collect --round 2019-H1
        xlflow collect --round 2019-H1 --json
    """
    from ..intake.collect import collect as run_collect

    ws = open_workspace(workspace)
    with library_errors(), _progress(not as_json, "核验文件") as progress:
        report = run_collect(ws, round_id, progress=progress, receipts=not no_receipts)
    if as_json:
        print_json(report.to_dict())
        return
    echo(_collect_text(report, ws.root))


@contextmanager
def _progress(enabled: bool, label: str) -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar on stderr, shown only when there are many files."""
    if not enabled:
        yield None
        return
    bar: Any = None

    def update(done: int, total: int) -> None:
        nonlocal bar
        if total < 50:
            return
        if bar is None:
            bar = click.progressbar(length=total, label=label, file=sys.stderr)
            bar.__enter__()
        bar.update(1)

    try:
        yield update
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)


def _collect_text(report: Any, root: Path) -> str:
    lines = [f"{report.round.title}（{report.round.id}）收集结果：{len(report.files)} 个文件"]
    rows = []
    for f in report.files:
        errors = sum(1 for i in f.issues if i.severity is Severity.ERROR)
        warnings = len(f.issues) - errors
        verdict = VERDICT_LABELS[f.verdict]
        if not f.present:
            verdict += "（已不在 inbox）"
        rows.append([f.division or "（未识别）", f.path, verdict, str(errors), str(warnings)])
    if rows:
        lines.append(table(["处室", "文件", "结论", "错误", "提醒"], rows))
    else:
        lines.append("inbox/ 中还没有文件。")
    accepted = len(report.divisions) - len(report.missing)
    lines.append(f"\n已采用 {accepted}/{len(report.divisions)} 个处室。")
    if report.missing:
        lines.append(f"尚未报送（或未通过核验）：{'、'.join(report.missing)}")
    problems = [(f, i) for f in report.files for i in f.issues if i.severity is Severity.ERROR]
    if problems:
        lines.append("\n需要修改的问题：")
        for f, issue in problems[:30]:
            where = f" {issue.location}" if issue.location else ""
            lines.append(f"  [{f.division or f.path}]{where} {issue.message}")
        if len(problems) > 30:
            lines.append(f"  ……共 {len(problems)} 条，详见回执。")
    if report.receipts:
        folder = report.receipts[0].parent
        if folder.is_relative_to(root):
            folder = folder.relative_to(root)
        lines.append(f"\n回执已写入 {folder}/（{len(report.receipts)} 份），可直接发回各处室。")
    return "\n".join(lines)


@click.command()
@workspace_option
@round_option
@json_option
def merge(workspace: str, round_id: str, as_json: bool) -> None:
    """把已采用的报送内容汇总为一份汇总表（总览、任务明细、未报送、校验问题、来源）。

    汇总表写入 outbox/轮次/，先写临时文件再改名，不会留下半个文件。

    \b
    例：xlflow merge --round 2019-H1
    """
    from ..reporting.workbook.book import merge as run_merge

    ws = open_workspace(workspace)
    with library_errors():
        merged = run_merge(ws, round_id)
    data, path, summary = merged.consolidation, merged.path, merged.to_dict()
    if as_json:
        print_json(summary)
        return
    shown = path.relative_to(ws.root) if path.is_relative_to(ws.root) else path
    echo(f"汇总表：{shown}")
    echo(
        f"{summary['tasks']} 项任务；已采用 {summary['accepted']}/{len(data.divisions)} 个处室的报送；"
        f"状态不一致 {summary['conflicts']} 项。"
    )
    counts = data.status_counts()
    order = [*ws.settings.status_order, ws.settings.status.missing_label]
    statuses = [s for s in order if counts.get(s)] + [s for s in counts if s not in order]
    echo("完成状态：" + "，".join(f"{s} {counts[s]}" for s in statuses))
    if data.missing:
        echo(f"未报送或未通过核验：{'、'.join(data.missing)}")
    if merged.note:
        echo(merged.note)


@click.command()
@workspace_option
@round_option
@click.option(
    "--template",
    "template_file",
    type=click.Path(dir_okay=False),
    help="Word 模板（.docx）；默认 templates/通报模板.docx，没有则用自带的。",
)
@json_option
def report(workspace: str, round_id: str, template_file: str | None, as_json: bool) -> None:
    """按台账写出本轮的通报（Word），数字与汇总表一致：总体情况、报送情况、各类任务、
    滞后任务及原因、与上轮相比，附件为任务一览表。

    版式按 GB/T 9704-2012；版头、文字和文号在 templates/通报模板.docx 中用 Word 修改，
    字段见 docs/report.md。写入 outbox/轮次/。

    \b
    例：xlflow report --round 2019-H1
        xlflow report --round 2019-H1 --template 我局通报模板.docx
    """
    from ..reporting.bulletin import write_report

    ws = open_workspace(workspace)
    with library_errors():
        result = write_report(ws, round_id, Path(template_file) if template_file else None)
    if as_json:
        print_json(result.to_dict())
        return
    c = result.context
    shown = result.path.relative_to(ws.root) if result.path.is_relative_to(ws.root) else result.path
    echo(f"通报：{shown}")
    echo(c["overall"]["sentence"])
    echo(c["returns"]["sentence"])
    echo(f"列出{c['lagging_statuses']}的任务 {len(c['lagging'])} 项。")
    if c["comparison"]:
        echo(c["comparison"]["sentence"])
    echo("这是草稿：请核对后在 Word 中填写文号、修改措辞，再印发。")


@click.command()
@workspace_option
@round_option
@json_option
def status(workspace: str, round_id: str, as_json: bool) -> None:
    """查看轮次进度：各处室是否报送、结论、时间和问题，以及距报送时限还有几天。

    只读台账；新收到的文件请先运行 collect。

    \b
    例：xlflow status --round 2019-H1
    """
    from ..reporting.status import round_status

    ws = open_workspace(workspace)
    with library_errors():
        state = round_status(ws, round_id, with_values=False)
    if as_json:
        print_json(state.to_dict())
        return
    echo(_status_text(state))


def _status_text(state: Any) -> str:
    rnd = state.round
    lines = [f"{rnd.title}（{rnd.id}）"]
    rows = []
    for d in state.divisions:
        info = d.to_dict()
        when = info["received"].replace("T", " ")[:16] if info["received"] else ""
        if info["late"]:
            when += "（逾期）"
        problems = (
            f"{info['errors']} 处须修改"
            if info["errors"]
            else ("" if info["warnings"] == 0 else f"{info['warnings']} 条提醒")
        )
        label = d.standing.label + ("（协调确认）" if d.decided else "")
        if d.extension is not None:
            label += f"（延期至 {d.extension.until:%m-%d}）"
        name = (info["file"] or "") + ("（已不在 inbox 中）" if info["in_inbox"] is False else "")
        if d.decided:
            problems = f"{info['errors']} 处有误，已确认采用"
        if info["to_explain"] and not info["errors"]:
            problems = "，".join(x for x in (problems, f"{info['to_explain']} 处待说明") if x)
        rows.append([d.division, label, name, when, problems])
    lines.append(table(["处室", "情况", "文件", "收到时间", "问题"], rows))
    for d in state.divisions:
        if d.counted is not None and d.counted.origin:
            lines.append(f"  [{d.division}] {d.counted.origin}")
    missing = state.missing
    lines.append("")
    lines.append(f"尚未采用：{'、'.join(missing)}" if missing else "全部处室均已报送并通过核验。")
    for c in state.collective_returns():
        waiting = f"，未报：{'、'.join(c['missing'])}" if c["missing"] else "，全部已报"
        lines.append(
            f"{c['collective']}：{len(c['reported'])}/{len(c['members'])} 个成员已报{waiting}"
        )
    for d in state.divisions:
        if d.standing == "rejected":
            first = d.to_dict()["problems"][:3]
            for message in first:
                lines.append(f"  [{d.division}] {message}")
    if rnd.deadline:
        lines.append(f"报送时限：{rnd.deadline.isoformat()}，{days_left_text(state.days_left)}。")
    else:
        lines.append("未设报送时限（generate --deadline 可设置）。")
    if state.last_collect is None:
        lines.append("还没有运行过 collect。")
    else:
        lines.append(f"最近一次收集：{state.last_collect.replace('T', ' ')}")
    return "\n".join(lines)


@click.command()
@workspace_option
@round_option
@json_option
def remind(workspace: str, round_id: str, as_json: bool) -> None:
    """为尚未报送（或被退回）的处室生成催报邮件草稿（.eml），不会发送任何邮件。

    收件人取自单位名录 templates/单位名录.xlsx（联系人, 电子邮箱）。
    未报送的附上空白填报表，被退回的附上回执。用 Outlook、Foxmail 或 Thunderbird 打开后发送。

    \b
    例：xlflow remind --round 2019-H1
    """
    from ..intake.remind import write_reminders

    ws = open_workspace(workspace)
    with library_errors():
        written = write_reminders(ws, round_id)
    rnd, reminders, notes = written.round, written.drafts, written.notes
    if as_json:
        print_json(written.to_dict())
        return
    if not reminders:
        echo(f"{rnd.title}：所有处室的报送均已采用，无需催报。")
    else:
        echo(f"{rnd.title}：已生成 {len(reminders)} 份催报邮件草稿（未发送）：")
        rows = [
            [
                r.division,
                STANDING_LABELS["rejected" if r.rejected else "missing"],
                r.to or "（无邮箱）",
                r.attachment,
                str(r.path.relative_to(ws.root)),
            ]
            for r in reminders
        ]
        echo(table(["处室", "情况", "收件人", "附件", "草稿"], rows))
    for note in notes:
        echo(f"提示：{note}")


@click.command()
@workspace_option
@round_option
def receipts(workspace: str, round_id: str) -> None:
    """根据台账（重新）生成各处室的回执，写入 outbox/轮次/receipts/。

    collect 默认已生成回执；用了 --no-receipts 或改过设置后可用本命令补写。

    \b
    例：xlflow receipts --round 2019-H1
    """
    from ..intake.receipts import receipts_for_round

    ws = open_workspace(workspace)
    with library_errors():
        rnd, paths = receipts_for_round(ws, round_id)
    if not paths:
        echo(f"{rnd.title}：还没有收到任何报送文件，没有回执可写。")
        return
    folder = paths[0].parent
    shown = folder.relative_to(ws.root) if folder.is_relative_to(ws.root) else folder
    echo(f"{rnd.title}：回执 {len(paths)} 份，在 {shown}/")
