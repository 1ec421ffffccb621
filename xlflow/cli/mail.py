"""The office's mail account: `mail fetch`, `mail send`, `mail login`."""

from __future__ import annotations

import sys
from typing import Any

import click

from .shared import (
    echo,
    json_option,
    library_errors,
    open_workspace,
    parse_date,
    print_json,
    table,
    workspace_option,
)

password_stdin = click.option(
    "--password-stdin",
    is_flag=True,
    help="从标准输入读取邮箱密码（供脚本使用）；否则用 xlflow mail login 保存的密码或环境变量 XLFLOW_MAIL_PASSWORD。",
)


def _secret(from_stdin: bool) -> str | None:
    return sys.stdin.readline().rstrip("\r\n") if from_stdin else None


@click.group()
def mail() -> None:
    """单位邮箱：从邮箱收取报送（只读），通过邮箱发送填报表、回执和催报。

    \b
    先在 xlflow.toml 中写好 [mail]（host、user 等，见 docs/mail.md），再运行
    xlflow mail login 把密码存入系统凭据管理器。
    例：xlflow mail send --round 2019-H1 --what forms --send
        xlflow mail fetch --round 2019-H1 --collect
    """


@mail.command()
@workspace_option
@click.option("--round", "round_id", help="收取这一轮的报送：从其填报表生成之日起的邮件。")
@click.option(
    "--since", help="从这一天起的邮件（YYYY-MM-DD）；默认从本轮（或最新一轮）生成之日起。"
)
@click.option("--folder", help="邮箱中的文件夹；默认 [mail] folder（INBOX）。")
@click.option("--collect", "then_collect", is_flag=True, help="收取后立即核验（xlflow collect）。")
@password_stdin
@json_option
@click.pass_context
def fetch(
    ctx: click.Context,
    workspace: str,
    round_id: str | None,
    since: str | None,
    folder: str | None,
    then_collect: bool,
    password_stdin: bool,
    as_json: bool,
) -> None:
    """把邮箱中带有报送附件（表格、压缩包、邮件）的邮件整封存入 inbox/。

    只读打开邮箱：不删除、不移动、不标记任何邮件。已收取的邮件按 Message-ID 记在台账中，
    重复运行不会重复收取。

    \b
    例：xlflow mail fetch --round 2019-H1
        xlflow mail fetch --round 2019-H1 --collect
    """
    from ..mail.fetch import fetch_mail

    ws = open_workspace(workspace)
    day = parse_date(since)
    secret = _secret(password_stdin)
    with library_errors():
        if as_json or not sys.stderr.isatty():
            result = fetch_mail(ws, round_id, day, folder, secret)
        else:
            with click.progressbar(length=0, label="查看邮件", file=sys.stderr) as bar:
                result = fetch_mail(ws, round_id, day, folder, secret, _progress(bar))
    if as_json:
        print_json(result.to_dict())
    else:
        echo(
            f"邮箱文件夹 {result.folder}：{result.since.isoformat()} 以来 {result.examined} 封邮件，"
            f"新收取 {len(result.saved)} 封，此前已收取 {result.already} 封。"
        )
        if result.saved:
            rows = [[s.path.name, s.sender, s.subject, _names(s.attachments)] for s in result.saved]
            echo(table(["存为", "发件人", "主题", "附件"], rows))
        for p in result.passed:
            echo(f"未收取：{p.sender} {p.subject}：{p.why}")
    if then_collect:
        if round_id is None:
            raise click.UsageError("--collect 需要同时指定 --round。")
        from .rounds import collect

        ctx.invoke(
            collect, workspace=workspace, round_id=round_id, no_receipts=False, as_json=as_json
        )
    elif result.saved and not as_json:
        where = f" --round {round_id}" if round_id else " --round 轮次"
        echo(f"下一步：xlflow collect{where}（或下次加 --collect）")
    waiting = [p for p in result.passed if p.may_be_a_return]
    if waiting:
        # exit 1: a return may still wait in the mailbox (too large, unreadable)
        if not as_json:
            echo(f"有 {len(waiting)} 封可能是报送的邮件留在邮箱中未收取，见上。")
        raise SystemExit(1)


def _names(names: tuple[str, ...]) -> str:
    shown = "、".join(names[:3])
    return shown + (f" 等 {len(names)} 个" if len(names) > 3 else "")


def _progress(bar: Any) -> Any:
    def update(done: int, total: int) -> None:
        bar.length = total
        bar.update(done - bar.pos)

    return update


@mail.command()
@workspace_option
@click.option("--round", "round_id", required=True, help="轮次，如 2019-H1。")
@click.option(
    "--what",
    type=click.Choice(["forms", "receipts", "reminders"]),
    required=True,
    help="发什么：forms 填报表，receipts 核验回执，reminders 催报（未报送或被退回的单位）。",
)
@click.option("--only", multiple=True, help="只发给这个单位（可重复）。")
@click.option("--send", "really", is_flag=True, help="真正发送；不加时只列出将要发送的内容。")
@click.option("--resend", is_flag=True, help="已发送过的同一附件也再发一次。")
@password_stdin
@json_option
def send(
    workspace: str,
    round_id: str,
    what: str,
    only: tuple[str, ...],
    really: bool,
    resend: bool,
    password_stdin: bool,
    as_json: bool,
) -> None:
    """通过单位邮箱给每个单位发一封邮件：其填报表、核验回执或催报。

    不加 --send 时什么也不发，只列出收件人、主题、附件和大小，并指出没有邮箱地址的单位。
    已发送的（同一单位、同一附件）记在台账中，重复运行不会重发，除非加 --resend。

    \b
    例：xlflow mail send --round 2019-H1 --what forms
        xlflow mail send --round 2019-H1 --what forms --send
        xlflow mail send --round 2019-H1 --what reminders --only 政策规划处 --send
    """
    from ..mail.send import send_mail

    ws = open_workspace(workspace)
    secret = _secret(password_stdin)
    with library_errors():
        if as_json or not really or not sys.stderr.isatty():
            result = send_mail(ws, round_id, what, only, really, resend, secret)
        else:
            with click.progressbar(length=0, label="发送", file=sys.stderr) as bar:
                result = send_mail(ws, round_id, what, only, really, resend, secret, _progress(bar))
    if as_json:
        print_json(result.to_dict())
        if result.failed:
            raise SystemExit(1)
        return
    rows = []
    for o in result.planned:
        if o.division in result.sent:
            state = "已发送"
        elif o.division in result.failed:
            state = "失败"
        elif o.problem:
            state = "不能发送"
        elif o.sent_at:
            state = f"已于 {o.sent_at[:16].replace('T', ' ')} 发过"
        else:
            state = "待发送" if not really else ""
        size = f"{o.size / 1024:.0f} KB" if o.size else ""
        rows.append(
            [o.division, "; ".join(o.to), o.attachment.name if o.attachment else "", size, state]
        )
    echo(table(["单位", "收件人", "附件", "大小", "情况"], rows))
    for o in result.planned:
        if o.problem:
            echo(f"  [{o.division}] {o.problem}")
    for division, why in result.failed.items():
        echo(f"  [{division}] {why}")
    waiting = [o for o in result.planned if o.ready and not o.sent_at]
    if not really:
        echo(f"以上是预览，未发送。确认后加 --send 发送（{len(waiting)} 封）。")
    else:
        echo(f"已发送 {len(result.sent)} 封；失败 {len(result.failed)} 封。")
    if result.failed:
        raise SystemExit(1)


@mail.command()
@workspace_option
@password_stdin
def login(workspace: str, password_stdin: bool) -> None:
    """把邮箱密码存入系统凭据管理器（Windows 凭据管理器、Linux 的密钥环），不写入任何文件。

    存之前先用它登录一次收信服务器，确认密码正确。
    """
    from ..mail.account import close_imap, open_imap, require, store_password

    ws = open_workspace(workspace)
    with library_errors():
        settings = require(ws.settings.mail)
        secret = _secret(password_stdin) or click.prompt(
            f"{settings.user} 的密码", hide_input=True, err=True
        )
        close_imap(open_imap(settings, secret))
        store_password(settings, secret)
    echo(f"已登录并保存 {settings.user} 的密码到系统凭据管理器。")
