"""`xlflow mail`: returns fetched from the office's mailbox, read-only and once; forms,
receipts and reminders sent through it, once, each failure named. Against real servers
(tests/mailserver.py: pymap for IMAP, aiosmtpd for SMTP)."""

from __future__ import annotations

import email
import email.policy
import imaplib
import json
import re
import sys
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from xlflow.cli.main import main
from xlflow.ledger.book import Ledger

from .conftest import DEFAULT_ROUND, edit_directory, fill_complete, run
from .mailserver import PASSWORD, Servers, available, dovecot_missing, mail_servers

pytestmark = pytest.mark.mailserver
XLSX = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")
PLAN = "政策规划处"


@pytest.fixture(scope="module")
def servers() -> Iterator[Servers]:
    missing = available()
    if missing:
        pytest.skip(f"needs real mail servers: {missing}")
    with mail_servers() as found:
        yield found


# Dovecot is Debian's and runs on Linux only: on Windows these tests meet pymap alone
SERVERS = ["pymap", *([] if sys.platform == "win32" else ["dovecot"])]


@pytest.fixture(params=SERVERS)
def mailbox(request: pytest.FixtureRequest, servers: Servers) -> Iterator[Servers]:
    """Real servers with an empty INBOX and nothing received, for each test: pymap (one
    account, a folder per address), or Debian's Dovecot (a login per address)."""
    if request.param == "dovecot":
        missing = available() or dovecot_missing()
        if missing:
            pytest.skip(f"needs Debian's Dovecot: {missing}")
        with mail_servers(dovecot_users=[f"d{n}" for n in range(10)]) as fresh:
            yield fresh
        return
    conn = servers.imap()
    conn.select("INBOX")
    conn.uid("STORE", "1:*", "+FLAGS.SILENT", r"(\Deleted)")
    conn.expunge()
    conn.logout()
    servers.smtp.clear()
    yield servers


def mail(root: Path, *args: str, password: str | None = PASSWORD) -> Result:
    env = {"XLFLOW_MAIL_PASSWORD": password} if password else {"XLFLOW_MAIL_PASSWORD": ""}
    return CliRunner().invoke(main, ["mail", *args, "-w", str(root)], env=env)


def with_account(root: Path, servers: Servers) -> None:
    settings = root / "xlflow.toml"
    settings.write_text(settings.read_text("utf-8") + servers.settings(), "utf-8")


def deliver(servers: Servers, msg: EmailMessage) -> None:
    conn = servers.imap()
    status, _ = conn.append("INBOX", None, imaplib.Time2Internaldate(time.time()), msg.as_bytes())
    assert status == "OK"
    conn.logout()


def a_return(form: Path, out: Path, sender: str, name: str | None = None) -> EmailMessage:
    fill_complete(form, out)
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "kjj@example.gov.cn"
    msg["Subject"] = "报送：2019年上半年重点任务进展"
    msg["Date"] = email.utils.formatdate(localtime=True)
    msg["Message-ID"] = email.utils.make_msgid("division")
    msg.set_content("附件是我处的填报表，请查收。")
    msg.add_attachment(
        out.read_bytes(), maintype=XLSX[0], subtype=XLSX[1], filename=name or out.name
    )
    return msg


def a_pdf(subject: str) -> EmailMessage:
    """A mail with an attachment that is not a return."""
    pdf = EmailMessage()
    pdf["From"] = "other@example.gov.cn"
    pdf["Subject"] = subject
    pdf.set_content("见附件")
    pdf.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf", filename="通知.pdf")
    return pdf


def flags(servers: Servers) -> dict[str, str]:
    conn = servers.imap()
    conn.select("INBOX", readonly=True)
    _, data = conn.uid("FETCH", "1:*", "(FLAGS)")
    conn.logout()
    return {
        str(i): (x.decode() if isinstance(x, bytes) else str(x)) for i, x in enumerate(data) if x
    }


def test_fetch_saves_each_return_once_and_leaves_the_mailbox_as_it_was(
    ws: Path, forms: dict[str, Path], mailbox: Servers, tmp_path: Path
) -> None:
    with_account(ws, mailbox)
    deliver(
        mailbox,
        a_return(forms[PLAN], tmp_path / "政策规划处填报.xlsx", "政策规划处 <zcgh@example.gov.cn>"),
    )
    chat = EmailMessage()
    chat["From"] = "someone@example.gov.cn"
    chat["Subject"] = "开会通知"
    chat.set_content("明天开会。")
    deliver(mailbox, chat)
    deliver(mailbox, a_pdf("文件"))
    before = flags(mailbox)

    result = mail(ws, "fetch", "--round", DEFAULT_ROUND, "--json")
    assert result.exit_code == 0, result.output
    said = json.loads(result.output)
    assert said["examined"] == 3 and len(said["saved"]) == 1, said
    assert [p["subject"] for p in said["passed"]] == ["文件"]  # the PDF named, the chat not
    saved = Path(said["saved"][0]["path"])
    assert saved.parent == ws / "inbox" and saved.suffix == ".eml"
    assert "政策规划处" in saved.name and said["saved"][0]["attachments"] == ["政策规划处填报.xlsx"]
    assert flags(mailbox) == before  # nothing marked read, moved or deleted
    with Ledger(ws / ".xlflow" / "ledger.sqlite") as ledger:
        assert len(ledger.fetched_ids()) == 2  # its Message-ID and its sha256

    again = json.loads(mail(ws, "fetch", "--round", DEFAULT_ROUND, "--json").output)
    assert again["saved"] == [] and again["already_fetched"] == 1
    assert sorted(p.name for p in (ws / "inbox").iterdir() if p.suffix == ".eml") == [saved.name]

    # collect reads the saved mail as any mail: the division's return is taken
    status = json.loads(run(["collect", "-w", str(ws), "--round", DEFAULT_ROUND, "--json"]).output)
    taken = [f for f in status["files"] if f.get("division") == PLAN]
    assert taken and taken[0]["verdict"] == "accepted", status


def test_fetch_then_collect_in_one_command(
    ws: Path, forms: dict[str, Path], mailbox: Servers, tmp_path: Path
) -> None:
    with_account(ws, mailbox)
    deliver(
        mailbox,
        a_return(forms[PLAN], tmp_path / "x.xlsx", "zcgh@example.gov.cn", "政策规划处.xlsx"),
    )
    result = mail(ws, "fetch", "--round", DEFAULT_ROUND, "--collect")
    assert result.exit_code == 0, result.output
    assert (
        "新收取 1 封" in result.output
        and "已采用" in run(["status", "-w", str(ws), "--round", DEFAULT_ROUND]).output
    )


def test_a_fetch_cut_off_midway_loses_and_duplicates_nothing(
    ws: Path,
    forms: dict[str, Path],
    mailbox: Servers,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with_account(ws, mailbox)
    deliver(
        mailbox,
        a_return(forms[PLAN], tmp_path / "x.xlsx", "zcgh@example.gov.cn", "政策规划处.xlsx"),
    )
    real = Ledger.record_fetched

    def cut(self: Any, *args: Any) -> None:
        raise KeyboardInterrupt  # the file is written, the ledger not yet

    monkeypatch.setattr(Ledger, "record_fetched", cut)
    mail(ws, "fetch", "--round", DEFAULT_ROUND)
    written = [p for p in (ws / "inbox").iterdir() if p.suffix == ".eml"]
    assert len(written) == 1
    monkeypatch.setattr(Ledger, "record_fetched", real)
    said = json.loads(mail(ws, "fetch", "--round", DEFAULT_ROUND, "--json").output)
    assert len(said["saved"]) == 1
    assert [p for p in (ws / "inbox").iterdir() if p.suffix == ".eml"] == written
    assert json.loads(mail(ws, "fetch", "--round", DEFAULT_ROUND, "--json").output)["saved"] == []


def test_a_file_of_the_same_name_in_the_inbox_is_never_written_over(
    ws: Path, forms: dict[str, Path], mailbox: Servers, tmp_path: Path
) -> None:
    import sqlite3

    with_account(ws, mailbox)
    deliver(
        mailbox,
        a_return(forms[PLAN], tmp_path / "x.xlsx", "zcgh@example.gov.cn", "政策规划处.xlsx"),
    )
    first = Path(
        json.loads(mail(ws, "fetch", "--round", DEFAULT_ROUND, "--json").output)["saved"][0]["path"]
    )
    # as if the fetch had never been recorded, and someone's file had taken its name
    with sqlite3.connect(ws / ".xlflow" / "ledger.sqlite") as db:
        db.execute("DELETE FROM mail_fetched")
    first.write_bytes(b"someone else's file")
    again = json.loads(mail(ws, "fetch", "--round", DEFAULT_ROUND, "--json").output)
    second = Path(again["saved"][0]["path"])
    assert second != first and second.stem.startswith(first.stem)  # more of the hash
    assert first.read_bytes() == b"someone else's file"


def test_fetch_says_what_is_wrong(ws: Path, forms: dict[str, Path], mailbox: Servers) -> None:
    unset = mail(ws, "fetch", "--round", DEFAULT_ROUND)
    assert unset.exit_code == 3 and "[mail]" in unset.output and "Traceback" not in unset.output
    with_account(ws, mailbox)
    wrong = mail(ws, "fetch", "--round", DEFAULT_ROUND, password="not-it")
    assert wrong.exit_code == 3 and f"拒绝了账号 {mailbox.user}" in wrong.output, wrong.output
    nothing = mail(ws, "fetch", "--round", DEFAULT_ROUND, password=None)
    assert nothing.exit_code == 3 and f"不知道邮箱 {mailbox.user} 的密码" in nothing.output
    assert "XLFLOW_MAIL_PASSWORD" in nothing.output and "Traceback" not in nothing.output
    folder = mail(ws, "fetch", "--round", DEFAULT_ROUND, "--folder", "已收报送")
    assert folder.exit_code == 3 and "已收报送" in folder.output and "INBOX" in folder.output
    closed = ws / "xlflow.toml"
    closed.write_text(
        closed.read_text("utf-8").replace(f"imap_port = {mailbox.imap_port}", "imap_port = 1"),
        "utf-8",
    )
    refused = mail(ws, "fetch", "--round", DEFAULT_ROUND)
    assert refused.exit_code == 3 and "连接不上收信（IMAP）服务器 127.0.0.1:1" in refused.output


def _addresses(root: Path) -> None:
    edit_directory(
        root,
        {
            PLAN: {"联系人": "张三", "电子邮箱": "zcgh@example.gov.cn"},
            "高新技术及产业化处": {"电子邮箱": "gxc@example.gov.cn; gxc2@example.gov.cn"},
            "资源配置与诚信建设处": {"电子邮箱": "zypz@example.gov.cn"},
        },
    )


def test_send_previews_then_sends_each_form_once(
    ws: Path, forms: dict[str, Path], mailbox: Servers
) -> None:
    with_account(ws, mailbox)
    _addresses(ws)
    preview = mail(ws, "send", "--round", DEFAULT_ROUND, "--what", "forms")
    assert preview.exit_code == 0, preview.output
    assert mailbox.smtp.received == [] and "未发送" in preview.output
    assert "单位名录中没有" in preview.output  # the divisions without an address are named
    sent = json.loads(
        mail(ws, "send", "--round", DEFAULT_ROUND, "--what", "forms", "--send", "--json").output
    )
    went = {m["division"] for m in sent["messages"] if m["sent"]}
    assert went == {PLAN, "高新技术及产业化处", "资源配置与诚信建设处"}, sent
    assert len(mailbox.smtp.received) == 3
    got = {
        tuple(r.recipients): email.message_from_bytes(r.data, policy=email.policy.default)
        for r in mailbox.smtp.received
    }
    two = got[("gxc@example.gov.cn", "gxc2@example.gov.cn")]
    plan = got[("zcgh@example.gov.cn",)]
    assert "kjj@example.gov.cn" in str(plan["From"]) and PLAN in str(plan["Subject"])
    attached = next(plan.iter_attachments())
    assert attached.get_filename() == forms[PLAN].name
    assert attached.get_content() == forms[PLAN].read_bytes()
    assert "填报表" in two.get_body().get_content()  # type: ignore[union-attr]

    again = mail(ws, "send", "--round", DEFAULT_ROUND, "--what", "forms", "--send")
    assert again.exit_code == 0 and len(mailbox.smtp.received) == 3 and "发过" in again.output
    resend = mail(
        ws,
        "send",
        "--round",
        DEFAULT_ROUND,
        "--what",
        "forms",
        "--only",
        PLAN,
        "--send",
        "--resend",
    )
    assert resend.exit_code == 0 and len(mailbox.smtp.received) == 4


def test_a_refused_address_or_a_too_large_message_is_named_and_the_rest_still_go(
    ws: Path, forms: dict[str, Path], mailbox: Servers
) -> None:
    with_account(ws, mailbox)
    _addresses(ws)
    mailbox.smtp.refused.add("zcgh@example.gov.cn")
    mailbox.smtp.too_big_for.add("zypz@example.gov.cn")
    result = mail(ws, "send", "--round", DEFAULT_ROUND, "--what", "forms", "--send")
    assert result.exit_code == 1, result.output
    assert f"[{PLAN}] 收件地址全部被服务器拒绝：zcgh@example.gov.cn" in result.output
    assert "[资源配置与诚信建设处]" in result.output and "超过服务器允许的大小" in result.output
    assert [r.recipients for r in mailbox.smtp.received] == [
        ["gxc@example.gov.cn", "gxc2@example.gov.cn"]
    ]
    mailbox.smtp.refused.clear()
    mailbox.smtp.too_big_for.clear()
    retry = json.loads(
        mail(ws, "send", "--round", DEFAULT_ROUND, "--what", "forms", "--send", "--json").output
    )
    assert {m["division"] for m in retry["messages"] if m["sent"]} == {PLAN, "资源配置与诚信建设处"}


@pytest.fixture
def sending(ws: Path, mailbox: Servers, monkeypatch: pytest.MonkeyPatch) -> Servers:
    """The account and the divisions' addresses set up, with no wait between tries."""
    monkeypatch.setattr("xlflow.mail.send.RETRY_WAITS", (0.0, 0.0))
    with_account(ws, mailbox)
    _addresses(ws)
    return mailbox


def test_a_server_that_refuses_for_now_or_hangs_up_is_tried_again(
    ws: Path, forms: dict[str, Path], sending: Servers
) -> None:
    mailbox = sending
    mailbox.smtp.for_now["zcgh@example.gov.cn"] = 2  # greylisted twice, taken the third time
    mailbox.smtp.hang_up["zypz@example.gov.cn"] = 1  # 421: the client hangs up, then again
    result = mail(ws, "send", "--round", DEFAULT_ROUND, "--what", "forms", "--send", "--json")
    assert result.exit_code == 0, result.output
    sent = {m["division"] for m in json.loads(result.output)["messages"] if m["sent"]}
    assert sent == {PLAN, "高新技术及产业化处", "资源配置与诚信建设处"}
    assert sorted(r.recipients[0] for r in mailbox.smtp.received) == [
        "gxc@example.gov.cn",
        "zcgh@example.gov.cn",
        "zypz@example.gov.cn",
    ]


def _planned(ws: Path) -> list[dict[str, Any]]:
    """The messages a send would send, in its order (a preview)."""
    preview = mail(ws, "send", "--round", DEFAULT_ROUND, "--what", "forms", "--json").output
    return [m for m in json.loads(preview)["messages"] if m["to"]]


def test_an_address_still_refused_for_now_waits_for_a_later_run_and_the_others_go(
    ws: Path, forms: dict[str, Path], sending: Servers
) -> None:
    mailbox = sending
    first, *others = _planned(ws)
    for address in first["to"]:  # greylisted more times than xlflow tries
        mailbox.smtp.for_now[address] = 3

    result = mail(ws, "send", "--round", DEFAULT_ROUND, "--what", "forms", "--send")

    assert result.exit_code == 1, result.output
    said = f"[{first['division']}] 服务器暂时不收（451 4.7.1 Greylisted"
    assert said in result.output and "试了 3 次仍未发出" in result.output
    assert (
        "稍后再发送一次即可，只补发没有发出的（命令行：xlflow mail send --send）" in result.output
    )
    assert sorted(r.recipients for r in mailbox.smtp.received) == sorted(m["to"] for m in others)
    again = mail(ws, "send", "--round", DEFAULT_ROUND, "--what", "forms", "--send", "--json")
    assert again.exit_code == 0, again.output
    assert mailbox.smtp.received[-1].recipients == first["to"]  # and only it, once
    assert len(mailbox.smtp.received) == 1 + len(others)


def test_a_server_refusing_for_now_stops_the_run_for_a_later_one(
    ws: Path, forms: dict[str, Path], sending: Servers
) -> None:
    """The server refusing the sender (as one that takes so many messages an hour does), or
    two messages in a row refused for now: the rest are left, not each tried in turn."""
    mailbox = sending
    planned = _planned(ws)
    mailbox.smtp.busy = 3  # more times than xlflow tries

    result = mail(ws, "send", "--round", DEFAULT_ROUND, "--what", "forms", "--send")

    assert result.exit_code == 1, result.output
    assert f"[{planned[0]['division']}] 服务器暂时不收（451 4.7.1 Too many" in result.output
    for later in planned[1:]:
        assert f"[{later['division']}] 未发送：服务器暂时不收前面的邮件" in result.output
    assert mailbox.smtp.received == [] and mailbox.smtp.busy == 0  # tried 3 times, no more

    for m in planned[:2]:  # now two messages in a row, each for one greylisted address
        for address in m["to"]:
            mailbox.smtp.for_now[address] = 3
    result = mail(ws, "send", "--round", DEFAULT_ROUND, "--what", "forms", "--send")
    assert result.exit_code == 1, result.output
    assert f"[{planned[1]['division']}] 服务器暂时不收（451 4.7.1 Greylisted" in result.output
    assert f"[{planned[2]['division']}] 未发送：服务器暂时不收前面的邮件" in result.output
    assert mailbox.smtp.received == []

    again = mail(ws, "send", "--round", DEFAULT_ROUND, "--what", "forms", "--send", "--json")
    assert again.exit_code == 0, again.output
    assert len(mailbox.smtp.received) == len(planned)  # each once, by the last run


def test_receipts_and_reminders_go_to_who_they_concern(
    ws: Path, forms: dict[str, Path], mailbox: Servers, tmp_path: Path
) -> None:
    with_account(ws, mailbox)
    _addresses(ws)
    fill_complete(forms[PLAN], ws / "inbox" / "政策规划处.xlsx")
    run(["collect", "-w", str(ws), "--round", DEFAULT_ROUND])
    receipts = json.loads(
        mail(ws, "send", "--round", DEFAULT_ROUND, "--what", "receipts", "--send", "--json").output
    )
    assert [m["division"] for m in receipts["messages"]] == [PLAN]
    assert mailbox.smtp.received[0].recipients == ["zcgh@example.gov.cn"]
    reminders = json.loads(
        mail(ws, "send", "--round", DEFAULT_ROUND, "--what", "reminders", "--send", "--json").output
    )
    reminded = {m["division"] for m in reminders["messages"] if m["sent"]}
    assert PLAN not in reminded and reminded == {"高新技术及产业化处", "资源配置与诚信建设处"}
    last = email.message_from_bytes(mailbox.smtp.received[-1].data, policy=email.policy.default)
    assert "催报" in str(last["Subject"]) and "X-Unsent" not in last
    unknown = mail(ws, "send", "--round", DEFAULT_ROUND, "--what", "forms", "--only", "不存在处")
    assert unknown.exit_code == 3 and "不存在处" in unknown.output


def test_the_password_is_never_in_the_settings(ws: Path) -> None:
    settings = ws / "xlflow.toml"
    base = settings.read_text("utf-8")
    settings.write_text(base + '\n[mail]\nhost = "h"\nuser = "u"\npassword = "x"\n', "utf-8")
    said = run(["status", "-w", str(ws), "--round", DEFAULT_ROUND], expect=3).output
    assert "mail.password" in said and "xlflow mail login" in said and "不认识" not in said
    wrong = (
        '\n[mail]\nhost = "h"\nsecurity = "tls"\nimap_port = 70000\ntimeout_seconds = 0\n'
        'plaintext_login = "yes"\nforms_text = "{name}"\n'
    )
    settings.write_text(base + wrong, "utf-8")
    said = run(["status", "-w", str(ws), "--round", DEFAULT_ROUND], expect=3).output
    for problem in (
        "mail.security: 应为 ssl、starttls、none 之一",
        "mail.imap_port: 端口应在 1–65535 之间",
        "mail.timeout_seconds: 应为正数",
        'mail.plaintext_login: 只能是 "允许明文发送密码"',
        "mail.forms_text: 只能使用 {division}、{round}、{deadline}、{office}",
    ):
        assert problem in said, said


class _Keyring:
    """An in-memory credential store standing in for the system's (keyring's own API)."""

    def __init__(self) -> None:
        self.kept: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, name: str) -> str | None:
        return self.kept.get((service, name))

    def set_password(self, service: str, name: str, secret: str) -> None:
        self.kept[(service, name)] = secret


def test_login_checks_the_password_then_keeps_it_out_of_every_file(
    ws: Path, forms: dict[str, Path], mailbox: Servers, monkeypatch: pytest.MonkeyPatch
) -> None:
    import keyring
    import keyring.backend

    # the store in use before: asked first, as a backend class defined below would be
    # chosen by keyring's own first look
    before = keyring.get_keyring()
    store = _Keyring()

    class Backend(keyring.backend.KeyringBackend):
        priority = 1  # type: ignore[assignment]

        def get_password(self, service: str, username: str) -> str | None:
            return store.get_password(service, username)

        def set_password(self, service: str, username: str, password: str) -> None:
            store.set_password(service, username, password)

        def delete_password(self, service: str, username: str) -> None:
            store.kept.pop((service, username), None)

    keyring.set_keyring(Backend())
    try:
        with_account(ws, mailbox)
        wrong = CliRunner().invoke(
            main,
            ["mail", "login", "-w", str(ws), "--password-stdin"],
            input="nope\n",
            env={"XLFLOW_MAIL_PASSWORD": ""},
        )
        assert wrong.exit_code == 3 and store.kept == {}, wrong.output
        right = CliRunner().invoke(
            main,
            ["mail", "login", "-w", str(ws), "--password-stdin"],
            input=PASSWORD + "\n",
            env={"XLFLOW_MAIL_PASSWORD": ""},
        )
        assert right.exit_code == 0, right.output
        assert list(store.kept.values()) == [PASSWORD]
        assert not any(PASSWORD.encode() in p.read_bytes() for p in ws.rglob("*") if p.is_file())
        # the stored password is the one used
        assert mail(ws, "fetch", "--round", DEFAULT_ROUND, password=None).exit_code == 0
    finally:
        keyring.set_keyring(before)


def _set(root: Path, old: str, new: str) -> None:
    settings = root / "xlflow.toml"
    text = settings.read_text("utf-8")
    assert old in text, old
    settings.write_text(text.replace(old, new), "utf-8")


def test_what_is_not_fetched_is_named_never_lost(
    ws: Path, forms: dict[str, Path], mailbox: Servers, tmp_path: Path
) -> None:
    """A PDF, a message whose MIME is broken, and a 60 MB message are left in the box and
    each named; a message with 1,000 attachments is saved whole."""
    with_account(ws, mailbox)
    deliver(mailbox, a_pdf("通知"))
    broken = (
        b"From: zypz@example.gov.cn\r\nSubject: broken\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="AAA"\r\n\r\n--BBB\r\n'
        b'Content-Type: application/vnd.ms-excel; name="x.xls"\r\n\r\nxx\r\n--BBB--\r\n'
    )
    big = a_return(forms[PLAN], tmp_path / "big.xlsx", "zcgh@example.gov.cn", "政策规划处.xlsx")
    big.add_attachment(
        b"\0" * (45 * 1024 * 1024), maintype="application", subtype="zip", filename="附件.zip"
    )
    many = a_return(
        forms[PLAN], tmp_path / "one.xlsx", "gxc@example.gov.cn", "高新技术及产业化处.xlsx"
    )
    for n in range(999):
        many.add_attachment(b"x", maintype=XLSX[0], subtype=XLSX[1], filename=f"表{n}.xlsx")
    conn = mailbox.imap()
    for raw in (broken, big.as_bytes(), many.as_bytes()):
        assert conn.append("INBOX", None, None, raw)[0] == "OK"
    conn.logout()
    before = flags(mailbox)

    result = mail(ws, "fetch", "--round", DEFAULT_ROUND)
    assert result.exit_code == 1, result.output  # returns may still wait in the box
    said = result.output
    assert "有 2 封可能是报送的邮件留在邮箱中未收取" in said
    assert "附件 通知.pdf 不是报送文件" in said
    assert "邮件的结构服务器无法识别" in said and "zypz@example.gov.cn broken" in said
    size = re.search(r"邮件 (\d+\.\d) MB，超过单个文件上限 25 MB", said)
    assert size and 59 < float(size.group(1)) < 62, said  # some 60 MB once encoded
    assert "新收取 1 封" in said and "等 1000 个" in said  # the 1,000 names are not all printed
    assert flags(mailbox) == before
    saved = [p for p in (ws / "inbox").iterdir() if p.suffix == ".eml"]
    assert len(saved) == 1 and saved[0].stat().st_size > 1000 * 100


def test_a_certificate_is_verified_and_a_plain_password_refused(
    ws: Path, forms: dict[str, Path], servers: Servers, tmp_path: Path
) -> None:
    """The certificates against pymap with STARTTLS (its own, not the mailbox's)."""
    from .mailserver import certificate, tls_imap

    with_account(ws, servers)
    _set(ws, '\nplaintext_login = "允许明文发送密码"\n', "\n")
    plain = mail(ws, "fetch", "--round", DEFAULT_ROUND)
    assert plain.exit_code == 3 and "明文" in plain.output and "plaintext_login" in plain.output
    elsewhere, elsewhere_key = certificate(tmp_path, "mail.example.gov.cn")
    with tls_imap(elsewhere, elsewhere_key) as port:
        _set(ws, f"imap_port = {servers.imap_port}", f"imap_port = {port}")
        _set(ws, 'security = "none"', 'security = "starttls"')
        untrusted = mail(ws, "fetch", "--round", DEFAULT_ROUND)
        assert untrusted.exit_code == 3, untrusted.output
        assert "证书未通过验证" in untrusted.output and "ca_file" in untrusted.output
        # trusted, but issued for another name: refused all the same
        _set(
            ws,
            'security = "starttls"',
            f'security = "starttls"\nca_file = "{elsewhere.as_posix()}"',
        )
        mismatch = mail(ws, "fetch", "--round", DEFAULT_ROUND)
        assert mismatch.exit_code == 3 and "证书未通过验证" in mismatch.output, mismatch.output
    own, own_key = certificate(tmp_path, "127.0.0.1")
    with tls_imap(own, own_key) as port:
        _set(ws, f'ca_file = "{elsewhere.as_posix()}"', f'ca_file = "{own.as_posix()}"')
        text = (ws / "xlflow.toml").read_text("utf-8")
        old_port = text.split("imap_port = ", 1)[1].split("\n", 1)[0]
        _set(ws, f"imap_port = {old_port}", f"imap_port = {port}")
        trusted = mail(ws, "fetch", "--round", DEFAULT_ROUND)
        assert trusted.exit_code == 0, trusted.output


@pytest.mark.parametrize("mode", ["drop", "stall"])
def test_a_server_that_hangs_up_or_stalls_mid_fetch(
    ws: Path, forms: dict[str, Path], mailbox: Servers, tmp_path: Path, mode: str
) -> None:
    from .mailserver import Proxy

    with_account(ws, mailbox)
    for n, division in enumerate((PLAN, "高新技术及产业化处", "资源配置与诚信建设处")):
        deliver(
            mailbox,
            a_return(
                forms[division], tmp_path / f"{n}.xlsx", f"d{n}@example.gov.cn", f"{division}.xlsx"
            ),
        )
    proxy = Proxy(mailbox.imap_port, mode, after=1)
    try:
        _set(ws, f"imap_port = {mailbox.imap_port}", f"imap_port = {proxy.port}")
        _set(ws, "timeout_seconds = 5", "timeout_seconds = 2")
        cut = mail(ws, "fetch", "--round", DEFAULT_ROUND)
        assert cut.exit_code == 3 and "连接中断" in cut.output and "已收取 1 封" in cut.output, (
            cut.output
        )
    finally:
        proxy.close()
    assert len([p for p in (ws / "inbox").iterdir() if p.suffix == ".eml"]) == 1
    _set(ws, f"imap_port = {proxy.port}", f"imap_port = {mailbox.imap_port}")
    rest = json.loads(mail(ws, "fetch", "--round", DEFAULT_ROUND, "--json").output)
    assert len(rest["saved"]) == 2 and rest["already_fetched"] == 1
    assert len([p for p in (ws / "inbox").iterdir() if p.suffix == ".eml"]) == 3


def test_killed_mid_fetch_then_fetched_again_saves_each_once(
    ws: Path, forms: dict[str, Path], mailbox: Servers, tmp_path: Path
) -> None:
    """kill -9 (TerminateProcess on Windows) while the messages come, then a fetch again."""
    import os
    import subprocess
    import sys

    from .mailserver import Proxy

    with_account(ws, mailbox)
    divisions = list(forms)[:5]
    for n, division in enumerate(divisions):
        deliver(
            mailbox,
            a_return(
                forms[division], tmp_path / f"{n}.xlsx", f"d{n}@example.gov.cn", f"{division}.xlsx"
            ),
        )
    before = flags(mailbox)
    proxy = Proxy(mailbox.imap_port, "slow", delay=1.0)
    _set(ws, f"imap_port = {mailbox.imap_port}", f"imap_port = {proxy.port}")
    inbox = ws / "inbox"
    process = subprocess.Popen(
        [sys.executable, "-m", "xlflow", "mail", "fetch", "-w", str(ws), "--round", DEFAULT_ROUND],
        env={**os.environ, "XLFLOW_MAIL_PASSWORD": PASSWORD},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        until = time.monotonic() + 120
        while not any(p.suffix == ".eml" for p in inbox.iterdir()):
            assert process.poll() is None and time.monotonic() < until, "nothing was fetched"
            time.sleep(0.05)
        process.kill()
        process.wait(30)
    finally:
        proxy.close()
    killed = {p.name for p in inbox.iterdir() if p.suffix == ".eml"}
    assert 1 <= len(killed) < 5
    _set(ws, f"imap_port = {proxy.port}", f"imap_port = {mailbox.imap_port}")
    assert mail(ws, "fetch", "--round", DEFAULT_ROUND).exit_code == 0
    after = {p.name for p in inbox.iterdir() if p.suffix == ".eml"}
    assert killed <= after and len(after) == 5
    assert not [p for p in inbox.iterdir() if p.suffix != ".eml" and p.name != ".gitkeep"]
    assert flags(mailbox) == before


def test_a_whole_round_through_the_mail(ws: Path, tmp_path: Path, mailbox: Servers) -> None:
    """Forms sent to each division's own mailbox; each division logs in (Dovecot: a login
    per division; pymap: a folder per address), fills the form it received by its header
    labels and replies; fetch --collect takes every reply; each receipt goes back. Run
    again, fetch and send change nothing."""
    run(["generate", "-w", str(ws), "--round", DEFAULT_ROUND, "--deadline", "2099-07-10"])
    divisions = json.loads(
        run(["status", "-w", str(ws), "--round", DEFAULT_ROUND, "--json"]).output
    )
    names = [d["division"] for d in divisions["divisions"]]
    address = {name: f"d{n}@example.gov.cn" for n, name in enumerate(names)}
    _whole_round(ws, tmp_path, mailbox, names, address)


def _whole_round(
    ws: Path, tmp_path: Path, servers: Servers, names: list[str], address: dict[str, str]
) -> None:
    with_account(ws, servers)
    edit_directory(ws, {name: {"电子邮箱": address[name]} for name in names})
    assert mail(ws, "send", "--round", DEFAULT_ROUND, "--what", "forms", "--send").exit_code == 0

    # the mail server delivers each message into its recipient's own mailbox
    for received in servers.smtp.received:
        for to in received.recipients:
            servers.deliver_to(to, received.data)
    servers.smtp.received.clear()
    # each division opens its mail, fills the form it got and replies to the office
    office = servers.imap()
    for n, name in enumerate(names):
        got = [
            email.message_from_bytes(raw, policy=email.policy.default)
            for raw in servers.read(address[name])
        ]
        assert len(got) == 1, name
        form = next(got[0].iter_attachments())
        blank = tmp_path / f"{n}-收到.xlsx"
        blank.write_bytes(form.get_content())
        reply = a_return(blank, tmp_path / form.get_filename(), f"{name} <{address[name]}>")
        reply["In-Reply-To"] = got[0]["Message-ID"]
        del reply["Subject"]
        reply["Subject"] = "回复：" + str(got[0]["Subject"])
        assert office.append("INBOX", None, None, reply.as_bytes())[0] == "OK"
    office.logout()
    before = flags(servers)

    fetched = mail(ws, "fetch", "--round", DEFAULT_ROUND, "--collect")
    assert fetched.exit_code == 0, fetched.output
    total = len(names)
    assert f"新收取 {total} 封" in fetched.output and f"已采用 {total}/{total}" in fetched.output
    receipts = json.loads(
        mail(ws, "send", "--round", DEFAULT_ROUND, "--what", "receipts", "--send", "--json").output
    )
    assert {m["division"] for m in receipts["messages"] if m["sent"]} == set(names)
    assert sorted(r.recipients[0] for r in servers.smtp.received) == sorted(address.values())
    for received in servers.smtp.received:
        msg = email.message_from_bytes(received.data, policy=email.policy.default)
        assert "回执" in str(next(msg.iter_attachments()).get_filename())

    # again: nothing fetched, nothing sent, the mailbox as it was
    again = json.loads(mail(ws, "fetch", "--round", DEFAULT_ROUND, "--json").output)
    assert again["saved"] == [] and again["already_fetched"] == total
    for what in ("forms", "receipts"):
        said = json.loads(
            mail(ws, "send", "--round", DEFAULT_ROUND, "--what", what, "--send", "--json").output
        )
        assert not any(m["sent"] for m in said["messages"]), what
    assert len(servers.smtp.received) == total
    assert flags(servers) == before


def _job(server: Any, status: int, headers: dict[str, str]) -> str:
    """Follow a job the console started to the page that shows its result."""
    from urllib.parse import urlsplit

    assert status == 303, (status, headers)
    where = urlsplit(headers["Location"]).path
    until = time.monotonic() + 120
    while True:
        status, page, headers = server.request("GET", where)
        if status == 303:
            target = urlsplit(headers["Location"])
            return str(server.request("GET", f"{target.path}?{target.query}")[1])
        assert status == 200 and "未完成" not in page, page
        assert time.monotonic() < until, page
        time.sleep(0.2)


def test_the_console_lists_every_recipient_before_it_sends_and_fetches_with_progress(
    ws: Path, forms: dict[str, Path], mailbox: Servers, tmp_path: Path
) -> None:
    import os
    from urllib.parse import quote

    from .test_web import Console

    with_account(ws, mailbox)
    _addresses(ws)
    server = Console(ws, env={**os.environ, "XLFLOW_MAIL_PASSWORD": PASSWORD})
    try:
        board = server.request("GET", f"/r/{DEFAULT_ROUND}")[1]
        assert f"/r/{DEFAULT_ROUND}/mail" in board
        page = server.request("GET", f"/r/{DEFAULT_ROUND}/mail")[1]
        assert mailbox.user in page and "从邮箱收取并核验" in page
        status, page, _ = server.request("GET", f"/r/{DEFAULT_ROUND}/mail/send/forms")
        assert status == 200
        for address in (
            "zcgh@example.gov.cn",
            "gxc@example.gov.cn；gxc2@example.gov.cn",
            "zypz@example.gov.cn",
        ):
            assert address in page, address
        assert "单位名录中没有" in page and "确认发送 3 封" in page
        assert mailbox.smtp.received == []  # the list is shown, nothing is sent
        token = server.csrf()
        fields = f"csrf_token={token}&" + "&".join(
            f"division={quote(d)}" for d in (PLAN, "高新技术及产业化处", "资源配置与诚信建设处")
        )
        done = _job(server, *server.post_form(f"/r/{DEFAULT_ROUND}/mail/send/forms", fields)[::2])
        assert "已发送 3 封" in done and len(mailbox.smtp.received) == 3
        again = server.request("GET", f"/r/{DEFAULT_ROUND}/mail/send/forms")[1]
        assert "没有要发送的邮件" in again and "发过" in again

        deliver(
            mailbox,
            a_return(forms[PLAN], tmp_path / "r.xlsx", "zcgh@example.gov.cn", "政策规划处.xlsx"),
        )
        status, _, headers = server.post_form(
            f"/r/{DEFAULT_ROUND}/mail/fetch", f"csrf_token={token}"
        )
        done = _job(server, status, headers)
        assert "新收取 1 封" in done and "已采用 1" in done, done
        forged = server.post_form(f"/r/{DEFAULT_ROUND}/mail/send/forms", "division=x")[0]
        assert forged in (400, 403)
    finally:
        server.stop()
