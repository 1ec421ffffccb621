"""Generated forms, read back with openpyxl as a user's program would see them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import python_calamine
from click.testing import CliRunner

from xlflow.cli.main import main
from xlflow.model import parse_round
from xlflow.signing import load_or_create_secret, row_hash, verify

from .conftest import DEFAULT_ROUND, TASK_SHEET, readable_by_owner_only, run, run_json, task_rows

OFFICE_CO = "创新平台与合作处"


def _meta(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    wb = openpyxl.load_workbook(path)
    sheet = wb["_xlflow"]
    values: dict[str, str] = {}
    hashes: dict[str, str] = {}
    in_table = False
    for key, value, *_ in sheet.iter_rows(values_only=True):
        if key == "task_id":
            in_table = True
        elif in_table:
            hashes[str(key)] = str(value)
        elif key:
            values[str(key)] = str(value) if value is not None else ""
    return values, hashes


def _header_cols(sheet: Any) -> tuple[int, dict[str, int]]:
    for row in sheet.iter_rows(min_row=1, max_row=10):
        labels = {c.value: c.column for c in row if c.value}
        if "序号" in labels:
            return row[0].row, labels
    raise AssertionError


def test_seven_forms_with_31_task_rows(forms: dict[str, Path], ws: Path) -> None:
    assert len(forms) == 7
    rows = {d: task_rows(p) for d, p in forms.items()}
    assert sum(len(r) for r in rows.values()) == 31
    assert list(rows[OFFICE_CO]) == ["5", "6", "7", "8", "9", "20", "21", "24"]
    for path in forms.values():
        assert path.parent == ws / "outbox" / DEFAULT_ROUND / "forms"
    assert all(d in p.name for d, p in forms.items())


def test_every_task_text_is_in_the_right_forms(forms: dict[str, Path], ws: Path) -> None:
    data = run_json(["register", "-w", str(ws)])
    for task in data["tasks"]:
        for division in task["lead"] + task["cooperating"]:
            wb = openpyxl.load_workbook(forms[division])
            sheet = wb[TASK_SHEET]
            _header, cols = _header_cols(sheet)
            r = task_rows(forms[division])[task["id"]]
            assert sheet.cell(r, cols["主要内容"]).value == task["name"]
            role = "牵头" if division in task["lead"] else "配合"
            assert sheet.cell(r, cols["牵头/配合"]).value == role
            assert sheet.cell(r, cols["2019年目标"]).value == task["targets"]["2019"]
        for division in set(forms) - set(task["lead"] + task["cooperating"]):
            assert task["id"] not in task_rows(forms[division])


def test_protection_locked_and_unlocked_cells(forms: dict[str, Path]) -> None:
    wb = openpyxl.load_workbook(forms[OFFICE_CO])
    sheet = wb[TASK_SHEET]
    assert sheet.protection.sheet is True
    assert wb["填报说明"].protection.sheet is True
    header, cols = _header_cols(sheet)
    first = header + 1
    for label in ("完成状态", "完成进度(%)", "进展情况", "存在问题", "下步打算"):
        cell = sheet.cell(first, cols[label])
        assert cell.protection.locked is False, label
        assert cell.fill.fgColor.rgb.endswith("FFF2CC")
    for label in ("序号", "牵头/配合", "主要内容", "主要任务", "2019年目标"):
        assert sheet.cell(first, cols[label]).protection.locked is True, label
    assert sheet.cell(header, cols["完成状态"]).protection.locked is True
    assert sheet.freeze_panes == f"C{first}"
    assert sheet.page_setup.orientation == "landscape"
    assert sheet.sheet_properties.pageSetUpPr.fitToPage
    # fitToWidth is 1 by default in SpreadsheetML, so XlsxWriter leaves it out
    assert sheet.page_setup.fitToWidth in (None, 1) and sheet.page_setup.fitToHeight == 0
    assert sheet.print_title_rows == f"${header}:${header}"
    assert "&P" in sheet.oddFooter.center.text


def test_dropdown_from_hidden_sheet_and_validations(forms: dict[str, Path]) -> None:
    wb = openpyxl.load_workbook(forms[OFFICE_CO])
    sheet = wb[TASK_SHEET]
    _header, cols = _header_cols(sheet)
    by_type: dict[str, Any] = {}
    for dv in sheet.data_validations.dataValidation:
        by_type.setdefault(dv.type or "any", []).append(dv)
    (status,) = by_type["list"]
    assert status.formula1 == "xlflow_list_status"
    assert status.promptTitle == "完成状态" and status.prompt and status.error
    assert str(status.sqref).startswith(openpyxl.utils.get_column_letter(cols["完成状态"]))
    target = wb.defined_names["xlflow_list_status"].attr_text
    assert target.startswith("'选项'!")
    lists = wb["选项"]
    assert lists.sheet_state == "hidden"
    assert [c.value for c in lists[openpyxl.utils.get_column_letter(1)]][1:5] == [
        "已完成",
        "按计划推进",
        "进度滞后",
        "未启动",
    ]
    (percent,) = [dv for dv in by_type["decimal"]]
    assert (percent.formula1, percent.formula2) == ("0", "100")
    lengths = by_type["textLength"]
    assert any(dv.formula1 == "2000" for dv in lengths)
    assert any("0-100" in (dv.prompt or "") for dv in by_type["decimal"])


def test_hidden_metadata_names_and_properties(forms: dict[str, Path], ws: Path) -> None:
    path = forms[OFFICE_CO]
    wb = openpyxl.load_workbook(path)
    assert wb["_xlflow"].sheet_state == "veryHidden"
    values, hashes = _meta(path)
    assert values["round"] == DEFAULT_ROUND and values["division"] == OFFICE_CO
    tasks = json.loads(values["tasks"])
    assert tasks == ["5", "6", "7", "8", "9", "20", "21", "24"]
    assert list(hashes) == tasks
    assert wb.defined_names["xlflow_division"].attr_text == f'"{OFFICE_CO}"'
    props = {p.name: p.value for p in wb.custom_doc_props.props}
    assert (
        props["xlflow.round"] == DEFAULT_ROUND and props["xlflow.signature"] == values["signature"]
    )
    # the secret itself never goes into a form
    secret = (ws / ".xlflow" / "secret").read_text().strip()
    for member_text in _all_text(path):
        assert secret not in member_text


def _all_text(path: Path) -> list[str]:
    import zipfile

    with zipfile.ZipFile(path) as zf:
        return [zf.read(n).decode("utf-8", "replace") for n in zf.namelist()]


def test_signature_verifies_and_fails_after_edits(forms: dict[str, Path], ws: Path) -> None:
    secret = load_or_create_secret(ws / ".xlflow" / "secret")
    path = forms[OFFICE_CO]
    values, hashes = _meta(path)
    tasks = json.loads(values["tasks"])
    signed = dict(round_id=values["round"], division=values["division"], task_ids=tasks)
    assert verify(secret, values["signature"], row_hashes=[hashes[t] for t in tasks], **signed)
    assert not verify(
        secret,
        values["signature"],
        row_hashes=[hashes[t] for t in tasks],
        **{**signed, "division": "政策规划处"},
    )
    # the row hash covers the read-only text: an edited task no longer matches its signed hash
    wb = openpyxl.load_workbook(path)
    sheet = wb[TASK_SHEET]
    _header, cols = _header_cols(sheet)
    r = task_rows(path)["7"]
    texts = [
        sheet.cell(r, cols[h]).value or ""
        for h in ("重点任务", "主要内容", "主要任务", "2019年目标")
    ]
    assert row_hash("7", "牵头", texts) == hashes["7"]
    texts[2] = texts[2] + "（已调整）"
    assert row_hash("7", "牵头", texts) != hashes["7"]
    assert not verify(
        secret,
        values["signature"],
        row_hashes=[hashes[t] for t in tasks],
        **{**signed, "round_id": "2019-H2"},
    )


def test_secret_has_owner_only_permissions(forms: dict[str, Path], ws: Path) -> None:
    assert readable_by_owner_only(ws / ".xlflow" / "secret")


def _cells(path: Path) -> dict[str, list[list[Any]]]:
    with python_calamine.CalamineWorkbook.from_path(str(path)) as wb:
        return {n: wb.get_sheet_by_name(n).to_python(skip_empty_area=False) for n in wb.sheet_names}


def test_same_inputs_give_the_same_cells(forms: dict[str, Path], ws: Path) -> None:
    before = {d: _cells(p) for d, p in forms.items()}
    again = run_json(["generate", "-w", str(ws), "--round", DEFAULT_ROUND])
    for form in again["forms"]:
        assert _cells(Path(form["path"])) == before[form["division"]]


def test_json_output_shape(forms: dict[str, Path], ws: Path) -> None:
    data = run_json(["generate", "-w", str(ws), "--round", DEFAULT_ROUND])
    assert data["round"] == DEFAULT_ROUND
    assert {f["division"] for f in data["forms"]} == set(forms)
    assert all(set(f) == {"division", "path", "task_ids"} for f in data["forms"])
    assert sum(len(f["task_ids"]) for f in data["forms"]) == 31


@pytest.mark.parametrize(
    ("round_text", "year", "header", "title"),
    [
        ("2019-H1", None, "2019年目标", "2019年上半年"),
        ("2020年第三季度", None, "2022年目标", "2020年第三季度"),
        ("2023", None, "2025年目标", "2023年度"),
        ("2030-H2", None, "2025年目标", "2030年下半年"),
        ("2019-H1", 2021, "2022年目标", "2019年上半年"),
    ],
)
def test_target_for_the_round_year(
    ws: Path, round_text: str, year: int | None, header: str, title: str
) -> None:
    args = ["generate", "-w", str(ws), "--round", round_text, "--division", "政策规划处"]
    if year:
        args += ["--year", str(year)]
    data = run_json(args)
    (form,) = data["forms"]
    wb = openpyxl.load_workbook(form["path"])
    sheet = wb[TASK_SHEET]
    assert title in sheet["A1"].value
    _, cols = _header_cols(sheet)
    assert header in cols


def test_round_names() -> None:
    assert parse_round("2019年上半年").id == "2019-H1"
    assert parse_round("2019-q3").title == "2019年第三季度"
    assert parse_round("2019年1-6月").id == "2019-M01-06"
    assert parse_round("2019年度").id == "2019"
    with pytest.raises(Exception, match="不允许的字符"):
        parse_round("2019/H1")


def test_unknown_division_is_a_clear_error(ws: Path) -> None:
    result = run(
        ["generate", "-w", str(ws), "--round", "2019-H1", "--division", "无此处"], expect=3
    )
    assert "没有处室 无此处" in result.output


@pytest.mark.parametrize(
    ("name", "part"),
    [
        ("高新技术处", "高新技术处"),
        ('a/b\\c:d*e?f"g<h>i|j', "a_b_c_d_e_f_g_h_i_j"),
        (" .处室. ", "处室"),
        ("处\x7f室\x00", "处_室_"),
        ("CON", "_CON"),
        ("lpt1", "_lpt1"),
        ("CONSOLE", "CONSOLE"),
        ("", "_"),
        ("名" * 100, "名" * 80),
    ],
)
def test_a_name_becomes_a_file_name_part_every_system_accepts(name: str, part: str) -> None:
    """Forms, receipts and outputs are named after divisions and rounds (and uploads after
    what was sent): no character Windows, macOS or Linux refuses, no device name."""
    from xlflow.text import safe_filename

    assert safe_filename(name) == part


def _register_of(ws: Path, divisions: int) -> list[str]:
    """A CSV register where each of `divisions` divisions leads two tasks, the next one
    co-operating; the workspace set to use it."""
    names = [f"第{d:02d}处" for d in range(divisions)]
    lines = ["序号,重点任务,主要内容,主要任务,责任处室,2019年目标,2022年目标,2025年目标"]
    for d, name in enumerate(names):
        for t in (1, 2):
            partner = names[(d + 1) % divisions]
            lines.append(
                f"{2 * d + t},第一组,{name}的第{t}项,内容,{name}、{partner},目标,推进,完成"
            )
    (ws / "templates" / "many.csv").write_text("\n".join(lines) + "\n", encoding="utf-8-sig")
    toml = ws / "xlflow.toml"
    text = toml.read_text("utf-8")
    toml.write_text(text.replace("templates/key-task-list.xlsx", "templates/many.csv"), "utf-8")
    return names


def test_generate_makes_each_spec_when_its_form_is_written(
    ws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ministry's round has thousands of forms: their specs are never all held at once, and
    the ledger still records them all, in register order, as made at once."""
    import xlflow.generate.specs as specs_module
    from xlflow.ledger.book import Ledger
    from xlflow.ledger.codec import spec_to_json
    from xlflow.register.load import load_register
    from xlflow.workspace import Workspace

    names = _register_of(ws, 12)  # above the pool's threshold: two workers
    held: list[int] = []
    make = specs_module.FormSpecs._make

    def counted(self: Any, division: str) -> Any:
        held.append(len(self._made) + 1)
        return make(self, division)

    monkeypatch.setattr(specs_module.FormSpecs, "_make", counted)
    run(["generate", "-w", str(ws), "--round", DEFAULT_ROUND, "--deadline", "2099-12-31"])
    assert len(held) == 12 and max(held) <= 6  # two workers, two queued at each, one recording
    work = Workspace.open(ws)
    with Ledger(work.ledger_path) as ledger:
        assert ledger.form_divisions(DEFAULT_ROUND) == names
        rnd = ledger.load_round(DEFAULT_ROUND)
        stored = ledger.db.execute(
            "SELECT spec FROM forms WHERE round=? ORDER BY rowid", (DEFAULT_ROUND,)
        ).fetchall()
    secret = load_or_create_secret(work.secret_path)
    expected = list(specs_module.FormSpecs(load_register(work), work.settings, rnd, secret))
    assert [s for (s,) in stored] == [spec_to_json(s) for s in expected]


def test_a_generate_that_fails_records_no_form(ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The forms are recorded together once all are on disk; one that cannot be written
    leaves the ledger without any (a re-run writes them all)."""
    import xlflow.generate.forms as forms_module
    from xlflow.ledger.book import Ledger
    from xlflow.workspace import Workspace

    names = _register_of(ws, 12)
    render = forms_module.render_form

    def failing(spec: Any, *args: Any) -> bytes:
        if spec.division == names[7]:
            raise OSError("disk full")
        return render(spec, *args)

    monkeypatch.setenv("XLFLOW_POOL_IN_PROCESS", "1")
    monkeypatch.setattr(forms_module, "render_form", failing)
    result = CliRunner().invoke(
        main, ["generate", "-w", str(ws), "--round", DEFAULT_ROUND, "--deadline", "2099-12-31"]
    )
    assert result.exit_code != 0
    with Ledger(Workspace.open(ws).ledger_path) as ledger:
        assert ledger.form_divisions(DEFAULT_ROUND) == []
    monkeypatch.setattr(forms_module, "render_form", render)
    run(["generate", "-w", str(ws), "--round", DEFAULT_ROUND, "--deadline", "2099-12-31"])
    with Ledger(Workspace.open(ws).ledger_path) as ledger:
        assert ledger.form_divisions(DEFAULT_ROUND) == names
