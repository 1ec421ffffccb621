"""`xlflow demo`: a whole reporting round on the bundled register, in seconds.

Seven divisions answer as real ones do: one renames the file, one sends it twice,
one sends a return with errors and then a correction, one answers after the
deadline, one saves it in LibreOffice (when `soffice` is installed), and one never
answers. Then the round is collected and merged, and the newcomer is told what to
open first.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openpyxl

from .errors import Invalid
from .generate.forms import GenerateResult, generate_forms
from .intake.collect import CollectReport, collect
from .model import parse_round
from .register.init import init_workspace
from .register.load import load_register
from .reporting.bulletin import write_report
from .reporting.workbook.book import merge
from .wording import task_label
from .workspace import Workspace

DEMO_MARKER = ".xlflow-demo"
DEMO_ROUND = "2019-H1"
DEMO_DEADLINE = dt.date(2019, 7, 10)


def fill_return(
    form: Path,
    out: Path,
    values: Mapping[str, Mapping[str, Any]],
    contact: Mapping[str, Any],
    sheet: str = "填报",
) -> Path:
    """Type values into a generated form as a division would: by header label and task id."""
    wb = openpyxl.load_workbook(form)
    ws = wb[sheet]
    header: int = 0
    cols: dict[str, int] = {}
    for row in ws.iter_rows(min_row=1, max_row=15):
        labels = {c.value: c.column for c in row if isinstance(c.value, str)}
        if "序号" in labels:
            header = int(row[0].row or 0)
            cols = {str(k): int(v or 0) for k, v in labels.items()}
            break
    for r in range(header + 1, ws.max_row + 1):
        task_id = ws.cell(r, cols["序号"]).value
        for label, value in values.get(str(task_id), {}).items():
            ws.cell(r, cols[label]).value = value
    merged = list(ws.merged_cells.ranges)
    for row in ws.iter_rows(min_row=header + 1):
        for cell in row:
            if not isinstance(cell.value, str) or "：" not in cell.value:
                continue
            label = cell.value.split("：", 1)[0]
            if label in contact:
                col = cell.column + 1
                for m in merged:
                    if cell.coordinate in m:
                        col = m.max_col + 1
                ws.cell(cell.row, col).value = contact[label]
    out.parent.mkdir(parents=True, exist_ok=True)
    wb.save(out)
    return out


_PROGRESS = (
    "已完成年度实施方案制定，召开专题推进会 2 次，{name}相关工作按序时推进。",
    "对照目标任务逐项分解，完成调研走访企业 36 家，形成工作台账，{name}进展顺利。",
    "牵头出台配套政策 1 项，组织申报 18 个项目，{name}阶段性目标已完成约六成。",
    "会同相关部门建立月度调度机制，{name}已进入实施阶段，累计投入资金 1200 万元。",
)
_NEXT = (
    "下半年加快项目落地，确保完成年度目标。",
    "继续跟踪服务，及时协调解决推进中的问题。",
    "开展中期评估，梳理经验做法并加以推广。",
)


def _answers(
    task_ids: list[str], names: Mapping[str, str], plan: Mapping[str, tuple[str, int]], seed: int
) -> dict[str, dict[str, Any]]:
    out = {}
    for n, task_id in enumerate(task_ids):
        status, percent = plan.get(task_id, ("按计划推进", 50 + 5 * ((n + seed) % 6)))
        row: dict[str, Any] = {
            "完成状态": status,
            "完成进度(%)": percent,
            "进展情况": _PROGRESS[(n + seed) % len(_PROGRESS)].format(name=names[task_id]),
            "下步打算": _NEXT[(n + seed) % len(_NEXT)],
        }
        if status == "进度滞后":
            row["存在问题"] = "受用地指标和资金拨付进度影响，部分项目开工时间推迟。"
        out[task_id] = row
    return out


def _stamp(path: Path, when: dt.datetime) -> None:
    t = when.timestamp()
    os.utime(path, (t, t))


def resave_with_libreoffice(source: Path, target: Path, soffice: str, timeout: float = 90) -> bool:
    """Open and save a workbook through headless LibreOffice, as a division using it would."""
    with tempfile.TemporaryDirectory(prefix="xlflow-lo-") as tmp:
        profile = Path(tmp) / "profile"
        out_dir = Path(tmp) / "out"
        work = Path(tmp) / "in" / source.name
        work.parent.mkdir()
        shutil.copy2(source, work)
        command = [
            soffice,
            f"-env:UserInstallation={profile.as_uri()}",
            "--headless",
            "--invisible",
            "--nologo",
            "--norestore",
            "--convert-to",
            "xlsx:Calc MS Excel 2007 XML",
            "--outdir",
            str(out_dir),
            str(work),
        ]
        try:
            subprocess.run(command, capture_output=True, timeout=timeout, check=False)
        except (OSError, subprocess.TimeoutExpired):
            return False
        produced = out_dir / (work.stem + ".xlsx")
        if not produced.is_file() or produced.stat().st_size == 0:
            return False
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(produced), target)
        return True


@dataclass(frozen=True)
class DemoResult:
    root: Path
    round_id: str
    forms_dir: Path
    receipts_dir: Path
    consolidated: Path
    notice: Path  # the Word 通报
    report: CollectReport
    summary: dict[str, Any]
    libreoffice: bool


def _prepare(target: Path) -> None:
    if target.exists():
        if (target / DEMO_MARKER).exists():
            shutil.rmtree(target)
        elif target.is_dir() and not any(target.iterdir()):
            pass
        else:
            raise Invalid(
                f"{target} 已存在且不是演示文件夹；请指定一个新的文件夹：xlflow demo 新文件夹名"
            )
    target.mkdir(parents=True, exist_ok=True)
    (target / DEMO_MARKER).write_text("xlflow demo: this folder is recreated by `xlflow demo`\n")


def run_demo(target: Path, soffice: str | None = None) -> DemoResult:
    """Make a working folder and run a realistic round through generate, collect and merge."""
    root = target.resolve()
    _prepare(root)
    init_workspace(root)
    ws = Workspace.open(root)
    rnd = parse_round(DEMO_ROUND, deadline=DEMO_DEADLINE)
    divisions = _Divisions(ws, generate_forms(ws, rnd))
    divisions.renamed_by_the_mail_client()
    divisions.wrong_then_corrected()
    divisions.sent_twice()
    used_office = divisions.saved_in_libreoffice(soffice)
    divisions.late()
    divisions.on_time()
    # 办公室 never answers.
    report = collect(ws, rnd.id)
    merged = merge(ws, rnd.id)
    data, consolidated = merged.consolidation, merged.path
    notice = write_report(ws, rnd.id).path
    return DemoResult(
        root=root,
        round_id=rnd.id,
        forms_dir=ws.round_dir(rnd) / "forms",
        receipts_dir=ws.round_dir(rnd) / "receipts",
        consolidated=consolidated,
        notice=notice,
        report=report,
        summary=data.summary(consolidated),
        libreoffice=used_office,
    )


class _Divisions:
    """The demo's divisions, each answering its form as real ones do."""

    DAY = dt.datetime(2019, 7, 1, 9, 30)

    def __init__(self, ws: Workspace, generated: GenerateResult) -> None:
        self.ws = ws
        self.forms = {f.division: f for f in generated.forms}
        self.names = {t.id: task_label(t, ws.settings.register) for t in load_register(ws).tasks}

    def answer(
        self, division: str, plan: Mapping[str, tuple[str, int]], seed: int
    ) -> dict[str, dict[str, Any]]:
        return _answers(list(self.forms[division].task_ids), self.names, plan, seed)

    @staticmethod
    def contact(name: str, phone: str) -> dict[str, str]:
        return {
            "填报人": name,
            "联系电话": phone,
            "处室负责人": f"{name[0]}处长",
            "填报日期": "2019-07-05",
        }

    def send(
        self,
        division: str,
        name: str,
        values: Mapping[str, Mapping[str, Any]],
        contact: Mapping[str, Any],
        when: dt.datetime,
    ) -> Path:
        """A filled form saved into the inbox as `name`, received at `when`."""
        path = fill_return(self.forms[division].path, self.ws.inbox / name, values, contact)
        _stamp(path, when)
        return path

    def renamed_by_the_mail_client(self) -> None:
        hi = "高新技术及产业化处"
        # 已完成 at 98 %, with no word why: taken, and asked for a 说明 (核实性审核)
        self.send(
            hi,
            "回复：关于报送2019年上半年重点任务进展情况的通知.xlsx",
            self.answer(hi, {"13": ("进度滞后", 35), "15": ("已完成", 98)}, 0),
            self.contact("王磊", "0574-87190001"),
            self.DAY + dt.timedelta(days=3, hours=2),
        )

    def wrong_then_corrected(self) -> None:
        res = "资源配置与诚信建设处"
        wrong = self.answer(res, {"10": ("已完成", 100)}, 1)
        wrong["2"]["完成状态"] = "完成"
        wrong["3"]["完成进度(%)"] = "大概一半"
        wrong["4"]["完成状态"] = "进度滞后"
        wrong["4"].pop("存在问题", None)
        wrong["23"]["进展情况"] = None
        self.send(res, f"{res}.xlsx", wrong, {"填报人": "陈静"}, self.DAY + dt.timedelta(days=4))
        self.send(
            res,
            f"{res}（修改稿）.xlsx",
            self.answer(res, {"10": ("已完成", 100), "4": ("进度滞后", 40)}, 1),
            self.contact("陈静", "13805740002"),
            self.DAY + dt.timedelta(days=6, hours=5),
        )

    def sent_twice(self) -> None:
        """政策规划处 co-operates on task 22 and says it is done, the lead says otherwise;
        the same file comes again, forwarded."""
        plan = "政策规划处"
        path = self.send(
            plan,
            f"{plan}.xlsx",
            self.answer(plan, {"22": ("已完成", 100), "5": ("按计划推进", 70)}, 2),
            self.contact("刘洋", "0574-87190003"),
            self.DAY + dt.timedelta(days=2),
        )
        twice = self.ws.inbox / "转发" / f"{plan}.xlsx"
        twice.parent.mkdir(exist_ok=True)
        shutil.copy2(path, twice)
        _stamp(twice, self.DAY + dt.timedelta(days=2, hours=1))

    def saved_in_libreoffice(self, soffice: str | None) -> bool:
        co = "创新平台与合作处"
        filled = fill_return(
            self.forms[co].path,
            self.ws.outbox / ".demo-tmp" / f"{co}.xlsx",
            self.answer(co, {"9": ("已完成", 100), "7": ("进度滞后", 45)}, 3),
            self.contact("赵敏", "0574-87190004"),
        )
        target = self.ws.inbox / f"{co}.xlsx"
        used_office = bool(soffice) and resave_with_libreoffice(filled, target, str(soffice))
        if not used_office:
            shutil.copy2(filled, target)
        shutil.rmtree(filled.parent, ignore_errors=True)
        _stamp(target, self.DAY + dt.timedelta(days=5, hours=3))
        return used_office

    def late(self) -> None:
        rural = "农村与社会发展科技处"
        self.send(
            rural,
            f"{rural}.xlsx",
            self.answer(rural, {}, 4),
            self.contact("孙健", "0574-87190005"),
            dt.datetime(2019, 7, 12, 16, 20),
        )

    def on_time(self) -> None:
        foreign = "外国专家局"
        answers = self.answer(foreign, {"17": ("已完成", 95)}, 5)
        # a value that needs a word, given in the form's 说明 column
        answers["17"]["说明"] = "引进工作已全部完成，剩余 5% 为项目验收，定于 7 月中旬完成。"
        self.send(
            foreign,
            f"{foreign}-2019上半年.xlsx",
            answers,
            self.contact("周婷", "0574-87190006"),
            self.DAY + dt.timedelta(days=8),
        )
