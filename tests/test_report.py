"""The Word 通报: every number as the 汇总表 and `status --json` have it, the office's own
template honoured, and the page as GB/T 9704-2012 lays it out (in LibreOffice)."""

from __future__ import annotations

import io
import itertools
import re
import statistics
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import docx
import openpyxl
import pytest

from xlflow.reporting.bulletin import chinese_numeral, one_line

from .conftest import GOOD_CONTACT, complete_values, fill, run, run_json
from .make_report_template import build
from .office import artifacts_dir, needs_office, to_pdf, to_png

R1, R2 = "2019-H1", "2019-H2"
HIGH_TECH = "高新技术及产业化处"


@pytest.fixture(scope="module")
def rounds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's round, and a second one in which task 1 falls behind and task 2 is done."""
    root = tmp_path_factory.mktemp("report") / "demo"
    run(["demo", str(root), "--no-office"])
    data = run_json(
        [
            "generate",
            "-w",
            str(root),
            "--round",
            R2,
            "--deadline",
            "2019-12-31",
            "--prefill-from",
            R1,
        ]
    )
    for form in data["forms"]:
        division, path = form["division"], Path(form["path"])
        if division == "办公室":
            continue  # never answers
        values = complete_values(path, status="按计划推进", percent=80)
        if "1" in values:
            values["1"].update({"完成状态": "进度滞后", "存在问题": "配套资金未到位。"})
        if "2" in values:
            values["2"].update({"完成状态": "已完成", "完成进度(%)": 100})
        fill(path, root / "inbox" / R2 / f"{division}.xlsx", values, GOOD_CONTACT)
    run(["collect", "-w", str(root), "--round", R2])
    for r in (R1, R2):
        run(["merge", "-w", str(root), "--round", r])
    return root


def _report(root: Path, round_id: str, *extra: str) -> tuple[dict[str, Any], Any]:
    data = run_json(["report", "-w", str(root), "--round", round_id, *extra])
    return data, docx.Document(data["path"])


def _workbook(root: Path, round_id: str) -> Any:
    (path,) = (root / "outbox" / round_id).glob("*-汇总-*.xlsx")
    return openpyxl.load_workbook(path)


def _overview(wb: Any) -> list[tuple[Any, ...]]:
    """The overview's rows that hold anything, without their empty cells at the end."""
    out = []
    for row in wb["总览"].iter_rows(values_only=True):
        cells = list(row)
        while cells and cells[-1] is None:
            cells.pop()
        if cells:
            out.append(tuple(cells))
    return out


def _table_after(rows: list[tuple[Any, ...]], heading: str) -> list[tuple[Any, ...]]:
    """The rows of the overview's table under a section heading, up to the next one."""
    start = next(i for i, r in enumerate(rows) if str(r[0]).startswith(heading)) + 2
    out = []
    for r in rows[start:]:
        if len(r) < 2 or str(r[0]).startswith(("一", "二", "三", "四", "五", "六")):
            break
        out.append(r)
    return out


def _paragraphs(doc: Any) -> list[tuple[str, str]]:
    return [(p.style.name, p.text) for p in doc.paragraphs]


def _body_after(paras: list[tuple[str, str]], heading: str) -> list[tuple[str, str]]:
    start = next(i for i, (s, t) in enumerate(paras) if s == "Heading 1" and heading in t) + 1
    out = []
    for style, text in paras[start:]:
        if style == "Heading 1" or text.startswith("附件："):
            break
        if text:
            out.append((style, text))
    return out


def _detail(wb: Any) -> list[dict[str, Any]]:
    rows = list(wb["任务明细"].iter_rows(values_only=True))
    at = next(i for i, r in enumerate(rows) if r and r[1] == "序号")
    header = rows[at]
    return [dict(zip(header, r, strict=False)) for r in rows[at + 1 :] if r[1] is not None]


# --- every number as the workbook has it ---


@pytest.mark.parametrize("round_id", [R1, R2])
def test_every_number_is_the_workbooks_and_the_status(rounds: Path, round_id: str) -> None:
    context, doc = _report(rounds, round_id)
    wb = _workbook(rounds, round_id)
    overview = _overview(wb)
    paras = _paragraphs(doc)
    status = run_json(["status", "-w", str(rounds), "--round", round_id])

    # 一、总体情况: each status's count and share, as the overview's status table
    (overall,) = [t for s, t in _body_after(paras, "总体情况")]
    shares = re.findall(r"(\w+?)(\d+)项，占([\d.]+%)", overall.split("其中", 1)[1])
    said = {s: (int(n), share) for s, n, share in shares}
    table = _table_after(overview, "二、任务完成状态")
    shown = {r[0]: (r[1], f"{r[2]:.1%}") for r in table if r[0] != "合计"}
    assert said == shown
    total = next(r[1] for r in table if r[0] == "合计")
    assert f"本轮共有重点任务{total}项" in overall
    percents = [r["完成进度(%)"] for r in _detail(wb) if isinstance(r["完成进度(%)"], int | float)]
    assert f"平均完成{statistics.mean(percents):.1f}%" in overall

    # 二、报送情况: as the overview's boxes and status --json
    returns, *explained = [t for s, t in _body_after(paras, "报送情况")]
    # then, where some answers needed a word, how many were given (需说明事项)
    assert all(t.startswith("本轮有") and "处数值需要说明" in t for t in explained)
    boxes = _table_after(overview, "一、报送情况")[0]
    expected, accepted, _rejected, missing, late = boxes[:5]
    assert f"应报送处室{expected}个，已报送并采用{accepted}个" in returns
    late_names = [
        d["division"] for d in status["divisions"] if d["late"] and d["state"] == "accepted"
    ]
    missing_names = [d["division"] for d in status["divisions"] if d["state"] == "missing"]
    assert len(late_names) == late and len(missing_names) == missing
    if late_names:
        assert f"逾期报送{late}个（{'、'.join(late_names)}）" in returns
    assert f"未报送{missing}个（{'、'.join(missing_names)}）" in returns
    assert context["recipients"] == [d["division"] for d in status["divisions"]]

    # 三、各类任务: one heading and paragraph per group, counts as the group table
    groups = _table_after(overview, "三、按分组统计")
    body = _body_after(paras, "各类任务")
    headings = [t for s, t in body if s == "Heading 2"]
    assert headings == [f"（{chinese_numeral(k)}）{r[0]}" for k, r in enumerate(groups, 1)]
    statuses = [c for c in next(r for r in overview if r[0] == "分组")[1:] if c and c != "合计"]
    for (_, text), row in zip([b for b in body if b[0] == "Normal"], groups, strict=True):
        assert text.startswith(f"共{row[-1]}项，其中")
        counts = dict(zip(statuses, row[1:-1], strict=True))
        assert {
            s: int(n) for s, n in re.findall(r"(\w+?)(\d+)项", text.split("。")[0].split("其中")[1])
        } == {s: n for s, n in counts.items() if n}

    # 四、滞后任务: every lagging task of the detail sheet, with its reason, in order
    detail = _detail(wb)
    lagging = [r for r in detail if r["完成状态"] == "进度滞后"]
    items = [t for s, t in _body_after(paras, "进度滞后") if re.match(r"\d+\. ", t)]
    assert len(items) == len(lagging) > 0
    for k, (text, row) in enumerate(zip(items, lagging, strict=True), 1):
        assert text.startswith(f"{k}. {row['主要内容']}（牵头：{row['牵头处室']}）")
        assert f"存在问题：“{row['存在问题']}”" in text

    # the appendix: every task in register order, as the detail sheet
    (appendix,) = doc.tables
    cells = [[c.text for c in r.cells] for r in appendix.rows]
    assert cells[0] == ["序号", "任务", "牵头处室", "完成状态", "完成进度", "进展情况"]
    assert len(cells) - 1 == len(detail) == total
    for got, row in zip(cells[1:], detail, strict=True):
        percent = row["完成进度(%)"]
        assert got[:5] == [
            row["序号"],
            row["主要内容"],
            row["牵头处室"],
            row["完成状态"],
            f"{percent:g}%" if percent is not None else "",
        ]
        assert got[5] == one_line(row["进展情况"] or "")

    # the figures --json gives are the document's
    assert context["overall"]["tasks"] == total
    assert context["returns"]["missing"] == missing_names


def test_the_second_round_compares_with_the_first(rounds: Path) -> None:
    context, doc = _report(rounds, R2)
    paras = _paragraphs(doc)
    (line,) = [t for s, t in _body_after(paras, f"与{context['comparison']['previous']}相比")]
    note = next(r[0] for r in _overview(_workbook(rounds, R2)) if "与上一轮次" in str(r[0]))
    improved, worsened, same = map(int, re.findall(r"(\d+) 项", note))
    assert f"好转的{improved}项，退后的{worsened}项，未变的{same}项" in line
    # task 1 fell from 按计划推进 to 进度滞后; task 2 was done
    assert worsened >= 1 and improved >= 1
    names = [t["name"] for t in context["comparison"]["worsened_tasks"]]
    assert "引导企业加大研发投入" in names
    assert "引导企业加大研发投入（高新技术及产业化处，由按计划推进变为进度滞后）" in line
    # the first round has no comparison at all
    first, doc1 = _report(rounds, R1)
    assert first["comparison"] is None
    assert not any("相比" in t for s, t in _paragraphs(doc1) if s == "Heading 1")


def test_a_rerun_gives_the_same_file_and_nothing_else_changes(rounds: Path) -> None:
    data, _ = _report(rounds, R1)
    first = Path(data["path"]).read_bytes()
    again, _ = _report(rounds, R1)
    assert Path(again["path"]).read_bytes() == first
    assert not [p for p in Path(data["path"]).parent.iterdir() if p.name.startswith(".")]


# --- the template ---


def test_init_copies_the_bundled_template_and_it_is_what_the_script_makes(ws: Path) -> None:
    copy = ws / "templates" / "通报模板.docx"
    bundled = Path(__file__).resolve().parents[1] / "xlflow" / "bundled" / "通报模板.docx"
    assert copy.read_bytes() == bundled.read_bytes()

    def content(data: bytes) -> dict[str, bytes]:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return {n: zf.read(n) for n in zf.namelist() if n != "docProps/core.xml"}

    assert content(build()) == content(bundled.read_bytes()), (
        "the bundled template is out of date: python -m tests.make_report_template"
    )


def _edited_template(source: Path, target: Path) -> None:
    """What an office does in Word: its own letterhead, a sentence of its own with a field,
    and a line the bundled template does not have."""
    doc = docx.Document(source)
    for p in doc.paragraphs:
        if p.text == "{{ office }}文件":
            p.runs[0].text = "某某县科学技术局文件"
    doc.add_paragraph("抄送：县政府办公室。本期共{{ overall.tasks }}项任务。")
    doc.save(target)


def test_an_edited_template_in_the_working_folder_is_honoured(rounds: Path, tmp_path: Path) -> None:
    own = rounds / "templates" / "通报模板.docx"
    kept = own.read_bytes()
    try:
        _edited_template(own, own)
        context, doc = _report(rounds, R1)
    finally:
        own.write_bytes(kept)
    texts = [p.text for p in doc.paragraphs]
    assert texts[0] == "某某县科学技术局文件"
    assert f"抄送：县政府办公室。本期共{context['overall']['tasks']}项任务。" in texts


def test_a_template_given_on_the_command_line_is_used(rounds: Path, tmp_path: Path) -> None:
    other = tmp_path / "我局模板.docx"
    _edited_template(rounds / "templates" / "通报模板.docx", other)
    _, doc = _report(rounds, R1, "--template", str(other))
    assert doc.paragraphs[0].text == "某某县科学技术局文件"


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("{{ overal.tasks }}", "overal"),  # a misspelt field
        ("{% for t in lagging %}", "字段写法有误"),  # a loop never closed
    ],
)
def test_a_broken_template_is_a_clear_error(
    rounds: Path, tmp_path: Path, field: str, expected: str
) -> None:
    bad = tmp_path / "坏模板.docx"
    doc = docx.Document(rounds / "templates" / "通报模板.docx")
    doc.add_paragraph(field)
    doc.save(bad)
    result = run(["report", "-w", str(rounds), "--round", R1, "--template", str(bad)], expect=3)
    assert expected in result.output and "docs/report.md" in result.output
    assert "Traceback" not in result.output


def test_text_a_division_typed_is_escaped_not_markup(ws: Path, forms: dict[str, Path]) -> None:
    form = forms[HIGH_TECH]
    values = complete_values(form, status="进度滞后")
    first = next(iter(values))
    values[first]["存在问题"] = '资金 <b>未到位</b> & "审批" {{ office }} {% if 1 %}x{% endif %}'
    fill(form, ws / "inbox" / "a.xlsx", values, GOOD_CONTACT)
    run(["collect", "-w", str(ws), "--round", "2019-H1"])
    _, doc = _report(ws, "2019-H1")
    text = "\n".join(p.text for p in doc.paragraphs)
    assert '资金 <b>未到位</b> & "审批" {{ office }} {% if 1 %}x{% endif %}' in text


def test_one_line_and_chinese_numerals() -> None:
    assert one_line("已完成方案。召开会议 2 次。") == "已完成方案。……"
    assert one_line("一行\n两行") == "一行……"
    assert one_line("完") == "完"
    assert one_line("长" * 50) == "长" * 45 + "……"
    assert [chinese_numeral(n) for n in (1, 9, 10, 11, 20, 23, 99, 100)] == [
        "一", "九", "十", "十一", "二十", "二十三", "九十九", "100",
    ]  # fmt: skip


# --- on the page, in LibreOffice ---

MM = 72 / 25.4
PAGE_W, PAGE_H = 210 * MM, 297 * MM
TOP, BOTTOM, LEFT, RIGHT = 37 * MM, 35 * MM, 28 * MM, 26 * MM
_WORD = re.compile(
    r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>'
)


def _words(pdf: Path) -> list[list[tuple[float, float, float, float, str]]]:
    html = subprocess.run(
        ["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    return [
        [(float(a), float(b), float(c), float(d), t) for a, b, c, d, t in _WORD.findall(page)]
        for page in html.split("<page ")[1:]
    ]


@needs_office[0]
@needs_office[1]
def test_the_page_is_laid_out_as_gb_t_9704(rounds: Path, tmp_path: Path) -> None:
    data, _ = _report(rounds, R2)
    pdf = to_pdf(Path(data["path"]), tmp_path)
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
    assert "(A4)" in info
    pages = _words(pdf)
    assert len(pages) >= 4
    appendix_pages = 0
    for number, words in enumerate(pages, 1):
        footer = [w for w in words if w[1] > PAGE_H - BOTTOM]
        text = [w for w in words if w[1] <= PAGE_H - BOTTOM]
        # the page number, 4号 `— n —`, one character in from the outer edge of the text
        assert " ".join(w[4] for w in footer) == f"— {number} —"
        if number % 2:
            assert PAGE_W - RIGHT - 20 < max(w[2] for w in footer) < PAGE_W - RIGHT - 10
        else:
            assert LEFT + 10 < min(w[0] for w in footer) < LEFT + 20
        # the text stays within the margins (a closing mark may hang one character over)
        assert min(w[1] for w in text) >= TOP - 1
        assert max(w[3] for w in text) <= PAGE_H - BOTTOM + 1
        assert min(w[0] for w in text) >= LEFT - 1
        assert max(w[2] for w in text) <= PAGE_W - RIGHT + 17
        # the appendix table's header row on every page of it
        if any(w[4] == "附件" and w[0] < LEFT + 1 for w in words) or appendix_pages:
            appendix_pages += 1
            header = [w[1] for w in text if w[4] == "牵头处室"]
            ids = [  # the 序号 of the rows: short numbers in the first column
                w[1] for w in text if w[4].isdigit() and w[0] < LEFT + 12 * MM and w[2] - w[0] < 20
            ]
            assert len(header) == 1 and ids and header[0] < min(ids), number
    assert appendix_pages >= 2, "the appendix should run over a page to show its header repeat"

    # 22 lines to a page: body lines 28.95 pt apart; 28 characters of 3号 fit a line
    body = pages[1]
    tops = sorted({round(w[1], 1) for w in body if w[1] <= PAGE_H - BOTTOM})
    steps = [b - a for a, b in itertools.pairwise(tops)]
    assert statistics.median(steps) == pytest.approx(28.95, abs=0.3)
    runs = [
        w for w in body if re.fullmatch(r"[\u3000-\u303f\u4e00-\u9fff\uff01-\uff5e]{10,}", w[4])
    ]
    pitch = statistics.median((w[2] - w[0]) / len(w[4]) for w in runs)
    assert 28 <= (PAGE_W - LEFT - RIGHT) / pitch < 29

    # the fonts: embedded, Chinese, and what docs/report.md says stands in for each
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True).stdout
    names = [line.split()[0].split("+")[-1] for line in fonts.splitlines()[2:]]
    assert names and all(line.split()[-5] == "yes" for line in fonts.splitlines()[2:])
    assert any(
        n.startswith(("NotoSansCJK", "NotoSerifCJK", "FZ", "FangSong", "SimSun", "SimHei", "KaiTi"))
        for n in names
    )

    # kept for people to look at, as the other office renders are
    pictures = to_png(pdf, artifacts_dir() / "report", dpi=60)
    assert len(pictures) >= len(pages)
