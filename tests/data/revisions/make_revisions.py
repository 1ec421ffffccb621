"""Writes the revision corpus: registers of `tests/data/registers/` revised by hand, as
offices revise theirs between quarters, each beside the truth of what was done.

Run by hand (`python tests/data/revisions/make_revisions.py`); the files are committed.
Each revision is written here as the tasks of the new version in order, each with the
old tasks it descends from and the edit it belongs to; the office numbers them again.
The truth (`<file>.json`) is that list, written before xlflow reads anything: every edit
with the old and new ids it joins, and every (old id, new id) pair of the new version.
`tests/test_revisions.py` scores `register --update` against it.
"""

from __future__ import annotations

import copy
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docx
import openpyxl
from docx.text.paragraph import Paragraph

HERE = Path(__file__).resolve().parent
REGISTERS = HERE.parent / "registers"
sys.path.insert(0, str(REGISTERS))

from make_registers import _base_document, _docx_table, xlsx  # noqa: E402


@dataclass
class Entry:
    old: list[str]  # the old tasks it descends from (none: added)
    cells: Any  # its text, or its row
    edit: str = ""  # the edit it belongs to
    new: str = ""  # its id in the new version, once numbered


@dataclass
class Plan:
    entries: list[Entry] = field(default_factory=list)
    retired: list[tuple[str, str]] = field(default_factory=list)  # (edit, old id)

    def add(self, old: list[str], cells: Any, edit: str = "") -> None:
        self.entries.append(Entry(old, cells, edit))

    def truth(self, name: str, base: str) -> None:
        edits: dict[str, dict[str, Any]] = {}
        for e in self.entries:
            if e.edit:
                found = edits.setdefault(e.edit, {"what": e.edit, "old": [], "new": []})
                found["old"] += [o for o in e.old if o not in found["old"]]
                found["new"].append(e.new)
        for what, old in self.retired:
            edits[what] = {"what": what, "old": [old], "new": []}
        pairs = [[o, e.new] for e in self.entries for o in e.old]
        data = {"base": base, "edits": list(edits.values()), "pairs": pairs}
        assert len(data["edits"]) >= 8, name
        (HERE / f"{name}.json").write_text(
            json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
        )


# 1. The State Council's 国发〔2019〕3号: numbered paragraphs with their units in brackets.
#    A task inserted in part (一) renumbers every one after it; a split, a merge, a
#    retirement, rewordings, a lead handed over, a unit added, a task added at the end.
def guofa() -> None:
    base = "guofa-2019-3-zongbao.docx"
    document = docx.Document(str(REGISTERS / base))
    tasks: dict[str, str] = {}
    slots: dict[str, Any] = {}
    for p in document.paragraphs:
        head, dot, rest = p.text.partition(".")
        if dot and head.isdigit():
            tasks[head], slots[head] = rest, p
    plan = _guofa_plan(tasks)
    # the new paragraphs: each where its first old task stood, added ones after the one before
    last: Any = None
    placed: set[str] = set()
    for number, e in enumerate(plan.entries, start=1):
        e.new = str(number)
        anchor = slots[e.old[0]] if e.old and e.old[0] not in placed else None
        if anchor is None:
            fresh = copy.deepcopy(last._element)
            last._element.addnext(fresh)
            anchor = Paragraph(fresh, last._parent)
        placed.update(e.old)
        anchor.text = f"{number}.{e.cells}"
        last = anchor
    for n in ("12", "15"):
        slots[n]._element.getparent().remove(slots[n]._element)
    name = "guofa-revised.docx"
    document.save(str(HERE / name))
    plan.truth(name, base)


def _guofa_plan(tasks: dict[str, str]) -> Plan:
    plan = Plan()
    for n in map(str, range(1, 22)):
        text = tasks[n]
        if n == "3":
            text = text.replace(
                "承接境内区外委托加工。", "承接境内区外委托加工业务，提高产能利用效率。"
            )
            plan.add([n], text, "文字小改")
        elif n == "8":
            plan.add([n], text.replace("（市场监管总局、海关总署负责）", "（海关总署、市场监管总局负责）"),
                     "牵头单位改变（随插入改号）")  # fmt: skip
        elif n == "9":
            first, _, second = text.partition("进入国内销售")
            plan.add([n], first + "（药监局、海关总署负责）", "拆分")
            plan.add([n], "规范医疗器械内销。进入国内销售" + second, "拆分")
        elif n == "12":
            plan.retired.append(("撤销", n))
        elif n == "13":
            plan.add([n], "促进文物和艺术品回流。创新文物及文化艺术品境外入区监管方式，简化备案程序，实施文物进出境"
                          "登记审核，支持文物及文化艺术品在综合保税区内存储、展示和交易。（海关总署、文化和旅游部、文物局负责）",
                     "文字大改（随插入改号）")  # fmt: skip
        elif n == "14":
            plan.add(["14", "15"], "开展检测维修和再制造。允许综合保税区内企业开展高技术、高附加值、符合环保要求的"
                     "保税检测和全球维修业务，以及高技术含量、高附加值的航空航天、工程机械、数控机床等再制造业务。"
                     "支持第三方检验检测认证机构在综合保税区开展进出口检验认证服务。"
                     "（商务部、工业和信息化部、生态环境部、发展改革委、海关总署负责）", "合并")  # fmt: skip
        elif n == "15":
            continue
        elif n == "17":
            plan.add(
                [n], text.replace("税务总局负责）", "税务总局、银保监会负责）"), "增加配合单位"
            )
        elif n == "20":
            plan.add([n], text.replace("支持期货交割。", "支持期货保税交割。"), "标题改动")
        else:
            plan.add([n], text)
        if n == "5":
            plan.add([], "发展保税仓储配送。支持综合保税区内企业为区外制造企业提供零部件保税仓储和配送服务。"
                         "（海关总署、商务部负责）", "插入新任务（其后全部改号）")  # fmt: skip
    plan.add([], "推进智慧监管。加快综合保税区信息化系统建设，推广应用智能卡口和电子账册，实现监管全程无纸化。"
                 "（海关总署负责）", "新增（末尾）")  # fmt: skip
    return plan


def _table_rows(path: Path, first: int, width: int) -> list[list[Any]]:
    """A sheet's rows from `first` (1-based) on, merged cells filled down."""
    wb = openpyxl.load_workbook(path)
    ws = wb.active
    for merged in list(ws.merged_cells.ranges):
        value = ws.cell(merged.min_row, merged.min_col).value
        ws.unmerge_cells(str(merged))
        for row in ws.iter_rows(min_row=merged.min_row, max_row=merged.max_row,
                                min_col=merged.min_col, max_col=merged.max_col):  # fmt: skip
            for cell in row:
                cell.value = value
    return [list(r[:width]) for r in ws.iter_rows(min_row=first, values_only=True)]


# 2. The bundled register (a table with targets), revised: one task inserted renumbers the
#    rest; a lead handed over, new targets, a split, a retirement, a merge, a unit added,
#    a heavy rewording and a light one.
def bundled() -> None:
    base = "bundled-key-task-list.xlsx"
    rows = _table_rows(REGISTERS / base, 4, 8)
    by_id = {str(r[0]): r for r in rows}
    plan = Plan()
    for n in map(str, range(1, 25)):
        r = list(by_id[n])
        if n == "4":
            r[3] = r[3].replace(
                "成立总规模50亿元的自创区科技成果转化基金", "设立总规模50亿元的科技成果转化基金"
            )
            plan.add([n], r, "文字小改")
        elif n == "9":
            r[4] = "政策规划处\n创新平台与合作处"
            plan.add([n], r, "牵头单位改变（随插入改号）")
        elif n == "10":
            r[6], r[7] = "建成仪器设备共享平台，入网仪器3000台（套）。", "入网仪器5000台（套）。"
            plan.add([n], r, "目标改变")
        elif n == "12":
            a, b = list(r), list(r)
            a[2], a[3] = (
                "加快颠覆性技术攻关",
                "启动实施未来产业培育计划，在空天海洋、人工智能等未来产业开展前沿性、颠覆性技术攻关。",
            )
            b[2], b[3] = "承接国家重点研发成果转化", r[3].split("颠覆性技术攻关。", 1)[1]
            plan.add([n], a, "拆分")
            plan.add([n], b, "拆分")
        elif n == "15":
            plan.retired.append(("撤销", n))
        elif n == "18":
            r[2] = "引育高端创新人才"
            r[3] = r[3] + by_id["19"][3]
            plan.add(["18", "19"], r, "合并")
        elif n == "19":
            continue
        elif n == "21":
            r[4] = "创新平台与合作处\n外国专家局\n政策规划处"
            plan.add([n], r, "增加配合单位")
        elif n == "23":
            r[2] = "深化科技领域“放管服”改革"
            r[3] = (
                "推行科技政务服务“一网通办”，科技项目申报、评审、验收全程网上办理，精简申报材料，缩短办理时间。"
            )
            plan.add([n], r, "文字大改")
        else:
            plan.add([n], r)
        if n == "6":
            new = list(r)
            new[2], new[3] = (
                "建设概念验证中心",
                "支持高校院所和龙头企业建设概念验证中心，打通科技成果转化“最初一公里”。",
            )
            new[4], new[5], new[6], new[7] = (
                "创新平台与合作处",
                "",
                "建成概念验证中心5家",
                "建成概念验证中心10家",
            )
            plan.add([], new, "插入新任务（其后全部改号）")
    out = [["附件4"] + [None] * 7, ["重点任务清单（修订）"] + [None] * 7,
           ["序号", "重点任务", "主要内容", "主要任务", "责任处室", "2019年\n目标", "2022年\n目标", "2025年\n目标"]]  # fmt: skip
    for number, e in enumerate(plan.entries, start=1):
        e.new = str(number)
        out.append([e.new, *e.cells[1:]])
    name = "bundled-revised.xlsx"
    xlsx_here(
        name,
        out,
        ["A1:H1", "A2:H2"],
        {"A": 6, "B": 12, "C": 20, "D": 50, "E": 16, "F": 20, "G": 20, "H": 20},
    )
    plan.truth(name, base)


def xlsx_here(
    name: str, rows: list[list[Any]], merges: list[str], widths: dict[str, float]
) -> None:
    made = xlsx(name, rows, merges, widths)  # written beside the registers
    made.replace(HERE / name)


# 3. A county's 民生实事 table (sub-rows under each project, merged down), revised: a
#    measure dropped, one added under another project (which now has sub-rows), a deadline
#    moved, a figure changed, a unit added, two measures made one, a lead handed over, and
#    a project inserted before the last two.
def county() -> None:
    base = "county-minsheng.xlsx"
    rows = _table_rows(REGISTERS / base, 5, 7)
    items = [r for r in rows if r[2] and r[2] != r[1]]
    ids = ["1-1", "1-2", "1-3", "2", "3-1", "3-2", "4", "5-1", "5-2", "6"]
    by_id = dict(zip(ids, items, strict=True))
    plan = Plan()
    groups: list[tuple[str, list[Entry]]] = []

    def item(entries: list[tuple[list[str], list[Any], str]]) -> None:
        start = len(plan.entries)
        for old, row, what in entries:
            plan.add(old, row, what)
        groups.append(("", plan.entries[start:]))

    r = by_id
    item([(["1-1"], r["1-1"], ""), (["1-2"], r["1-2"], "")])
    plan.retired.append(("撤销一项措施", "1-3"))
    two_new = list(r["2"])
    two_new[2], two_new[6] = "新建乡镇中心幼儿园2所。", "2024年12月底"
    item(
        [
            (["2"], r["2"], "原项目下增加措施（原任务改号）"),
            ([], two_new, "原项目下增加措施（新措施）"),
        ]
    )
    three_1 = list(r["3-1"])
    three_1[6] = "2024年12月底"
    three_2 = list(r["3-2"])
    three_2[2] = "为65岁以上老年人免费体检4.5万人次。"
    item([(["3-1"], three_1, "完成时限改变"), (["3-2"], three_2, "数字改变")])
    new_item = [
        None,
        "农村养老服务提升",
        "建成农村互助养老服务站20个。",
        "县民政局",
        "各乡镇人民政府",
        "李四",
        "2024年12月底",
    ]
    item([([], new_item, "插入新项目（其后改号）")])
    four = list(r["4"])
    four[4] = "县财政局、县交通运输局、县应急管理局"
    item([(["4"], four, "增加责任单位")])
    five = list(r["5-1"])
    five[2] = "改造老旧小区18个、加装电梯30部，惠及居民3200户。"
    item([(["5-1", "5-2"], five, "两项措施合并")])
    six = list(r["6"])
    six[3] = "县住建局"
    six[4] = "县交通运输局、各乡镇人民政府"
    item([(["6"], six, "牵头单位改变")])
    out: list[list[Any]] = [["附件"], ["XX县2024年民生实事目标任务分解表（修订）"],
                            ["序号", "项目名称", "目标任务", "牵头单位", "责任单位", "责任领导", "完成时限"]]  # fmt: skip
    merges = ["A1:G1", "A2:G2"]
    for number, (_, entries) in enumerate(groups, start=1):
        top = len(out) + 1
        for k, e in enumerate(entries, start=1):
            e.new = f"{number}-{k}" if len(entries) > 1 else str(number)
            row = list(e.cells)
            row[0] = number if k == 1 else None
            if k > 1:
                row[1] = row[3] = row[4] = row[5] = None
            out.append(row)
        if len(entries) > 1:
            bottom = top + len(entries) - 1
            merges += [f"{c}{top}:{c}{bottom}" for c in "ABDEF"]
    name = "county-minsheng-revised.xlsx"
    xlsx_here(name, out, merges, {"A": 6, "B": 18, "C": 40, "D": 14, "E": 20, "F": 8, "G": 14})
    plan.truth(name, base)


def _word_table(name: str, title: str, header: list[str], rows: list[list[str]],
                merges: list[tuple[int, int, tuple[int, ...]]]) -> None:  # fmt: skip
    document = _base_document()
    document.add_paragraph(title)
    table = _docx_table(document, header, rows)
    for first, last, cols in merges:
        for col in cols:
            text = table.cell(first, col).text
            table.cell(first, col).merge(table.cell(last, col)).text = text
    document.add_paragraph("注：各牵头单位每季度末报送进展。")
    document.save(str(HERE / name))


# 4. The city's 民生实事 Word table (merged cells), revised: the first two projects swap
#    places (every sub-row renumbered), a measure dropped and another added in its
#    project, a light rewording, a lead handed over with a unit added, a heavy rewording,
#    and a new project.
def minsheng_word() -> None:
    base = "minsheng-table.docx"
    plan = Plan()
    care = [
        (["2-1"], ["养老服务", "新建社区嵌入式养老服务中心10家。", "市民政局", "市卫健委", "2024年11月"], "项目调换位置（改号）"),
        (["2-3"], ["养老服务", "培训养老护理员2000人次。", "市民政局", "市卫健委", "2024年12月"], "项目调换位置（前项撤销后改号）"),
        ([], ["养老服务", "建设老年助餐点100个。", "市民政局", "市卫健委", "2024年12月"], "项目下新增措施"),
    ]  # fmt: skip
    plan.retired.append(("撤销一项措施", "2-2"))
    city = [
        (["1-1"], ["城市更新", "改造老旧小区50个。", "市住建局", "市财政局、各区人民政府", "2024年12月"], "项目调换位置（改号，文字未改）"),
        (["1-2"], ["城市更新", "新增公共停车泊位3500个，缓解停车难。", "市住建局", "市财政局、各区人民政府", "2024年10月"], "文字小改"),
    ]  # fmt: skip
    food = [
        (["3"], ["食品安全", "在农贸市场和大型商超新建食品快检室20个，实现快检结果公示。", "市商务局",
                 "市市场监管局、各区人民政府", "2024年9月"], "牵头单位改变并文字大改"),
    ]  # fmt: skip
    water = [([], ["城乡供水", "完成城乡供水一体化改造，新增受益人口5万人。", "市水利局", "各区人民政府", "2024年12月"], "新增项目")]  # fmt: skip
    rows: list[list[str]] = []
    merges: list[tuple[int, int, tuple[int, ...]]] = []
    for number, project in enumerate((care, city, food, water), start=1):
        top = len(rows) + 1
        for k, (old, cells, what) in enumerate(project, start=1):
            plan.add(old, cells, what)
            plan.entries[-1].new = f"{number}-{k}" if len(project) > 1 else str(number)
            if k == 1:
                rows.append([str(number), *cells])
            else:
                rows.append(["", "", cells[1], "", "", cells[4]])
        if len(project) > 1:
            merges.append((top, top + len(project) - 1, (0, 1, 3, 4)))
    # the lead of 食品安全 changed while its words were rewritten: two edits of one task
    name = "minsheng-table-revised.docx"
    _word_table(name, "XX市2024年十大民生实事项目分解表（修订稿）",
                ["序号", "项目名称", "具体内容", "牵头单位", "配合单位", "完成时间"], rows, merges)  # fmt: skip
    plan.truth(name, base)


# 5. The city's 责任分工 Word tables (roles inside the 责任单位 cell, split over two
#    tables), revised: the first two tasks swap, one reworded and the other given a unit;
#    a task retired and an unrelated one added with the same lead; a lead handed over; a
#    task much expanded; two new tasks.
def city_word() -> None:
    base = "city-fengong.docx"
    plan = Plan()
    one = [
        (["2"], ["推进城市地下管网更新改造。", "市住房城乡建设局牵头，市水务局、市城市管理局配合"], "调换位置并增加配合单位"),
        (["1"], ["实施重大项目攻坚行动，年内新开工重大项目120个。", "市发展改革委牵头，市自然资源局、市生态环境局配合"], "调换位置并文字小改"),
    ]  # fmt: skip
    plan.retired.append(("撤销", "3"))
    two = [
        ([], ["培育国际消费中心城市，打造特色商业街区5条。", "市商务局牵头，各区县人民政府配合"], "新增（同一牵头单位）"),
        (["4"], ["培育夜间经济集聚区10个。", "市文化和旅游局牵头，市商务局配合"], "牵头单位改变"),
    ]  # fmt: skip
    three = [
        (["5"], ["全年新增城镇就业6万人以上，城镇调查失业率控制在5.5%以内，零就业家庭动态清零。",
                 "牵头单位：市人力资源社会保障局；责任单位：各区县人民政府"], "文字大改（扩充）"),
        ([], ["开展职业技能培训10万人次。", "市人力资源社会保障局负责"], "新增"),
        ([], ["新建改建城市公园20个。", "市园林局负责"], "新增（末尾）"),
    ]  # fmt: skip
    document = _base_document()
    document.add_paragraph("附件")
    document.add_paragraph("XX市人民政府关于2024年重点任务责任分工的通知（修订）")
    number = 0
    for group, tasks in (
        ("一、扩大有效投资", one),
        ("二、激发消费活力", two),
        ("三、保障和改善民生", three),
    ):
        rows = [[group, "", ""]]
        for old, cells, what in tasks:
            number += 1
            plan.add(old, cells, what)
            plan.entries[-1].new = str(number)
            rows.append([str(number), *cells])
        table = _docx_table(document, ["序号", "重点任务", "责任单位"], rows)
        table.cell(1, 0).merge(table.cell(1, 2)).text = group
        document.add_paragraph("")
    name = "city-fengong-revised.docx"
    document.save(str(HERE / name))
    plan.truth(name, base)


if __name__ == "__main__":
    guofa()
    bundled()
    county()
    minsheng_word()
    city_word()
