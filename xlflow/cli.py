"""The `xlflow` command: a thin layer over the library. The only module that prints."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import os
import sqlite3
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from enum import IntEnum
from pathlib import Path
from typing import Any

import click

from .errors import XlflowError
from .issues import Severity
from .plausibility import RULE_LABELS
from .text import display_width, json_text, visible
from .wording import (
    OVERDUE_LABEL,
    ROLE_LABELS,
    STANDING_LABELS,
    VERDICT_LABELS,
    days_left_text,
    disk_error_text,
    role_label,
)


class Exit(IntEnum):
    """How a command ends, besides 0 (done: rejected returns are results, not failures)."""

    PROBLEMS = 1  # a check found something to fix (directory --check)
    USAGE = 2  # a wrong option or argument; click's own usage errors use it too
    FAILED = 3  # could not run: bad settings, an unreadable register, a busy folder


class Usage(click.UsageError):
    exit_code = Exit.USAGE


class Failed(click.ClickException):
    """xlflow could not run (bad settings, unreadable register, busy folder)."""

    exit_code = Exit.FAILED

    def show(self, file: Any = None) -> None:
        echo(f"错误：{self.format_message()}", err=True)


@contextmanager
def _library_errors() -> Iterator[None]:
    try:
        yield
    except XlflowError as exc:
        raise Failed(str(exc)) from None
    except OSError as exc:  # a full disk, a folder without write permission
        raise Failed(disk_error_text(exc)) from None
    except sqlite3.DatabaseError as exc:
        raise Failed(
            f"台账 .xlflow/ledger.sqlite 无法读写（{exc}）。收到的原始文件仍在 inbox/ 中。"
        ) from None


def _workspace(path: str) -> Any:
    from .workspace import Workspace

    with _library_errors():
        return Workspace.open(path)


def echo(message: object = "", err: bool = False, nl: bool = True) -> None:
    """Every line the CLI prints: control characters from outside (a file name, a mail's
    subject, a sheet name) are shown, never sent to the terminal to act on."""
    click.echo(visible(str(message), keep="\n\t"), err=err, nl=nl)


def _print_json(data: Any) -> None:
    """JSON in the output's own encoding, lossless in any: redirected on Chinese Windows
    that is GBK, and a character GBK lacks is a \\u escape, never a "?"."""
    echo(json_text(data, getattr(sys.stdout, "encoding", None) or "utf-8"))


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - display_width(text))


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain text table that lines up CJK text (counted as two columns)."""
    widths = [display_width(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], display_width(cell))
    lines = ["  ".join(_pad(h, w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append("  ".join(_pad(c, w) for c, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines)


def _well_formed(value: str | None, option: str) -> str | None:
    """A text argument as typed: bytes that are not UTF-8 (a GBK name typed in a UTF-8
    shell, or passed by a script) are a usage error naming the option, not a crash later."""
    if value is not None and any("\udc80" <= ch <= "\udcff" for ch in value):
        shown = visible(value.encode("utf-8", "surrogateescape").decode("utf-8", "replace"))
        raise Usage(f"{option} 的值“{shown}”中有不是 UTF-8 的字节；请检查终端的编码后重新输入。")
    return value


def _parse_date(value: str | None) -> dt.date | None:
    from .errors import Invalid
    from .model import parse_date

    try:
        return parse_date(value)
    except Invalid as exc:
        raise click.BadParameter(str(exc)) from None


workspace_option = click.option(
    "-w",
    "--workspace",
    "workspace",
    default=".",
    show_default=True,
    type=click.Path(file_okay=False),
    help="工作文件夹（含 xlflow.toml、templates/、inbox/、outbox/）。",
)


def _folder_to_make(help_text: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """For commands that create their folder: an optional DIRECTORY, or -w like the others."""

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        command = click.option(
            "-w",
            "--workspace",
            "workspace",
            type=click.Path(file_okay=False),
            help=f"同 DIRECTORY：{help_text}",
        )(command)
        return click.argument("directory", required=False, type=click.Path(file_okay=False))(
            command
        )

    return decorate


json_option = click.option("--json", "as_json", is_flag=True, help="以 JSON 输出结果。")
round_option = click.option(
    "--round", "round_id", required=True, help="轮次，如 2019-H1、2019-Q3、2019年上半年。"
)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
# the version from the package itself, not its installed metadata: the bundle (PyInstaller)
# carries no metadata, and `xlflow --version` there ended in a traceback
@click.version_option(version=sys.modules[__package__ or "xlflow"].__version__, prog_name="xlflow")
def main() -> None:
    """xlflow：重点任务进展填报的分发、收集、核验与汇总。

    \b
    典型流程：
      xlflow generate --round 2019-H1 --deadline 2019-07-10   生成各处室填报表
      （把 outbox/2019-H1/forms/ 中的表格发给各处室；收回的附件放入 inbox/）
      xlflow collect --round 2019-H1                          核验收到的文件、生成回执
      xlflow merge --round 2019-H1                            生成汇总表
    """
    _forgiving_output()


def _forgiving_output() -> None:
    """Output to a file or a pipe never ends a command on a character its encoding lacks.

    Redirected, Python writes in the system's code page (GBK on Chinese Windows), which has
    no ␀ and no rare CJK; such a character is written as "?" and the line goes on. On a
    console every character shows as typed. PYTHONIOENCODING=utf-8 chooses UTF-8 instead
    (docs/install.md)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            if not stream.isatty() and isinstance(stream, io.TextIOWrapper):
                stream.reconfigure(errors="replace")
        except (AttributeError, ValueError, OSError):  # a closed or foreign stream
            continue


@main.command()
@_folder_to_make("要新建的工作文件夹。")
@click.option(
    "--register",
    "register_file",
    type=click.Path(exists=True, dir_okay=False),
    help="你自己的任务清单（.xlsx .xls .ods .csv .docx）；不给则使用自带的示例清单。",
)
@click.option(
    "--office", help="本单位名称（填报表标题用），如“某某区人民政府办公室”；默认从清单标题识别。"
)
@click.option("--dry-run", is_flag=True, help="只显示会读到什么，不新建任何文件。")
@json_option
def init(
    directory: str | None,
    workspace: str | None,
    register_file: str | None,
    office: str | None,
    dry_run: bool,
    as_json: bool,
) -> None:
    """新建一个工作文件夹。

    给出自己的任务清单时，自动识别表头、各列的用途（或 Word 中按段落编号的任务）、
    牵头和配合单位以及发文单位，写入 xlflow.toml，并列出识别的依据和需要核对的地方。

    \b
    例：xlflow init 2019督查
        xlflow init 2024督查 --register 重点任务清单.docx
        xlflow init 2024督查 --register 分解表.xlsx --dry-run
    """
    from .register.init import check_register, init_workspace

    directory = directory or workspace
    if dry_run:
        if register_file is None:
            raise Usage(
                "--dry-run 需要与 --register 一起使用，如 xlflow init --dry-run --register 清单.xlsx"
            )
        with _library_errors():
            found = check_register(Path(register_file), office)
        _show_detected(found, as_json)
        return
    if directory is None:
        raise Usage("请给出要新建的工作文件夹，如 xlflow init 2019督查")
    with _library_errors():
        result = init_workspace(
            Path(directory), Path(register_file) if register_file else None, office
        )
    if as_json:
        _print_json(result.to_dict())
        return
    echo(f"已新建工作文件夹：{result.root}")
    echo(f"  设置：{result.settings_path}")
    echo(f"  任务清单：{result.register_path}")
    echo(f"  通报模板：{result.report_template}（可在 Word 中修改版头、文字和文号）")
    _show_draft(result)
    if result.detection is not None:
        echo("")
        _show_detected(result.detection, False)
        echo("\n以上识别结果已写入 xlflow.toml 的 [register] 和 [office]；如有不对，改那里即可。")
        echo("填报项（[[fields]]）沿用默认的完成状态、完成进度、进展情况、存在问题、下步打算。")
    echo(f"\n下一步：xlflow register -w {directory} 查看读到的任务清单。")


_CHANGE_HEADINGS = {
    "added": "新增",
    "retired": "撤销",
    "renamed": "改号或文字修改",
    "same": "同一任务",
    "split": "拆分",
    "merged": "合并",
    "handed": "牵头单位改变",
    "lead": "合并后的牵头单位",
    "units": "责任单位增减",
    "targets": "目标改变",
    "deadline": "完成时限改变",
}


def _update_text(result: Any) -> str:
    revision = result.revision
    lines = [f"修订后的清单：{result.source}"]
    if result.corrects:
        lines.append(
            f"与现行清单相同：按对照表更正第 {result.corrects} 版记下的对应关系"
            f"（与第 {result.corrects - 1} 版比对）。"
        )
    if revision.theirs:
        lines.append("以下是对照表确定的对应关系，采用时照此记入台账：")
    if not revision.changes:
        lines.append("与现行清单相比没有变化，无需采用。")
        return "\n".join(lines)
    for kind, heading in _CHANGE_HEADINGS.items():
        found = [c for c in revision.changes if c.kind == kind]
        if found:
            lines.append(f"\n{heading}（{len(found)}）：")
            lines += [f"  - {c.text}" for c in found]
    if revision.uncertain:
        lines.append(
            f"\n有 {len(revision.uncertain)} 处对应不确定，请逐项核对：用 --write-mapping 对照表.xlsx "
            "写出对照表，在 Excel 或 WPS 中逐行确认后用 --mapping 给出；也可在控制台的“清单修订”页逐对确认。"
        )
    if result.mapping:
        lines.append(f"\n对照表已写出：{result.mapping}（“确认”一列填 是 或 否）")
    if result.applied:
        if result.corrects:
            lines.append(f"\n已更正第 {result.version} 版的对应关系；历次进展照此贯通。")
        else:
            lines.append(
                f"\n已采用，记为任务清单第 {result.version} 版。下一轮用 xlflow generate 生成新表。"
            )
    elif not revision.uncertain:
        lines.append("\n以上只是比对，未改动任何文件；确认无误后加 --apply 采用。")
    else:
        lines.append("\n以上只是比对，未改动任何文件。")
    return "\n".join(lines)


def _grouped(folded: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, unit in folded:
        out.setdefault(unit, []).append(name)
    return out


def _show_draft(result: Any) -> None:
    """What init drafted in the unit directory, and what the coordinator should confirm."""
    draft = result.draft
    if draft is None or result.directory is None:
        return
    echo(
        f"  单位名录：{result.directory}（{len(draft.units)} 个单位"
        + (f"，{len(draft.collectives)} 个集体待列成员" if draft.collectives else "")
        + "；填上联系人和邮箱，催报邮件据此填写收件人）"
    )
    if draft.suggestions:
        echo(
            "\n单位名录中以下名称可能是同一单位，请核对（不会自动合并；确认后把别名写入“简称/别名”列）："
        )
        for s in draft.suggestions:
            echo(f"  - {s.name} / {s.other}：{s.reason}")
    if draft.collectives:
        echo(
            f"\n集体名称 {'、'.join(draft.collectives)}：在单位名录中列出成员（“所属集体”填集体名称），"
            "每个成员各生成一份填报表；不列成员则只生成一份。"
        )
    echo("改好单位名录后运行 xlflow directory --check 检查。")


def _show_detected(found: Any, as_json: bool) -> None:
    """What was recognised in a register: the layout, a preview, every unit, each guess
    with its evidence, and everything the coordinator should check."""
    from .register.load import describe_register

    if as_json:
        _print_json(found.to_dict())
        return
    summary = describe_register(found.register, found.settings).to_dict()
    counts = summary["counts"]
    echo(f"读取方式：{found.layout}")
    echo(
        f"读到 {counts['tasks']} 项任务，{counts['groups']} 个分组，{counts['divisions']} 个单位，"
        f"{counts['assignments']} 项分工。"
    )
    echo(f"单位名称（填报表标题）：{found.office or '（未找到）'}——{found.office_evidence}")
    echo("\n各列的用途及依据：")
    for g in found.guesses:
        flag = "" if g.sure else "  ← 不太确定，请核对"
        echo(f"  - {g.what}：{g.column}（{g.evidence}）{flag}")
    if found.shown:
        echo(f"  - 填报表中只读显示：{'、'.join(found.shown)}")
    elif found.settings.readonly_columns:
        echo(f"  - 填报表中只读显示：{'、'.join(found.settings.readonly_columns)}")
    tasks = summary["tasks"]
    echo(f"\n前 {min(8, len(tasks))} 项任务：")
    rows = [
        [
            t["id"],
            t["group"][:14],
            t["name"][:22],
            "、".join(t["lead"]),
            "、".join(t["cooperating"])[:30],
        ]
        for t in tasks[:8]
    ]
    echo(_table(["序号", "分组", "任务", *ROLE_LABELS.values()], rows))
    echo("\n各单位承担的任务（每个单位一份填报表）：")
    rows = [
        [
            d["division"] + ("（集体名称）" if d["collective"] else ""),
            str(d["lead"]),
            str(d["cooperating"]),
        ]
        for d in summary["divisions"]
    ]
    echo(_table(["单位", *ROLE_LABELS.values()], rows))
    if found.register.notes:
        echo("\n读取说明：")
        for note in found.register.notes:
            echo(f"  - {note}")
    if found.warnings:
        echo("\n请核对：")
        for warning_text in found.warnings:
            echo(f"  - {warning_text}")


@main.command()
@workspace_option
@click.option(
    "--check",
    "check_file",
    type=click.Path(exists=True, dir_okay=False),
    help="只检查这个任务清单文件会被读成什么，不需要工作文件夹，也不写任何文件。",
)
@click.option("--office", help="与 --check 一起用：本单位名称。")
@click.option(
    "--update",
    "update_file",
    type=click.Path(exists=True, dir_okay=False),
    help="修订后的任务清单：列出与现行清单相比的全部变化（加 --apply 才采用）。",
)
@click.option(
    "--apply", "apply_it", is_flag=True, help="与 --update 一起用：采用修订后的清单，记为新版本。"
)
@click.option(
    "--write-mapping",
    type=click.Path(dir_okay=False),
    help="与 --update 一起用：把任务对照（原序号→新序号）写成 CSV，供核对修改。",
)
@click.option(
    "--mapping",
    type=click.Path(dir_okay=False),
    help="与 --update 一起用：按核对过的对照表确定任务的对应关系。",
)
@click.option(
    "--accept-uncertain",
    is_flag=True,
    hidden=True,
    help="与 --apply 一起用：不确定的对应也全部采用（供脚本使用；请用对照表逐项确认）。",
)
@json_option
def register(
    workspace: str,
    check_file: str | None,
    office: str | None,
    update_file: str | None,
    apply_it: bool,
    write_mapping: str | None,
    mapping: str | None,
    accept_uncertain: bool,
    as_json: bool,
) -> None:
    """显示读到的任务清单：任务、分组、各处室牵头和配合的任务数。

    \b
    修订清单：--update 新清单 先列出变化（新增、撤销、改号、文字修改及改了哪些字、拆分、
    合并、牵头单位改变、目标和完成时限改变），不改动任何文件；不确定的对应写进对照表
    （--write-mapping）逐行确认，再用 --mapping 给出；核对后加 --apply 采用，台账记下
    新版本和每项任务的来龙去脉，历次进展据此贯通。对照表给的是现行清单本身时，更正
    上次修订记下的对应关系。
    例：xlflow register
        xlflow register --json
        xlflow register --check 重点任务分解表.xlsx
        xlflow register --update 修订后的清单.xlsx
        xlflow register --update 修订后的清单.xlsx --write-mapping 对照.xlsx
        xlflow register --update 修订后的清单.xlsx --mapping 对照.xlsx --apply
    """
    from .register.load import describe_register
    from .wording import task_label, units_shown

    if update_file is not None:
        from .register.update import update_register

        ws = _workspace(workspace)
        with _library_errors():
            result = update_register(
                ws,
                Path(update_file),
                Path(mapping) if mapping else None,
                Path(write_mapping) if write_mapping else None,
                accept_uncertain,
                apply_it,
            )
        if as_json:
            _print_json(result.to_dict())
        else:
            echo(_update_text(result))
        return
    if apply_it or mapping or write_mapping or accept_uncertain:
        raise Usage(
            "--apply、--mapping、--write-mapping、--accept-uncertain 要与 --update 一起用。"
        )
    if check_file is not None:
        from .register.init import check_register

        with _library_errors():
            found = check_register(Path(check_file), office)
        _show_detected(found, as_json)
        return
    from .register.load import load_register

    ws = _workspace(workspace)
    with _library_errors():
        reg = load_register(ws)
    summary = describe_register(reg, ws.settings.register).to_dict()
    if as_json:
        _print_json(summary)
        return
    echo(f"任务清单：{reg.source}")
    echo(
        f"{summary['counts']['tasks']} 项任务，{summary['counts']['groups']} 个分组，"
        f"{summary['counts']['divisions']} 个单位，{summary['counts']['assignments']} 项分工\n"
    )
    rows = [
        [
            t.id,
            t.group,
            task_label(t, ws.settings.register)[:24],
            "、".join(units_shown(t, t.lead)),
            "、".join(units_shown(t, t.cooperating)),
        ]
        for t in reg.tasks
    ]
    echo(_table(["序号", "分组", "任务", *ROLE_LABELS.values()], rows))
    echo("")
    rows = [
        [
            d["division"] + (f"（{'、'.join(d['member_of'])}成员）" if d["member_of"] else ""),
            str(d["lead"]),
            str(d["cooperating"]),
        ]
        for d in summary["divisions"]
    ]
    echo(_table(["单位（每个一份填报表）", *ROLE_LABELS.values()], rows))
    if reg.folded:
        echo("\n按单位名录合并的名称：")
        for unit, names in _grouped(reg.folded).items():
            echo(f"  - {'、'.join(names)} → {unit}")
    if reg.collectives:
        echo("\n按单位名录逐个成员填报的集体：")
        for name, members in reg.collectives:
            echo(f"  - {name}：{'、'.join(members)}（{len(members)} 个成员）")
    if reg.notes:
        echo("\n读取说明：")
        for note in reg.notes:
            echo(f"  - {note}")


@main.command()
@workspace_option
@click.option("--check", is_flag=True, help="只列出名录中的问题；有需要改正的问题时退出码为 1。")
@json_option
def directory(workspace: str, check: bool, as_json: bool) -> None:
    """显示单位名录：单位、简称/别名、集体及其成员、联系人，以及名录中每处问题所在的行。

    \b
    单位名录是 templates/单位名录.xlsx（也可以是 .csv）：单位、简称/别名、所属集体、
    联系人、电子邮箱、联系电话。同一单位的几个名称合并为一份填报表；集体（如“各街道”）
    的每个成员各一份。
    例：xlflow directory
        xlflow directory --check
    """
    from .register.load import directory_report

    ws = _workspace(workspace)
    with _library_errors():
        found = directory_report(ws)
    if as_json:
        _print_json(found.to_dict())
    else:
        echo(_directory_text(found, check))
    if check and found.errors:
        raise SystemExit(Exit.PROBLEMS)


def _directory_text(found: Any, check: bool) -> str:
    lines = [
        f"单位名录：{found.path}" + ("（旧版 divisions.csv，只有联系方式）" if found.legacy else "")
    ]
    if not check:
        rows = [
            [u.name, "、".join(u.aliases), "、".join(u.collectives), u.person, u.email, u.phone]
            for u in found.units
        ]
        lines += [
            "",
            _table(["单位", "简称/别名", "所属集体", "联系人", "电子邮箱", "联系电话"], rows),
        ]
        if found.collectives:
            lines.append("\n集体及其成员（每个成员一份填报表）：")
            lines += [f"  - {c}：{'、'.join(m)}" for c, m in found.collectives]
        if found.folded:
            lines.append("\n任务清单中合并为一个单位的名称：")
            lines += [f"  - {'、'.join(n)} → {u}" for u, n in _grouped(found.folded).items()]
    if found.unlisted:
        lines.append(f"\n没有列出成员的集体（仍只生成一份填报表）：{'、'.join(found.unlisted)}")
    if found.without_email:
        lines.append(
            f"\n没有有效电子邮箱的单位（催报草稿不填收件人）：{'、'.join(found.without_email)}"
        )
    if found.problems:
        lines.append(f"\n名录中有 {len(found.problems)} 处问题：")
        for p in found.problems:
            kind = "需改正" if p.severity == "error" else "请注意"
            where = f"{p.location}：" if p.location else ""
            lines.append(f"  - [{kind}] {where}{p.message}")
    else:
        lines.append("\n名录没有发现问题。")
    return "\n".join(lines)


@main.command()
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
    from .generate.forms import generate_forms
    from .model import parse_round

    ws = _workspace(workspace)
    with _library_errors():
        rnd = parse_round(round_id, title=title, year=year, deadline=_parse_date(deadline))
        result = generate_forms(ws, rnd, prefill_from or "", divisions)
    if as_json:
        _print_json(result.to_dict())
        return
    rows = [
        [f.division, str(len(f.task_ids)), str(f.path.relative_to(ws.root))] for f in result.forms
    ]
    echo(f"{result.round.title}（{result.round.id}）：已生成 {len(result.forms)} 份填报表")
    if result.round.deadline:
        echo(f"报送时限：{result.round.deadline.isoformat()}")
    if prefill_from:
        echo(f"已预填轮次 {prefill_from} 采用的内容（浅蓝色单元格）。")
    echo(_table(["处室", "任务数", "文件"], rows))


@main.command()
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
    from .intake.collect import collect as run_collect

    ws = _workspace(workspace)
    with _library_errors(), _progress(not as_json, "核验文件") as progress:
        report = run_collect(ws, round_id, progress=progress, receipts=not no_receipts)
    if as_json:
        _print_json(report.to_dict())
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
        lines.append(_table(["处室", "文件", "结论", "错误", "提醒"], rows))
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


@main.command()
@workspace_option
@round_option
@json_option
def merge(workspace: str, round_id: str, as_json: bool) -> None:
    """把已采用的报送内容汇总为一份汇总表（总览、任务明细、未报送、校验问题、来源）。

    汇总表写入 outbox/轮次/，先写临时文件再改名，不会留下半个文件。

    \b
    例：xlflow merge --round 2019-H1
    """
    from .reporting.workbook.book import merge as run_merge

    ws = _workspace(workspace)
    with _library_errors():
        merged = run_merge(ws, round_id)
    data, path, summary = merged.consolidation, merged.path, merged.to_dict()
    if as_json:
        _print_json(summary)
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


@main.command()
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
    from .reporting.bulletin import write_report

    ws = _workspace(workspace)
    with _library_errors():
        result = write_report(ws, round_id, Path(template_file) if template_file else None)
    if as_json:
        _print_json(result.to_dict())
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
        ws = _workspace(workspace)
        if reviews and (division or tasks or ask_again):
            _review_command(
                ws, round_id, file, reason, by, as_json, division, tasks, rule, ask_again
            )
            return
        if not file:
            raise click.UsageError("请给出文件名 FILE（status 中显示的 inbox 下的路径）。")
        if reason is None:
            raise click.UsageError("缺少 --reason：请写明理由，记入台账，并显示在回执和汇总表中。")
        from .intake.decisions import decide

        with _library_errors():
            result = decide(ws, round_id, file, action, reason or "", by)
        if as_json:
            _print_json(result.to_dict())
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
    return main.command(name=action, help=help_text)(command)


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
    from .intake.decisions import review_explanations

    if file or not division:
        raise click.UsageError("认可或追问说明时请用 --division（及 --task），不要给出文件名。")
    with _library_errors():
        result = review_explanations(
            ws, round_id, division, tasks, "ask_again" if ask_again else "accepted",
            reason or "", by, rule or "",
        )  # fmt: skip
    if as_json:
        _print_json(result.to_dict())
        return
    verb = "已请再说明" if ask_again else "已认可说明"
    for r in result.reviews:
        echo(f"{verb}：{r.division} 序号 {r.task_id}（{RULE_LABELS.get(r.rule, r.rule)}）")
    if ask_again:
        echo(f"追问已写入 {division} 的回执：{(reason or '').strip()}")
    echo("回执已更新；汇总表请重新运行 merge。")


@main.command()
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
    from .intake.extensions import extend as extend_deadline
    from .intake.extensions import undo_extension

    ws = _workspace(workspace)
    if undo_it:
        if until or reason:
            raise Usage("--undo 不与 --until、--reason 一起用。")
        with _library_errors():
            result = undo_extension(ws, round_id, division, by)
    else:
        if not until or not reason:
            raise Usage("延期需要 --until（新的时限）和 --reason（理由）；撤销用 --undo。")
        due = _parse_date(until)
        assert due is not None
        with _library_errors():
            result = extend_deadline(ws, round_id, division, due, reason, by)
    if as_json:
        _print_json(result.to_dict())
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


_decision_command(
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
_decision_command(
    "exclude",
    """不采用某个报送文件（例如测试文件、发错的附件，或已不在 inbox 中的旧文件）。

    该处室改以其他文件计入；没有其他文件时视为未报送。用 undo 撤销。

    \b
    例：xlflow exclude --round 2019-H1 测试.xlsx --reason "测试文件"
    """,
)


@main.command()
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
    from .intake.decisions import undo as run_undo

    ws = _workspace(workspace)
    with _library_errors():
        result = run_undo(ws, round_id, file, by)
    if as_json:
        _print_json(result.to_dict())
        return
    echo(_decision_text(result))


@main.command()
@workspace_option
@round_option
@json_option
def status(workspace: str, round_id: str, as_json: bool) -> None:
    """查看轮次进度：各处室是否报送、结论、时间和问题，以及距报送时限还有几天。

    只读台账；新收到的文件请先运行 collect。

    \b
    例：xlflow status --round 2019-H1
    """
    from .reporting.status import round_status

    ws = _workspace(workspace)
    with _library_errors():
        state = round_status(ws, round_id)
    if as_json:
        _print_json(state.to_dict())
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
    lines.append(_table(["处室", "情况", "文件", "收到时间", "问题"], rows))
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


@main.command()
@_folder_to_make("演示用的工作文件夹（默认 xlflow-demo）。")
@click.option("--no-office", is_flag=True, help="不调用 LibreOffice（即使已安装）。")
def demo(directory: str | None, workspace: str | None, no_office: bool) -> None:
    """用自带的任务清单完整演示一轮填报：生成、模拟各处室报送、收集核验、汇总。

    \b
    例：xlflow demo
        xlflow demo 演示
    """
    import shutil

    from .demo import run_demo

    directory = directory or workspace or "xlflow-demo"

    soffice = None if no_office else shutil.which("soffice")
    with _library_errors():
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


@main.command()
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
    from .intake.remind import write_reminders

    ws = _workspace(workspace)
    with _library_errors():
        written = write_reminders(ws, round_id)
    rnd, reminders, notes = written.round, written.drafts, written.notes
    if as_json:
        _print_json(written.to_dict())
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
        echo(_table(["处室", "情况", "收件人", "附件", "草稿"], rows))
    for note in notes:
        echo(f"提示：{note}")


@main.command()
@click.argument("form", type=click.Path(dir_okay=False))
@click.option(
    "--to",
    "to",
    callback=lambda ctx, param, value: _well_formed(value, "--to"),
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
    from .relay.forward import forward as forward_form

    due = _parse_date(deadline)
    with _library_errors():
        result = forward_form(Path(workspace), Path(form), to, due)
    if as_json:
        _print_json(result.to_dict())
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
    echo(_table(["下级单位", "任务数", "填报表"], rows))
    for note in result.notes:
        echo(f"提示：{note}")
    echo(
        f"\n下一步：把填报表发给各下级单位；收回后放进 {result.root / 'inbox'}，"
        f"运行 xlflow collect -w {result.root} --round {received.round_id}，"
        f"再运行 xlflow roll-up -w {result.root}。"
    )


@main.command(name="roll-up")
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
    from .relay.rollup import roll_up as roll_up_round

    ws = _workspace(workspace)
    with _library_errors():
        result = roll_up_round(ws, round_id, Path(output) if output else None, anyway=anyway)
    if as_json:
        _print_json(result.to_dict())
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


@main.command()
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
    from .launcher import choose_folder, settings_path

    with _library_errors():
        chosen = choose_folder(Path(folder) if folder else None)
    made = "（新建，内含示例任务清单，可换成本单位的）" if chosen.made else ""
    where = (
        f"工作文件夹：{chosen.folder}{made}\n"
        f"下次双击 xlflow 仍打开它（记在 {settings_path()}）；要换文件夹，把文件夹拖到 xlflow 图标上。\n"
        "关闭这个窗口即停止。"
    )
    _serve(str(chosen.folder), port, "127.0.0.1", None, no_browser, where)


@main.command()
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
    from .reporting.scorecard import scorecard as year_scorecard

    ws = _workspace(workspace)
    with _library_errors():
        card = year_scorecard(ws, year)
    if as_json:
        _print_json(card.to_dict())
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
    echo(_table(heads, rows))


@main.command()
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
    from .reporting.data import export as export_data

    ws = _workspace(workspace)
    with _library_errors():
        result = export_data(ws, fmt, Path(output), list(round_ids) or None, wide, encoding)
    if as_json:
        _print_json(result.to_dict())
        return
    kind = "任务" if wide else "填报项"
    echo(f"已导出 {result.rows} 行（每行一个{kind}）：{result.path}")


@main.command()
@workspace_option
@click.option("--task", "task_id", help="只看这一项任务（序号）。")
@json_option
def history(workspace: str, task_id: str | None, as_json: bool) -> None:
    """查看任务在历次轮次中的完成状态、进度和各处室的进展情况。

    \b
    例：xlflow history --task 5
        xlflow history --json
    """
    from .reporting.history import task_history

    ws = _workspace(workspace)
    with _library_errors():
        data = task_history(ws, task_id)
    if as_json:
        _print_json(data.to_dict())
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
        echo(_table(["序号", "任务", *data.rounds], rows))
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


@main.command()
@workspace_option
@round_option
def receipts(workspace: str, round_id: str) -> None:
    """根据台账（重新）生成各处室的回执，写入 outbox/轮次/receipts/。

    collect 默认已生成回执；用了 --no-receipts 或改过设置后可用本命令补写。

    \b
    例：xlflow receipts --round 2019-H1
    """
    from .intake.receipts import receipts_for_round

    ws = _workspace(workspace)
    with _library_errors():
        rnd, paths = receipts_for_round(ws, round_id)
    if not paths:
        echo(f"{rnd.title}：还没有收到任何报送文件，没有回执可写。")
        return
    folder = paths[0].parent
    shown = folder.relative_to(ws.root) if folder.is_relative_to(ws.root) else folder
    echo(f"{rnd.title}：回执 {len(paths)} 份，在 {shown}/")


@main.command()
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
    from .web import WebConfig
    from .web import serve as run_serve

    def ready(url: str) -> None:
        echo(f"xlflow 网页控制台：{url}")
        if where:
            echo(where)
        echo("（按 Ctrl-C 停止）")

    ws = _workspace(workspace)
    # waitress ends its loop on Ctrl-C and returns
    with contextlib.suppress(KeyboardInterrupt), _library_errors():
        run_serve(WebConfig(ws.root, host, port, token), not no_browser, ready)
    echo("已停止。")
