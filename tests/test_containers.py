"""Returns that arrive inside mail files and archives: each inner spreadsheet identified and
judged under its own name, the mail's Date as the time received, the same limits as any
hostile file, nothing unpacked into inbox/, and a re-run that changes nothing."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import pytest

from .archives import gbk_zip, mail, outlook, seven_zip, stored_rar
from .conftest import (
    DEFAULT_ROUND,
    fill_complete,
    run,
    run_json,
    s4_working_folder,
    tree_digest,
)

HIGH, PLAN, FOREIGN = "高新技术及产业化处", "政策规划处", "外国专家局"
RURAL = "农村与社会发展科技处"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _filled(forms: dict[str, Path], division: str, tmp: Path, **kw: Any) -> bytes:
    out = tmp / f"{division}-{len(list(tmp.iterdir()))}.xlsx"
    fill_complete(forms[division], out, **kw)
    return out.read_bytes()


def _collect(ws: Path) -> dict[str, dict[str, Any]]:
    report = run_json(["collect", "-w", str(ws), "--round", DEFAULT_ROUND])
    return {f["path"]: f for f in report["files"]}


def _status(ws: Path) -> dict[str, dict[str, Any]]:
    data = run_json(["status", "-w", str(ws), "--round", DEFAULT_ROUND])
    return {d["division"]: d for d in data["divisions"]}


def test_returns_inside_mails_and_archives_are_each_judged(
    ws: Path, forms: dict[str, Path], tmp_path: Path
) -> None:
    sent = dt.datetime(2019, 7, 5, 10, 30)
    archive = gbk_zip([("高新处报表.xlsx", _filled(forms, HIGH, tmp_path)), ("说明.docx", b"x")])
    (ws / "inbox" / "回复.eml").write_bytes(
        mail(
            [
                ("附件.zip", archive, "application/zip"),
                (f"{PLAN}.xlsx", _filled(forms, PLAN, tmp_path), XLSX),
            ],
            sent,
        )
    )
    (ws / "inbox" / "外专局.7z").write_bytes(
        seven_zip([("外国专家局-填报表.xlsx", _filled(forms, FOREIGN, tmp_path))])
    )
    (ws / "inbox" / "农村处.rar").write_bytes(
        stored_rar([("农村处填报表.xlsx", _filled(forms, RURAL, tmp_path))])
    )
    res = "资源配置与诚信建设处"
    (ws / "inbox" / "资源处.msg").write_bytes(
        outlook([(f"{res}.xlsx", _filled(forms, res, tmp_path))], dt.datetime(2019, 7, 6, 8, 15))
    )
    before = tree_digest(ws / "inbox")
    files = _collect(ws)
    names = {
        "回复.eml!附件.zip!高新处报表.xlsx": HIGH,
        f"回复.eml!{PLAN}.xlsx": PLAN,
        "外专局.7z!外国专家局-填报表.xlsx": FOREIGN,
        f"资源处.msg!{res}.xlsx": res,
        "农村处.rar!农村处填报表.xlsx": RURAL,
    }
    for name, division in names.items():
        assert files[name]["division"] == division and files[name]["verdict"] == "accepted", files
    assert set(files) == set(names)  # the Word file in the zip is not a return
    status = _status(ws)
    # the mail's Date is when the return was received, and who sent it goes with it
    assert status[HIGH]["received"] == sent.isoformat(timespec="seconds")
    assert "发件人 高新处 <gx@example.gov.cn>" in status[HIGH]["origin"]
    assert "主题 回复：关于报送" in status[PLAN]["origin"]
    assert status[FOREIGN]["origin"] == ""
    assert status[res]["received"] == "2019-07-06T08:15:00"
    assert "发件人" in status[res]["origin"] and "主题 回复" in status[res]["origin"]
    text = run(["status", "-w", str(ws), "--round", DEFAULT_ROUND]).output
    assert "回复.eml!附件.zip!高新处报表.xlsx" in text and "邮件：发件人" in text
    # the receipt and the 汇总表 name the mail
    receipt = ws / "outbox" / DEFAULT_ROUND / "receipts" / f"{HIGH}-回执.xlsx"
    import openpyxl

    shown = [
        str(c.value)
        for row in openpyxl.load_workbook(receipt).worksheets[0].iter_rows()
        for c in row
        if c.value
    ]
    assert "来自邮件" in shown and any("主题 回复" in t for t in shown)
    # nothing unpacked into inbox/, nothing left in the state folder, and a re-run is the same
    assert tree_digest(ws / "inbox") == before
    assert not list((ws / ".xlflow").glob(".unpacked-*"))
    again = _collect(ws)
    assert {p: (f["verdict"], f["sha256"]) for p, f in again.items()} == {
        p: (f["verdict"], f["sha256"]) for p, f in files.items()
    }
    # a decision finds an inner file by its name
    out = run_json(
        [
            "exclude",
            "-w",
            str(ws),
            "--round",
            DEFAULT_ROUND,
            f"回复.eml!{PLAN}.xlsx",
            "--reason",
            "测试",
        ]
    )
    assert out["file"]["verdict"] == "excluded"


def test_the_mail_date_decides_lateness_and_which_return_counts(ws: Path, tmp_path: Path) -> None:
    """Two mails from one division: the one sent later counts, whatever order the files
    were saved in; a mail dated after the deadline (2019-07-10) is late."""
    data = run_json(
        ["generate", "-w", str(ws), "--round", DEFAULT_ROUND, "--deadline", "2019-07-10"]
    )
    forms = {f["division"]: Path(f["path"]) for f in data["forms"]}
    early = _filled(forms, PLAN, tmp_path)
    late = _filled(forms, PLAN, tmp_path, status="已完成")
    (ws / "inbox" / "b-更正.eml").write_bytes(
        mail([("更正.xlsx", late, XLSX)], dt.datetime(2019, 7, 12, 9, 0))
    )
    (ws / "inbox" / "a-初稿.eml").write_bytes(
        mail([("初稿.xlsx", early, XLSX)], dt.datetime(2019, 7, 3, 9, 0))
    )
    files = _collect(ws)
    assert files["b-更正.eml!更正.xlsx"]["verdict"] == "accepted"
    assert files["a-初稿.eml!初稿.xlsx"]["verdict"] == "superseded"
    assert "late-return" in [i["code"] for i in files["b-更正.eml!更正.xlsx"]["issues"]]
    assert "late-return" not in [i["code"] for i in files["a-初稿.eml!初稿.xlsx"]["issues"]]
    assert _status(ws)[PLAN]["late"] is True


def _encrypted_zip(data: bytes) -> bytes:
    """A zip whose member is marked encrypted (zipfile cannot write encryption)."""
    raw = bytearray(gbk_zip([("报表.xlsx", data)]))
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = raw.find(signature)
        raw[at + offset] |= 0x01
    return bytes(raw)


def _bomb() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("报表.xlsx", b"\0" * (20 * 1024 * 1024))
    return buf.getvalue()


@pytest.mark.parametrize(
    ("name", "make", "code"),
    [
        ("套娃.eml", "too_deep", "limit-exceeded"),
        ("加密.zip", "encrypted", "encrypted"),
        ("炸弹.zip", "bomb", "limit-exceeded"),
        ("损坏.zip", "broken", "container-damaged"),
        ("损坏.7z", "broken7z", "container-damaged"),
        ("无附件.eml", "no_attachment", "skipped-not-spreadsheet"),
        ("回复.msg", "msg", "container-damaged"),
        ("空邮件.msg", "empty_msg", "skipped-not-spreadsheet"),
        ("附件.rar", "rar", "container-damaged"),
        ("打包.tar.gz", "tgz", "skipped-not-spreadsheet"),
    ],
)
def test_a_container_that_cannot_be_read_says_why(
    ws: Path, forms: dict[str, Path], tmp_path: Path, name: str, make: str, code: str
) -> None:
    data = _filled(forms, PLAN, tmp_path)
    when = dt.datetime(2019, 7, 5, 9, 0)
    inner_zip = gbk_zip([("内层.zip", gbk_zip([("报表.xlsx", data)]))])
    body = {
        "too_deep": lambda: mail([("外层.zip", inner_zip, "application/zip")], when),
        "encrypted": lambda: _encrypted_zip(data),
        "bomb": _bomb,
        "broken": lambda: gbk_zip([("报表.xlsx", data)])[:200],
        "broken7z": lambda: seven_zip([("报表.xlsx", data)])[:100],
        "no_attachment": lambda: mail([], when),
        "msg": lambda: b"\xd0\xcf\x11\xe0" + b"\0" * 100,
        "empty_msg": lambda: outlook([], when),
        "rar": lambda: stored_rar([("报表.xlsx", data)])[:-200],
        "tgz": lambda: b"\x1f\x8b" + b"\0" * 50,
    }[make]()
    (ws / "inbox" / name).write_bytes(body)
    result = run(["collect", "-w", str(ws), "--round", DEFAULT_ROUND, "--json"])
    assert "Traceback" not in result.output
    files = {
        f["path"]: f
        for f in run_json(["collect", "-w", str(ws), "--round", DEFAULT_ROUND])["files"]
    }
    if make == "too_deep":
        # the member too deep is named itself, with the path that leads to it
        name = "套娃.eml!外层.zip!内层.zip"
    entry = files[name]
    assert [i["code"] for i in entry["issues"]] == [code], entry
    assert entry["verdict"] in ("rejected", "skipped")
    assert not any(p.startswith(name + "!") for p in files), files


def test_zip_names_in_utf8_are_read_too(ws: Path, forms: dict[str, Path], tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:  # zipfile flags non-ASCII names as UTF-8
        zf.writestr("子目录/政策规划处报表.xlsx", _filled(forms, PLAN, tmp_path))
    (ws / "inbox" / "打包.zip").write_bytes(buf.getvalue())
    files = _collect(ws)
    assert files["打包.zip!子目录/政策规划处报表.xlsx"]["verdict"] == "accepted"


def test_a_container_over_the_size_limit_is_not_opened(ws: Path, forms: dict[str, Path]) -> None:
    settings = ws / "xlflow.toml"
    text = settings.read_text("utf-8")
    settings.write_text(
        text.replace("max_uncompressed_mb = 200", "max_uncompressed_mb = 0.01"), "utf-8"
    )
    (ws / "inbox" / "大.zip").write_bytes(gbk_zip([("报表.xlsx", os.urandom(20_000))]))
    entry = _collect(ws)["大.zip"]
    assert [i["code"] for i in entry["issues"]] == ["limit-exceeded"]
    assert "未打开" in entry["issues"][0]["message"]
    assert "请把其中的填报表单独放入 inbox/。" in entry["issues"][0]["message"]


def test_a_mail_whose_header_breaks_the_parser_is_still_read() -> None:
    """Found by the container fuzzer (a mail cut after 32 bytes): Python's header parser
    raises IndexError on a From that ends at "<". The header is then shown as written."""
    from xlflow.config.model import Limits
    from xlflow.reading.containers import unpack

    inner, issues = unpack("回复.eml", b"From: =?utf-8?b?6auY5paw5aSE?= <", Limits())
    assert inner == [] and [i.code.value for i in issues] == ["skipped-not-spreadsheet"]


def test_an_attachment_whose_name_header_is_cut_costs_that_attachment(
    forms: dict[str, Path], tmp_path: Path
) -> None:
    """Found by the second container run: a mail cut inside `filename*` makes the header
    parser raise IndexError. The attachment before it is still read, and the broken one
    is named as damaged."""
    import datetime as dt

    from xlflow.config.model import Limits
    from xlflow.reading.containers import unpack

    data = _filled(forms, PLAN, tmp_path)
    whole = mail([("政策规划处.xlsx", data, XLSX), ("附件.zip", gbk_zip([("a.xlsx", data)]), "application/zip")], dt.datetime(2019, 7, 5, 9, 0))  # fmt: skip
    cut = whole[: whole.rindex(b"filename") + len(b"filename*")]
    inner, issues = unpack("回复.eml", cut, Limits())
    assert [i.name for i in inner] == ["政策规划处.xlsx"]
    assert [i.code.value for i in issues] == ["container-damaged"]
    assert "附件的名称" in issues[0].message


def test_a_mail_the_email_package_cannot_walk_is_said_not_raised(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import datetime as dt
    from email.message import EmailMessage

    from xlflow.config.model import Limits
    from xlflow.reading.containers import unpack

    def broken_structure(self: EmailMessage) -> bool:
        raise IndexError("string index out of range")

    monkeypatch.setattr(EmailMessage, "is_multipart", broken_structure)
    inner, issues = unpack("回复.eml", mail([], dt.datetime(2019, 7, 5, 9, 0)), Limits())
    assert inner == [] and [i.code.value for i in issues] == ["container-damaged"]
    assert "邮件的结构" in issues[0].message and "IndexError" not in issues[0].message


def test_an_outlook_mail_whose_sent_date_is_not_a_date_is_read() -> None:
    """Found by the second container run (seed 34, iteration 57,433, one byte of the OLE
    file changed): python-oxmsg gave the sent date as a number. The date is left out, and
    the attachments are read."""
    from xlflow.config.model import Limits
    from xlflow.reading.containers import unpack

    data = (Path(__file__).parent / "data" / "fuzz" / "msg-sent-date-not-a-date.msg").read_bytes()
    inner, issues = unpack("回复.msg", data, Limits())
    assert {i.name for i in inner} == {"高新处.xlsx", "农村处.xls"} and issues == []
    assert all("日期" not in i.origin for i in inner)


# --- every listed spreadsheet gets a record, at every depth (issue #38) ---

_WHEN = dt.datetime(2019, 7, 5, 9, 0)


def _container(kind: str, members: list[tuple[str, bytes]]) -> bytes:
    """A container of one kind holding these members, as the programs people use write it."""
    if kind == "zip":
        return gbk_zip(members)
    if kind == "7z":
        return seven_zip(members)
    if kind == "rar":
        return stored_rar(members)
    if kind == "msg":
        return outlook(members, _WHEN)
    mimes = {".xlsx": XLSX, ".txt": "text/plain"}
    return mail(
        [(n, d, mimes.get(Path(n).suffix, "application/octet-stream")) for n, d in members], _WHEN
    )


KINDS = ("zip", "7z", "rar", "eml", "msg")


@pytest.mark.parametrize("outer", KINDS)
def test_every_listed_spreadsheet_gets_a_record_at_every_depth(
    ws: Path, forms: dict[str, Path], tmp_path: Path, outer: str
) -> None:
    """Each kind of container holds a return, each kind of container holding a return, and
    each kind of container holding no spreadsheet: every listed spreadsheet is judged under
    its path, and every nested container that yields none is named with why."""
    data = _filled(forms, PLAN, tmp_path)
    members: list[tuple[str, bytes]] = [("直接.xlsx", data)]
    for inner in KINDS:
        members.append((f"内层.{inner}", _container(inner, [(f"{inner}中.xlsx", data)])))
        members.append((f"空.{inner}", _container(inner, [("说明.txt", "见附件".encode())])))
    name = f"回复.{outer}"
    (ws / "inbox" / name).write_bytes(_container(outer, members))
    files = _collect(ws)
    expected = {f"{name}!直接.xlsx"} | {f"{name}!内层.{k}!{k}中.xlsx" for k in KINDS}
    empties = {f"{name}!空.{k}" for k in KINDS}
    assert set(files) == expected | empties, sorted(files)
    for path in expected:
        assert files[path]["division"] == PLAN, files[path]
        assert files[path]["verdict"] in ("accepted", "duplicate"), files[path]
    for path in empties:
        assert [i["code"] for i in files[path]["issues"]] == ["container-empty"], files[path]
        assert Path(path.split("!")[-1]).name in files[path]["issues"][0]["message"]


S4 = Path(__file__).parent / "data" / "s4"


@pytest.mark.parametrize(
    ("file", "expected"),
    [
        # a 7z member listed as ./name: py7zr keys what it extracts by the normalised path
        ("C1.7z", {"回复/政策规划处.xlsx": "accepted", "外国专家局-2019上半年.xlsx": "accepted"}),
        # an attached mail whose part is base64, as some clients write one
        (
            "C2.eml",
            {"内层.eml!政策规划处.xlsx": "accepted", "外国专家局-2019上半年.xlsx": "accepted"},
        ),
        # an .msg attachment name that keeps its terminating NUL
        ("C3.msg", {"外国专家局-2019上半年.xlsx": "accepted", "政策规划处.xlsx": "accepted"}),
        # a return attached as "政策规划处.zip": a nested container that yields nothing
        ("C4.eml", {"外国专家局-2019上半年.xlsx": "accepted", "政策规划处.zip": "rejected"}),
        # a colon inside a name is a Mac name, never a path: read
        ("C5.zip", {"回复:政策规划处.xlsx": "accepted"}),
        # escape sequences in an attachment name: refused, shown as pictures
        ("C6.msg", {"政策␛]0;pwned␇␛[31m规划处.xlsx": "rejected"}),
    ],
)
def test_the_december_container_finds(s4_folder: Path, file: str, expected: dict[str, str]) -> None:
    """The reproducers of ../shared/fuzz-finds/s4 (README lines C1-C6), in the folder that
    signed them: nothing listed vanishes, and no control character is stored raw."""
    (s4_folder / "inbox" / file).write_bytes((S4 / file).read_bytes())
    report = run_json(["collect", "-w", str(s4_folder), "--round", "2019-H1"])
    got = {f["path"].split("!", 1)[1]: f["verdict"] for f in report["files"]}
    assert got == expected, report["files"]
    assert "\x1b" not in json.dumps(report, ensure_ascii=False)


@pytest.fixture
def s4_folder(tmp_path: Path) -> Path:
    return s4_working_folder(tmp_path / "wf")


def test_a_zip_whose_directory_lists_fewer_members_than_it_counts_is_damaged() -> None:
    """Found by the container harness's vanish check (seed 38): one entry's comment length
    set to 255 swallows the entry after it, and zipfile lists only the first return without
    a word. The end record counts two: the zip is damaged, and said so."""
    from xlflow.config.model import Limits
    from xlflow.reading.containers import unpack

    data = (Path(__file__).parent / "data" / "fuzz" / "zip-comment-length-swallows-an-entry.zip").read_bytes()  # fmt: skip
    inner, issues = unpack("报表.zip", data, Limits())
    assert inner == [] and [i.code.value for i in issues] == ["container-damaged"]
    assert "结尾记录说有 2 个" in issues[0].message


def test_a_control_character_a_file_names_is_shown_in_the_message() -> None:
    """Found by the container harness's raw-control check (seed 38): a damaged .xls inside
    an .msg is refused naming its OLE stream `\\x05DocumentSummaryInformation`, and the
    message carried the \\x05 raw. Every message shows such characters as pictures."""
    from xlflow.config.model import Limits
    from xlflow.reading.containers import unpack
    from xlflow.reading.reader import read_workbook

    data = (Path(__file__).parent / "data" / "fuzz" / "msg-ole-stream-name-control-in-message.msg").read_bytes()  # fmt: skip
    inner, _ = unpack("回复.msg", data, Limits())
    for found in inner:
        result = read_workbook(found.data, Path(found.name).suffix, Limits())
        for issue in result.issues:
            assert not any(ord(c) < 0x20 and c != "\n" for c in issue.message), issue.message
    assert any("␅DocumentSummaryInformation" in i.message for f in inner for i in read_workbook(f.data, Path(f.name).suffix, Limits()).issues)  # fmt: skip


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # the header counts two attachments, the damaged directory holds one
        ("msg-attachment-count-says-two-directory-one.msg", {}),
        # an attachment whose name and bytes were lost: named as not read, never skipped
        (
            "msg-attachment-without-name-or-bytes.msg",
            {"（第 1 个附件，无名）": "container-damaged", "农村处.xls": ""},
        ),
    ],
)
def test_an_outlook_mail_that_lost_an_attachment_says_so(
    name: str, expected: dict[str, str]
) -> None:
    """Found by the container harness's vanish check (seed 38): one changed byte of an
    .msg, and a return inside it vanished without a word."""
    from xlflow.config.model import Limits
    from xlflow.reading.containers import unpack

    inner, issues = unpack("回复.msg", (Path(__file__).parent / "data" / "fuzz" / name).read_bytes(), Limits())  # fmt: skip
    assert {i.name: i.refused.code.value if i.refused else "" for i in inner} == expected
    if not expected:
        assert [i.code.value for i in issues] == ["container-damaged"]
        assert "邮件说有 2 个附件，只找到 1 个" in issues[0].message
