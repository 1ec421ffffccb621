"""The working folder and its register: `init`, `register` (with `--update`, a revision)
and `directory`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from ..wording import (
    ROLE_LABELS,
)
from .shared import (
    Exit,
    Usage,
    echo,
    folder_to_make,
    json_option,
    library_errors,
    open_workspace,
    print_json,
    table,
    workspace_option,
)


@click.command()
@folder_to_make("要新建的工作文件夹。")
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
    from ..register.init import check_register, init_workspace

    directory = directory or workspace
    if dry_run:
        if register_file is None:
            raise Usage(
                "--dry-run 需要与 --register 一起使用，如 xlflow init --dry-run --register 清单.xlsx"
            )
        with library_errors():
            found = check_register(Path(register_file), office)
        _show_detected(found, as_json)
        return
    if directory is None:
        raise Usage("请给出要新建的工作文件夹，如 xlflow init 2019督查")
    with library_errors():
        result = init_workspace(
            Path(directory), Path(register_file) if register_file else None, office
        )
    if as_json:
        print_json(result.to_dict())
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
    from ..register.load import describe_register

    if as_json:
        print_json(found.to_dict())
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
    echo(table(["序号", "分组", "任务", *ROLE_LABELS.values()], rows))
    echo("\n各单位承担的任务（每个单位一份填报表）：")
    rows = [
        [
            d["division"] + ("（集体名称）" if d["collective"] else ""),
            str(d["lead"]),
            str(d["cooperating"]),
        ]
        for d in summary["divisions"]
    ]
    echo(table(["单位", *ROLE_LABELS.values()], rows))
    if found.register.notes:
        echo("\n读取说明：")
        for note in found.register.notes:
            echo(f"  - {note}")
    if found.warnings:
        echo("\n请核对：")
        for warning_text in found.warnings:
            echo(f"  - {warning_text}")


@click.command()
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
    from ..register.load import describe_register

    if update_file is not None:
        from ..register.update import update_register

        ws = open_workspace(workspace)
        with library_errors():
            result = update_register(
                ws,
                Path(update_file),
                Path(mapping) if mapping else None,
                Path(write_mapping) if write_mapping else None,
                accept_uncertain,
                apply_it,
            )
        if as_json:
            print_json(result.to_dict())
        else:
            echo(_update_text(result))
        return
    if apply_it or mapping or write_mapping or accept_uncertain:
        raise Usage(
            "--apply、--mapping、--write-mapping、--accept-uncertain 要与 --update 一起用。"
        )
    if check_file is not None:
        from ..register.init import check_register

        with library_errors():
            found = check_register(Path(check_file), office)
        _show_detected(found, as_json)
        return
    from ..register.load import load_register

    ws = open_workspace(workspace)
    with library_errors():
        reg = load_register(ws)
    summary = describe_register(reg, ws.settings.register).to_dict()
    if as_json:
        print_json(summary)
        return
    _show_register(reg, summary, ws)


def _show_register(reg: Any, summary: dict[str, Any], ws: Any) -> None:
    """The register as read: its tasks, its units, and what was folded or noted."""
    from ..wording import task_label, units_shown

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
    echo(table(["序号", "分组", "任务", *ROLE_LABELS.values()], rows))
    echo("")
    rows = [
        [
            d["division"] + (f"（{'、'.join(d['member_of'])}成员）" if d["member_of"] else ""),
            str(d["lead"]),
            str(d["cooperating"]),
        ]
        for d in summary["divisions"]
    ]
    echo(table(["单位（每个一份填报表）", *ROLE_LABELS.values()], rows))
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


@click.command()
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
    from ..register.load import directory_report

    ws = open_workspace(workspace)
    with library_errors():
        found = directory_report(ws)
    if as_json:
        print_json(found.to_dict())
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
            table(["单位", "简称/别名", "所属集体", "联系人", "电子邮箱", "联系电话"], rows),
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
