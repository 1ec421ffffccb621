"""Writes the register corpus in this folder, and beside each file the truth it must read as.

Run by hand (`python tests/data/registers/make_registers.py`) when a register is added;
the files are committed. The truth is written here by hand, from the layout each file is
built with, never from what xlflow reads. The .xls and .ods copies are made by
LibreOffice (`soffice` must be installed to remake them).

Each layout is one that offices publish and that xlflow once failed to read:
sub-rows under one item, roles written inside one cell, two-level headers, a task whose
text runs over two rows, Word tables split across pages, and Word documents with no
table at all.
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import docx
import openpyxl
from docx.shared import Pt
from openpyxl.styles import Alignment, Border, Side

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]


def truth(
    name: str,
    tasks: list[tuple[str, str, list[str], list[str]]],
    office: str,
    settings: dict[str, Any] | None = None,
    texts: dict[str, list[str]] | None = None,
) -> None:
    """tasks: (id, group, leads, co-operating units); texts: id -> text its form must show."""
    groups: list[str] = []
    units: list[str] = []
    for _, group, lead, coop in tasks:
        if group not in groups:
            groups.append(group)
        for u in lead + coop:
            if u not in units:
                units.append(u)
    leads = sorted({u for _, _, lead, _ in tasks for u in lead})
    data = {
        "tasks": [
            {"id": i, "group": g, "lead": lead, "cooperating": coop} for i, g, lead, coop in tasks
        ],
        "groups": groups,
        "units": units,
        "leads": leads,
        "office": office,
        "settings": settings or {},
        "texts": texts or {},
    }
    (HERE / f"{name}.json").write_text(
        json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )


def xlsx(name: str, rows: list[list[Any]], merges: list[str], widths: dict[str, float]) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Sheet1"
    for row in rows:
        ws.append(row)
    for m in merges:
        ws.merge_cells(m)
    for col, width in widths.items():
        ws.column_dimensions[col].width = width
    # borders and a landscape page, so the picture in docs/registers.md shows the layout
    thin = Side(style="thin")
    for row in ws.iter_rows():
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="center")
            cell.border = Border(left=thin, right=thin, top=thin, bottom=thin)
    for r, row in enumerate(rows, start=1):
        lines = 1
        for c, value in enumerate(row):
            letter = openpyxl.utils.get_column_letter(c + 1)
            width = widths.get(letter, 10)
            if value is not None and ws.cell(r, c + 1).coordinate not in ws.merged_cells:
                lines = max(lines, -(-len(str(value)) * 2 // int(width)))
        ws.row_dimensions[r].height = 15 * lines + 2
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    path = HERE / name
    wb.save(path)
    return path


# 1. A county's 民生实事目标任务分解表: each project has several measures on sub-rows; its
#    序号, name, units and leader are merged down over them. Section rows give the groups.
def county_minsheng() -> None:
    rows: list[list[Any]] = [
        ["附件"],
        ["XX县2024年民生实事目标任务分解表"],
        ["序号", "项目名称", "目标任务", "牵头单位", "责任单位", "责任领导", "完成时限"],
        ["一、教育事业"],
        [1, "新建改扩建中小学校", "新建城东小学，新增学位1080个。", "县教育局", "县发改局、县住建局。", "张三", "2024年8月底"],
        [None, None, "改扩建县第二中学教学楼，新增学位600个。", None, None, None, "2024年12月底"],
        [None, None, "完成12所乡镇学校食堂改造。", None, None, None, "2024年10月底"],
        [2, "普惠性幼儿园扩容", "新增普惠性学位900个。", "县教育局", "各乡镇人民政府", "张三", "2024年9月底"],
        ["二、医疗卫生"],
        [3, "基层医疗服务能力提升", "建成县域医共体信息平台。", "县卫健委", "县医保局等部门", "李四", "2024年11月底"],
        [None, None, "为65岁以上老年人免费体检4万人次。", None, None, None, "2024年12月底"],
        [4, "120急救网络建设", "新建急救站点3个。", "县卫健委", "县财政局， 县交通运输局", "李四", "2024年10月底"],
        ["三、城乡建设"],
        [5, "老旧小区改造", "改造老旧小区18个，惠及居民3200户。", "县住建局", "县财政局、各街道", "王五", "2024年12月底"],
        [None, None, "加装电梯30部。", None, None, None, "2024年12月底"],
        [6, "农村公路提升", "改造提升农村公路60公里。", "县交通运输局。", "各乡镇人民政府", "王五", "2024年11月底"],
    ]  # fmt: skip
    merges = [
        "A1:G1", "A2:G2", "A4:G4", "A9:G9", "A13:G13",
        "A5:A7", "B5:B7", "D5:D7", "E5:E7", "F5:F7",
        "A10:A11", "B10:B11", "D10:D11", "E10:E11", "F10:F11",
        "A14:A15", "B14:B15", "D14:D15", "E14:E15", "F14:F15",
    ]  # fmt: skip
    path = xlsx(
        "county-minsheng.xlsx",
        rows,
        merges,
        {"A": 6, "B": 18, "C": 40, "D": 14, "E": 20, "F": 8, "G": 14},
    )
    edu, med, city = "一、教育事业", "二、医疗卫生", "三、城乡建设"
    tasks = [
        ("1-1", edu, ["县教育局"], ["县发改局", "县住建局"]),
        ("1-2", edu, ["县教育局"], ["县发改局", "县住建局"]),
        ("1-3", edu, ["县教育局"], ["县发改局", "县住建局"]),
        ("2", edu, ["县教育局"], ["各乡镇人民政府"]),
        ("3-1", med, ["县卫健委"], ["县医保局"]),
        ("3-2", med, ["县卫健委"], ["县医保局"]),
        ("4", med, ["县卫健委"], ["县财政局", "县交通运输局"]),
        ("5-1", city, ["县住建局"], ["县财政局", "各街道"]),
        ("5-2", city, ["县住建局"], ["县财政局", "各街道"]),
        ("6", city, ["县交通运输局"], ["各乡镇人民政府"]),
    ]
    texts = {
        "1-1": ["新建城东小学，新增学位1080个。", "2024年8月底"],
        "1-2": ["改扩建县第二中学教学楼，新增学位600个。", "2024年12月底"],
        "1-3": ["完成12所乡镇学校食堂改造。", "2024年10月底"],
        "3-2": ["为65岁以上老年人免费体检4万人次。"],
        "5-2": ["加装电梯30部。"],
    }
    truth("county-minsheng.xlsx", tasks, "XX县", texts=texts)
    convert(path, "xls")
    truth("county-minsheng.xls", tasks, "XX县", texts=texts)


# 2. A district bureau's 政府工作报告重点工作任务分解表: a merged 工作类别, 牵头单位 and
#    协同配合单位 columns, a leader's name and a deadline; units as people type them.
def district_gzbg() -> None:
    rows: list[list[Any]] = [
        ["XX区发展和改革局2024年政府工作报告重点工作任务分解表"],
        ["序号", "工作类别", "重点工作", "牵头单位", "协同配合单位", "区政府分管领导", "完成时限"],
        [1, "稳增长", "全年地区生产总值增长6%左右。", "区发改局", "区统计局、区财政局", "陈副区长", "2024年12月"],
        [2, None, "固定资产投资增长8%，完成重大项目投资120亿元。", "区发改局", "区住建局，区自然资源局", "陈副区长", "2024年12月"],
        [3, None, "社会消费品零售总额增长7%。", "区商务局。", "区市场监管局等部门", "陈副区长", "2024年12月"],
        [4, "促改革", "深化“一件事一次办”改革，新增集成服务事项20项。", "区行政审批局", "区司法局、区大数据中心", "刘副区长", "2024年10月"],
        [5, None, "完成区属国企整合重组。", "区国资办、区财政局", "", "刘副区长", "2024年11月"],
        [6, "惠民生", "新增城镇就业5000人。", "区人社局", "各街道", "王副区长", "2024年12月"],
        [7, None, "提升改造农贸市场4个。", "区商务局", "区市场 监管局，各街道", "王副区长", "2024年9月"],
    ]  # fmt: skip
    merges = ["A1:G1", "B3:B5", "B6:B7", "B8:B9"]
    xlsx(
        "district-gzbg.xlsx",
        rows,
        merges,
        {"A": 6, "B": 10, "C": 40, "D": 16, "E": 22, "F": 12, "G": 12},
    )
    tasks = [
        ("1", "稳增长", ["区发改局"], ["区统计局", "区财政局"]),
        ("2", "稳增长", ["区发改局"], ["区住建局", "区自然资源局"]),
        ("3", "稳增长", ["区商务局"], ["区市场监管局"]),
        ("4", "促改革", ["区行政审批局"], ["区司法局", "区大数据中心"]),
        ("5", "促改革", ["区国资办", "区财政局"], []),
        ("6", "惠民生", ["区人社局"], ["各街道"]),
        ("7", "惠民生", ["区商务局"], ["区市场监管局", "各街道"]),
    ]
    truth("district-gzbg.xlsx", tasks, "XX区发展和改革局")


# 3. A monthly 重点工作落实情况 extract: roles written inside one 责任单位 cell, a 类别 typed
#    on every row, a 责任人, a 时间节点, and a 进展情况 column that must not clash with the form.
def monthly_extract() -> None:
    rows: list[list[Any]] = [
        ["2024年5月重点工作落实情况"],
        ["报送单位：XX市人民政府办公室督查科"],
        ["序号", "类别", "重点工作", "责任单位", "责任人", "时间节点", "进展情况", "备注"],
        [1, "项目建设", "推进城市轨道交通二期工程。", "市发改委（牵头）、市住建局", "赵某", "2024年6月", "已完成可研批复", ""],
        [2, "项目建设", "加快东部新城综合管廊建设。", "市住建局牵头，市城管局、市水务局配合", "钱某", "2024年9月", "管廊主体完成40%", ""],
        [3, "营商环境", "推行企业开办“零成本”。", "牵头：市市场监管局；配合：市税务局、市人社局", "孙某", "2024年7月", "已出台实施细则", ""],
        [4, "营商环境", "开展政务服务“好差评”。", "市政务服务办", "李某", "2024年12月", "", "按月通报"],
        [5, "生态环境", "完成PM2.5年均浓度控制目标。", "市生态环境局、市发改委（牵头），市交通局", "周某", "2024年12月", "", ""],
        [6, "生态环境", "推进长江岸线整治。", "市水务局，市自然资源局，市农业农村局", "吴某", "2024年10月", "", ""],
    ]  # fmt: skip
    xlsx(
        "monthly-extract.xlsx",
        rows,
        ["A1:H1", "A2:H2"],
        {"A": 6, "B": 10, "C": 34, "D": 30, "E": 8, "F": 10, "G": 18, "H": 10},
    )
    tasks = [
        ("1", "项目建设", ["市发改委"], ["市住建局"]),
        ("2", "项目建设", ["市住建局"], ["市城管局", "市水务局"]),
        ("3", "营商环境", ["市市场监管局"], ["市税务局", "市人社局"]),
        ("4", "营商环境", ["市政务服务办"], []),
        ("5", "生态环境", ["市生态环境局", "市发改委"], ["市交通局"]),
        ("6", "生态环境", ["市水务局"], ["市自然资源局", "市农业农村局"]),
    ]
    truth("monthly-extract.xlsx", tasks, "")


# 4. A development zone's 重点工作及责任清单: two-level headers (责任单位 over 牵头单位 and
#    配合单位; 目标 over 2024年 and 2025年), section rows, and a task over two rows.
def devzone_list() -> Path:
    rows: list[list[Any]] = [
        ["XX经济开发区管委会2024年重点工作及责任清单"],
        ["序号", "重点工作", "责任单位", None, "目标", None, "责任领导"],
        [None, None, "牵头单位", "配合单位", "2024年", "2025年", None],
        ["一、产业发展", None, None, None, None, None, None],
        [1, "加快推进智能制造产业园二期建设，力争年底前完成主体工程", "经发局", "规划建设局", "主体完工", "投产运营", "周主任"],
        [None, "并启动设备安装调试。", None, None, None, None, None],
        [2, "引进亿元以上产业项目。", "招商局", "经发局、财政局", "10个", "15个", "吴主任"],
        ["二、城市建设", None, None, None, None, None, None],
        [3, "建成园区污水处理厂提标改造工程。", "规划建设局", "生态环境分局", "完成提标", "稳定运行", "郑主任"],
        [4, "新建人才公寓500套。", "规划建设局，社会事业局", "", "开工", "交付使用", "郑主任"],
    ]  # fmt: skip
    merges = ["A1:G1", "A2:A3", "B2:B3", "C2:D2", "E2:F2", "G2:G3", "A4:G4", "A8:G8"]
    path = xlsx(
        "devzone-list.xlsx",
        rows,
        merges,
        {"A": 6, "B": 40, "C": 14, "D": 16, "E": 12, "F": 12, "G": 10},
    )
    one, two = "一、产业发展", "二、城市建设"
    tasks = [
        ("1", one, ["经发局"], ["规划建设局"]),
        ("2", one, ["招商局"], ["经发局", "财政局"]),
        ("3", two, ["规划建设局"], ["生态环境分局"]),
        ("4", two, ["规划建设局", "社会事业局"], []),
    ]
    texts = {"1": ["加快推进智能制造产业园二期建设，力争年底前完成主体工程并启动设备安装调试。"]}
    truth("devzone-list.xlsx", tasks, "XX经济开发区管委会", texts=texts)
    convert(path, "ods")
    truth("devzone-list.ods", tasks, "XX经济开发区管委会", texts=texts)
    return path


def _docx_table(document: Any, header: list[str], rows: list[list[str]]) -> Any:
    table = document.add_table(rows=1 + len(rows), cols=len(header))
    table.style = "Table Grid"
    for i, text in enumerate(header):
        table.cell(0, i).text = text
    for r, row in enumerate(rows, start=1):
        for c, text in enumerate(row):
            table.cell(r, c).text = text
    return table


def _base_document() -> Any:
    document = docx.Document()
    style = document.styles["Normal"]
    style.font.size = Pt(10.5)
    return document


# 5. A 民生实事 分解表 as a Word table: merged cells (序号, project, units) that python-docx
#    repeats on every row they cover.
def minsheng_docx() -> None:
    document = _base_document()
    document.add_paragraph("XX市2024年十大民生实事项目分解表")
    header = ["序号", "项目名称", "具体内容", "牵头单位", "配合单位", "完成时间"]
    rows = [
        ["1", "城市更新", "改造老旧小区50个。", "市住建局", "市财政局、各区人民政府", "2024年12月"],
        ["", "", "新增公共停车泊位3000个。", "", "", "2024年10月"],
        ["2", "养老服务", "新建社区嵌入式养老服务中心10家。", "市民政局", "市卫健委", "2024年11月"],
        ["", "", "为困难老年人家庭适老化改造1000户。", "", "", "2024年12月"],
        ["", "", "培训养老护理员2000人次。", "", "", "2024年12月"],
        ["3", "食品安全", "新增农贸市场快检室20个。", "市市场监管局", "各区人民政府等单位", "2024年9月"],
    ]  # fmt: skip
    table = _docx_table(document, header, rows)
    for first, last in ((1, 2), (3, 5)):
        for col in (0, 1, 3, 4):
            text = table.cell(first, col).text
            merged = table.cell(first, col).merge(table.cell(last, col))
            merged.text = text
    document.add_paragraph("注：各牵头单位每季度末报送进展。")
    document.save(str(HERE / "minsheng-table.docx"))
    tasks = [
        ("1-1", "", ["市住建局"], ["市财政局", "各区人民政府"]),
        ("1-2", "", ["市住建局"], ["市财政局", "各区人民政府"]),
        ("2-1", "", ["市民政局"], ["市卫健委"]),
        ("2-2", "", ["市民政局"], ["市卫健委"]),
        ("2-3", "", ["市民政局"], ["市卫健委"]),
        ("3", "", ["市市场监管局"], ["各区人民政府"]),
    ]
    texts = {
        "1-2": ["新增公共停车泊位3000个。"],
        "2-2": ["为困难老年人家庭适老化改造1000户。"],
        "2-3": ["培训养老护理员2000人次。"],
    }
    truth("minsheng-table.docx", tasks, "XX市", texts=texts)


# 6. A city's 重点任务责任分工表 in Word: roles inside the 责任单位 cell, section rows merged
#    across the table, and the table split across pages (a second table, same header).
def city_fengong_docx() -> None:
    document = _base_document()
    document.add_paragraph("附件")
    document.add_paragraph("XX市人民政府关于2024年重点任务责任分工的通知")
    header = ["序号", "重点任务", "责任单位"]
    first = [
        ["一、扩大有效投资", "", ""],
        [
            "1",
            "实施重大项目攻坚行动，年内开工项目100个。",
            "市发展改革委牵头，市自然资源局、市生态环境局配合",
        ],
        ["2", "推进城市地下管网更新改造。", "市住房城乡建设局、市水务局负责"],
        ["二、激发消费活力", "", ""],
        ["3", "举办“消费季”系列活动。", "市商务局牵头，各区县人民政府配合"],
    ]
    second = [
        ["4", "培育夜间经济集聚区10个。", "市商务局、市文化和旅游局等有关部门负责"],
        ["三、保障和改善民生", "", ""],
        ["5", "新增城镇就业6万人。", "牵头单位：市人力资源社会保障局；责任单位：各区县人民政府"],
    ]
    for rows in (first, second):
        table = _docx_table(document, header, rows)
        for r, row in enumerate(rows, start=1):
            if not row[1]:
                text = row[0]
                table.cell(r, 0).merge(table.cell(r, 2)).text = text
        document.add_paragraph("")
    document.save(str(HERE / "city-fengong.docx"))
    one, two, three = "一、扩大有效投资", "二、激发消费活力", "三、保障和改善民生"
    tasks = [
        ("1", one, ["市发展改革委"], ["市自然资源局", "市生态环境局"]),
        ("2", one, ["市住房城乡建设局"], ["市水务局"]),
        ("3", two, ["市商务局"], ["各区县人民政府"]),
        ("4", two, ["市商务局"], ["市文化和旅游局"]),
        ("5", three, ["市人力资源社会保障局"], ["各区县人民政府"]),
    ]
    truth("city-fengong.docx", tasks, "XX市人民政府")


# 7. A district's 重点工作任务分解和责任分工方案: no table; numbered tasks, each followed by
#    lines naming its units, leader and deadline. Preamble and closing are not tasks.
def district_fangan_docx() -> None:
    document = _base_document()
    lines = [
        "XX区2024年重点工作任务分解和责任分工方案",
        "为全面完成区第十届人大三次会议确定的目标任务，现将重点工作分解如下：",
        "一、经济社会发展的主要预期目标",
        "1.推动规模以上工业增加值增长6%左右。",
        "牵头单位：区工信局",
        "责任单位：高新区管委会，各街道",
        "责任领导：李副区长",
        "完成时限：2024年12月底",
        "2.一般公共预算收入增长5%。",
        "牵头单位：区财政局",
        "责任单位：区税务局",
        "责任领导：张副区长",
        "完成时限：2024年12月底",
        "二、重点工作任务",
        "3.开展“招商引资突破年”活动，引进超亿元项目30个。",
        "牵头单位：区投资促进中心；责任单位：区商务局、区发改局。",
        "4.完成城中村改造2个，",
        "新建保障性租赁住房1000套。",
        "牵头单位：区住建局",
        "配合单位：区自然资源局，区城投集团",
        "完成时限：2024年11月底",
        "三、工作要求",
        "各责任单位要细化工作措施，每月5日前报送上月进展情况。",
        "1.加强组织领导。",
        "2.严格督查考核。",
    ]
    for line in lines:
        document.add_paragraph(line)
    document.save(str(HERE / "district-fangan.docx"))
    one, two = "一、经济社会发展的主要预期目标", "二、重点工作任务"
    tasks = [
        ("1", one, ["区工信局"], ["高新区管委会", "各街道"]),
        ("2", one, ["区财政局"], ["区税务局"]),
        ("3", two, ["区投资促进中心"], ["区商务局", "区发改局"]),
        ("4", two, ["区住建局"], ["区自然资源局", "区城投集团"]),
    ]
    texts = {"4": ["完成城中村改造2个，新建保障性租赁住房1000套"]}
    truth("district-fangan.docx", tasks, "XX区", texts=texts)


# 8. A State Council style 意见 written here, with the other ways units appear inline:
#    （A牵头，B、C配合）, （A负责）, （… 等有关部门负责）, and numbering that restarts per part.
def state_council_docx() -> None:
    document = _base_document()
    lines = [
        "国务院办公厅关于进一步优化营商环境的若干意见",
        "各省、自治区、直辖市人民政府，国务院各部委、各直属机构：",
        "为持续优化营商环境，经国务院同意，现提出以下意见。",
        "一、提升市场准入便利度",
        "1.全面实施市场准入负面清单制度。（发展改革委、商务部牵头，市场监管总局配合）",
        "2.推进企业开办全程网上办。（市场监管总局负责）",
        "二、优化涉企服务",
        "1.清理规范涉企收费。（发展改革委、财政部、工业和信息化部等有关部门负责）",
        "2.推行惠企政策“免申即享”。（国务院办公厅牵头，各有关部门配合）",
        "3.强化知识产权保护。（知识产权局负责）",
        "三、抓好组织实施",
        "各地区、各部门要提高认识，狠抓落实。",
        "国务院办公厅",
        "2024年3月1日",
    ]
    for line in lines:
        document.add_paragraph(line)
    document.save(str(HERE / "state-council-style.docx"))
    one, two = "一、提升市场准入便利度", "二、优化涉企服务"
    tasks = [
        ("1-1", one, ["发展改革委", "商务部"], ["市场监管总局"]),
        ("1-2", one, ["市场监管总局"], []),
        ("2-1", two, ["发展改革委"], ["财政部", "工业和信息化部"]),
        ("2-2", two, ["国务院办公厅"], ["各有关部门"]),
        ("2-3", two, ["知识产权局"], []),
    ]
    truth("state-council-style.docx", tasks, "国务院办公厅")


# 9. A GBK csv, as Excel on Chinese Windows saves one: measures on rows under an item whose
#    序号 is left blank, and a note saying that every unit before the first ， leads.
def gbk_csv() -> None:
    rows = [
        ["XX街道2024年为民办实事项目清单", "", "", "", ""],
        ["注：责任单位中，逗号前的单位为牵头单位，顿号连接的单位同为一组。", "", "", "", ""],
        ["序号", "项目", "具体措施", "责任单位", "完成时限"],
        ["1", "社区养老", "建成社区食堂2家", "民政办、社会事务办，各社区", "2024年9月"],
        ["", "", "开展助老服务500人次", "", "2024年12月"],
        ["2", "平安建设", "新增监控点位80个", "综治中心，派出所、各社区", "2024年10月"],
        ["3", "环境整治", "完成背街小巷整治12条", "城管办，环卫所", "2024年11月"],
    ]
    with open(HERE / "street-projects-gbk.csv", "w", encoding="gb18030", newline="") as fh:
        csv.writer(fh).writerows(rows)
    tasks = [
        ("1-1", "", ["民政办", "社会事务办"], ["各社区"]),
        ("1-2", "", ["民政办", "社会事务办"], ["各社区"]),
        ("2", "", ["综治中心"], ["派出所", "各社区"]),
        ("3", "", ["城管办"], ["环卫所"]),
    ]
    texts = {"1-2": ["开展助老服务500人次", "2024年12月"]}
    truth("street-projects-gbk.csv", tasks, "XX街道", {"lead_rule": "first_group"}, texts)


def shared_and_bundled() -> None:
    """The real State Council register from ../shared, and the bundled one."""
    shared = REPO.parent / "shared" / "registers" / "guofa-2019-3-zongbao.docx"
    if shared.is_file():
        shutil.copyfile(shared, HERE / "guofa-2019-3-zongbao.docx")
    g = ["（一）统筹两个市场，打造加工制造中心", "（二）推动创新创业，打造研发设计中心",
         "（三）推进贸易便利化，打造物流分拨中心", "（四）延伸产业链条，打造检测维修中心",
         "（五）培育新动能新优势，打造销售服务中心"]  # fmt: skip
    hg, cz, sw, sb, fg = "海关总署", "财政部", "税务总局", "商务部", "发展改革委"
    tasks = [
        ("1", g[0], [sw], [cz, hg]),
        ("2", g[0], [hg], [cz, sw]),
        ("3", g[0], [hg], [sb]),
        ("4", g[0], [sb], [hg]),
        ("5", g[0], [hg], []),
        ("6", g[1], [hg], [sb]),
        ("7", g[1], [fg], ["科技部", hg]),
        ("8", g[1], ["市场监管总局"], [hg]),
        ("9", g[1], ["药监局"], [hg]),
        ("10", g[2], [hg], []),
        ("11", g[2], [hg], []),
        ("12", g[2], [fg], [hg]),
        ("13", g[2], [hg], ["文化和旅游部", "文物局"]),
        ("14", g[3], [sb], ["工业和信息化部", "生态环境部", hg]),
        ("15", g[3], [sb], [fg, "工业和信息化部", hg]),
        ("16", g[3], [hg], []),
        ("17", g[4], [hg], [cz, sw]),
        ("18", g[4], [sb], [hg]),
        ("19", g[4], [hg], [cz, sb]),
        ("20", g[4], [hg], ["证监会"]),
        ("21", g[4], [hg], [sb]),
    ]
    truth("guofa-2019-3-zongbao.docx", tasks, "国务院")
    shutil.copyfile(REPO / "templates" / "key-task-list.xlsx", HERE / "bundled-key-task-list.xlsx")
    # from ../shared/seeds/key-task-list.txt: the 责任处室 cell of each task, first one leads
    units = {
        "1": ["高新技术及产业化处"], "2": ["资源配置与诚信建设处"], "3": ["资源配置与诚信建设处"],
        "4": ["资源配置与诚信建设处"], "5": ["政策规划处", "创新平台与合作处"],
        "6": ["创新平台与合作处", "政策规划处"], "7": ["创新平台与合作处"],
        "8": ["创新平台与合作处"], "9": ["创新平台与合作处"], "10": ["资源配置与诚信建设处"],
        "11": ["高新技术及产业化处", "农村与社会发展科技处"],
        "12": ["高新技术及产业化处", "农村与社会发展科技处"], "13": ["高新技术及产业化处"],
        "14": ["高新技术及产业化处"], "15": ["高新技术及产业化处"], "16": ["高新技术及产业化处"],
        "17": ["外国专家局"], "18": ["外国专家局"], "19": ["外国专家局"],
        "20": ["创新平台与合作处"], "21": ["创新平台与合作处", "外国专家局"],
        "22": ["资源配置与诚信建设处", "政策规划处"], "23": ["资源配置与诚信建设处"],
        "24": ["创新平台与合作处", "办公室"],
    }  # fmt: skip
    groups = [(1, "实施研发大投入"), (5, "建设创新大机构"), (11, "突破关键新技术"),
              (14, "培育发展新主体"), (17, "打造人才新梯队"), (20, "培植产业创新生态")]  # fmt: skip
    tasks = []
    for n in range(1, 25):
        group = [g for first, g in groups if first <= n][-1]
        names = units[str(n)]
        tasks.append((str(n), group, names[:1], names[1:]))
    truth("bundled-key-task-list.xlsx", tasks, "")


def convert(source: Path, fmt: str) -> None:
    soffice = shutil.which("soffice")
    if soffice is None:
        print(f"soffice not found: {source.name}.{fmt} not remade", file=sys.stderr)
        return
    filters = {"xls": "xls:MS Excel 97", "ods": "ods:calc8"}
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [soffice, f"-env:UserInstallation=file://{tmp}/p", "--headless", "--convert-to",
             filters[fmt], "--outdir", tmp, str(source)],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        shutil.move(str(Path(tmp) / f"{source.stem}.{fmt}"), HERE / f"{source.stem}.{fmt}")


if __name__ == "__main__":
    county_minsheng()
    district_gzbg()
    monthly_extract()
    devzone_list()
    minsheng_docx()
    city_fengong_docx()
    district_fangan_docx()
    state_council_docx()
    gbk_csv()
    shared_and_bundled()
