"""The coordinator's word: `accept`, `exclude` and `undo` on files, explanations accepted or
asked again, and deadline extensions (`extend`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from ..plausibility import RULE_LABELS
from ..wording import (
    OVERDUE_LABEL,
    VERDICT_LABELS,
)
from .shared import (
    Usage,
    echo,
    json_option,
    library_errors,
    open_workspace,
    parse_date,
    print_json,
    round_option,
    workspace_option,
)


def _decision_text(result: Any) -> str:
    d, f = result.decision, result.file
    verb = {"accept": "采用", "exclude": "不采用"}[d.action]
    lines = [
        (f"已撤销对“{f.path}”的决定（{verb}：{d.reason}）。" if result.undone
         else f"已记录：{verb}“{f.path}”，理由：{d.reason}（{d.by}，{d.at.replace('T', ' ')}）。"),
        f"该文件现在：{VERDICT_LABELS[f.verdict]}"
        + ("（已不在 inbox 中）" if not f.present else ""),
    ]  # fmt: skip
    if result.standing is not None:
        s = result.standing
        counted = s.counted.path if s.counted else "无"
        lines.append(f"{s.division}：{s.standing.label}，计入的文件：{counted}")
    lines.append("回执已更新；汇总表请重新运行 merge。")
    return "\n".join(lines)


def _decision_command(action: str, help_text: str) -> Callable[..., Any]:
    reviews = action == "accept"  # accept also takes the coordinator's word on a 说明

    def command(
        workspace: str,
        round_id: str,
        file: str | None,
        reason: str | None,
        by: str | None,
        as_json: bool,
        division: str | None = None,
        tasks: tuple[str, ...] = (),
        rule: str | None = None,
        ask_again: bool = False,
    ) -> None:
        ws = open_workspace(workspace)
        if reviews and (division or tasks or ask_again):
            _review_command(
                ws, round_id, file, reason, by, as_json, division, tasks, rule, ask_again
            )
            return
        if not file:
            raise click.UsageError("请给出文件名 FILE（status 中显示的 inbox 下的路径）。")
        if reason is None:
            raise click.UsageError("缺少 --reason：请写明理由，记入台账，并显示在回执和汇总表中。")
        from ..intake.decisions import decide

        with library_errors():
            result = decide(ws, round_id, file, action, reason or "", by)
        if as_json:
            print_json(result.to_dict())
            return
        echo(_decision_text(result))

    options = [
        workspace_option,
        round_option,
        click.argument("file", required=not reviews),
        click.option(
            "--reason",
            required=not reviews,
            help="理由，记入台账，并显示在回执和汇总表中"
            + ("；与 --ask-again 一起用时，写还需要说明什么。" if reviews else "。"),
        ),
        click.option("--by", help="决定人；默认为当前登录的用户名。"),
        json_option,
    ]
    if reviews:
        options += [
            click.option("--division", help="认可或追问该处室在“说明”栏写的说明（不给 FILE）。"),
            click.option(
                "--task",
                "tasks",
                multiple=True,
                help="说明所在任务的序号（可多次给出；省略为全部）。",
            ),
            click.option("--rule", help="只针对这条核实规则，如 percent_fell。"),
            click.option(
                "--ask-again", is_flag=True, help="请该处室再说明（写进其下一份回执），而不是认可。"
            ),
        ]
    for option in reversed(options):
        command = option(command)
    return click.command(name=action, help=help_text)(command)


def _review_command(
    ws: Any,
    round_id: str,
    file: str | None,
    reason: str | None,
    by: str | None,
    as_json: bool,
    division: str | None,
    tasks: tuple[str, ...],
    rule: str | None,
    ask_again: bool,
) -> None:
    from ..intake.decisions import review_explanations

    if file or not division:
        raise click.UsageError("认可或追问说明时请用 --division（及 --task），不要给出文件名。")
    with library_errors():
        result = review_explanations(
            ws, round_id, division, tasks, "ask_again" if ask_again else "accepted",
            reason or "", by, rule or "",
        )  # fmt: skip
    if as_json:
        print_json(result.to_dict())
        return
    verb = "已请再说明" if ask_again else "已认可说明"
    for r in result.reviews:
        echo(f"{verb}：{r.division} 序号 {r.task_id}（{RULE_LABELS.get(r.rule, r.rule)}）")
    if ask_again:
        echo(f"追问已写入 {division} 的回执：{(reason or '').strip()}")
    echo("回执已更新；汇总表请重新运行 merge。")


@click.command()
@workspace_option
@round_option
@click.option("--division", required=True, help="延期的单位（处室）。")
@click.option("--until", "until", help="延期后的报送时限，YYYY-MM-DD。")
@click.option("--reason", help="理由，记入台账。")
@click.option("--undo", "undo_it", is_flag=True, help="撤销该单位的延期，恢复本轮的报送时限。")
@click.option("--by", help="批准人；默认为当前登录的用户名。")
@json_option
def extend(
    workspace: str,
    round_id: str,
    division: str,
    until: str | None,
    reason: str | None,
    undo_it: bool,
    by: str | None,
    as_json: bool,
) -> None:
    """给某个单位延期：按它自己的报送时限判断是否逾期（状态、回执、催报、汇总表、通报）。

    延期记入台账（谁、何时、为什么），可以撤销；记录后自动重新核验，逾期标记随之更新。
    延期未到的单位不催报。

    \b
    例：xlflow extend --round 2019-H1 --division 办公室 --until 2019-07-15 --reason "处长出差"
        xlflow extend --round 2019-H1 --division 办公室 --undo
    """
    from ..intake.extensions import extend as extend_deadline
    from ..intake.extensions import undo_extension

    ws = open_workspace(workspace)
    if undo_it:
        if until or reason:
            raise Usage("--undo 不与 --until、--reason 一起用。")
        with library_errors():
            result = undo_extension(ws, round_id, division, by)
    else:
        if not until or not reason:
            raise Usage("延期需要 --until（新的时限）和 --reason（理由）；撤销用 --undo。")
        due = parse_date(until)
        assert due is not None
        with library_errors():
            result = extend_deadline(ws, round_id, division, due, reason, by)
    if as_json:
        print_json(result.to_dict())
        return
    e = result.extension
    if result.undone:
        echo(f"已撤销 {e.division} 的延期（原延期至 {e.until.isoformat()}）；按本轮时限判断。")
    else:
        echo(
            f"已同意 {e.division} 延期至 {e.until.isoformat()}（{e.reason}；{e.by}，{e.at.replace('T', ' ')}）。"
        )
    d = result.standing
    late = f"，{OVERDUE_LABEL}" if d.late else ""
    echo(f"{d.division} 现在：{d.standing.label}{late}。")


accept = _decision_command(
    "accept",
    """采用一份未通过核验的报送文件（例如处长电话确认、联系电话稍后补报）。

    决定按文件内容（sha256）记入台账，改名、重新 collect 都不影响；inbox 中的文件不会被改动。
    有误的单元格不采用，汇总表中注明。FILE 为 status 中显示的文件名（inbox 下的路径）。

    \b
    例：xlflow accept --round 2019-H1 高新处.xlsx --reason "处长电话确认，联系电话稍后补报"

    也用于认可处室在“说明”栏写的说明，或请其再说明（写进该处室的下一份回执）：

    \b
    例：xlflow accept --round 2019-Q3 --division 规划处 --task 5
        xlflow accept --round 2019-Q3 --division 规划处 --task 5 --ask-again --reason "请说明下降的具体原因"
    """,
)
exclude = _decision_command(
    "exclude",
    """不采用某个报送文件（例如测试文件、发错的附件，或已不在 inbox 中的旧文件）。

    该处室改以其他文件计入；没有其他文件时视为未报送。用 undo 撤销。

    \b
    例：xlflow exclude --round 2019-H1 测试.xlsx --reason "测试文件"
    """,
)


@click.command()
@workspace_option
@round_option
@click.argument("file")
@click.option("--by", help="撤销人；默认为当前登录的用户名。")
@json_option
def undo(workspace: str, round_id: str, file: str, by: str | None, as_json: bool) -> None:
    """撤销对某个文件的采用或不采用决定，恢复按规则核验的结论。

    \b
    例：xlflow undo --round 2019-H1 测试.xlsx
    """
    from ..intake.decisions import undo as run_undo

    ws = open_workspace(workspace)
    with library_errors():
        result = run_undo(ws, round_id, file, by)
    if as_json:
        print_json(result.to_dict())
        return
    echo(_decision_text(result))
