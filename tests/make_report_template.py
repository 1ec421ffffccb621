"""Build the bundled 通报 template (xlflow/bundled/通报模板.docx) with python-docx.

    python -m tests.make_report_template

The template is an ordinary Word document laid out as GB/T 9704-2012 asks (A4; margins
37/35/28/26 mm; 22 lines of 28 characters; title 2号 方正小标宋简体, body 3号 仿宋_GB2312,
headings 黑体 and 楷体_GB2312; page numbers 4号 `— 1 —` on the outer side), with Jinja2
fields for docxtpl. An office edits its copy (templates/通报模板.docx) in Word; this script
only makes the default. tests/test_report.py checks the bundled file is what it makes.
"""

from __future__ import annotations

import datetime as dt
import io
import sys
from pathlib import Path

import docx
from docx.enum.section import WD_SECTION
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.oxml import OxmlElement, parse_xml
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor
from lxml import etree

REPO = Path(__file__).resolve().parents[1]
BUNDLED = REPO / "xlflow" / "bundled" / "通报模板.docx"
COPY = REPO / "templates" / "通报模板.docx"

TITLE_FONT = "方正小标宋简体"
BODY_FONT = "仿宋_GB2312"
HEADING1_FONT = "黑体"
HEADING2_FONT = "楷体_GB2312"
NUMBER_FONT = "宋体"
# the font Word takes when the first is not installed (docs/report.md)
FALLBACK = {TITLE_FONT: "宋体", BODY_FONT: "仿宋", HEADING2_FONT: "楷体", HEADING1_FONT: "SimHei"}

BODY_SIZE = Pt(16)  # 3号
TITLE_SIZE = Pt(22)  # 2号
PAGE_NUMBER_SIZE = Pt(14)  # 4号
TABLE_SIZE = Pt(10.5)  # 5号
LINE = Pt(28.95)  # 225 mm of text height / 22 lines
RED = RGBColor(0xFF, 0x00, 0x00)
INDENT = Pt(32)  # two characters of 3号


def _fonts(rpr_owner: object, name: str) -> None:
    """Set a style's or run's font for Latin and East Asian text alike."""
    font = rpr_owner.font  # type: ignore[attr-defined]
    font.name = name
    rpr = rpr_owner.element.get_or_add_rPr()  # type: ignore[attr-defined]
    rpr.get_or_add_rFonts().set(qn("w:eastAsia"), name)


def _style(doc: docx.document.Document, name: str, font: str, size: Pt, base: str = "Normal"):  # type: ignore[no-untyped-def]
    styles = doc.styles
    style = styles[name] if name in [s.name for s in styles] else styles.add_style(name, 1)
    style.base_style = styles[base] if name != base else None
    _fonts(style, font)
    style.font.size = size
    style.font.bold = False
    style.font.color.rgb = RGBColor(0, 0, 0)
    pf = style.paragraph_format
    pf.space_before = Pt(0)
    pf.space_after = Pt(0)
    pf.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    pf.line_spacing = LINE
    return style


# the elements that follow w:spacing in a w:rPr, and w:snapToGrid and w:pBdr in a w:pPr
# (ECMA-376 sequence order: Word repairs a file whose elements are out of order)
_AFTER_SPACING = tuple(
    f"w:{t}"
    for t in [
        "w",
        "kern",
        "position",
        "sz",
        "szCs",
        "highlight",
        "u",
        "effect",
        "bdr",
        "shd",
        "fitText",
        "vertAlign",
        "rtl",
        "cs",
        "em",
        "lang",
        "eastAsianLayout",
        "specVanish",
        "oMath",
    ]
)
_AFTER_SNAP = tuple(
    f"w:{t}"
    for t in [
        "spacing",
        "ind",
        "contextualSpacing",
        "mirrorIndents",
        "suppressOverlap",
        "jc",
        "textDirection",
        "textAlignment",
        "textboxTightWrap",
        "outlineLvl",
        "divId",
        "cnfStyle",
        "rPr",
        "sectPr",
        "pPrChange",
    ]
)
_AFTER_BORDER = (
    *(
        f"w:{t}"
        for t in [
            "shd",
            "tabs",
            "suppressAutoHyphens",
            "kinsoku",
            "wordWrap",
            "overflowPunct",
            "topLinePunct",
            "autoSpaceDE",
            "autoSpaceDN",
            "bidi",
            "adjustRightInd",
            "snapToGrid",
        ]
    ),
    *_AFTER_SNAP,
)


def _condensed(style: object) -> None:
    """28 characters of 3号 to a line of 156 mm: each 0.25 pt narrower than its 16 pt."""
    spacing = OxmlElement("w:spacing")
    spacing.set(qn("w:val"), "-5")  # twentieths of a point
    rpr = style.element.get_or_add_rPr()  # type: ignore[attr-defined]
    rpr.insert_element_before(spacing, *_AFTER_SPACING)


def _chinese(doc: docx.document.Document) -> None:
    """Mark the text as Chinese, so a program without the fonts falls back to a Chinese one."""
    rpr = doc.styles.element.find(qn("w:docDefaults")).find(qn("w:rPrDefault")).find(qn("w:rPr"))
    lang = rpr.find(qn("w:lang"))
    if lang is None:
        lang = OxmlElement("w:lang")
        rpr.append(lang)
    lang.set(qn("w:eastAsia"), "zh-CN")


def _styles(doc: docx.document.Document) -> None:
    _chinese(doc)
    normal = _style(doc, "Normal", BODY_FONT, BODY_SIZE)
    _condensed(normal)
    normal.paragraph_format.first_line_indent = INDENT
    normal.paragraph_format.widow_control = True
    for name, font in (("Heading 1", HEADING1_FONT), ("Heading 2", HEADING2_FONT)):
        heading = _style(doc, name, font, BODY_SIZE)
        heading.font.italic = False
        heading.paragraph_format.first_line_indent = INDENT
        heading.paragraph_format.keep_with_next = True
        _condensed(heading)
        # a heading's theme font would win over the one named here
        rfonts = heading.element.rPr.rFonts
        for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
            rfonts.attrib.pop(qn(attr), None)
    title = _style(doc, "公文标题", TITLE_FONT, TITLE_SIZE)
    title.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    title.paragraph_format.first_line_indent = Pt(0)
    title.paragraph_format.line_spacing = Pt(36)
    mark = _style(doc, "发文机关标志", TITLE_FONT, Pt(42))
    mark.font.color.rgb = RED
    mark.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    mark.paragraph_format.first_line_indent = Pt(0)
    mark.paragraph_format.line_spacing = Pt(52)
    flush = _style(doc, "顶格", BODY_FONT, BODY_SIZE)
    flush.paragraph_format.first_line_indent = Pt(0)
    centred = _style(doc, "居中", BODY_FONT, BODY_SIZE)
    centred.paragraph_format.first_line_indent = Pt(0)
    centred.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    signed = _style(doc, "落款", BODY_FONT, BODY_SIZE)
    signed.paragraph_format.first_line_indent = Pt(0)
    signed.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    signed.paragraph_format.right_indent = Pt(64)  # four characters
    label = _style(doc, "附件标识", HEADING1_FONT, BODY_SIZE)
    label.paragraph_format.first_line_indent = Pt(0)
    for name, font, align in (
        ("表格文字", BODY_FONT, WD_ALIGN_PARAGRAPH.LEFT),
        ("表头", HEADING1_FONT, WD_ALIGN_PARAGRAPH.CENTER),
    ):
        cell = _style(doc, name, font, TABLE_SIZE)
        cell.paragraph_format.first_line_indent = Pt(0)
        cell.paragraph_format.alignment = align
        cell.paragraph_format.line_spacing_rule = WD_LINE_SPACING.SINGLE
        snap = OxmlElement("w:snapToGrid")
        snap.set(qn("w:val"), "0")
        cell.element.get_or_add_pPr().insert_element_before(snap, *_AFTER_SNAP)
    number = _style(doc, "页码", NUMBER_FONT, PAGE_NUMBER_SIZE)
    number.paragraph_format.first_line_indent = Pt(0)
    number.paragraph_format.line_spacing_rule = WD_LINE_SPACING.SINGLE


def _page(doc: docx.document.Document) -> None:
    section = doc.sections[0]
    section.start_type = WD_SECTION.NEW_PAGE
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(37), Mm(35)
    section.left_margin, section.right_margin = Mm(28), Mm(26)
    section.header_distance, section.footer_distance = Mm(15), Mm(28) - PAGE_NUMBER_SIZE
    # A grid of lines only: LibreOffice puts a character a hair wider than its cell of a
    # character grid into two cells, and the body would run 14 characters to a line. The
    # 28 characters come from the body's spacing instead (see _styles).
    grid = section._sectPr.find(qn("w:docGrid"))
    grid.set(qn("w:type"), "lines")
    grid.set(qn("w:linePitch"), "579")  # 28.95 pt in twips
    doc.settings.odd_and_even_pages_header_footer = True
    for footer, outer in (
        (section.footer, WD_ALIGN_PARAGRAPH.RIGHT),
        (section.even_page_footer, WD_ALIGN_PARAGRAPH.LEFT),
    ):
        footer.is_linked_to_previous = False
        p = footer.paragraphs[0]
        p.style = doc.styles["页码"]
        p.alignment = outer
        # one 全角 character between the number and the outer edge of the text (a space
        # at the end of a line would be dropped, so it is an indent)
        if outer is WD_ALIGN_PARAGRAPH.LEFT:
            p.paragraph_format.left_indent = PAGE_NUMBER_SIZE
        else:
            p.paragraph_format.right_indent = PAGE_NUMBER_SIZE
        p.add_run("— ")
        field = OxmlElement("w:fldSimple")
        field.set(qn("w:instr"), " PAGE ")
        run = OxmlElement("w:r")
        text = OxmlElement("w:t")
        text.text = "1"
        run.append(text)
        field.append(run)
        p._p.append(field)
        p.add_run(" —")


def _para(doc: docx.document.Document, text: str = "", style: str = "Normal") -> None:
    doc.add_paragraph(text, style=style)


def _red_line(doc: docx.document.Document) -> None:
    p = doc.add_paragraph("", style="顶格")
    border = parse_xml(
        '<w:pBdr xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        '<w:bottom w:val="single" w:sz="12" w:space="1" w:color="FF0000"/></w:pBdr>'
    )
    p._p.get_or_add_pPr().insert_element_before(border, *_AFTER_BORDER)


def _body(doc: docx.document.Document) -> None:
    _para(doc, "{{ office }}文件", "发文机关标志")
    _para(doc, "", "居中")
    _para(doc, "{{ document_number }}", "居中")
    _red_line(doc)
    _para(doc, "", "居中")
    _para(doc, "{{ title }}", "公文标题")
    _para(doc, "", "居中")
    _para(doc, "{{ recipients_line }}", "顶格")
    _para(
        doc,
        "现将{{ round.title }}重点任务推进情况通报如下。本通报的数字均取自{{ round.title }}汇总表"
        "（汇总时间{{ date }}）。",
    )
    _para(doc, "一、总体情况", "Heading 1")
    _para(
        doc,
        "{{ overall.sentence }}{% if overall.average_text %}已报完成进度的"
        "{{ overall.with_percent }}项任务，平均完成{{ overall.average_text }}。{% endif %}",
    )
    _para(doc, "二、报送情况", "Heading 1")
    _para(doc, "{{ returns.sentence }}报送时限为{{ round.deadline }}。")
    _para(doc, "{%p if explanations.count %}")
    _para(
        doc,
        "{{ explanations.sentence }}{% if explanations.explained %}各单位的说明："
        "{% for i in explanations.explained %}{{ i.division }}就“{{ i.task }}”{{ i.label }}说明"
        "“{{ i.explanation }}”{% if not loop.last %}；{% endif %}{% endfor %}。{% endif %}",
    )
    _para(doc, "{%p endif %}")
    _para(doc, "三、各类任务推进情况", "Heading 1")
    _para(doc, "{%p for g in groups %}")
    _para(doc, "{{ g.number }}{{ g.name }}", "Heading 2")
    _para(doc, "{{ g.sentence }}")
    _para(doc, "{%p endfor %}")
    _para(doc, "四、{{ lagging_statuses }}的任务", "Heading 1")
    _para(doc, "{%p if lagging %}")
    _para(doc, "共{{ lagging|length }}项，逐项列示如下，请牵头处室按下步打算抓紧推进。")
    _para(doc, "{%p for t in lagging %}")
    _para(
        doc,
        "{{ t.index }}. {{ t.name }}（牵头：{{ t.lead }}）。存在问题："
        "{% if t.problems %}“{{ t.problems }}”{% else %}未填写。{% endif %}下步打算："
        "{% if t.next_steps %}“{{ t.next_steps }}”{% else %}未填写。{% endif %}",
    )
    _para(doc, "{%p endfor %}")
    _para(doc, "{%p else %}")
    _para(doc, "本轮没有{{ lagging_statuses }}的任务。")
    _para(doc, "{%p endif %}")
    _para(doc, "{%p if comparison %}")
    _para(doc, "五、与{{ comparison.previous }}相比", "Heading 1")
    _para(
        doc,
        "{{ comparison.sentence }}{% if comparison.worsened_tasks %}完成状态退后的任务："
        "{% for t in comparison.worsened_tasks %}{{ t.name }}（{{ t.lead }}，由{{ t.before }}"
        "变为{{ t.status }}）{% if not loop.last %}；{% endif %}{% endfor %}。{% endif %}",
    )
    _para(doc, "{%p endif %}")
    _para(doc, "")
    _para(doc, "附件：{{ round.title }}重点任务推进情况一览表")
    _para(doc, "")
    _para(doc, "")
    _para(doc, "{{ office }}", "落款")
    _para(doc, "{{ date }}", "落款")


def _appendix(doc: docx.document.Document) -> None:
    p = doc.add_paragraph("附件", style="附件标识")
    p.paragraph_format.page_break_before = True
    _para(doc, "", "居中")
    _para(doc, "{{ round.title }}重点任务推进情况一览表", "公文标题")
    _para(doc, "", "居中")
    columns = (  # mm, 156 in all: the width of the text
        ("序号", 12, "{{ t.id }}"),
        ("任务", 33, "{{ t.name }}"),
        ("牵头处室", 24, "{{ t.lead }}"),
        ("完成状态", 23, "{{ t.status }}"),
        ("完成进度", 15, "{{ t.percent_text }}"),
        ("进展情况", 49, "{{ t.progress_line }}"),
    )
    table = doc.add_table(rows=4, cols=len(columns))
    table.style = doc.styles["Table Grid"]
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    width = table._tbl.tblPr.find(qn("w:tblW"))
    width.set(qn("w:w"), str(sum(Mm(w).twips for _, w, _ in columns)))
    width.set(qn("w:type"), "dxa")
    for col, (_, w, _) in zip(table._tbl.tblGrid.gridCol_lst, columns, strict=True):
        col.w = Mm(w)
    for row in table.rows:
        for cell, (_, width, _) in zip(row.cells, columns, strict=True):
            cell.width = Mm(width)
    header, loop, body, end = table.rows
    for cell, (text, _, _) in zip(header.cells, columns, strict=True):
        cell.paragraphs[0].text = text
        cell.paragraphs[0].style = doc.styles["表头"]
    for cell, (_, _, field) in zip(body.cells, columns, strict=True):
        cell.paragraphs[0].text = field
        cell.paragraphs[0].style = doc.styles["表格文字"]
    loop.cells[0].paragraphs[0].text = "{%tr for t in appendix %}"
    end.cells[0].paragraphs[0].text = "{%tr endfor %}"
    for row, repeat in ((header, True), (body, False)):
        tr_pr = row._tr.get_or_add_trPr()
        keep = OxmlElement("w:cantSplit")
        tr_pr.append(keep)
        if repeat:  # the header row repeats on every page of the table
            tr_pr.append(OxmlElement("w:tblHeader"))


def _font_table(doc: docx.document.Document) -> None:
    """Name each Chinese font's alternative, which Word uses where the font is missing."""
    part = next(p for p in doc.part.package.iter_parts() if p.partname == "/word/fontTable.xml")
    fonts = parse_xml(part.blob)
    for name, alternative in FALLBACK.items():
        font = OxmlElement("w:font")
        font.set(qn("w:name"), name)
        alt = OxmlElement("w:altName")
        alt.set(qn("w:val"), alternative)
        font.append(alt)
        charset = OxmlElement("w:charset")
        charset.set(qn("w:val"), "86")  # GB2312
        font.append(charset)
        fonts.append(font)
    part._blob = etree.tostring(fonts, xml_declaration=True, encoding="UTF-8", standalone=True)


def build() -> bytes:
    doc = docx.Document()
    # python-docx's default package shows its own thumbnail in Explorer: not ours
    package = doc.part.package
    for rid, rel in list(package.rels.items()):
        if rel.reltype == RT.THUMBNAIL:
            del package.rels[rid]
    # Word 2010's copy of the styles, which would disagree with the styles set here
    for rid, rel in list(doc.part.rels.items()):
        if rel.reltype.endswith("/stylesWithEffects"):
            del doc.part.rels[rid]
    doc.core_properties.title = "重点任务推进情况通报（模板）"
    doc.core_properties.author = "xlflow"
    doc.core_properties.comments = "字段说明见 xlflow 的 docs/report.md"
    doc.core_properties.last_modified_by = "xlflow"
    doc.core_properties.revision = 1
    doc.core_properties.created = doc.core_properties.modified = dt.datetime(2026, 11, 30)
    _styles(doc)
    _page(doc)
    _font_table(doc)
    # the document starts with no empty paragraph of its own
    first = doc.paragraphs[0] if doc.paragraphs else None
    if first is not None and not first.text:
        first._p.getparent().remove(first._p)
    _body(doc)
    _appendix(doc)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def main() -> None:
    data = build()
    for target in (BUNDLED, COPY):
        target.write_bytes(data)
        print(f"wrote {target.relative_to(REPO)} ({len(data):,} bytes)", file=sys.stderr)


if __name__ == "__main__":
    main()
